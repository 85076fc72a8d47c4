//! One simulated day of traffic: voice, SMS and data records of every active subscriber, and
//! the 5-minute probes of every cell, as the network elements would send them.

use std::borrow::Cow;
use std::fmt::Write;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Africa::Casablanca;
use rand::RngExt;

use super::dirt::{Dirt, Service};
use super::rng::{lognormal, poisson, stream, weighted, Stream};
use super::tables::TextTable;
use super::world::{World, CITIES};
use crate::contract::bronze_event_columns;

/// Share of a day's traffic in each local hour: low at night, peaks late morning and evening.
const DIURNAL: [f64; 24] = [
    0.8, 0.4, 0.25, 0.2, 0.2, 0.4, 1.0, 2.2, 3.8, 5.0, 6.0, 6.4, 6.0, 5.4, 5.2, 5.4, 5.8, 6.2, 6.8, 7.2, 7.0, 5.8, 3.8, 1.9,
];

const PURPOSE_DAY: u64 = 10;
const PURPOSE_PROBES: u64 = 11;
const PARTIAL_CALL_S: u64 = 1800;
const PARTIAL_DATA_BYTES: u64 = 100 * 1024 * 1024;
const PARTIAL_DATA_S: u64 = 3600;

pub struct DayTables {
    pub voice: TextTable,
    pub sms: TextTable,
    pub data: TextTable,
    pub probes: TextTable,
}

impl DayTables {
    pub fn new() -> Self {
        let t = |name| TextTable::new(name, bronze_event_columns(name).expect("contract table"));
        Self { voice: t("voice_cdr"), sms: t("sms_cdr"), data: t("data_cdr"), probes: t("network_probe") }
    }
}

/// One MSC record, in the field order of `bronze.voice_cdr`.
pub struct VoiceRow<'a> {
    pub record_type: &'a str,
    pub entity: &'a str,
    pub reference: &'a str,
    pub sequence: Option<&'a str>,
    pub imsi: &'a str,
    pub imei: &'a str,
    pub served: &'a str,
    pub other_party: &'a str,
    pub ton: &'a str,
    pub seizure: &'a str,
    pub answer: Option<&'a str>,
    pub release: &'a str,
    pub duration: &'a str,
    pub cause: &'a str,
    pub lac: &'a str,
    pub cell: &'a str,
    pub visited: &'a str,
}

impl<'a> VoiceRow<'a> {
    pub fn values(&self) -> [Option<&'a str>; 17] {
        [
            Some(self.record_type), Some(self.entity), Some(self.reference), self.sequence, Some(self.imsi), Some(self.imei),
            Some(self.served), Some(self.other_party), Some(self.ton), Some(self.seizure), self.answer, Some(self.release),
            Some(self.duration), Some(self.cause), Some(self.lac), Some(self.cell), Some(self.visited),
        ]
    }
}

/// Counters that make record references unique over a whole run. Each day numbers from its
/// own range, so days can be generated independently (and in parallel).
pub struct Counters {
    pub call_reference: u64,
    pub message_reference: u64,
    pub charging_id: u64,
}

impl Counters {
    pub fn for_day(day: u32) -> Self {
        let base = u64::from(day) * 1_000_000_000;
        Self { call_reference: base, message_reference: base, charging_id: base }
    }
}

fn local_time(rng: &mut Stream, date: NaiveDate) -> DateTime<Utc> {
    let hour = weighted(rng, &DIURNAL) as u32;
    let secs = hour * 3600 + rng.random_range(0..3600);
    let naive = date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).expect("in range"));
    // An hour skipped by a clock change does not exist: take the next valid instant.
    Casablanca
        .from_local_datetime(&naive)
        .earliest()
        .unwrap_or_else(|| Casablanca.from_utc_datetime(&naive))
        .with_timezone(&Utc)
}

/// ISO-8601 in local time with its UTC offset, as the network elements write it
/// (`2026-04-06T11:15:00+01:00`). Written digit by digit: this runs several times per record.
pub(super) fn iso(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&Casablanca);
    let offset = local.offset().fix().local_minus_utc();
    let mut s = String::with_capacity(25);
    let two = |s: &mut String, v: u32| {
        s.push(char::from(b'0' + (v / 10) as u8));
        s.push(char::from(b'0' + (v % 10) as u8));
    };
    let year = local.year() as u32;
    two(&mut s, year / 100);
    two(&mut s, year % 100);
    s.push('-');
    two(&mut s, local.month());
    s.push('-');
    two(&mut s, local.day());
    s.push('T');
    two(&mut s, local.hour());
    s.push(':');
    two(&mut s, local.minute());
    s.push(':');
    two(&mut s, local.second());
    s.push(if offset < 0 { '-' } else { '+' });
    let minutes = offset.unsigned_abs() / 60;
    two(&mut s, minutes / 60);
    s.push(':');
    two(&mut s, minutes % 60);
    s
}

/// Delivered a few minutes after the end of the hour in which the event ended.
pub(super) fn delivery(rng: &mut Stream, t: DateTime<Utc>) -> i64 {
    let hour_end = t.with_minute(0).and_then(|x| x.with_second(0)).expect("valid") + Duration::hours(1);
    (hour_end + Duration::seconds(rng.random_range(60..600))).timestamp_micros()
}

/// A called number and its type of number, in the formats switches send.
fn destination(rng: &mut Stream, world: &World, caller: usize) -> (String, &'static str, Option<usize>) {
    let digits = |rng: &mut Stream, n: u32| -> String { (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect() };
    match weighted(rng, &[0.45, 0.35, 0.08, 0.10, 0.02]) {
        0 => {
            let mut callee = rng.random_range(0..world.subscribers.len());
            if callee == caller {
                callee = (callee + 1) % world.subscribers.len();
            }
            let e164 = &world.subscribers[callee].msisdn;
            if rng.random::<f64>() < 0.2 { (format!("0{}", &e164[4..]), "national", Some(callee)) } else { (e164.clone(), "international", Some(callee)) }
        }
        1 => {
            let prefix = ["62", "63", "64", "65", "67", "68", "69", "70", "77", "78"][rng.random_range(0..10)];
            (format!("+212{prefix}{}", digits(rng, 7)), "international", None)
        }
        2 => (format!("+21252{}", digits(rng, 7)), "international", None),
        3 => {
            let number = match weighted(rng, &[0.4, 0.25, 0.15, 0.1, 0.1]) {
                0 => format!("+336{}", digits(rng, 8)),
                1 => format!("+346{}", digits(rng, 8)),
                2 => format!("+393{}", digits(rng, 9)),
                3 => format!("+324{}", digits(rng, 8)),
                _ => format!("+9715{}", digits(rng, 8)),
            };
            (number, "international", None)
        }
        _ if rng.random::<bool>() => (format!("+21289{}", digits(rng, 7)), "international", None),
        _ => {
            // Short codes never start with 0 (`00...` would read as an international prefix).
            let len = rng.random_range(3..6);
            let first = char::from(b'1' + rng.random_range(0..9u8));
            (format!("{first}{}", digits(rng, len - 1)), "unknown", None)
        }
    }
}

/// Where a subscriber is today: a cell of their city (mostly home), or a visited network.
fn serving<'w>(rng: &mut Stream, world: &'w World, s: usize, day: u32) -> (Cow<'w, str>, &'w str, &'static str, &'static str) {
    let sub = &world.subscribers[s];
    if let Some((from, to, network)) = sub.roaming
        && (from..=to).contains(&day)
    {
        let country = if network == "20801" { "FR" } else { "ES" };
        return (Cow::Owned(format!("{country}{:04}", rng.random_range(1..400))), "0", network, "4G");
    }
    let cell = if rng.random::<f64>() < 0.7 {
        sub.home_cell
    } else {
        let cells = &world.city_cells[sub.city];
        cells[rng.random_range(0..cells.len())]
    };
    let c = &world.cells[cell];
    (Cow::Borrowed(&c.cell_id), &c.lac, "60401", c.technology)
}

pub fn generate_day(world: &World, seed: u64, start: NaiveDate, day: u32, counters: &mut Counters, dirt: &mut Dirt, out: &mut DayTables) {
    let date = start + Duration::days(i64::from(day));
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    let load = if weekend { 0.8 } else { 1.0 };
    for (s, sub) in world.subscribers.iter().enumerate() {
        if !sub.active_on(date) {
            continue;
        }
        let mut rng = stream(seed, PURPOSE_DAY, (u64::from(day) << 32) | s as u64);
        let msc = format!("MSC-{}", CITIES[sub.city].code);
        for _ in 0..poisson(&mut rng, 3.0 * sub.activity * load) {
            voice_call(world, &mut rng, s, date, day, &msc, counters, dirt, out);
        }
        for _ in 0..poisson(&mut rng, 2.0 * sub.activity * load) {
            sms(world, &mut rng, s, date, day, counters, dirt, out);
        }
        for _ in 0..poisson(&mut rng, 4.0 * sub.activity * load) {
            data_session(world, &mut rng, s, date, day, counters, dirt, out);
        }
    }
    probes(world, seed, date, day, out);
}

#[allow(clippy::too_many_arguments)]
fn voice_call(
    world: &World,
    rng: &mut Stream,
    s: usize,
    date: NaiveDate,
    day: u32,
    msc: &str,
    counters: &mut Counters,
    dirt: &mut Dirt,
    out: &mut DayTables,
) {
    let sub = &world.subscribers[s];
    let (other, ton, callee) = destination(rng, world, s);
    let seizure = local_time(rng, date);
    let answered = rng.random::<f64>() >= 0.10;
    let (answer, duration) = if answered {
        let ring = Duration::seconds(rng.random_range(2..15));
        (Some(seizure + ring), lognormal(rng, 60.0, 1.0).clamp(1.0, 4.0 * 3600.0) as u64)
    } else {
        (None, 0)
    };
    let (cell, lac, visited, _) = serving(rng, world, s, day);
    let final_cause = if !answered { "3" } else if rng.random::<f64>() < 0.01 { "4" } else { "0" };
    let mut legs = vec![("MOC", sub.msisdn.as_str(), sub.imsi.as_str(), sub.imei.as_str(), other.as_str(), ton, cell, lac, visited)];
    if let Some(c) = callee.filter(|c| world.subscribers[*c].active_on(date)) {
        let callee = &world.subscribers[c];
        let (ccell, clac, cvisited, _) = serving(rng, world, c, day);
        legs.push(("MTC", callee.msisdn.as_str(), callee.imsi.as_str(), callee.imei.as_str(), sub.msisdn.as_str(), "international", ccell, clac, cvisited));
    }
    for (record_type, served, imsi, imei, other_party, ton, cell, lac, visited) in legs {
        counters.call_reference += 1;
        let reference = format!("{:010X}", counters.call_reference);
        let start = answer.unwrap_or(seizure);
        let end = start + Duration::seconds(duration as i64) + if answered { Duration::zero() } else { Duration::seconds(rng.random_range(5..30)) };
        let parts = if duration > PARTIAL_CALL_S { duration.div_ceil(PARTIAL_CALL_S) } else { 1 };
        for k in partial_order(dirt, rng, "voice_cdr", parts) {
            let from = start + Duration::seconds((k * PARTIAL_CALL_S) as i64);
            let len = if parts == 1 { duration } else { (duration - k * PARTIAL_CALL_S).min(PARTIAL_CALL_S) };
            let release = if parts == 1 { end } else { from + Duration::seconds(len as i64) };
            let seq = (parts > 1).then(|| (k + 1).to_string());
            let cause = if k + 1 < parts { "1" } else { final_cause };
            let (seizure_s, answer_s) = if k == 0 { (iso(seizure), answer.map(iso)) } else { (iso(from), Some(iso(from))) };
            let release_s = iso(release);
            let duration_s = len.to_string();
            let delivered = delivery(rng, release);
            dirt.push(
                rng,
                &mut out.voice,
                Service::Voice,
                parts == 1,
                &VoiceRow {
                    record_type,
                    entity: msc,
                    reference: &reference,
                    sequence: seq.as_deref(),
                    imsi,
                    imei,
                    served,
                    other_party,
                    ton,
                    seizure: &seizure_s,
                    answer: answer_s.as_deref(),
                    release: &release_s,
                    duration: &duration_s,
                    cause,
                    lac,
                    cell: &cell,
                    visited,
                }
                .values(),
                delivered,
            );
        }
    }
}

fn sms(world: &World, rng: &mut Stream, s: usize, date: NaiveDate, day: u32, counters: &mut Counters, dirt: &mut Dirt, out: &mut DayTables) {
    let sub = &world.subscribers[s];
    let (other, ton, callee) = destination(rng, world, s);
    let at = local_time(rng, date);
    let result = if rng.random::<f64>() < 0.97 { "0" } else { "2" };
    let (cell, lac, visited, _) = serving(rng, world, s, day);
    let mut legs = vec![("SMS_MO", sub.msisdn.as_str(), sub.imsi.as_str(), other.as_str(), ton, cell, lac, visited)];
    if let Some(c) = callee.filter(|c| world.subscribers[*c].active_on(date) && result == "0") {
        let r = &world.subscribers[c];
        let (ccell, clac, cvisited, _) = serving(rng, world, c, day);
        legs.push(("SMS_MT", r.msisdn.as_str(), r.imsi.as_str(), sub.msisdn.as_str(), "international", ccell, clac, cvisited));
    }
    let time = iso(at);
    for (record_type, served, imsi, other_party, ton, cell, lac, visited) in legs {
        counters.message_reference += 1;
        let entity = format!("SMSC-{}", 1 + counters.message_reference % 2);
        let reference = counters.message_reference.to_string();
        let delivered = delivery(rng, at);
        dirt.push(
            rng,
            &mut out.sms,
            Service::Sms,
            true,
            &[
                Some(record_type), Some(&entity), Some(&reference), Some(&imsi), Some(&served), Some(&other_party), Some(ton),
                Some(&time), Some(result), Some(&lac), Some(&cell), Some(visited),
            ],
            delivered,
        );
    }
}

fn data_session(
    world: &World,
    rng: &mut Stream,
    s: usize,
    date: NaiveDate,
    day: u32,
    counters: &mut Counters,
    dirt: &mut Dirt,
    out: &mut DayTables,
) {
    let sub = &world.subscribers[s];
    let opened = local_time(rng, date);
    let duration = lognormal(rng, 600.0, 1.0).clamp(5.0, 6.0 * 3600.0) as u64;
    let volume = (lognormal(rng, 8.0e6, 1.5) * sub.activity).clamp(1_000.0, 2.0e9) as u64;
    let (cell, lac, visited, technology) = serving(rng, world, s, day);
    let rat = match technology {
        "2G" => "GERAN",
        "3G" => "UTRAN",
        "5G" => "NR",
        _ if rng.random::<f64>() < 0.1 => "6",
        _ => "EUTRAN",
    };
    counters.charging_id += 1;
    let charging_id = counters.charging_id.to_string();
    let pgw = format!("10.0.0.{}", 1 + CITIES[sub.city].population as u64 % 4);
    let parts = volume.div_ceil(PARTIAL_DATA_BYTES).max(duration.div_ceil(PARTIAL_DATA_S)).max(1);
    let apn = if rng.random::<f64>() < 0.95 { "internet" } else { "mms" };
    let mut buf = String::new();
    for k in partial_order(dirt, rng, "data_cdr", parts) {
        let share = |total: u64| total / parts + if k + 1 == parts { total % parts } else { 0 };
        let (len, bytes) = (share(duration), share(volume));
        let up = bytes * 8 / 100;
        let open = opened + Duration::seconds(((duration / parts) * k) as i64);
        let cause = if k + 1 < parts { if volume / parts >= PARTIAL_DATA_BYTES { "16" } else { "17" } } else { "0" };
        buf.clear();
        let _ = write!(buf, "{}", k + 1);
        let delivered = delivery(rng, open + Duration::seconds(len as i64));
        let (seq, open_s, len_s, up_s, down_s) = (buf.clone(), iso(open), len.to_string(), up.to_string(), (bytes - up).to_string());
        dirt.push(
            rng,
            &mut out.data,
            Service::Data,
            parts == 1,
            &[
                Some(pgw.as_str()), Some(&charging_id), Some(&seq), Some(&sub.imsi), Some(&sub.msisdn), Some(&sub.imei), Some(apn), Some(rat),
                Some(&open_s), Some(&len_s), Some(cause), Some(&up_s), Some(&down_s), Some(&lac), Some(&cell), Some(visited),
            ],
            delivered,
        );
    }
}

/// The order partial records are sent in: normally 1..n; with a set defect, one record left
/// out or the whole set reversed.
fn partial_order(dirt: &mut Dirt, rng: &mut Stream, table: &'static str, parts: u64) -> Vec<u64> {
    let (missing, reversed) = dirt.partial_defect(rng, table, parts);
    let mut order: Vec<u64> = (0..parts).collect();
    if missing {
        order.remove(rng.random_range(0..parts as usize));
    }
    if reversed {
        order.reverse();
    }
    order
}

fn probes(world: &World, seed: u64, date: NaiveDate, day: u32, out: &mut DayTables) {
    let peak = DIURNAL.iter().cloned().fold(0.0, f64::max);
    // The day's 5-minute slots, with their text, once for all cells.
    let slots: Vec<(u32, DateTime<Utc>, String)> = (0..288u32)
        .filter_map(|slot| {
            let naive = date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(slot * 300, 0).expect("in range"));
            let at = Casablanca.from_local_datetime(&naive).earliest()?.with_timezone(&Utc);
            Some((slot, at, iso(at)))
        })
        .collect();
    // One buffer for the five measures of a row; `ends` marks where each stops.
    let mut text = String::with_capacity(64);
    let mut ends = [0usize; 5];
    for (i, cell) in world.cells.iter().enumerate() {
        let mut rng = stream(seed, PURPOSE_PROBES, (u64::from(day) << 32) | i as u64);
        let load = 0.5 + rng.random::<f64>();
        for (slot, at, time) in &slots {
            let curve = DIURNAL[(slot / 12) as usize] / peak;
            let prb = (100.0 * curve * load * 0.7 + 5.0 * rng.random::<f64>()).min(100.0);
            let users = (cell.capacity_erlang * curve * load * 2.0) as u32 + rng.random_range(0..5);
            text.clear();
            let _ = write!(text, "{prb:.1}");
            ends[0] = text.len();
            let _ = write!(text, "{users}");
            ends[1] = text.len();
            let _ = write!(text, "{:.1}", 150.0 * (1.0 - prb / 130.0) + 10.0 * rng.random::<f64>());
            ends[2] = text.len();
            let _ = write!(text, "{:.1}", 15.0 + 40.0 * prb / 100.0 + 5.0 * rng.random::<f64>());
            ends[3] = text.len();
            let _ = write!(text, "{:.2}", 0.05 + 0.5 * (prb / 100.0).powi(3) * rng.random::<f64>());
            ends[4] = text.len();
            let field = |k: usize| Some(&text[if k == 0 { 0 } else { ends[k - 1] }..ends[k]]);
            out.probes.push(&[Some(&cell.cell_id), Some(time), field(0), field(1), field(2), field(3), field(4)], delivery(&mut rng, *at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_uses_casablanca_offsets() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(iso(t("2026-04-06T10:15:00Z")), "2026-04-06T11:15:00+01:00");
        assert_eq!(iso(t("2026-04-30T23:30:00Z")), "2026-05-01T00:30:00+01:00");
        // The Ramadan suspension: UTC+00.
        assert_eq!(iso(t("2026-03-01T12:00:05Z")), "2026-03-01T12:00:05+00:00");
        assert_eq!(iso(t("2026-04-06T10:15:00Z")), t("2026-04-06T10:15:00Z").with_timezone(&Casablanca).format("%Y-%m-%dT%H:%M:%S%:z").to_string());
    }
}

//! One simulated day of traffic: voice, SMS and data records of every active subscriber, and
//! the 5-minute probes of every cell, as the network elements would send them.

use std::borrow::Cow;
use std::fmt::Write;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Africa::Casablanca;
use rand::RngExt;

use super::dirt::{Dirt, Service};
use super::rng::{Stream, lognormal, poisson, stream, weighted};
use super::tables::TextTable;
use super::text::{DayClock, Fields, IsoClock, iso};
use super::world::{CITIES, World};
use crate::contract::bronze_event_columns;

/// Share of a day's traffic in each local hour: low at night, peaks late morning and evening.
const DIURNAL: [f64; 24] = [
    0.8, 0.4, 0.25, 0.2, 0.2, 0.4, 1.0, 2.2, 3.8, 5.0, 6.0, 6.4, 6.0, 5.4, 5.2, 5.4, 5.8, 6.2, 6.8,
    7.2, 7.0, 5.8, 3.8, 1.9,
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
        Self {
            voice: t("voice_cdr"),
            sms: t("sms_cdr"),
            data: t("data_cdr"),
            probes: t("network_probe"),
        }
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
            Some(self.record_type),
            Some(self.entity),
            Some(self.reference),
            self.sequence,
            Some(self.imsi),
            Some(self.imei),
            Some(self.served),
            Some(self.other_party),
            Some(self.ton),
            Some(self.seizure),
            self.answer,
            Some(self.release),
            Some(self.duration),
            Some(self.cause),
            Some(self.lac),
            Some(self.cell),
            Some(self.visited),
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
        Self {
            call_reference: base,
            message_reference: base,
            charging_id: base,
        }
    }
}

fn local_time(rng: &mut Stream, clock: &DayClock) -> i64 {
    let hour = weighted(rng, &DIURNAL) as u32;
    clock.utc(hour * 3600 + rng.random_range(0..3600))
}

/// Delivered a few minutes after the end of the hour in which the event ended (UTC seconds in,
/// microseconds out).
pub(super) fn delivery(rng: &mut Stream, utc_s: i64) -> i64 {
    let hour_end = utc_s - utc_s.rem_euclid(3600) + 3600;
    (hour_end + rng.random_range(60..600i64)) * 1_000_000
}

/// A called number (written to `out`) and its type of number, in the formats switches send.
fn destination(
    rng: &mut Stream,
    world: &World,
    caller: usize,
    out: &mut String,
) -> (&'static str, Option<usize>) {
    // `n` random digits, leading zeros kept, from one draw.
    let digits = |rng: &mut Stream, out: &mut String, n: u32| {
        let value = rng.random_range(0..10u64.pow(n));
        let mut buffer = itoa::Buffer::new();
        let text = buffer.format(value);
        (text.len()..n as usize).for_each(|_| out.push('0'));
        out.push_str(text);
    };
    out.clear();
    match weighted(rng, &[0.45, 0.35, 0.08, 0.10, 0.02]) {
        0 => {
            let mut callee = rng.random_range(0..world.subscribers.len());
            if callee == caller {
                callee = (callee + 1) % world.subscribers.len();
            }
            let e164 = &world.subscribers[callee].msisdn;
            if rng.random::<f64>() < 0.2 {
                out.push('0');
                out.push_str(&e164[4..]);
                ("national", Some(callee))
            } else {
                out.push_str(e164);
                ("international", Some(callee))
            }
        }
        1 => {
            let prefix = ["62", "63", "64", "65", "67", "68", "69", "70", "77", "78"]
                [rng.random_range(0..10)];
            out.push_str("+212");
            out.push_str(prefix);
            digits(rng, out, 7);
            ("international", None)
        }
        2 => {
            out.push_str("+21252");
            digits(rng, out, 7);
            ("international", None)
        }
        3 => {
            let (prefix, n) = match weighted(rng, &[0.4, 0.25, 0.15, 0.1, 0.1]) {
                0 => ("+336", 8),
                1 => ("+346", 8),
                2 => ("+393", 9),
                3 => ("+324", 8),
                _ => ("+9715", 8),
            };
            out.push_str(prefix);
            digits(rng, out, n);
            ("international", None)
        }
        _ if rng.random::<bool>() => {
            out.push_str("+21289");
            digits(rng, out, 7);
            ("international", None)
        }
        _ => {
            // Short codes never start with 0 (`00...` would read as an international prefix).
            let len: u32 = rng.random_range(3..6);
            out.push(char::from(b'1' + rng.random_range(0..9u8)));
            digits(rng, out, len - 1);
            ("unknown", None)
        }
    }
}

/// Where a subscriber is today: a cell of their city (mostly home), or a visited network.
fn serving<'w>(
    rng: &mut Stream,
    world: &'w World,
    s: usize,
    day: u32,
) -> (Cow<'w, str>, &'w str, &'static str, &'static str) {
    let sub = &world.subscribers[s];
    if let Some((from, to, network)) = sub.roaming
        && (from..=to).contains(&day)
    {
        let country = if network == "20801" { "FR" } else { "ES" };
        return (
            Cow::Owned(format!("{country}{:04}", rng.random_range(1..400))),
            "0",
            network,
            "4G",
        );
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

/// What one day's generation reuses from record to record.
struct Scratch {
    day: DayClock,
    iso: IsoClock,
    fields: Fields,
    other_party: String,
}

pub fn generate_day(
    world: &World,
    seed: u64,
    start: NaiveDate,
    day: u32,
    counters: &mut Counters,
    dirt: &mut Dirt,
    out: &mut DayTables,
) {
    let date = start + Duration::days(i64::from(day));
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    let load = if weekend { 0.8 } else { 1.0 };
    let mut x = Scratch {
        day: DayClock::new(date),
        iso: IsoClock::default(),
        fields: Fields::default(),
        other_party: String::new(),
    };
    for (s, sub) in world.subscribers.iter().enumerate() {
        if !sub.active_on(date) {
            continue;
        }
        let mut rng = stream(seed, PURPOSE_DAY, (u64::from(day) << 32) | s as u64);
        let msc = format!("MSC-{}", CITIES[sub.city].code);
        for _ in 0..poisson(&mut rng, 3.0 * sub.activity * load) {
            voice_call(world, &mut rng, s, day, &msc, counters, dirt, out, &mut x);
        }
        for _ in 0..poisson(&mut rng, 2.0 * sub.activity * load) {
            sms(world, &mut rng, s, day, counters, dirt, out, &mut x);
        }
        for _ in 0..poisson(&mut rng, 4.0 * sub.activity * load) {
            data_session(world, &mut rng, s, day, counters, dirt, out, &mut x);
        }
    }
    probes(world, seed, date, day, out);
}

#[expect(
    clippy::too_many_arguments,
    reason = "the hot path passes its columns and state unboxed"
)]
fn voice_call(
    world: &World,
    rng: &mut Stream,
    s: usize,
    day: u32,
    msc: &str,
    counters: &mut Counters,
    dirt: &mut Dirt,
    out: &mut DayTables,
    x: &mut Scratch,
) {
    let sub = &world.subscribers[s];
    let (ton, callee) = destination(rng, world, s, &mut x.other_party);
    let seizure = local_time(rng, &x.day);
    let answered = rng.random::<f64>() >= 0.10;
    let (answer, duration) = if answered {
        let ring: i64 = rng.random_range(2..15);
        (
            Some(seizure + ring),
            lognormal(rng, 60.0, 1.0).clamp(1.0, 4.0 * 3600.0) as u64,
        )
    } else {
        (None, 0)
    };
    let (cell, lac, visited, _) = serving(rng, world, s, day);
    let final_cause = if !answered {
        "3"
    } else if rng.random::<f64>() < 0.01 {
        "4"
    } else {
        "0"
    };
    let other = x.other_party.as_str();
    let mut legs = [
        Some((
            "MOC",
            sub.msisdn.as_str(),
            sub.imsi.as_str(),
            sub.imei.as_str(),
            other,
            ton,
            cell,
            lac,
            visited,
        )),
        None,
    ];
    if let Some(c) = callee.filter(|c| world.subscribers[*c].active_on(x.day.date())) {
        let callee = &world.subscribers[c];
        let (ccell, clac, cvisited, _) = serving(rng, world, c, day);
        legs[1] = Some((
            "MTC",
            callee.msisdn.as_str(),
            callee.imsi.as_str(),
            callee.imei.as_str(),
            sub.msisdn.as_str(),
            "international",
            ccell,
            clac,
            cvisited,
        ));
    }
    for (record_type, served, imsi, imei, other_party, ton, cell, lac, visited) in
        legs.into_iter().flatten()
    {
        counters.call_reference += 1;
        let start = answer.unwrap_or(seizure);
        let end = start
            + duration as i64
            + if answered {
                0
            } else {
                rng.random_range(5..30i64)
            };
        let parts = if duration > PARTIAL_CALL_S {
            duration.div_ceil(PARTIAL_CALL_S)
        } else {
            1
        };
        for k in partial_order(dirt, rng, "voice_cdr", parts) {
            let from = start + (k * PARTIAL_CALL_S) as i64;
            let len = if parts == 1 {
                duration
            } else {
                (duration - k * PARTIAL_CALL_S).min(PARTIAL_CALL_S)
            };
            let release = if parts == 1 { end } else { from + len as i64 };
            let cause = if k + 1 < parts { "1" } else { final_cause };
            let f = &mut x.fields;
            f.clear();
            let _ = write!(f.text(), "{:010X}", counters.call_reference);
            let reference = f.end();
            let sequence = (parts > 1).then(|| f.int(k + 1));
            let (seizure_f, answer_f) = if k == 0 {
                (
                    f.iso(&mut x.iso, seizure),
                    answer.map(|a| f.iso(&mut x.iso, a)),
                )
            } else {
                let from_f = f.iso(&mut x.iso, from);
                (from_f, Some(from_f))
            };
            let release_f = f.iso(&mut x.iso, release);
            let duration_f = f.int(len);
            let delivered = delivery(rng, release);
            let f = &x.fields;
            let row = VoiceRow {
                record_type,
                entity: msc,
                reference: f.get(reference),
                sequence: sequence.map(|i| f.get(i)),
                imsi,
                imei,
                served,
                other_party,
                ton,
                seizure: f.get(seizure_f),
                answer: answer_f.map(|i| f.get(i)),
                release: f.get(release_f),
                duration: f.get(duration_f),
                cause,
                lac,
                cell: &cell,
                visited,
            };
            dirt.push(
                rng,
                &mut out.voice,
                Service::Voice,
                parts == 1,
                &row.values(),
                delivered,
            );
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "the hot path passes its columns and state unboxed"
)]
fn sms(
    world: &World,
    rng: &mut Stream,
    s: usize,
    day: u32,
    counters: &mut Counters,
    dirt: &mut Dirt,
    out: &mut DayTables,
    x: &mut Scratch,
) {
    let sub = &world.subscribers[s];
    let (ton, callee) = destination(rng, world, s, &mut x.other_party);
    let at = local_time(rng, &x.day);
    let result = if rng.random::<f64>() < 0.97 { "0" } else { "2" };
    let (cell, lac, visited, _) = serving(rng, world, s, day);
    let other = x.other_party.as_str();
    let mut legs = [
        Some((
            "SMS_MO",
            sub.msisdn.as_str(),
            sub.imsi.as_str(),
            other,
            ton,
            cell,
            lac,
            visited,
        )),
        None,
    ];
    if let Some(c) =
        callee.filter(|c| world.subscribers[*c].active_on(x.day.date()) && result == "0")
    {
        let r = &world.subscribers[c];
        let (ccell, clac, cvisited, _) = serving(rng, world, c, day);
        legs[1] = Some((
            "SMS_MT",
            r.msisdn.as_str(),
            r.imsi.as_str(),
            sub.msisdn.as_str(),
            "international",
            ccell,
            clac,
            cvisited,
        ));
    }
    for (record_type, served, imsi, other_party, ton, cell, lac, visited) in
        legs.into_iter().flatten()
    {
        counters.message_reference += 1;
        let entity = ["SMSC-1", "SMSC-2"][(counters.message_reference % 2) as usize];
        let f = &mut x.fields;
        f.clear();
        let reference = f.int(counters.message_reference);
        let time = f.iso(&mut x.iso, at);
        let delivered = delivery(rng, at);
        let f = &x.fields;
        dirt.push(
            rng,
            &mut out.sms,
            Service::Sms,
            true,
            &[
                Some(record_type),
                Some(entity),
                Some(f.get(reference)),
                Some(imsi),
                Some(served),
                Some(other_party),
                Some(ton),
                Some(f.get(time)),
                Some(result),
                Some(lac),
                Some(&cell),
                Some(visited),
            ],
            delivered,
        );
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "the hot path passes its columns and state unboxed"
)]
fn data_session(
    world: &World,
    rng: &mut Stream,
    s: usize,
    day: u32,
    counters: &mut Counters,
    dirt: &mut Dirt,
    out: &mut DayTables,
    x: &mut Scratch,
) {
    let sub = &world.subscribers[s];
    let opened = local_time(rng, &x.day);
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
    let pgw = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
        [(CITIES[sub.city].population as u64 % 4) as usize];
    let parts = volume
        .div_ceil(PARTIAL_DATA_BYTES)
        .max(duration.div_ceil(PARTIAL_DATA_S))
        .max(1);
    let apn = if rng.random::<f64>() < 0.95 {
        "internet"
    } else {
        "mms"
    };
    for k in partial_order(dirt, rng, "data_cdr", parts) {
        let share = |total: u64| total / parts + if k + 1 == parts { total % parts } else { 0 };
        let (len, bytes) = (share(duration), share(volume));
        let up = bytes * 8 / 100;
        let open = opened + ((duration / parts) * k) as i64;
        let cause = if k + 1 < parts {
            if volume / parts >= PARTIAL_DATA_BYTES {
                "16"
            } else {
                "17"
            }
        } else {
            "0"
        };
        let delivered = delivery(rng, open + len as i64);
        let f = &mut x.fields;
        f.clear();
        let (charging_id, sequence, open_f) = (
            f.int(counters.charging_id),
            f.int(k + 1),
            f.iso(&mut x.iso, open),
        );
        let (len_f, up_f, down_f) = (f.int(len), f.int(up), f.int(bytes - up));
        let f = &x.fields;
        dirt.push(
            rng,
            &mut out.data,
            Service::Data,
            parts == 1,
            &[
                Some(pgw),
                Some(f.get(charging_id)),
                Some(f.get(sequence)),
                Some(&sub.imsi),
                Some(&sub.msisdn),
                Some(&sub.imei),
                Some(apn),
                Some(rat),
                Some(f.get(open_f)),
                Some(f.get(len_f)),
                Some(cause),
                Some(f.get(up_f)),
                Some(f.get(down_f)),
                Some(lac),
                Some(&cell),
                Some(visited),
            ],
            delivered,
        );
    }
}

/// The order partial records are sent in: normally 1..n; with a set defect, one record left
/// out or the whole set reversed.
fn partial_order(
    dirt: &mut Dirt,
    rng: &mut Stream,
    table: &'static str,
    parts: u64,
) -> impl Iterator<Item = u64> + use<> {
    let (missing, reversed) = dirt.partial_defect(rng, table, parts);
    let missing = missing.then(|| rng.random_range(0..parts as usize) as u64);
    (0..parts)
        .map(move |i| if reversed { parts - 1 - i } else { i })
        .filter(move |k| Some(*k) != missing)
}

fn probes(world: &World, seed: u64, date: NaiveDate, day: u32, out: &mut DayTables) {
    let peak = DIURNAL.iter().cloned().fold(0.0, f64::max);
    // The day's 5-minute slots, with their text, once for all cells.
    let slots: Vec<(u32, i64, String)> = (0..288u32)
        .filter_map(|slot| {
            let naive = date.and_time(
                NaiveTime::from_num_seconds_from_midnight_opt(slot * 300, 0).expect("in range"),
            );
            let at = Casablanca
                .from_local_datetime(&naive)
                .earliest()?
                .with_timezone(&Utc);
            Some((slot, at.timestamp(), iso(at)))
        })
        .collect();
    let mut f = Fields::default();
    for (i, cell) in world.cells.iter().enumerate() {
        let mut rng = stream(seed, PURPOSE_PROBES, (u64::from(day) << 32) | i as u64);
        let load = 0.5 + rng.random::<f64>();
        for (slot, at, time) in &slots {
            let curve = DIURNAL[(slot / 12) as usize] / peak;
            let prb = (100.0 * curve * load * 0.7 + 5.0 * rng.random::<f64>()).min(100.0);
            let users = (cell.capacity_erlang * curve * load * 2.0) as u32 + rng.random_range(0..5);
            f.clear();
            let (prb_f, users_f) = (f.fixed(prb, 1), f.int(users));
            let throughput = f.fixed(150.0 * (1.0 - prb / 130.0) + 10.0 * rng.random::<f64>(), 1);
            let latency = f.fixed(15.0 + 40.0 * prb / 100.0 + 5.0 * rng.random::<f64>(), 1);
            let drop_rate = f.fixed(0.05 + 0.5 * (prb / 100.0).powi(3) * rng.random::<f64>(), 2);
            let values = [
                Some(cell.cell_id.as_str()),
                Some(time),
                Some(f.get(prb_f)),
                Some(f.get(users_f)),
                Some(f.get(throughput)),
                Some(f.get(latency)),
                Some(f.get(drop_rate)),
            ];
            out.probes.push(&values, delivery(&mut rng, *at));
        }
    }
}

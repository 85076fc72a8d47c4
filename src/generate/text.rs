//! Writing the text of generated records without a `String` per field: the fields of a record
//! go into one reused buffer, and local times are formatted from a per-hour cache.
//!
//! Formatting was half of the generator's CPU: a chrono-tz lookup and an allocation for every
//! timestamp, integer and measure of 17 million rows.

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Africa::Casablanca;

/// The text fields of one record, in one buffer; `end` closes a field and returns its number.
#[derive(Default)]
pub struct Fields {
    text: String,
    ends: Vec<usize>,
}

impl Fields {
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// The buffer the current field is written to.
    pub fn text(&mut self) -> &mut String {
        &mut self.text
    }

    pub fn end(&mut self) -> usize {
        self.ends.push(self.text.len());
        self.ends.len() - 1
    }

    pub fn get(&self, field: usize) -> &str {
        let start = if field == 0 { 0 } else { self.ends[field - 1] };
        &self.text[start..self.ends[field]]
    }

    pub fn int(&mut self, value: impl itoa::Integer) -> usize {
        self.text.push_str(itoa::Buffer::new().format(value));
        self.end()
    }

    /// `value` with `decimals` places, as `format!("{value:.decimals$}")` writes it.
    pub fn fixed(&mut self, value: f64, decimals: u32) -> usize {
        push_fixed(&mut self.text, value, decimals);
        self.end()
    }

    pub fn iso(&mut self, clock: &mut IsoClock, utc_s: i64) -> usize {
        clock.push(&mut self.text, utc_s);
        self.end()
    }
}

/// `format!("{value:.decimals$}")` by integer arithmetic. The scaled value is rounded half away
/// from zero; where it lies so close to a half that the float product could round either way
/// (or is out of integer range), the standard formatter decides, so the text is always its.
pub fn push_fixed(out: &mut String, value: f64, decimals: u32) {
    let scale = 10u64.pow(decimals);
    let scaled = value * scale as f64;
    let near_half = (scaled.fract() - 0.5).abs() < 1e-6;
    if !(0.0..1.0e9).contains(&scaled) || near_half {
        let _ = write!(out, "{value:.prec$}", prec = decimals as usize);
        return;
    }
    let n = scaled.round() as u64;
    let mut digits = itoa::Buffer::new();
    out.push_str(digits.format(n / scale));
    if decimals > 0 {
        out.push('.');
        let fraction = digits.format(n % scale);
        (fraction.len()..decimals as usize).for_each(|_| out.push('0'));
        out.push_str(fraction);
    }
}

/// ISO-8601 in local time with its UTC offset, as the network elements write it
/// (`2026-04-06T11:15:00+01:00`), digit by digit.
pub fn iso(t: DateTime<Utc>) -> String {
    let mut s = String::with_capacity(25);
    push_iso(&mut s, t);
    s
}

fn push_iso(s: &mut String, t: DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let local = t.with_timezone(&Casablanca);
    let offset = local.offset().fix().local_minus_utc();
    let year = local.year() as u32;
    two(s, year / 100);
    two(s, year % 100);
    s.push('-');
    two(s, local.month());
    s.push('-');
    two(s, local.day());
    s.push('T');
    two(s, local.hour());
    s.push(':');
    two(s, local.minute());
    s.push(':');
    two(s, local.second());
    s.push(if offset < 0 { '-' } else { '+' });
    let minutes = offset.unsigned_abs() / 60;
    two(s, minutes / 60);
    s.push(':');
    two(s, minutes % 60);
}

fn two(s: &mut String, v: u32) {
    s.push(char::from(b'0' + (v / 10 % 10) as u8));
    s.push(char::from(b'0' + (v % 10) as u8));
}

const CLOCK_SLOTS: usize = 64;

/// [`iso`] for many instants, the zone read once per UTC hour.
///
/// Casablanca's offsets are whole hours and change on whole UTC hours, so in an hour with one
/// whole-hour offset the local date and hour are fixed and only minutes and seconds vary; any
/// other hour is formatted per instant, so the text is always that of [`iso`].
pub struct IsoClock {
    /// Direct-mapped by UTC hour: the hour, and the text of its first second when the local date
    /// and hour hold for all of it (`YYYY-MM-DDTHH:` and `+HH:MM` are taken from it).
    slots: Vec<(i64, Option<String>)>,
}

impl Default for IsoClock {
    fn default() -> Self {
        Self {
            slots: vec![(i64::MIN, None); CLOCK_SLOTS],
        }
    }
}

impl IsoClock {
    pub fn push(&mut self, out: &mut String, utc_s: i64) {
        let hour = utc_s.div_euclid(3600);
        let slot = &mut self.slots[hour.rem_euclid(CLOCK_SLOTS as i64) as usize];
        if slot.0 != hour {
            *slot = (hour, fixed_hour(hour));
        }
        let Some(first) = &slot.1 else {
            push_iso(
                out,
                DateTime::<Utc>::from_timestamp(utc_s, 0).expect("a generated time is in range"),
            );
            return;
        };
        let second = utc_s.rem_euclid(3600) as u32;
        out.push_str(&first[..14]);
        two(out, second / 60);
        out.push(':');
        two(out, second % 60);
        out.push_str(&first[19..]);
    }
}

/// The text of a UTC hour's first second, if the hour has one whole-hour offset throughout.
fn fixed_hour(hour: i64) -> Option<String> {
    let offset = cdrlake_udfs::local_time::hour_offset(hour)?;
    let first = DateTime::<Utc>::from_timestamp(hour.checked_mul(3600)?, 0)?;
    Some(iso(first)).filter(|text| offset % 3_600_000_000 == 0 && text.len() == 25)
}

/// Local wall-clock times of one day to UTC, the zone read once per local hour.
pub struct DayClock {
    date: NaiveDate,
    /// Per local hour: the UTC second of its start when the whole hour has one offset.
    hours: [Option<i64>; 24],
}

impl DayClock {
    pub fn new(date: NaiveDate) -> Self {
        let single = |s: u32| {
            let naive = date
                .and_time(NaiveTime::from_num_seconds_from_midnight_opt(s, 0).expect("in range"));
            Casablanca
                .from_local_datetime(&naive)
                .single()
                .map(|t| t.timestamp())
        };
        let hours = std::array::from_fn(|h| {
            let start = h as u32 * 3600;
            match (single(start), single(start + 3599)) {
                (Some(a), Some(b)) if b - a == 3599 => Some(a),
                _ => None,
            }
        });
        Self { date, hours }
    }

    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// The UTC second of local `second_of_day`; an instant skipped by a clock change is taken
    /// as the next valid one, the earlier of two repeated ones.
    pub fn utc(&self, second_of_day: u32) -> i64 {
        if let Some(start) = self.hours[(second_of_day / 3600) as usize] {
            return start + i64::from(second_of_day % 3600);
        }
        let naive = self.date.and_time(
            NaiveTime::from_num_seconds_from_midnight_opt(second_of_day, 0).expect("in range"),
        );
        Casablanca
            .from_local_datetime(&naive)
            .earliest()
            .unwrap_or_else(|| Casablanca.from_utc_datetime(&naive))
            .timestamp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn iso_uses_casablanca_offsets() {
        assert_eq!(
            iso(utc("2026-04-06T10:15:00Z")),
            "2026-04-06T11:15:00+01:00"
        );
        assert_eq!(
            iso(utc("2026-04-30T23:30:00Z")),
            "2026-05-01T00:30:00+01:00"
        );
        // The Ramadan suspension: UTC+00.
        assert_eq!(
            iso(utc("2026-03-01T12:00:05Z")),
            "2026-03-01T12:00:05+00:00"
        );
        let t = utc("2026-04-06T10:15:00Z");
        assert_eq!(
            iso(t),
            t.with_timezone(&Casablanca)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        );
    }

    #[test]
    fn the_clock_writes_what_iso_writes_across_offset_changes() {
        let mut clock = IsoClock::default();
        let (mut t, end) = (utc("2025-01-01T00:00:00Z"), utc("2028-01-01T00:00:00Z"));
        let mut out = String::new();
        while t < end {
            out.clear();
            clock.push(&mut out, t.timestamp());
            assert_eq!(out, iso(t), "{t}");
            t += Duration::seconds(7 * 60 + 13);
        }
    }

    #[test]
    fn the_day_clock_maps_local_times_as_chrono_tz_does() {
        let mut date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        while chrono::Datelike::year(&date) < 2028 {
            let clock = DayClock::new(date);
            for s in (0..86_400).step_by(97) {
                let naive =
                    date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap());
                let expected = Casablanca
                    .from_local_datetime(&naive)
                    .earliest()
                    .unwrap_or_else(|| Casablanca.from_utc_datetime(&naive))
                    .timestamp();
                assert_eq!(clock.utc(s), expected, "{naive}");
            }
            date += Duration::days(1);
        }
    }

    #[test]
    fn fields_are_read_back_in_order() {
        let mut f = Fields::default();
        let a = f.int(42u64);
        f.text().push('x');
        let (b, c) = (f.end(), f.fixed(2.25, 1));
        assert_eq!((f.get(a), f.get(b), f.get(c)), ("42", "x", "2.2"));
        f.clear();
        let d = f.int(-7i64);
        assert_eq!(f.get(d), "-7");
    }

    proptest! {
        #[test]
        fn fixed_matches_the_standard_formatter(value in 0.0f64..1.0e6, decimals in 0u32..4) {
            let mut out = String::new();
            push_fixed(&mut out, value, decimals);
            prop_assert_eq!(out, format!("{value:.prec$}", prec = decimals as usize));
        }
    }
}

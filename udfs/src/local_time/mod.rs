//! Local time in `Africa/Casablanca` (UTC+01, UTC+00 during the Ramadan suspension): used for
//! subscriber validity, time bands, billing periods and dates shown to people. Stored times stay UTC.

pub mod billing_period;
pub mod local_date;
pub mod local_day_start;
pub mod local_hour;
pub mod time_band;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use datafusion::arrow::array::{
    ArrowPrimitiveType, AsArray, PrimitiveArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

use crate::mediation::parse_timestamp::utc_micros_type;

pub const ZONE: Tz = chrono_tz::Africa::Casablanca;

/// The local wall-clock time of a UTC instant in microseconds; `None` outside chrono's range.
pub fn local(utc_micros: i64) -> Option<DateTime<Tz>> {
    DateTime::<Utc>::from_timestamp_micros(utc_micros).map(|t| t.with_timezone(&ZONE))
}

const MICROS_PER_HOUR: i64 = 3_600_000_000;
const CLOCK_SLOTS: usize = 4096;
/// A slot's offset when the hour has no single offset (or is out of range): read per instant.
const PER_INSTANT: i64 = i64::MIN;

/// Local wall-clock times of many instants, the zone's offset looked up once per UTC hour.
///
/// A time zone lookup per row was most of `billing_period` and `time_band` (rating calls each
/// for every CDR). Casablanca's offsets change on whole UTC hours, so an hour whose offset is the
/// same at its first and last microsecond has that offset throughout; any other hour is read per
/// instant, so the result is always that of [`local`].
pub struct LocalClock {
    /// Direct-mapped by UTC hour: (hour, offset in µs or [`PER_INSTANT`]).
    slots: Box<[(i64, i64)]>,
}

impl Default for LocalClock {
    fn default() -> Self {
        Self {
            slots: vec![(i64::MIN, PER_INSTANT); CLOCK_SLOTS].into_boxed_slice(),
        }
    }
}

impl LocalClock {
    /// The local wall-clock time of a UTC instant in microseconds; `None` outside chrono's range.
    pub fn local(&mut self, utc_micros: i64) -> Option<NaiveDateTime> {
        let hour = utc_micros.div_euclid(MICROS_PER_HOUR);
        let slot = &mut self.slots[hour.rem_euclid(CLOCK_SLOTS as i64) as usize];
        if slot.0 != hour {
            *slot = (hour, hour_offset(hour).unwrap_or(PER_INSTANT));
        }
        let shifted = match slot.1 {
            PER_INSTANT => None,
            offset => utc_micros
                .checked_add(offset)
                .and_then(DateTime::<Utc>::from_timestamp_micros),
        };
        // Past the ends of chrono's range the zone's own answer decides.
        shifted
            .map(|t| t.naive_utc())
            .or_else(|| local(utc_micros).map(|l| l.naive_local()))
    }
}

/// The offset (µs) shared by every instant of UTC hour `hour` (hours since the epoch), if it has one.
pub fn hour_offset(hour: i64) -> Option<i64> {
    let first = hour.checked_mul(MICROS_PER_HOUR)?;
    let offset_at = |micros: i64| -> Option<i64> {
        let utc = DateTime::<Utc>::from_timestamp_micros(micros)?.naive_utc();
        Some(i64::from(ZONE.offset_from_utc_datetime(&utc).fix().local_minus_utc()) * 1_000_000)
    };
    let offset = offset_at(first)?;
    (offset_at(first.checked_add(MICROS_PER_HOUR - 1)?)? == offset).then_some(offset)
}

/// The first argument as UTC microseconds (any timestamp type; a zone-less one is read as UTC).
fn utc_micros(args: &ScalarFunctionArgs) -> Result<TimestampMicrosecondArray> {
    let array = args.args[0].to_array(args.number_rows)?;
    Ok(cast(&array, &utc_micros_type())?.as_primitive().clone())
}

/// Each timestamp of the first argument, read in local time, through `f`; null stays null.
fn map_local<T: ArrowPrimitiveType>(
    args: &ScalarFunctionArgs,
    f: impl Fn(NaiveDateTime) -> T::Native,
) -> Result<ColumnarValue> {
    let mut clock = LocalClock::default();
    let values: PrimitiveArray<T> = utc_micros(args)?
        .iter()
        .map(|t| t.and_then(|t| clock.local(t)).map(&f))
        .collect();
    Ok(ColumnarValue::Array(Arc::new(values)))
}

/// The UTC instant (µs) of 00:00 local time on `date`; the first instant of the day when a
/// clock change skips midnight.
pub fn day_start_micros(date: NaiveDate) -> Option<i64> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    let start = ZONE.from_local_datetime(&midnight).earliest().or_else(|| {
        // Midnight does not exist that day: the day starts when the clock jumps.
        (1..=180).find_map(|m| {
            ZONE.from_local_datetime(&(midnight + chrono::Duration::minutes(m)))
                .earliest()
        })
    })?;
    Some(start.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_ramadan_suspension() {
        let at = |s: &str| {
            local(DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros())
                .unwrap()
                .format("%Y-%m-%d %H:%M %:z")
                .to_string()
        };
        assert_eq!(at("2026-04-30T23:30:00Z"), "2026-05-01 00:30 +01:00");
        assert_eq!(
            at("2026-03-01T12:00:00Z"),
            "2026-03-01 12:00 +00:00",
            "Ramadan suspension"
        );
        assert_eq!(at("2026-02-14T12:00:00Z"), "2026-02-14 13:00 +01:00");
        assert_eq!(at("2026-03-23T12:00:00Z"), "2026-03-23 13:00 +01:00");
    }

    /// Instants every 7 minutes and 13 s across 2025-2027 (both Ramadan suspensions, every month
    /// end), in the order given and shuffled by hour: the clock must agree with `local` on each.
    #[test]
    fn clock_agrees_with_the_zone_everywhere() {
        let start = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .unwrap()
            .timestamp_micros();
        let end = DateTime::parse_from_rfc3339("2027-12-31T00:00:00Z")
            .unwrap()
            .timestamp_micros();
        let mut clock = LocalClock::default();
        let mut t = start;
        while t < end {
            assert_eq!(clock.local(t), local(t).map(|l| l.naive_local()), "at {t}");
            // A far hour in between: slots are reused, never mistaken.
            let far = t + 97 * 24 * MICROS_PER_HOUR + 1;
            assert_eq!(
                clock.local(far),
                local(far).map(|l| l.naive_local()),
                "at {far}"
            );
            t += 433_000_000;
        }
    }

    proptest::proptest! {
        #[test]
        fn clock_agrees_with_the_zone_on_any_instant(t in proptest::num::i64::ANY) {
            let mut clock = LocalClock::default();
            proptest::prop_assert_eq!(clock.local(t), local(t).map(|l| l.naive_local()));
        }
    }

    #[test]
    fn day_start_is_local_midnight() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let utc = |m: i64| {
            DateTime::<Utc>::from_timestamp_micros(m)
                .unwrap()
                .to_rfc3339()
        };
        assert_eq!(
            utc(day_start_micros(d("2026-04-21")).unwrap()),
            "2026-04-20T23:00:00+00:00"
        );
        assert_eq!(
            utc(day_start_micros(d("2026-03-01")).unwrap()),
            "2026-03-01T00:00:00+00:00"
        );
    }
}

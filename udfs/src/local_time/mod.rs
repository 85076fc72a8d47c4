//! Local time in `Africa/Casablanca` (UTC+01, UTC+00 during the Ramadan suspension): used for
//! subscriber validity, time bands, billing periods and dates shown to people. Stored times stay UTC.

pub mod billing_period;
pub mod local_date;
pub mod local_day_start;
pub mod local_hour;
pub mod time_band;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use datafusion::arrow::array::{ArrowPrimitiveType, AsArray, PrimitiveArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

use crate::mediation::parse_timestamp::utc_micros_type;

pub const ZONE: Tz = chrono_tz::Africa::Casablanca;

/// The local wall-clock time of a UTC instant in microseconds; `None` outside chrono's range.
pub fn local(utc_micros: i64) -> Option<DateTime<Tz>> {
    DateTime::<Utc>::from_timestamp_micros(utc_micros).map(|t| t.with_timezone(&ZONE))
}

/// The first argument as UTC microseconds (any timestamp type; a zone-less one is read as UTC).
fn utc_micros(args: &ScalarFunctionArgs) -> Result<TimestampMicrosecondArray> {
    let array = args.args[0].to_array(args.number_rows)?;
    Ok(cast(&array, &utc_micros_type())?.as_primitive().clone())
}

/// Each timestamp of the first argument, read in local time, through `f`; null stays null.
fn map_local<T: ArrowPrimitiveType>(args: &ScalarFunctionArgs, f: impl Fn(DateTime<Tz>) -> T::Native) -> Result<ColumnarValue> {
    let values: PrimitiveArray<T> = utc_micros(args)?.iter().map(|t| t.and_then(local).map(&f)).collect();
    Ok(ColumnarValue::Array(Arc::new(values)))
}

/// The UTC instant (µs) of 00:00 local time on `date`; the first instant of the day when a
/// clock change skips midnight.
pub fn day_start_micros(date: NaiveDate) -> Option<i64> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    let start = ZONE.from_local_datetime(&midnight).earliest().or_else(|| {
        // Midnight does not exist that day: the day starts when the clock jumps.
        (1..=180).find_map(|m| ZONE.from_local_datetime(&(midnight + chrono::Duration::minutes(m))).earliest())
    })?;
    Some(start.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_ramadan_suspension() {
        let at = |s: &str| local(DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros()).unwrap().format("%Y-%m-%d %H:%M %:z").to_string();
        assert_eq!(at("2026-04-30T23:30:00Z"), "2026-05-01 00:30 +01:00");
        assert_eq!(at("2026-03-01T12:00:00Z"), "2026-03-01 12:00 +00:00", "Ramadan suspension");
        assert_eq!(at("2026-02-14T12:00:00Z"), "2026-02-14 13:00 +01:00");
        assert_eq!(at("2026-03-23T12:00:00Z"), "2026-03-23 13:00 +01:00");
    }

    #[test]
    fn day_start_is_local_midnight() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let utc = |m: i64| DateTime::<Utc>::from_timestamp_micros(m).unwrap().to_rfc3339();
        assert_eq!(utc(day_start_micros(d("2026-04-21")).unwrap()), "2026-04-20T23:00:00+00:00");
        assert_eq!(utc(day_start_micros(d("2026-03-01")).unwrap()), "2026-03-01T00:00:00+00:00");
    }
}

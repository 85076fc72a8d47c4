//! `time_band(ts)`: `PEAK` when the local time is Monday to Friday, 08:00:00 <= time < 20:00:00;
//! otherwise `OFFPEAK`.

use std::sync::Arc;

use chrono::{Datelike, NaiveDateTime, Timelike, Weekday};
use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{LocalClock, local, utc_micros};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimeBand {
    signature: Signature,
}

impl Default for TimeBand {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// The band of a UTC instant in microseconds (one instant: no [`LocalClock`] to fill).
pub fn band(utc_micros: i64) -> Option<&'static str> {
    Some(band_of(local(utc_micros)?.naive_local()))
}

/// The band of a local wall-clock time.
fn band_of(l: NaiveDateTime) -> &'static str {
    let weekday = !matches!(l.weekday(), Weekday::Sat | Weekday::Sun);
    if weekday && (8..20).contains(&l.hour()) {
        "PEAK"
    } else {
        "OFFPEAK"
    }
}

impl ScalarUDFImpl for TimeBand {
    fn name(&self) -> &str {
        "time_band"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let times = utc_micros(&args)?;
        let mut out = StringBuilder::with_capacity(args.number_rows, args.number_rows * 7);
        let mut clock = LocalClock::default();
        for t in times.iter() {
            out.append_option(t.and_then(|t| clock.local(t)).map(band_of));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> &'static str {
        band(
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_micros(),
        )
        .unwrap()
    }

    #[test]
    fn weekday_daytime_is_peak() {
        assert_eq!(
            at("2026-04-06T11:15:00+01:00"),
            "PEAK",
            "Monday late morning"
        );
        assert_eq!(
            at("2026-04-07T21:30:00+01:00"),
            "OFFPEAK",
            "Tuesday evening"
        );
        assert_eq!(at("2026-04-06T08:00:00+01:00"), "PEAK", "08:00:00 is in");
        assert_eq!(at("2026-04-06T07:59:59+01:00"), "OFFPEAK");
        assert_eq!(
            at("2026-04-06T20:00:00+01:00"),
            "OFFPEAK",
            "20:00:00 is out"
        );
        assert_eq!(at("2026-04-11T12:00:00+01:00"), "OFFPEAK", "Saturday");
    }

    #[test]
    fn ramadan_suspension_uses_utc_plus_0() {
        // 07:30Z is 07:30 local during the suspension (OFFPEAK), 08:30 outside it (PEAK).
        assert_eq!(at("2026-03-02T07:30:00Z"), "OFFPEAK");
        assert_eq!(at("2026-03-02T19:30:00Z"), "PEAK");
        assert_eq!(at("2026-04-06T07:30:00Z"), "PEAK");
    }
}

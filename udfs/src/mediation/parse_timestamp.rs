//! `parse_timestamp_utc(text)`: an ISO-8601 timestamp with a UTC offset, as network elements
//! write it, to `Timestamp(µs, UTC)`; null when it does not parse (mediation reason E002).
//!
//! DataFusion's own cast accepts timestamps without an offset (read as UTC) and other layouts
//! the spec rejects, hence this strict parser.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use datafusion::arrow::array::{ArrayRef, TimestampMicrosecondBuilder};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::strings::{string_values, trim};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ParseTimestampUtc {
    signature: Signature,
}

impl Default for ParseTimestampUtc {
    fn default() -> Self {
        Self {
            signature: Signature::new(TypeSignature::String(1), Volatility::Immutable),
        }
    }
}

pub fn utc_micros_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

impl ScalarUDFImpl for ParseTimestampUtc {
    fn name(&self) -> &str {
        "parse_timestamp_utc"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(utc_micros_type())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out =
            TimestampMicrosecondBuilder::with_capacity(args.number_rows).with_timezone("UTC");
        for value in string_values(&arrays[0])? {
            out.append_option(value.and_then(parse_utc_micros));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// A cursor over the ASCII bytes of a timestamp.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// Exactly `n` digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let part = self.bytes.get(self.at..self.at + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += n;
        Some(part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    }
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.bytes.get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }
}

/// `YYYY-MM-DD`, `T` or one space, `HH:MM[:SS[.fraction]]`, then `Z`, `±HH`, `±HHMM` or `±HH:MM`.
/// Microseconds since the epoch (fractions beyond microseconds are truncated).
pub fn parse_utc_micros(raw: &str) -> Option<i64> {
    let mut c = Cursor {
        bytes: trim(raw).as_bytes(),
        at: 0,
    };
    let year = c.digits(4)?;
    c.eat(b'-').then_some(())?;
    let month = c.digits(2)?;
    c.eat(b'-').then_some(())?;
    let day = c.digits(2)?;
    (c.eat(b'T') || c.eat(b' ')).then_some(())?;
    let hour = c.digits(2)?;
    c.eat(b':').then_some(())?;
    let minute = c.digits(2)?;
    let (mut second, mut micros) = (0, 0);
    if c.eat(b':') {
        second = c.digits(2)?;
        if c.eat(b'.') {
            let start = c.at;
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                if c.at - start < 6 {
                    micros = micros * 10 + u32::from(c.bytes[c.at] - b'0');
                }
                c.at += 1;
            }
            let len = c.at - start;
            if len == 0 {
                return None;
            }
            micros *= 10u32.pow(6u32.saturating_sub(len as u32));
        }
    }
    let offset_s: i64 = match c.peek()? {
        b'Z' => {
            c.at += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            c.at += 1;
            let hours = c.digits(2)?;
            let minutes = if c.at == c.bytes.len() {
                0
            } else {
                c.eat(b':');
                c.digits(2)?
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = i64::from(hours * 3600 + minutes * 60);
            if sign == b'+' { total } else { -total }
        }
        _ => return None,
    };
    if c.at != c.bytes.len() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros)?;
    let local = NaiveDateTime::new(date, time).and_utc().timestamp_micros();
    local.checked_sub(offset_s * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(s: &str) -> Option<String> {
        parse_utc_micros(s)
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    }

    #[test]
    fn offsets_convert_to_utc() {
        assert_eq!(
            utc("2026-04-06T11:15:00+01:00").as_deref(),
            Some("2026-04-06T10:15:00.000000Z")
        );
        assert_eq!(
            utc("2026-04-06T11:15:00+0100").as_deref(),
            Some("2026-04-06T10:15:00.000000Z")
        );
        assert_eq!(
            utc("2026-04-06T11:15:00+01").as_deref(),
            Some("2026-04-06T10:15:00.000000Z")
        );
        assert_eq!(
            utc("2026-04-06T11:15:00Z").as_deref(),
            Some("2026-04-06T11:15:00.000000Z")
        );
        assert_eq!(
            utc("2026-04-06T00:15:00-02:30").as_deref(),
            Some("2026-04-06T02:45:00.000000Z")
        );
        assert_eq!(
            utc("2026-05-01T00:30:00+01:00").as_deref(),
            Some("2026-04-30T23:30:00.000000Z")
        );
    }

    #[test]
    fn optional_seconds_fraction_and_space_separator() {
        assert_eq!(
            utc("2026-04-06 11:15+01:00").as_deref(),
            Some("2026-04-06T10:15:00.000000Z")
        );
        assert_eq!(
            utc("2026-04-06T11:15:07.5Z").as_deref(),
            Some("2026-04-06T11:15:07.500000Z")
        );
        assert_eq!(
            utc("2026-04-06T11:15:07.123456789Z").as_deref(),
            Some("2026-04-06T11:15:07.123456Z")
        );
        assert_eq!(
            utc("  2026-04-06T11:15:07Z\t").as_deref(),
            Some("2026-04-06T11:15:07.000000Z")
        );
    }

    #[test]
    fn what_the_spec_rejects_does_not_parse() {
        for bad in [
            "",
            "2026-04-06T11:15:00",
            "2026-04-06 11:15",
            "06/04/2026 11:15",
            "2026-13-45T99:99:00+01:00",
            "2026-02-30T10:00:00Z",
            "2026-04-06T24:00:00Z",
            "2026-04-06T11:15:00+1:00",
            "2026-04-06T11:15:00z",
            "2026-04-06T11:15:00.Z",
            "2026-04-06  11:15:00Z",
            "2026-04-06T11:15:00+01:00x",
            "2026-4-06T11:15:00Z",
            "2026-04-06T11:15:00+25:00",
            "2026-04-06T11:15:60Z",
        ] {
            assert_eq!(utc(bad), None, "{bad:?} must not parse");
        }
    }

    proptest! {
        #[test]
        fn never_panics(input in ".{0,40}") {
            let _ = parse_utc_micros(&input);
        }

        #[test]
        fn round_trips_rfc3339(secs in 0i64..4_102_444_800, offset_min in -720i32..840) {
            let offset = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
            let t = chrono::DateTime::from_timestamp(secs, 0).unwrap().with_timezone(&offset);
            prop_assert_eq!(parse_utc_micros(&t.to_rfc3339()), Some(secs * 1_000_000));
        }
    }
}

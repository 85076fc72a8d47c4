//! `billing_period(ts)`: `'YYYY-MM'` of a UTC instant in local time (a call at
//! 2026-04-30T23:30Z is in 2026-05).

use std::fmt::Write;
use std::sync::Arc;

use chrono::Datelike;
use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{LocalClock, utc_micros};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BillingPeriod {
    signature: Signature,
}

impl Default for BillingPeriod {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for BillingPeriod {
    fn name(&self) -> &str {
        "billing_period"
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
        let mut buffer = String::with_capacity(8);
        for t in times.iter() {
            match t.and_then(|t| clock.local(t)) {
                Some(l) => {
                    buffer.clear();
                    write_period(&mut buffer, l.year(), l.month());
                    out.append_value(&buffer);
                }
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// `YYYY-MM`; digits written directly for years 0-9999 (`write!` per row was a visible cost).
fn write_period(out: &mut String, year: i32, month: u32) {
    match u32::try_from(year) {
        Ok(y) if y <= 9999 => {
            let digit = |d: u32| char::from(b'0' + d as u8);
            out.extend([
                digit(y / 1000),
                digit(y / 100 % 10),
                digit(y / 10 % 10),
                digit(y % 10),
                '-',
                digit(month / 10),
                digit(month % 10),
            ]);
        }
        _ => {
            let _ = write!(out, "{year:04}-{month:02}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_text_matches_the_format() {
        for (year, month) in [
            (2026, 4),
            (2026, 12),
            (999, 1),
            (0, 7),
            (9999, 12),
            (10000, 1),
            (-5, 3),
        ] {
            let mut fast = String::new();
            write_period(&mut fast, year, month);
            assert_eq!(fast, format!("{year:04}-{month:02}"));
        }
    }
}

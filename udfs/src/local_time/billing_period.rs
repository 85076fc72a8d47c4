//! `billing_period(ts)`: `'YYYY-MM'` of a UTC instant in local time (a call at
//! 2026-04-30T23:30Z is in 2026-05).

use std::fmt::Write;
use std::sync::Arc;

use chrono::Datelike;
use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::{local, utc_micros};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BillingPeriod {
    signature: Signature,
}

impl Default for BillingPeriod {
    fn default() -> Self {
        Self { signature: Signature::any(1, Volatility::Immutable) }
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
        let mut buffer = String::with_capacity(8);
        for t in times.iter() {
            match t.and_then(local) {
                Some(l) => {
                    buffer.clear();
                    let _ = write!(buffer, "{:04}-{:02}", l.year(), l.month());
                    out.append_value(&buffer);
                }
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

//! `local_date(ts)`: the local calendar date of a UTC instant (for dates shown to people and for
//! `dim_date`).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Date32Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::{local, utc_micros};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LocalDate {
    signature: Signature,
}

impl Default for LocalDate {
    fn default() -> Self {
        Self { signature: Signature::any(1, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for LocalDate {
    fn name(&self) -> &str {
        "local_date"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let times = utc_micros(&args)?;
        let mut out = Date32Builder::with_capacity(args.number_rows);
        for t in times.iter() {
            out.append_option(t.and_then(local).map(|l| l.date_naive().to_epoch_days()));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

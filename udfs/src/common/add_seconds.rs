//! `add_seconds(ts, seconds)`: a UTC timestamp plus a whole number of seconds (SQL has no
//! integer-times-interval here), e.g. a data session's end from its start and duration.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::mediation::parse_timestamp::utc_micros_type;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AddSeconds {
    signature: Signature,
}

impl Default for AddSeconds {
    fn default() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AddSeconds {
    fn name(&self) -> &str {
        "add_seconds"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(utc_micros_type())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let times = cast(&arrays[0], &utc_micros_type())?;
        let seconds = cast(&arrays[1], &DataType::Int64)?;
        let sums: TimestampMicrosecondArray = times
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .zip(seconds.as_primitive::<Int64Type>().iter())
            .map(|(t, s)| {
                t.zip(s)
                    .and_then(|(t, s)| s.checked_mul(1_000_000).and_then(|us| t.checked_add(us)))
            })
            .collect();
        Ok(ColumnarValue::Array(
            Arc::new(sums.with_timezone("UTC")) as ArrayRef
        ))
    }
}

//! `local_day_start(date)`: the UTC instant of 00:00 local time on a date (a CRM version applies
//! from then).

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, AsArray, TimestampMicrosecondBuilder};
use datafusion::arrow::datatypes::{DataType, Date32Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::day_start_micros;
use crate::mediation::parse_timestamp::utc_micros_type;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LocalDayStart {
    signature: Signature,
}

impl Default for LocalDayStart {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for LocalDayStart {
    fn name(&self) -> &str {
        "local_day_start"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(utc_micros_type())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let dates = datafusion::arrow::compute::cast(&arrays[0], &DataType::Date32)?;
        let mut out =
            TimestampMicrosecondBuilder::with_capacity(args.number_rows).with_timezone("UTC");
        for days in dates.as_primitive::<Date32Type>() {
            let date = days.and_then(|d| NaiveDate::from_num_days_from_ce_opt(d + 719_163));
            out.append_option(date.and_then(day_start_micros));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

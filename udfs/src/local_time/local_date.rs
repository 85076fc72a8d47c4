//! `local_date(ts)`: the local calendar date of a UTC instant (for dates shown to people and for
//! `dim_date`).

use datafusion::arrow::datatypes::{DataType, Date32Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::map_local;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LocalDate {
    signature: Signature,
}

impl Default for LocalDate {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
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
        map_local::<Date32Type>(&args, |l| l.date().to_epoch_days())
    }
}

//! `raw_field(text)`: a bronze field as the mediation rules read it: leading and trailing ASCII
//! whitespace removed, and `''` for a missing (null) field, so "empty" has one spelling.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringViewBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility};

use crate::strings::{string_values, trim};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RawField {
    signature: Signature,
}

impl Default for RawField {
    fn default() -> Self {
        Self { signature: Signature::new(TypeSignature::String(1), Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for RawField {
    fn name(&self) -> &str {
        "raw_field"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8View)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = StringViewBuilder::with_capacity(args.number_rows);
        for value in string_values(&arrays[0])? {
            out.append_value(value.map_or("", trim));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_ascii_whitespace_only() {
        assert_eq!(trim(" \tMOC\r\n"), "MOC");
        assert_eq!(trim("\u{a0}MOC"), "\u{a0}MOC", "a no-break space is not ASCII whitespace");
    }
}

//! `parse_count(text)`: a non-negative integer measure (`[0-9]{1,18}` after trimming) as Int64;
//! null for anything else, such as `-12`, `1.5` or `12 s` (mediation reason E008).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::strings::{string_values, trim};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ParseCount {
    signature: Signature,
}

impl Default for ParseCount {
    fn default() -> Self {
        Self {
            signature: Signature::new(TypeSignature::String(1), Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ParseCount {
    fn name(&self) -> &str {
        "parse_count"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = Int64Builder::with_capacity(args.number_rows);
        for value in string_values(&arrays[0])? {
            out.append_option(value.and_then(count));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// 1 to 18 ASCII digits (so it always fits an Int64), after trimming.
pub fn count(raw: &str) -> Option<i64> {
    let digits = trim(raw);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn digits_only() {
        assert_eq!(count("0"), Some(0));
        assert_eq!(count(" 3590 "), Some(3590));
        assert_eq!(count("000123"), Some(123));
        assert_eq!(count("999999999999999999"), Some(999_999_999_999_999_999));
        for bad in [
            "",
            " ",
            "-12",
            "+12",
            "1.5",
            "12 s",
            "1e3",
            "9999999999999999999",
            "١٢",
        ] {
            assert_eq!(count(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(input in ".{0,30}") {
            let _ = count(&input);
        }

        #[test]
        fn every_non_negative_i64_up_to_18_digits_round_trips(n in 0i64..1_000_000_000_000_000_000) {
            prop_assert_eq!(count(&n.to_string()), Some(n));
        }
    }
}

//! `rat_generation(rat_type)`: the radio access technology as `2G`, `3G`, `4G`, `5G`, or
//! `UNKNOWN` (mediation flag W003) for anything no rule maps.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::strings::{string_values, trim};

pub const UNKNOWN: &str = "UNKNOWN";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RatGeneration {
    signature: Signature,
}

impl Default for RatGeneration {
    fn default() -> Self {
        Self {
            signature: Signature::new(TypeSignature::String(1), Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for RatGeneration {
    fn name(&self) -> &str {
        "rat_generation"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = StringBuilder::with_capacity(args.number_rows, args.number_rows * 2);
        for value in string_values(&arrays[0])? {
            out.append_value(value.map_or(UNKNOWN, generation));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// The spec's mapping (`mediation.md`, other rules), case-insensitive, after trimming.
pub fn generation(rat_type: &str) -> &'static str {
    const TABLE: [(&str, &[&str]); 4] = [
        ("2G", &["GERAN", "2", "2G", "GSM"]),
        ("3G", &["UTRAN", "1", "3G", "UMTS", "WCDMA"]),
        ("4G", &["EUTRAN", "6", "4G", "LTE"]),
        ("5G", &["NR", "10", "5G"]),
    ];
    let value = trim(rat_type);
    TABLE
        .iter()
        .find(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(value)))
        .map_or(UNKNOWN, |(generation, _)| generation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_spelling_of_the_spec_maps() {
        for (input, expected) in [
            ("GERAN", "2G"),
            ("2", "2G"),
            ("gsm", "2G"),
            ("2g", "2G"),
            ("UTRAN", "3G"),
            ("1", "3G"),
            ("umts", "3G"),
            ("WCDMA", "3G"),
            ("3G", "3G"),
            ("EUTRAN", "4G"),
            ("6", "4G"),
            ("lte", "4G"),
            (" 4G ", "4G"),
            ("NR", "5G"),
            ("10", "5G"),
            ("5g", "5G"),
        ] {
            assert_eq!(generation(input), expected, "{input}");
        }
    }

    #[test]
    fn anything_else_is_unknown() {
        for input in ["LTE-A", "99", "WLAN", "unknown", "", "E-UTRAN", "06"] {
            assert_eq!(generation(input), UNKNOWN, "{input}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(input in ".{0,20}") {
            let g = generation(&input);
            prop_assert!(["2G", "3G", "4G", "5G", UNKNOWN].contains(&g));
        }
    }
}

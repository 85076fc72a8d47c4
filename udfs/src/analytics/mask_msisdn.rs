//! `mask_msisdn(msisdn)`: an E.164 number with only `+`, its first 5 digits and its last 3 shown
//! (`+212612345678` -> `+21261****678`), for gold tables and reports that must not hold a full
//! MSISDN. Anything too short to mask that way is fully masked.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::strings::map_strings;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MaskMsisdn {
    signature: Signature,
}

impl Default for MaskMsisdn {
    fn default() -> Self {
        Self {
            signature: Signature::new(TypeSignature::String(1), Volatility::Immutable),
        }
    }
}

/// Writes the masked form of `number` into `out`.
pub fn mask_into(number: &str, out: &mut String) {
    out.clear();
    let digits = number.strip_prefix('+').unwrap_or(number);
    let chars: Vec<char> = digits.chars().collect();
    if number.starts_with('+') {
        out.push('+');
    }
    if chars.len() <= 8 {
        out.extend(std::iter::repeat_n('*', chars.len()));
        return;
    }
    out.extend(&chars[..5]);
    out.extend(std::iter::repeat_n('*', chars.len() - 8));
    out.extend(&chars[chars.len() - 3..]);
}

impl ScalarUDFImpl for MaskMsisdn {
    fn name(&self) -> &str {
        "mask_msisdn"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        Ok(ColumnarValue::Array(map_strings(
            &arrays[0], 16, mask_into,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mask(n: &str) -> String {
        let mut out = String::new();
        mask_into(n, &mut out);
        out
    }

    #[test]
    fn keeps_plus_first_five_and_last_three() {
        assert_eq!(mask("+212612345678"), "+21261****678");
        assert_eq!(mask("+33142685300"), "+33142***300");
        assert_eq!(mask("+1234567"), "+*******", "too short: all masked");
    }

    proptest! {
        #[test]
        fn never_reveals_the_middle(n in "\\+[0-9]{9,15}") {
            let m = mask(&n);
            prop_assert_eq!(m.chars().count(), n.chars().count());
            prop_assert_eq!(&m[..6], &n[..6]);
            prop_assert!(m[6..m.len() - 3].chars().all(|c| c == '*'));
        }

        #[test]
        fn never_panics(n in ".{0,20}") {
            let _ = mask(&n);
        }
    }
}

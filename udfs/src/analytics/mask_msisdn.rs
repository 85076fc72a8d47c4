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

/// `text` with every phone number in it masked like [`mask_into`]: a `+` and 8 or more digits, or
/// a run of 9 or more digits standing alone. Digits inside an identifier (next to a letter, `:`,
/// `_` or `-`, as in the CDR id `V:MSC-01:0000000123:MOC`) are left, so ids stay usable.
pub fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let part_of_id =
        |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || ":_-".contains(*c));
    let (mut out, mut masked, mut i) = (String::with_capacity(text.len()), String::new(), 0);
    while i < chars.len() {
        let plus = chars[i] == '+';
        let start = i + usize::from(plus);
        let end = start
            + chars[start..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
        let digits = end - start;
        let standalone =
            !part_of_id(i.checked_sub(1).and_then(|p| chars.get(p))) && !part_of_id(chars.get(end));
        if (plus && digits >= 8 && !part_of_id(chars.get(end)))
            || (!plus && digits >= 9 && standalone)
        {
            mask_into(&chars[i..end].iter().collect::<String>(), &mut masked);
            out.push_str(&masked);
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
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

    #[test]
    fn masks_numbers_in_text_but_not_ids() {
        assert_eq!(
            mask_numbers("call from +212612345678 to 0612345678, cdr V:MSC-CAS:0000000123:MOC"),
            "call from +21261****678 to 06123**678, cdr V:MSC-CAS:0000000123:MOC"
        );
        assert_eq!(mask_numbers("12 calls, 3590 s"), "12 calls, 3590 s");
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

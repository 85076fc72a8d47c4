//! `normalize_msisdn(number [, ton])`: a phone number as the network sent it, to E.164 (`+212...`),
//! a short code (`SC:<digits>`), or null when it is not a number (mediation reason E003).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::strings::{string_values, trim};

/// Home country code.
const HOME_CC: &str = "212";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NormalizeMsisdn {
    signature: Signature,
}

impl Default for NormalizeMsisdn {
    fn default() -> Self {
        Self {
            signature: Signature::one_of(
                vec![TypeSignature::String(1), TypeSignature::String(2)],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for NormalizeMsisdn {
    fn name(&self) -> &str {
        "normalize_msisdn"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let numbers = string_values(&arrays[0])?;
        let tons: Box<dyn Iterator<Item = Option<&str>>> = match arrays.get(1) {
            Some(a) => string_values(a)?,
            None => Box::new(std::iter::repeat(None)),
        };
        let mut out = StringBuilder::with_capacity(args.number_rows, args.number_rows * 13);
        let mut buffer = String::with_capacity(32);
        for (number, ton) in numbers.zip(tons) {
            let international = ton.is_some_and(|t| trim(t).eq_ignore_ascii_case("international"));
            match number.and_then(|n| normalize_into(n, international, &mut buffer)) {
                Some(normalized) => out.append_value(normalized),
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The spec's rules in order (`mediation.md`), written into `out`; `None` when none applies or the
/// result is not a valid E.164 number.
pub fn normalize_into<'a>(raw: &str, international: bool, out: &'a mut String) -> Option<&'a str> {
    out.clear();
    let mut cleaned = [0u8; 40];
    let mut len = 0;
    for b in trim(raw)
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'-' | b'.' | b'(' | b')'))
    {
        // Longer than any rule allows: not a number (and no allocation for garbage).
        *cleaned.get_mut(len)? = b;
        len += 1;
    }
    let s = std::str::from_utf8(&cleaned[..len]).ok()?;
    let digits = s.len();
    if let Some(rest) = s
        .strip_prefix('+')
        .filter(|r| (8..=15).contains(&r.len()) && all_digits(r))
    {
        out.push('+');
        out.push_str(rest);
    } else if let Some(rest) = s.strip_prefix("00").filter(|r| all_digits(r)) {
        out.push('+');
        out.push_str(rest);
    } else if international && all_digits(s) {
        out.push('+');
        out.push_str(s);
    } else if digits == 10 && s.starts_with('0') && all_digits(s) {
        out.push_str("+212");
        out.push_str(&s[1..]);
    } else if digits == 12 && s.starts_with(HOME_CC) && all_digits(s) {
        out.push('+');
        out.push_str(s);
    } else if digits == 9 && matches!(s.as_bytes()[0], b'5'..=b'8') && all_digits(s) {
        out.push_str("+212");
        out.push_str(s);
    } else if (3..=5).contains(&digits) && all_digits(s) {
        out.push_str("SC:");
        out.push_str(s);
        return Some(out.as_str());
    } else {
        return None;
    }
    valid_e164(out).then_some(out.as_str())
}

/// 8 to 15 digits after `+`, no `+0`, and exactly 9 national digits for a `+212` number.
fn valid_e164(n: &str) -> bool {
    let Some(digits) = n.strip_prefix('+') else {
        return false;
    };
    let length_ok = (8..=15).contains(&digits.len()) && !digits.starts_with('0');
    let home_ok = !digits.starts_with(HOME_CC) || digits.len() == HOME_CC.len() + 9;
    length_ok && home_ok && all_digits(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(raw: &str, international: bool) -> Option<String> {
        let mut buffer = String::new();
        normalize_into(raw, international, &mut buffer).map(str::to_string)
    }

    #[test]
    fn rule_1_plus_and_8_to_15_digits_is_kept() {
        assert_eq!(
            norm("+212612345678", false).as_deref(),
            Some("+212612345678")
        );
        assert_eq!(norm("+33142685300", false).as_deref(), Some("+33142685300"));
        assert_eq!(norm("+1234567", false), None, "7 digits is too short");
        assert_eq!(
            norm("+1234567890123456", false),
            None,
            "16 digits is too long"
        );
    }

    #[test]
    fn rule_2_double_zero_becomes_plus() {
        assert_eq!(
            norm("0033 1 42 68 53 00", false).as_deref(),
            Some("+33142685300")
        );
        assert_eq!(
            norm("00212612345678", false).as_deref(),
            Some("+212612345678")
        );
        assert_eq!(norm("0012", false), None, "+12 is too short for E.164");
    }

    #[test]
    fn rule_3_international_ton_gets_a_plus() {
        assert_eq!(norm("34612345678", true).as_deref(), Some("+34612345678"));
        assert_eq!(norm("34612345678", false), None);
    }

    #[test]
    fn rules_4_to_6_make_moroccan_numbers() {
        assert_eq!(
            norm("0661 23 45 67", false).as_deref(),
            Some("+212661234567")
        );
        assert_eq!(
            norm("0522-12-34-56", false).as_deref(),
            Some("+212522123456")
        );
        assert_eq!(
            norm("212612345678", false).as_deref(),
            Some("+212612345678")
        );
        assert_eq!(norm("612345678", false).as_deref(), Some("+212612345678"));
        assert_eq!(
            norm("(+212) 612.345.678", false).as_deref(),
            Some("+212612345678")
        );
        assert_eq!(
            norm("412345678", false),
            None,
            "9 digits must start with 5-8"
        );
    }

    #[test]
    fn rule_7_short_codes() {
        assert_eq!(norm("777", false).as_deref(), Some("SC:777"));
        assert_eq!(norm(" 12345 ", false).as_deref(), Some("SC:12345"));
        assert_eq!(norm("12", false), None);
    }

    #[test]
    fn rule_8_and_validation_reject_everything_else() {
        for bad in [
            "",
            "12AB34",
            "+212",
            "UNKNOWN",
            "+0012",
            "06-12-AB",
            "+0123456789",
            "+21261234567",
            "+2126123456789",
            "0612345",
            "1234567",
        ] {
            assert_eq!(norm(bad, false), None, "{bad:?} is not a number");
        }
        assert_eq!(
            norm("0021261234567", false),
            None,
            "+212 needs exactly 9 national digits"
        );
        assert_eq!(
            norm("21261234567", true),
            None,
            "+212 needs exactly 9 national digits"
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_results_are_well_formed(raw in ".{0,40}", international: bool) {
            if let Some(n) = norm(&raw, international) {
                prop_assert!(n.starts_with("SC:") || valid_e164(&n), "{n}");
            }
        }

        #[test]
        fn moroccan_mobiles_in_any_layout_normalize(national in "[67][0-9]{8}", layout in 0..4usize) {
            let raw = match layout {
                0 => format!("0{national}"),
                1 => format!("00212{national}"),
                2 => format!("+212 {} {}", &national[..3], &national[3..]),
                _ => national.clone(),
            };
            prop_assert_eq!(norm(&raw, false), Some(format!("+212{national}")));
        }
    }
}

//! `raw_field(text)`: a bronze field as the mediation rules read it: leading and trailing ASCII
//! whitespace removed, and `''` for a missing (null) field, so "empty" has one spelling.

use std::sync::Arc;

use datafusion::arrow::array::builder::make_view;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, ByteView, StringViewArray, StringViewBuilder,
};
use datafusion::arrow::buffer::ScalarBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::strings::{string_values, trim};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RawField {
    signature: Signature,
}

impl Default for RawField {
    fn default() -> Self {
        Self {
            signature: Signature::new(TypeSignature::String(1), Volatility::Immutable),
        }
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
        if let Some(views) = arrays[0].as_string_view_opt() {
            return Ok(ColumnarValue::Array(Arc::new(trim_views(views))));
        }
        let mut out = StringViewBuilder::with_capacity(args.number_rows);
        for value in string_values(&arrays[0])? {
            out.append_value(value.map_or("", trim));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// The trimmed values of `array` as views into its own buffers: no string is copied (bronze
/// fields rarely carry whitespace, and this runs on every field of every row).
fn trim_views(array: &StringViewArray) -> StringViewArray {
    let views: ScalarBuffer<u128> = array
        .views()
        .iter()
        .enumerate()
        .map(|(i, &view)| {
            if array.is_null(i) {
                return make_view(b"", 0, 0);
            }
            // SAFETY: `i` is in bounds.
            let value = unsafe { array.value_unchecked(i) };
            let trimmed = trim(value);
            if trimmed.len() == value.len() {
                return view;
            }
            let start = trimmed.as_ptr() as usize - value.as_ptr() as usize;
            let original = ByteView::from(view);
            // Inline views (up to 12 bytes) copy their bytes; longer ones point into the same buffer.
            make_view(
                trimmed.as_bytes(),
                original.buffer_index,
                original.offset + start as u32,
            )
        })
        .collect();
    // SAFETY: every view is either unchanged or a sub-range of a valid view's bytes, on a UTF-8
    // boundary (only ASCII whitespace is cut), in the same buffers.
    unsafe { StringViewArray::new_unchecked(views, array.data_buffers().to_vec(), None) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_ascii_whitespace_only() {
        assert_eq!(trim(" \tMOC\r\n"), "MOC");
        assert_eq!(
            trim("\u{a0}MOC"),
            "\u{a0}MOC",
            "a no-break space is not ASCII whitespace"
        );
    }

    proptest::proptest! {
        #[test]
        fn trim_cuts_what_the_char_rule_cuts(value in "[ \t\r\n\x0b\x0ca-zA-Z0-9:+\u{a0}\u{3000}é]{0,24}") {
            proptest::prop_assert_eq!(trim(&value), value.trim_matches(|c: char| c.is_ascii_whitespace()));
        }
    }

    #[test]
    fn views_are_trimmed_in_place_and_nulls_become_empty() {
        let long = "  a value longer than twelve bytes \t";
        let input = StringViewArray::from(vec![
            Some(" MOC "),
            None,
            Some(long),
            Some("exactly twelve"),
            Some("  thirteen bytes"),
            Some(""),
        ]);
        let out = trim_views(&input);
        let got: Vec<&str> = out.iter().map(|v| v.expect("no nulls")).collect();
        assert_eq!(
            got,
            [
                "MOC",
                "",
                "a value longer than twelve bytes",
                "exactly twelve",
                "thirteen bytes",
                ""
            ]
        );
        assert_eq!(
            out.data_buffers().len(),
            input.data_buffers().len(),
            "no new buffer"
        );
    }
}

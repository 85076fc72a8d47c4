//! Reading string arguments whatever their Arrow layout (Utf8, LargeUtf8, Utf8View: Delta scans
//! give views, literals give Utf8), and the ASCII trimming every mediation rule applies.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};

/// The values of a string array, null for null; an error for a non-string array.
pub fn string_values(array: &ArrayRef) -> Result<Box<dyn Iterator<Item = Option<&str>> + '_>> {
    Ok(match array.data_type() {
        DataType::Utf8 => Box::new(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => Box::new(array.as_string::<i64>().iter()),
        DataType::Utf8View => Box::new(array.as_string_view().iter()),
        DataType::Null => Box::new((0..array.len()).map(|_| None)),
        other => return exec_err!("expected a string argument, got {other}"),
    })
}

/// Leading and trailing ASCII whitespace removed (the spec's trimming rule).
pub fn trim(value: &str) -> &str {
    // A byte loop (the same set as char::is_ascii_whitespace); runs on every bronze field.
    value.trim_ascii()
}

/// Each string of `array` through `f` (which writes its result into the buffer it is given), as a
/// Utf8 array; null stays null. One reused buffer, no allocation per row.
pub fn map_strings(
    array: &ArrayRef,
    bytes_per_row: usize,
    mut f: impl FnMut(&str, &mut String),
) -> Result<ArrayRef> {
    let mut out = StringBuilder::with_capacity(array.len(), array.len() * bytes_per_row);
    let mut buffer = String::with_capacity(bytes_per_row);
    for value in string_values(array)? {
        match value {
            Some(v) => {
                f(v, &mut buffer);
                out.append_value(&buffer);
            }
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

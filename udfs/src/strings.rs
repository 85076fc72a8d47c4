//! Reading string arguments whatever their Arrow layout (Utf8, LargeUtf8, Utf8View: Delta scans
//! give views, literals give Utf8), and the ASCII trimming every mediation rule applies.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};

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
    value.trim_matches(|c: char| c.is_ascii_whitespace())
}

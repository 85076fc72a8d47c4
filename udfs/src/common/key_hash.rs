//! `key_hash(value, ...)`: a fast 64-bit hash of one or more columns (DataFusion's own vectorized
//! row hash), so a query can group or join on an integer instead of long text keys; null if any
//! value is null, like `=` on the columns themselves. Equal values hash alike; different
//! values can collide, so use it only where a collision costs time, not correctness (e.g. to
//! route rows to a slower path that handles every case). Not stable across cdrlake versions:
//! never store it (`surrogate_key` is the stable one).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KeyHash {
    signature: Signature,
}

impl Default for KeyHash {
    fn default() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

/// Hashes of the rows of `arrays` (equal lengths); null where any of them is null.
pub fn key_hashes(arrays: &[ArrayRef]) -> Result<Int64Array> {
    let rows = arrays.first().map_or(0, |a| a.len());
    // Text hashes differently as Utf8 and as Utf8View: hash one form, so a key read from Delta
    // (views) matches the same key typed in SQL or built by a function (plain text).
    let arrays = arrays
        .iter()
        .map(|a| match a.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => cast(a, &DataType::Utf8View),
            DataType::Binary | DataType::LargeBinary => cast(a, &DataType::BinaryView),
            _ => Ok(a.clone()),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut hashes = vec![0u64; rows];
    create_hashes(&arrays, &RandomState::with_seed(0), &mut hashes)?;
    let values: ScalarBuffer<i64> = hashes.into_iter().map(|h| h as i64).collect();
    let nulls = arrays.iter().fold(None, |acc: Option<NullBuffer>, a| {
        NullBuffer::union(acc.as_ref(), a.logical_nulls().as_ref())
    });
    Ok(Int64Array::new(
        values,
        nulls.filter(|n| n.null_count() > 0),
    ))
}

impl ScalarUDFImpl for KeyHash {
    fn name(&self) -> &str {
        "key_hash"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        if arrays.is_empty() {
            return datafusion::common::plan_err!("key_hash needs at least one argument");
        }
        Ok(ColumnarValue::Array(
            Arc::new(key_hashes(&arrays)?) as ArrayRef
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, StringArray, StringViewArray};
    use proptest::prelude::*;

    fn text(values: Vec<Option<&str>>) -> ArrayRef {
        Arc::new(StringArray::from(values))
    }

    fn hashes(values: Vec<Option<&str>>) -> Int64Array {
        key_hashes(&[text(values)]).unwrap()
    }

    #[test]
    fn equal_values_hash_alike_and_null_stays_null() {
        let h = hashes(vec![
            Some("VOICE-1"),
            Some("VOICE-2"),
            Some("VOICE-1"),
            None,
        ]);
        assert_eq!(h.value(0), h.value(2));
        assert_ne!(h.value(0), h.value(1));
        assert!(h.is_null(3) && !h.is_null(0));
    }

    #[test]
    fn several_columns_hash_as_a_tuple_and_any_null_makes_null() {
        let a = text(vec![Some("E1"), Some("E1"), Some("E1"), None]);
        let b = text(vec![Some("7"), Some("7"), Some("8"), Some("7")]);
        let h = key_hashes(&[a, b]).unwrap();
        assert_eq!(h.value(0), h.value(1));
        assert_ne!(h.value(0), h.value(2));
        assert!(h.is_null(3));
    }

    proptest! {
        #[test]
        fn text_and_view_text_hash_alike(v in ".{0,40}") {
            let plain = hashes(vec![Some(v.as_str())]);
            let view = key_hashes(&[Arc::new(StringViewArray::from(vec![v.as_str()])) as ArrayRef]).unwrap();
            prop_assert_eq!(plain.value(0), view.value(0));
        }
    }
}

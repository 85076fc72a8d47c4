//! `billable_units(duration_s, first_s, next_s)`: seconds billed under an increment scheme
//! (`60/1`, `1/1`, `60/60`): 0 for 0 s, `first_s` up to `first_s`, then whole `next_s` steps.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BillableUnits {
    signature: Signature,
}

impl Default for BillableUnits {
    fn default() -> Self {
        Self {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

/// The spec's rule 6; null when an argument is null, negative, or the scheme has a zero step.
pub fn billable(duration: i64, first: i64, next: i64) -> Option<i64> {
    if duration < 0 || first < 0 || next <= 0 {
        return None;
    }
    if duration == 0 {
        return Some(0);
    }
    if duration <= first {
        return Some(first);
    }
    let steps = (duration - first).checked_add(next - 1)? / next;
    first.checked_add(steps.checked_mul(next)?)
}

impl ScalarUDFImpl for BillableUnits {
    fn name(&self) -> &str {
        "billable_units"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let ints = arrays
            .iter()
            .map(|a| cast(a, &DataType::Int64))
            .collect::<Result<Vec<_>, _>>()?;
        let (d, f, n) = (
            ints[0].as_primitive::<Int64Type>(),
            ints[1].as_primitive::<Int64Type>(),
            ints[2].as_primitive::<Int64Type>(),
        );
        let out: Int64Array = (0..args.number_rows)
            .map(|i| {
                let get = |a: &datafusion::arrow::array::Int64Array| {
                    (!datafusion::arrow::array::Array::is_null(a, i)).then(|| a.value(i))
                };
                billable(get(d)?, get(f)?, get(n)?)
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn schemes_of_the_tariff() {
        assert_eq!(billable(0, 60, 1), Some(0));
        assert_eq!(billable(7, 60, 1), Some(60));
        assert_eq!(billable(60, 60, 1), Some(60));
        assert_eq!(billable(125, 60, 1), Some(125));
        assert_eq!(billable(7, 1, 1), Some(7));
        assert_eq!(
            billable(61, 60, 60),
            Some(120),
            "the worked example's roaming call"
        );
        assert_eq!(billable(3590, 60, 1), Some(3590));
        assert_eq!(billable(5, 60, 0), None);
    }

    proptest! {
        #[test]
        fn never_less_than_the_duration_nor_a_step_more(d in 0i64..1_000_000, first in 1i64..120, next in 1i64..120) {
            let b = billable(d, first, next).unwrap();
            prop_assert!(b >= d);
            prop_assert!(d == 0 || b < d.max(first) + next);
        }

        #[test]
        fn never_panics(d: i64, first: i64, next: i64) {
            let _ = billable(d, first, next);
        }
    }
}

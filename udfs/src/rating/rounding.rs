//! Exact decimal rounding for money: `round_up(x, scale)` towards +infinity (rated charges, 4
//! decimals) and `round_half_up(x, scale)` half away from zero (invoice amounts, 2 decimals; the
//! proration factor, 9). Both return `Decimal128(18, scale)`, the contract's money types, and work
//! on the exact decimal value: no float anywhere.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// Money precision of the data contract (`money4`, `money2`).
const PRECISION: u8 = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Towards +infinity.
    Up,
    /// Half away from zero.
    HalfUp,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Round {
    signature: Signature,
    mode: Mode,
}

impl Round {
    pub fn new(mode: Mode) -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
            mode,
        }
    }
}

/// `value` with `from` decimals, rounded to `to` decimals (`to <= from`).
pub fn round(value: i128, from: i8, to: i8, mode: Mode) -> Option<i128> {
    if to >= from {
        return value.checked_mul(10i128.checked_pow(u32::try_from(to - from).ok()?)?);
    }
    let divisor = 10i128.checked_pow(u32::try_from(from - to).ok()?)?;
    let (q, r) = (value / divisor, value % divisor);
    Some(match mode {
        Mode::Up => q + i128::from(r > 0),
        Mode::HalfUp if r.abs() * 2 >= divisor => q + r.signum(),
        Mode::HalfUp => q,
    })
}

fn target_scale(arg: Option<&ScalarValue>) -> Result<i8> {
    let scale = match arg {
        Some(ScalarValue::Int64(Some(s))) => *s,
        Some(ScalarValue::Int32(Some(s))) => i64::from(*s),
        _ => {
            return plan_err!(
                "the second argument of round_up / round_half_up must be an integer literal (the decimals)"
            );
        }
    };
    match i8::try_from(scale) {
        Ok(s) if (0..=PRECISION as i8).contains(&s) => Ok(s),
        _ => plan_err!("cannot round to {scale} decimals"),
    }
}

impl ScalarUDFImpl for Round {
    fn name(&self) -> &str {
        match self.mode {
            Mode::Up => "round_up",
            Mode::HalfUp => "round_half_up",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        plan_err!("{} needs its arguments to type its result", self.name())
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let scale = target_scale(args.scalar_arguments.get(1).copied().flatten())?;
        match args.arg_fields[0].data_type() {
            t if t.is_integer() || matches!(t, DataType::Decimal128(..) | DataType::Null) => {}
            other => {
                return plan_err!(
                    "{} rounds decimals and integers, not {other} (money is never float)",
                    self.name()
                );
            }
        }
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::Decimal128(PRECISION, scale),
            true,
        )))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::Decimal128(_, to) = args.return_field.data_type() else {
            return exec_err!("unexpected return type");
        };
        let to = *to;
        let input = args.args[0].to_array(args.number_rows)?;
        let from = match input.data_type() {
            DataType::Decimal128(_, s) => *s,
            _ => 0,
        };
        let decimals = cast(&input, &DataType::Decimal128(38, from))?;
        let limit = 10i128.pow(u32::from(PRECISION));
        let mut overflow = None;
        let out: Decimal128Array = decimals
            .as_primitive::<Decimal128Type>()
            .iter()
            .map(|v| {
                let r = v.and_then(|v| round(v, from, to, self.mode));
                if v.is_some() && r.is_none_or(|r| r.abs() >= limit) {
                    overflow = v;
                }
                r
            })
            .collect();
        if let Some(v) = overflow {
            return exec_err!(
                "{}: {v} (scale {from}) does not fit Decimal128({PRECISION}, {to})",
                self.name()
            );
        }
        Ok(ColumnarValue::Array(
            Arc::new(out.with_precision_and_scale(PRECISION, to)?) as ArrayRef,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn up_goes_towards_plus_infinity() {
        assert_eq!(
            round(8_133_333, 7, 4, Mode::Up),
            Some(8134),
            "0.8133333 -> 0.8134"
        );
        assert_eq!(
            round(11_500_000, 7, 4, Mode::Up),
            Some(11_500),
            "exact stays"
        );
        assert_eq!(
            round(-8_133_333, 7, 4, Mode::Up),
            Some(-8133),
            "towards +infinity, not away from zero"
        );
        assert_eq!(round(5, 0, 4, Mode::Up), Some(50_000), "more decimals");
    }

    #[test]
    fn half_up_goes_away_from_zero() {
        assert_eq!(
            round(32_666_666_683, 9, 2, Mode::HalfUp),
            Some(3267),
            "the worked example's 32.666666683"
        );
        assert_eq!(
            round(-6_567, 3, 2, Mode::HalfUp),
            Some(-657),
            "-6.567 -> -6.57"
        );
        assert_eq!(round(2_215, 3, 2, Mode::HalfUp), Some(222), "2.215 -> 2.22");
        assert_eq!(round(-2_215, 3, 2, Mode::HalfUp), Some(-222));
        assert_eq!(round(2_214, 3, 2, Mode::HalfUp), Some(221));
        assert_eq!(
            round(6_666_666_667, 10, 9, Mode::HalfUp),
            Some(666_666_667),
            "20/30 to 9 decimals"
        );
    }

    proptest! {
        #[test]
        fn within_one_unit_and_never_panics(v in -10i128.pow(30)..10i128.pow(30), from in 0i8..20, to in 0i8..20) {
            for mode in [Mode::Up, Mode::HalfUp] {
                if let (Some(r), true) = (round(v, from, to, mode), to <= from) {
                    let scale = 10i128.pow((from - to) as u32);
                    prop_assert!((r * scale - v).abs() < scale);
                    if mode == Mode::Up { prop_assert!(r * scale >= v); }
                }
            }
        }
    }
}

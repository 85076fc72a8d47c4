//! `haversine_km(lat1, lon1, lat2, lon2)`: great-circle distance in km on a sphere of radius
//! 6371.0 km (the spec's Earth), from coordinates in degrees. Null if any input is null.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

pub const EARTH_RADIUS_KM: f64 = 6371.0;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HaversineKm {
    signature: Signature,
}

impl Default for HaversineKm {
    fn default() -> Self {
        Self {
            signature: Signature::uniform(4, vec![DataType::Float64], Volatility::Immutable),
        }
    }
}

pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dlat = p2 - p1;
    let dlon = (lon2 - lon1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dlon / 2.0).sin().powi(2);
    // Rounding can push h a hair above 1 for antipodal points; asin would give NaN.
    2.0 * EARTH_RADIUS_KM * h.clamp(0.0, 1.0).sqrt().asin()
}

impl ScalarUDFImpl for HaversineKm {
    fn name(&self) -> &str {
        "haversine_km"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| arrays[i].as_primitive::<Float64Type>());
        let out: Float64Array = (0..args.number_rows)
            .map(|i| {
                let values = [a, b, c, d].map(|x| (!x.is_null(i)).then(|| x.value(i)));
                match values {
                    [Some(la1), Some(lo1), Some(la2), Some(lo2)] => {
                        Some(haversine_km(la1, lo1, la2, lo2))
                    }
                    _ => None,
                }
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
    fn known_distances() {
        // One degree of latitude: 6371 * pi / 180.
        assert!((haversine_km(33.0, -7.0, 34.0, -7.0) - 111.194_926_644).abs() < 1e-6);
        let km = haversine_km(33.5731, -7.5898, 34.0209, -6.8416);
        assert!((km - 85.2).abs() < 0.1, "Casablanca to Rabat: {km}");
        assert_eq!(haversine_km(33.0, -7.0, 33.0, -7.0), 0.0);
        // A quarter of the equator.
        assert!(
            (haversine_km(0.0, 0.0, 0.0, 90.0) - EARTH_RADIUS_KM * std::f64::consts::FRAC_PI_2)
                .abs()
                < 1e-9
        );
    }

    proptest! {
        #[test]
        fn symmetric_and_within_half_the_circumference(a in -90.0..90.0f64, b in -180.0..180.0f64, c in -90.0..90.0f64, d in -180.0..180.0f64) {
            let x = haversine_km(a, b, c, d);
            prop_assert!((x - haversine_km(c, d, a, b)).abs() < 1e-6);
            prop_assert!((0.0..=EARTH_RADIUS_KM * std::f64::consts::PI + 1e-6).contains(&x));
        }
    }
}

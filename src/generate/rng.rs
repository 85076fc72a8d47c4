//! Deterministic randomness: every (seed, purpose, index) gets its own PCG stream, so output does
//! not depend on the order work is done in (and can later be parallel).

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

pub type Stream = Pcg64Mcg;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub fn stream(seed: u64, purpose: u64, index: u64) -> Stream {
    Pcg64Mcg::seed_from_u64(splitmix(
        splitmix(seed ^ purpose.wrapping_mul(0x1000_0000_01B3)) ^ index,
    ))
}

/// Index into `weights` with probability proportional to the weight.
pub fn weighted(rng: &mut Stream, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// A standard normal draw (Box-Muller).
pub fn normal(rng: &mut Stream) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal with the given median and shape.
pub fn lognormal(rng: &mut Stream, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Poisson draw (Knuth for small means, normal approximation above 30).
pub fn poisson(rng: &mut Stream, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut p = 1.0;
    let mut k = 0;
    loop {
        p *= rng.random::<f64>();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: Vec<u64> = (0..3).map(|_| stream(42, 1, 7).random()).collect();
        assert_eq!(a[0], a[1]);
        let mut s1 = stream(42, 1, 7);
        let mut s2 = stream(42, 1, 8);
        assert_ne!(s1.random::<u64>(), s2.random::<u64>());
    }

    #[test]
    fn distributions_have_the_right_centre() {
        let mut r = stream(1, 2, 3);
        let mut v: Vec<f64> = (0..20_000).map(|_| lognormal(&mut r, 60.0, 1.0)).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let median = v[v.len() / 2];
        assert!((50.0..70.0).contains(&median), "median {median}");
        let mean = (0..20_000)
            .map(|_| poisson(&mut r, 4.0) as f64)
            .sum::<f64>()
            / 20_000.0;
        assert!((3.8..4.2).contains(&mean), "mean {mean}");
        let counts = (0..10_000).fold([0; 3], |mut c, _| {
            c[weighted(&mut r, &[0.6, 0.3, 0.1])] += 1;
            c
        });
        assert!(
            (5_700..6_300).contains(&counts[0]) && (700..1_300).contains(&counts[2]),
            "{counts:?}"
        );
    }
}

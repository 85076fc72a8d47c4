//! Functions the analytics layer needs: PII masking and pseudonyms, stable keys, distances.

pub mod haversine_km;
pub mod hmac_token;
pub mod mask_msisdn;
pub mod surrogate_key;

/// Appends `bytes` to `out` as lowercase hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    use std::fmt::Write as _;
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
}

//! Functions the analytics layer needs: PII masking and pseudonyms, stable keys, distances.

pub mod haversine_km;
pub mod hmac_token;
pub mod mask_msisdn;
pub mod surrogate_key;

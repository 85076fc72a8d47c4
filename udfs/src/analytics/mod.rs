//! Functions the analytics layer needs: PII masking.

pub mod mask_msisdn;

//! Functions mediation (bronze to silver) needs: number normalization, RAT mapping, strict
//! timestamp and measure parsing.

pub mod normalize_msisdn;
pub mod parse_count;
pub mod parse_timestamp;
pub mod rat_generation;
pub mod raw_field;

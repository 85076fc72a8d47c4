//! General-purpose functions the models use.

pub mod add_seconds;
pub mod key_hash;
pub mod to_json;

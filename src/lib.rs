//! cdrlake: a SQL lakehouse for telecom call detail records.
//!
//! The binary is a thin shell (`cli`) over these modules; tests and benchmarks use them directly.

pub mod alerts;
pub mod allocator;
pub mod billing;
pub mod cli;
#[cfg(feature = "ballista")]
pub mod cluster;
pub mod commands;
pub mod contract;
pub mod engine;
pub mod error;
pub mod freshness;
pub mod generate;
pub mod ingest;
pub mod memory_pool;
pub mod metrics;
pub mod models;
pub mod output;
pub mod placeholders;
pub mod s3_server;
pub mod server;
pub mod sql_write;
pub mod watch;

//! SQL models (replaces dbt): `.sql` files whose dependencies come from the SQL itself, built in
//! dependency order as views, Delta tables or incremental Delta merges, with data tests.

pub mod binds;
pub mod changes;
pub mod dag;
pub mod datatests;
pub mod deps;
pub mod fingerprint;
pub mod header;
pub mod lineage;
pub mod materialize;
pub mod project;
pub mod runner;
pub mod seeds;
pub mod stage;
pub mod system;

pub use dag::Dag;
pub use project::Project;
pub use runner::{RunOptions, RunReport, run};

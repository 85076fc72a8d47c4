//! SQL models (replaces dbt): `.sql` files whose dependencies come from the SQL itself, built in
//! dependency order as views, Delta tables or incremental Delta merges, with data tests.

pub mod binds;
pub mod changes;
pub mod dag;
pub mod datatests;
pub mod deps;
pub mod fingerprint;
pub mod header;
pub mod held;
pub mod lineage;
pub mod materialize;
pub mod maxima;
pub mod memory_retry;
pub mod peak_rss;
pub mod progress;
pub mod project;
pub mod runner;
pub mod seeds;
pub mod stage;
pub mod system;
pub mod template;

pub use dag::Dag;
pub use project::Project;
pub use runner::{RunOptions, RunReport, run};

use cdrlake_catalog::{Fence, Lakehouse};

/// The lease a model run and a period close hold, so that they never overlap.
pub const MODELS_LEASE: &str = "models";

/// Runs `work` holding the `models` lease, and gives the lease back whatever `work` returns.
/// `work` gets the lease's fence, to check before it commits (`RunOptions::fence`).
pub async fn with_models_lease<T, F>(
    lakehouse: &Lakehouse,
    purpose: &str,
    work: impl FnOnce(Fence) -> F,
) -> anyhow::Result<T>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    let lease = lakehouse.acquire_lease(MODELS_LEASE, purpose).await?;
    let outcome = work(lease.fence()).await;
    lease.release().await?;
    outcome
}

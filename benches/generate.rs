//! Generator throughput: `cargo bench --bench generate` (release profile).
//! CDRLAKE_BENCH_CDRS sets the target size (default 10,000,000 CDRs over 30 days).
//! Writes into a temporary local-directory lakehouse and prints CDRs/s and rows/s.

use std::sync::Arc;

use cdrlake::generate::{GenerateOptions, customers_for, generate};
use cdrlake_catalog::{Lakehouse, LakehouseConfig};
use chrono::NaiveDate;

fn main() -> anyhow::Result<()> {
    let cdrs: u64 = std::env::var("CDRLAKE_BENCH_CDRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let days = 30;
    // As `cdrlake generate` runs: freed memory is kept for reuse.
    cdrlake::allocator::keep_freed_memory(true);
    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = LakehouseConfig::local(dir.path().join("lake").to_string_lossy());
        let (lakehouse, _) = Lakehouse::init(config).await?;
        let lakehouse = Arc::new(lakehouse);
        let options = GenerateOptions::all_at_once(
            customers_for(cdrs, days),
            NaiveDate::from_ymd_opt(2026, 4, 1).expect("valid"),
            days,
            42,
        );
        let summary = generate(&lakehouse, &options).await?;
        let rows: u64 = summary.rows.iter().map(|(_, n)| n).sum();
        println!("generate: {} customers, {days} days", options.customers);
        for (table, n) in &summary.rows {
            println!("  {table:<14} {n:>12}");
        }
        println!(
            "generate: {} CDRs in {:.2}s = {:.0} CDRs/s ({:.0} rows/s incl. probes and CRM)",
            summary.cdrs(),
            summary.seconds,
            summary.cdrs() as f64 / summary.seconds,
            rows as f64 / summary.seconds
        );
        anyhow::Ok(())
    })
}

//! Mediation throughput, bronze to silver: `cargo bench --bench mediate` (release profile).
//! Generates CDRLAKE_BENCH_CDRS CDRs (default 10,000,000) with the release binary into
//! CDRLAKE_BENCH_LAKE (default: a temporary directory; an existing lakehouse is reused as it is),
//! then times `cdrlake run --full-refresh --select silver.*` and prints each model's line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn cdrlake(lake: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_cdrlake")).arg("--lakehouse").arg(lake).args(args).output()?;
    anyhow::ensure!(out.status.success(), "cdrlake {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn main() -> anyhow::Result<()> {
    let cdrs = std::env::var("CDRLAKE_BENCH_CDRS").unwrap_or_else(|_| "10000000".into());
    let temp = tempfile::tempdir()?;
    let lake = std::env::var("CDRLAKE_BENCH_LAKE").map(PathBuf::from).unwrap_or_else(|_| temp.path().join("lake"));
    if !lake.join("bronze").join("voice_cdr").exists() {
        println!("generating {cdrs} CDRs into {}", lake.display());
        cdrlake(&lake, &["generate", "--cdrs", &cdrs, "--truth", &temp.path().join("truth.json").to_string_lossy()])?;
    }
    let bronze = cdrlake(&lake, &["query", "--format", "csv", "SELECT (SELECT count(*) FROM bronze.voice_cdr) + (SELECT count(*) FROM bronze.sms_cdr) + (SELECT count(*) FROM bronze.data_cdr) AS n"])?;
    let rows: f64 = bronze.lines().nth(1).unwrap_or("0").parse()?;
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let started = Instant::now();
    let out = cdrlake(&lake, &["run", "--project", &project.to_string_lossy(), "--full-refresh", "--select", "silver.*"])?;
    let seconds = started.elapsed().as_secs_f64();
    print!("{out}");
    println!("mediate: {rows} bronze CDR rows to silver in {seconds:.1}s = {:.0} rows/s", rows / seconds);
    Ok(())
}

//! Model pipeline throughput: `cargo bench --bench pipeline` (release profile).
//! Generates CDRLAKE_BENCH_CDRS CDRs (default 10,000,000) with the release binary into
//! CDRLAKE_BENCH_LAKE (default: a temporary directory; an existing lakehouse is reused as it is),
//! then times mediation (`run --full-refresh --select silver.*`), rating and billing
//! (`--select gold.*`) and prints each model's line and the totals.

mod common;

use common::cdrlake;

use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let cdrs = std::env::var("CDRLAKE_BENCH_CDRS").unwrap_or_else(|_| "10000000".into());
    let temp = tempfile::tempdir()?;
    let lake = std::env::var("CDRLAKE_BENCH_LAKE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| temp.path().join("lake"));
    if !lake.join("bronze").join("voice_cdr").exists() {
        println!("generating {cdrs} CDRs into {}", lake.display());
        cdrlake(
            &lake,
            &[
                "generate",
                "--cdrs",
                &cdrs,
                "--truth",
                &temp.path().join("truth.json").to_string_lossy(),
            ],
        )?;
    }
    let bronze = cdrlake(
        &lake,
        &[
            "query",
            "--format",
            "csv",
            "SELECT (SELECT count(*) FROM bronze.voice_cdr) + (SELECT count(*) FROM bronze.sms_cdr) + (SELECT count(*) FROM bronze.data_cdr) AS n",
        ],
    )?;
    let rows: f64 = bronze.lines().nth(1).unwrap_or("0").parse()?;
    let project =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("sql");
    let project = project.to_string_lossy();
    let mut total = 0.0;
    for (stage, selector) in [
        ("mediate (bronze to silver)", "silver.*"),
        ("rate and bill (silver to gold)", "gold.*"),
    ] {
        let started = Instant::now();
        let out = cdrlake(
            &lake,
            &[
                "run",
                "--project",
                &project,
                "--full-refresh",
                "--select",
                selector,
            ],
        )?;
        let seconds = started.elapsed().as_secs_f64();
        total += seconds;
        print!("{out}");
        println!(
            "{stage}: {rows} bronze CDR rows in {seconds:.1}s = {:.0} rows/s\n",
            rows / seconds
        );
    }
    println!("bronze to invoices: {total:.1}s for {rows} bronze CDR rows");
    Ok(())
}

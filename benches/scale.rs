//! Growth of a full model run with volume, in bounded memory: `cargo bench --bench scale`
//! (release profile). For each size in CDRLAKE_BENCH_SIZES (default 10M,30M,100M CDRs) it
//! generates a lakehouse under CDRLAKE_BENCH_DIR (default: a temporary directory; a lakehouse
//! already there is reused), runs `cdrlake run --full-refresh --memory-limit M` (M from
//! CDRLAKE_BENCH_MEMORY, default 8G), and prints the run's time and peak RSS, then each model's
//! time and peak RSS per size with the time's growth against the data's. A lakehouse is removed
//! after its run unless CDRLAKE_BENCH_KEEP is set (100M CDRs take about 30 GB with spill).
//! CDRLAKE_BENCH_PROJECT names a copy of sql/ to read instead of sql/; CDRLAKE_BENCH_ECHO prints
//! each model's line as the run goes.

mod common;
#[path = "common/model_run.rs"]
mod model_run;

use common::cdrlake;
use model_run::{Run, run_models};

use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let sizes: Vec<u64> = env("CDRLAKE_BENCH_SIZES", "10000000,30000000,100000000")
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let memory = env("CDRLAKE_BENCH_MEMORY", "8G");
    let keep = std::env::var_os("CDRLAKE_BENCH_KEEP").is_some();
    let temp = tempfile::tempdir()?;
    let dir = std::env::var("CDRLAKE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| temp.path().to_path_buf());
    // CDRLAKE_BENCH_PROJECT: a copy of sql/ to read, so the tree can be edited during a long run.
    let project = std::env::var("CDRLAKE_BENCH_PROJECT").unwrap_or_else(|_| {
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("sql")
            .to_string_lossy()
            .into_owned()
    });
    let mut runs: Vec<(u64, Run)> = Vec::new();
    for &cdrs in &sizes {
        let lake = dir.join(format!("lake-{cdrs}"));
        let generated = Instant::now();
        if !lake.join("bronze").join("voice_cdr").exists() {
            println!("{cdrs} CDRs: generating into {}", lake.display());
            cdrlake(&lake, &["generate", "--cdrs", &cdrs.to_string()])?;
        }
        let generated = generated.elapsed().as_secs_f64();
        println!(
            "{cdrs} CDRs: generated in {generated:.1}s; run --full-refresh --memory-limit {memory}"
        );
        let run = run_models(
            &lake,
            &[
                "run",
                "--project",
                &project,
                "--full-refresh",
                "--memory-limit",
                &memory,
            ],
        )?;
        println!(
            "{cdrs} CDRs: run {:.1}s, peak RSS {:.0} MiB, {} models",
            run.seconds,
            run.peak_mib,
            run.models.len()
        );
        if !keep {
            std::fs::remove_dir_all(&lake)?;
        }
        runs.push((cdrs, run));
    }
    let Some((base_cdrs, base)) = runs.first() else {
        return Ok(());
    };
    println!(
        "\nmodel: seconds / peak RSS MiB per size; time growth against data growth from the smallest"
    );
    let header: Vec<String> = runs
        .iter()
        .map(|(n, _)| format!("{:>20}", format!("{}M", n / 1_000_000)))
        .collect();
    println!("  {:<32}{}", "", header.join(""));
    for (name, first) in &base.models {
        let cells: Vec<String> = runs
            .iter()
            .map(|(_, r)| match r.models.get(name) {
                Some(m) => format!(
                    "{:>20}",
                    format!(
                        "{:.1}s/{}",
                        m.seconds,
                        m.peak_mib.map_or("-".into(), |p| p.to_string())
                    )
                ),
                None => format!("{:>20}", "-"),
            })
            .collect();
        let growth: Vec<String> = runs
            .iter()
            .skip(1)
            .filter_map(|(n, r)| {
                let m = r.models.get(name)?;
                let data = *n as f64 / *base_cdrs as f64;
                Some(format!("{:.2}", m.seconds / first.seconds.max(0.01) / data))
            })
            .collect();
        println!(
            "  {name:<32}{} | time/data {}",
            cells.join(""),
            growth.join(" ")
        );
    }
    for (n, r) in &runs {
        let data = *n as f64 / *base_cdrs as f64;
        println!(
            "total {}M: {:.1}s ({:.2}x the smallest for {data:.0}x the data), peak RSS {:.0} MiB",
            n / 1_000_000,
            r.seconds,
            r.seconds / base.seconds,
            r.peak_mib
        );
    }
    Ok(())
}

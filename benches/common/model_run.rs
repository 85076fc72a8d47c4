//! A `cdrlake run` from a benchmark: its time, the process's peak RSS sampled from outside, and
//! each model's line (time, rows read, peak RSS while it ran) as the runner printed it.
#![allow(
    dead_code,
    reason = "included by several benches, each reading some of the fields"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Peak resident set (VmHWM) of a running process in KiB, as last read.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub struct Run {
    pub seconds: f64,
    pub peak_mib: f64,
    /// Per model: seconds, rows read from lakehouse tables, and the rest of its line.
    pub models: BTreeMap<String, Model>,
}

/// `cdrlake --lakehouse LAKE ARGS...` (a `run`), sampling the child's peak RSS until it exits.
/// With CDRLAKE_BENCH_ECHO set, the run's lines are printed as they come (long runs).
pub fn run_models(lake: &Path, args: &[&str]) -> anyhow::Result<Run> {
    let echo = std::env::var_os("CDRLAKE_BENCH_ECHO").is_some();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cdrlake"))
        .arg("--lakehouse")
        .arg(lake)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (pid, peak, done) = (
        child.id(),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = peak_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut stdout = String::new();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        if echo && line.contains("] model ") {
            println!("    {line}");
        }
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let status = child.wait()?;
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let errors = errors.join().unwrap_or_default();
    anyhow::ensure!(
        status.success(),
        "cdrlake {args:?} failed: {stdout}{errors}"
    );
    Ok(Run {
        seconds: started.elapsed().as_secs_f64(),
        peak_mib: peak.load(Ordering::Relaxed) as f64 / 1024.0,
        models: model_lines(&stdout),
    })
}

pub struct Model {
    pub seconds: f64,
    pub read: u64,
    /// The process's peak RSS while the model ran, as the runner measured it.
    pub peak_mib: Option<u64>,
    pub detail: String,
}

/// `[3/12] model silver.cdr (incremental) OK in 1.20s, 1234 rows, ..., peak RSS 812 MiB, read 5678
/// rows (12 by tests)` -> name, (1.20, 5678, 812, "1234 rows, ...").
fn model_lines(stdout: &str) -> BTreeMap<String, Model> {
    let mut models = BTreeMap::new();
    for line in stdout.lines() {
        let Some(rest) = line.split("] model ").nth(1) else {
            continue;
        };
        let name = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let Some(after) = rest.split(" in ").nth(1) else {
            continue;
        };
        let (time, detail) = after
            .split_once("s, ")
            .unwrap_or((after.trim_end_matches('s'), ""));
        let (detail, read) = match detail.rsplit_once("read ") {
            Some((d, r)) => {
                let rows = r.split(" rows").next().unwrap_or_default();
                (d.trim_end_matches(", "), rows.parse().ok())
            }
            None => (detail, None),
        };
        let peak_mib = detail
            .split("peak RSS ")
            .nth(1)
            .and_then(|p| p.split(" MiB").next())
            .and_then(|p| p.parse().ok());
        // The peak has its own field; the detail keeps the rest.
        let detail: Vec<&str> = detail
            .split(", ")
            .filter(|part| !part.starts_with("peak RSS "))
            .collect();
        let detail = detail.join(", ");
        if let Ok(seconds) = time.trim().parse::<f64>() {
            models.insert(
                name,
                Model {
                    seconds,
                    read: read.unwrap_or(0),
                    peak_mib,
                    detail,
                },
            );
        }
    }
    models
}

//! What the benchmarks share: running the release `cdrlake` binary on a lakehouse.

use std::path::Path;
use std::process::Command;

/// `cdrlake --lakehouse LAKE ARGS...`, its stdout; an error with its output when it fails.
pub fn cdrlake(lake: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_cdrlake"))
        .arg("--lakehouse")
        .arg(lake)
        .args(args)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "cdrlake {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

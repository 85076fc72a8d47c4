//! Turning command-line arguments (files, directories, globs) into a sorted list of files.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::read::FileFormat;

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Files named directly are kept as given (a missing one fails when read, naming it);
/// directories contribute their CSV, JSON and Parquet files, recursively; globs must match.
pub fn expand(args: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        if is_glob(arg) {
            let matches: Vec<PathBuf> = glob::glob(arg)
                .with_context(|| format!("bad pattern '{arg}'"))?
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect();
            if matches.is_empty() {
                bail!("no file matches '{arg}'");
            }
            out.extend(matches);
        } else {
            let path = PathBuf::from(arg);
            if path.is_dir() {
                let before = out.len();
                walk(&path, &mut out)?;
                if out.len() == before {
                    bail!(
                        "directory {} holds no .csv, .json or .parquet file",
                        path.display()
                    );
                }
            } else {
                out.push(path);
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|p| seen.insert(p.clone()));
    Ok(out)
}

fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if FileFormat::from_path(&p).is_some() {
            out.push(p);
        }
    }
    Ok(())
}

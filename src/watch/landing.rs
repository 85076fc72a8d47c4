//! The landing directory: `<root>/<table>/<file>` (e.g. `landing/voice_cdr/MSC-CAS_000123.csv`).
//! A file is taken once it is complete: its size and modification time unchanged over one poll
//! and at least `settle` old, and its name not marking it as still being written (a leading `.`,
//! or `.tmp`, `.part`, `.partial`, `.inprogress`, `.filepart` at the end: the convention of
//! writers that rename a finished file into place). Taken files move to `_done/<table>/` or
//! `_rejected/<table>/` (with a `.reason` file beside it), so nothing is lost or read twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

const IN_PROGRESS: [&str; 5] = [".tmp", ".part", ".partial", ".inprogress", ".filepart"];
pub const DONE: &str = "_done";
pub const REJECTED: &str = "_rejected";

/// A complete file waiting in `<root>/<table>/`; `table` is empty for a file put directly in the
/// root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub path: PathBuf,
    pub table: String,
    pub name: String,
}

/// What the watcher saw of each file at the last poll.
#[derive(Debug, Default)]
pub struct Landing {
    root: PathBuf,
    seen: HashMap<PathBuf, (u64, SystemTime)>,
}

impl Landing {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            seen: HashMap::new(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The files complete since the last poll, oldest first.
    pub fn poll(&mut self, settle: Duration) -> Result<Vec<Arrival>> {
        std::fs::create_dir_all(&self.root).with_context(|| {
            format!(
                "cannot create the landing directory {}",
                self.root.display()
            )
        })?;
        let now = SystemTime::now();
        let mut present = HashMap::new();
        let mut ready = Vec::new();
        for (path, table) in self.files()? {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue; // moved or deleted since the listing
            };
            let modified = meta.modified().unwrap_or(now);
            let state = (meta.len(), modified);
            let settled = now.duration_since(modified).unwrap_or_default() >= settle;
            if self.seen.get(&path) == Some(&state) && settled {
                let name = file_name(&path);
                ready.push((modified, Arrival { path, table, name }));
            } else {
                present.insert(path, state);
            }
        }
        self.seen = present;
        ready.sort_by(|a, b| (a.0, &a.1.path).cmp(&(b.0, &b.1.path)));
        Ok(ready.into_iter().map(|(_, a)| a).collect())
    }

    /// Every candidate file: in the root, or one level down in a table's folder.
    fn files(&self) -> Result<Vec<(PathBuf, String)>> {
        let mut out = Vec::new();
        for entry in read_dir(&self.root)? {
            let name = file_name(&entry);
            if entry.is_dir() {
                if name.starts_with('_') || name.starts_with('.') {
                    continue;
                }
                for file in read_dir(&entry)? {
                    if file.is_file() && !in_progress(&file_name(&file)) {
                        out.push((file, name.clone()));
                    }
                }
            } else if entry.is_file() && !in_progress(&name) {
                out.push((entry, String::new()));
            }
        }
        Ok(out)
    }

    /// Moves a taken file under `_done/<table>/` (or `_rejected/`, with the reason beside it);
    /// returns where it went. A name already there gets a numbered suffix, never overwritten.
    pub fn file_away(&self, arrival: &Arrival, rejected: Option<&str>) -> Result<PathBuf> {
        let folder = if rejected.is_some() { REJECTED } else { DONE };
        let table = if arrival.table.is_empty() {
            "_unsorted"
        } else {
            &arrival.table
        };
        let dir = self.root.join(folder).join(table);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut target = dir.join(&arrival.name);
        let mut n = 1;
        while target.exists() {
            target = dir.join(format!("{}.{n}", arrival.name));
            n += 1;
        }
        std::fs::rename(&arrival.path, &target).with_context(|| {
            format!(
                "cannot move {} to {}",
                arrival.path.display(),
                target.display()
            )
        })?;
        if let Some(reason) = rejected {
            let note = PathBuf::from(format!("{}.reason", target.display()));
            std::fs::write(&note, format!("{reason}\n"))
                .with_context(|| format!("cannot write {}", note.display()))?;
        }
        Ok(target)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn in_progress(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.') || IN_PROGRESS.iter().any(|s| lower.ends_with(s))
}

/// A switch's file sequence number: the digits that end the file's stem, with what comes before
/// them and how many digits they are (`MSC-CAS_000123.csv` -> `("MSC-CAS_", 123, 6)`).
pub fn sequence(name: &str) -> Option<(String, u64, usize)> {
    let stem = name.split('.').next().unwrap_or(name);
    let digits = stem.len() - stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits > 18 {
        return None;
    }
    let (prefix, number) = stem.split_at(stem.len() - digits);
    Some((prefix.to_string(), number.parse().ok()?, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_taken_once_it_stops_changing() {
        let dir = tempfile::tempdir().unwrap();
        let mut landing = Landing::new(dir.path().to_path_buf());
        std::fs::create_dir_all(dir.path().join("voice_cdr")).unwrap();
        let file = dir.path().join("voice_cdr").join("a.csv");
        std::fs::write(&file, "x").unwrap();
        std::fs::write(dir.path().join("voice_cdr").join("b.csv.part"), "x").unwrap();
        std::fs::write(dir.path().join("voice_cdr").join(".c.csv"), "x").unwrap();
        assert!(
            landing.poll(Duration::ZERO).unwrap().is_empty(),
            "first seen"
        );
        std::fs::write(&file, "xy").unwrap();
        assert!(
            landing.poll(Duration::ZERO).unwrap().is_empty(),
            "still growing"
        );
        let ready = landing.poll(Duration::ZERO).unwrap();
        assert_eq!(
            ready,
            vec![Arrival {
                path: file.clone(),
                table: "voice_cdr".into(),
                name: "a.csv".into()
            }]
        );
        let moved = landing.file_away(&ready[0], Some("bad columns")).unwrap();
        assert_eq!(moved, dir.path().join("_rejected/voice_cdr/a.csv"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("_rejected/voice_cdr/a.csv.reason")).unwrap(),
            "bad columns\n"
        );
        assert!(landing.poll(Duration::ZERO).unwrap().is_empty());
        assert!(landing.poll(Duration::from_secs(3600)).unwrap().is_empty());
    }

    #[test]
    fn sequence_numbers_end_the_stem() {
        assert_eq!(
            sequence("MSC-CAS_000123.csv"),
            Some(("MSC-CAS_".into(), 123, 6))
        );
        assert_eq!(sequence("voice.csv"), None);
        assert_eq!(sequence("7.csv.gz"), Some((String::new(), 7, 1)));
    }
}

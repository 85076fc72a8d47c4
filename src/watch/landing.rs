//! The landing zone: `<root>/<table>/<file>` (e.g. `landing/voice_cdr/MSC-CAS_000123.csv`), a
//! local directory or an `s3://bucket/prefix` (read with the lakehouse's S3 settings). A file is
//! taken once it is complete: its size and modification time unchanged over one poll and at least
//! `settle` old, and its name not marking it as still being written (a leading `.`, or `.tmp`,
//! `.part`, `.partial`, `.inprogress`, `.filepart` at the end: the convention of writers that
//! rename a finished file into place; on S3 an object appears whole, but a multi-step upload
//! may still use such a name). Taken files move to `_done/<table>/` or `_rejected/<table>/` (with
//! a `.reason` file beside it), so nothing is lost or read twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use cdrlake_catalog::S3Settings;
use chrono::{DateTime, Utc};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

const IN_PROGRESS: [&str; 5] = [".tmp", ".part", ".partial", ".inprogress", ".filepart"];
pub const DONE: &str = "_done";
pub const REJECTED: &str = "_rejected";

/// A complete file waiting in `<root>/<table>/`; `table` is empty for a file put directly in the
/// root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// Its key under the landing root.
    pub key: String,
    pub table: String,
    pub name: String,
}

/// What the watcher saw of each file at the last poll.
pub struct Landing {
    /// As given: a directory or `s3://bucket/prefix`.
    root: String,
    store: Arc<dyn ObjectStore>,
    seen: HashMap<String, (u64, DateTime<Utc>)>,
}

impl Landing {
    /// The landing at `root`: a local directory (created if missing) or `s3://bucket/prefix`.
    pub fn open(root: &str, s3: &S3Settings) -> Result<Self> {
        let store = if root.starts_with("s3://") {
            cdrlake_catalog::object_store_at(root, s3)?
        } else {
            std::fs::create_dir_all(root)
                .with_context(|| format!("cannot create the landing directory {root}"))?;
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(root)?)
        };
        Ok(Self {
            root: root.trim_end_matches('/').to_string(),
            store,
            seen: HashMap::new(),
        })
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// Where a key is, for people: `landing/voice_cdr/a.csv`, `s3://b/landing/voice_cdr/a.csv`.
    pub fn show(&self, key: &str) -> String {
        format!("{}/{key}", self.root)
    }

    /// The files complete since the last poll, oldest first.
    pub async fn poll(&mut self, settle: Duration) -> Result<Vec<Arrival>> {
        let now = Utc::now();
        let settle = chrono::Duration::from_std(settle).unwrap_or_default();
        // Only the root and the table folders are listed, never `_done/` (which only grows).
        let top = self.list(None).await?;
        let mut listed = top.objects;
        for folder in top.common_prefixes {
            let name = folder.as_ref().rsplit('/').next().unwrap_or_default();
            if !name.starts_with('_') && !name.starts_with('.') {
                listed.extend(self.list(Some(&folder)).await?.objects);
            }
        }
        let mut present = HashMap::new();
        let mut ready = Vec::new();
        for meta in listed {
            let key = meta.location.to_string();
            let Some((table, name)) = candidate(&key) else {
                continue;
            };
            let state = (meta.size, meta.last_modified);
            let settled = now - meta.last_modified >= settle;
            if self.seen.get(&key) == Some(&state) && settled {
                ready.push((meta.last_modified, Arrival { key, table, name }));
            } else {
                present.insert(key, state);
            }
        }
        self.seen = present;
        ready.sort_by(|a, b| (a.0, &a.1.key).cmp(&(b.0, &b.1.key)));
        Ok(ready.into_iter().map(|(_, a)| a).collect())
    }

    async fn list(&self, prefix: Option<&Key>) -> Result<object_store::ListResult> {
        self.store
            .list_with_delimiter(prefix)
            .await
            .with_context(|| format!("cannot list the landing {}", self.root))
    }

    pub async fn read(&self, arrival: &Arrival) -> Result<Bytes> {
        let got = self
            .store
            .get(&Key::from(arrival.key.as_str()))
            .await
            .with_context(|| format!("cannot read {}", self.show(&arrival.key)))?;
        Ok(got.bytes().await?)
    }

    /// Moves a taken file under `_done/<table>/` (or `_rejected/`, with the reason beside it);
    /// returns where it went. A name already there gets a numbered suffix, never overwritten.
    pub async fn file_away(&self, arrival: &Arrival, rejected: Option<&str>) -> Result<String> {
        let folder = if rejected.is_some() { REJECTED } else { DONE };
        let table = if arrival.table.is_empty() {
            "_unsorted"
        } else {
            &arrival.table
        };
        let mut target = format!("{folder}/{table}/{}", arrival.name);
        let mut n = 1;
        while self.store.head(&Key::from(target.as_str())).await.is_ok() {
            target = format!("{folder}/{table}/{}.{n}", arrival.name);
            n += 1;
        }
        self.store
            .rename(
                &Key::from(arrival.key.as_str()),
                &Key::from(target.as_str()),
            )
            .await
            .with_context(|| {
                format!(
                    "cannot move {} to {}",
                    self.show(&arrival.key),
                    self.show(&target)
                )
            })?;
        if let Some(reason) = rejected {
            let note = format!("{target}.reason");
            self.store
                .put(
                    &Key::from(note.as_str()),
                    PutPayload::from(format!("{reason}\n")),
                )
                .await
                .with_context(|| format!("cannot write {}", self.show(&note)))?;
        }
        Ok(self.show(&target))
    }
}

/// `(table, name)` of a key the watcher takes: a file in the root or one level down in a
/// table's folder, not in `_done`/`_rejected` (or any `_`/`.` folder), not still being written.
fn candidate(key: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = key.split('/').collect();
    let (table, name) = match parts.as_slice() {
        [name] => ("", *name),
        [table, name] if !table.starts_with('_') && !table.starts_with('.') => (*table, *name),
        _ => return None,
    };
    (!in_progress(name)).then(|| (table.to_string(), name.to_string()))
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

    async fn poll(landing: &mut Landing, settle: Duration) -> Vec<Arrival> {
        landing.poll(settle).await.unwrap()
    }

    #[tokio::test]
    async fn a_file_is_taken_once_it_stops_changing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let mut landing = Landing::open(&root, &S3Settings::default()).unwrap();
        std::fs::create_dir_all(dir.path().join("voice_cdr")).unwrap();
        let file = dir.path().join("voice_cdr").join("a.csv");
        std::fs::write(&file, "x").unwrap();
        std::fs::write(dir.path().join("voice_cdr").join("b.csv.part"), "x").unwrap();
        std::fs::write(dir.path().join("voice_cdr").join(".c.csv"), "x").unwrap();
        assert!(
            poll(&mut landing, Duration::ZERO).await.is_empty(),
            "first seen"
        );
        std::fs::write(&file, "xy").unwrap();
        assert!(
            poll(&mut landing, Duration::ZERO).await.is_empty(),
            "still growing"
        );
        let ready = poll(&mut landing, Duration::ZERO).await;
        assert_eq!(
            ready,
            vec![Arrival {
                key: "voice_cdr/a.csv".into(),
                table: "voice_cdr".into(),
                name: "a.csv".into()
            }]
        );
        assert_eq!(landing.read(&ready[0]).await.unwrap(), "xy");
        let moved = landing
            .file_away(&ready[0], Some("bad columns"))
            .await
            .unwrap();
        assert_eq!(moved, format!("{root}/_rejected/voice_cdr/a.csv"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("_rejected/voice_cdr/a.csv.reason")).unwrap(),
            "bad columns\n"
        );
        // The same name again goes beside it, never over it.
        std::fs::write(&file, "z").unwrap();
        poll(&mut landing, Duration::ZERO).await;
        let again = poll(&mut landing, Duration::ZERO).await;
        let moved = landing.file_away(&again[0], None).await.unwrap();
        assert_eq!(moved, format!("{root}/_done/voice_cdr/a.csv"));
        std::fs::write(&file, "w").unwrap();
        poll(&mut landing, Duration::ZERO).await;
        let third = poll(&mut landing, Duration::ZERO).await;
        assert_eq!(
            landing.file_away(&third[0], None).await.unwrap(),
            format!("{root}/_done/voice_cdr/a.csv.1")
        );
        assert!(poll(&mut landing, Duration::ZERO).await.is_empty());
        assert!(
            poll(&mut landing, Duration::from_secs(3600))
                .await
                .is_empty()
        );
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

//! A lease in the lakehouse, so that two processes never do the same kind of work at once (a model
//! run and a period close). The lease is an object `_cdrlake/leases/<name>.json` created only if
//! absent (a conditional PUT, atomic on S3 and on a local directory), renewed while held, and
//! taken over once it expired or its holder's process is gone from this host.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};
use crate::lakehouse::Lakehouse;

/// How long a lease lasts without renewal: a holder that stalls longer loses it.
const TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeaseHolder {
    pub owner: String,
    pub purpose: String,
    pub host: String,
    pub pid: u32,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl LeaseHolder {
    fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.expires_at < now || (self.host == host_name() && !process_alive(self.pid))
    }
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (pid {} on {}, since {})",
            self.purpose,
            self.pid,
            self.host,
            self.acquired_at.format("%Y-%m-%dT%H:%M:%SZ")
        )
    }
}

/// A held lease; renewed in the background until [`Lease::release`] (or the process ends).
pub struct Lease {
    store: Arc<dyn ObjectStore>,
    path: Path,
    name: String,
    holder: LeaseHolder,
    lost: Arc<AtomicBool>,
    /// Until when (Unix milliseconds) the last write of the lease object made it ours.
    valid_until: Arc<AtomicI64>,
    renewal: tokio::task::JoinHandle<()>,
}

/// What work done under a lease checks before each commit (fencing): a holder that lost its
/// lease, or stalled so long it may have expired, must not commit, since another process may
/// hold it now.
#[derive(Debug, Clone, Default)]
pub struct Fence {
    held: Option<(String, Arc<AtomicBool>, Arc<AtomicI64>)>,
}

impl Fence {
    /// No lease: nothing to check (work that holds none, e.g. a scratch lakehouse).
    pub fn none() -> Self {
        Self::default()
    }

    /// Ok while the lease is held, with a margin of a tenth of its lifetime before it expires.
    pub fn check(&self) -> Result<()> {
        let Some((name, lost, valid_until)) = &self.held else {
            return Ok(());
        };
        let margin = (TTL / 10).as_millis() as i64;
        let expired = Utc::now().timestamp_millis() + margin > valid_until.load(Ordering::SeqCst);
        if lost.load(Ordering::SeqCst) || expired {
            return Err(CatalogError::LeaseLost {
                lease: name.clone(),
            });
        }
        Ok(())
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("path", &self.path)
            .field("holder", &self.holder)
            .finish()
    }
}

impl Lakehouse {
    /// Takes the lease `name` for `purpose`, or fails naming who holds it.
    pub async fn acquire_lease(&self, name: &str, purpose: &str) -> Result<Lease> {
        let store = self.store().clone();
        let path = Path::from(format!("_cdrlake/leases/{name}.json"));
        let now = Utc::now();
        let holder = LeaseHolder {
            owner: random_id()?,
            purpose: purpose.to_string(),
            host: host_name(),
            pid: std::process::id(),
            acquired_at: now,
            expires_at: now + TTL,
        };
        match put(&store, &path, &holder, PutMode::Create).await {
            Ok(()) => {}
            Err(object_store::Error::AlreadyExists { .. }) => {
                let (current, version) = read(&store, &path).await?;
                if !current.is_stale(now) {
                    return Err(CatalogError::Busy {
                        lease: name.to_string(),
                        holder: current.to_string(),
                    });
                }
                take_over(&store, &path, &holder, version)
                    .await
                    .map_err(|_| CatalogError::Busy {
                        lease: name.to_string(),
                        holder: format!("another process taking over from {current}"),
                    })?;
            }
            Err(e) => return Err(e.into()),
        }
        let lost = Arc::new(AtomicBool::new(false));
        let valid_until = Arc::new(AtomicI64::new(holder.expires_at.timestamp_millis()));
        let renewal = tokio::spawn(renew(
            store.clone(),
            path.clone(),
            holder.clone(),
            lost.clone(),
            valid_until.clone(),
        ));
        Ok(Lease {
            store,
            path,
            name: name.to_string(),
            holder,
            lost,
            valid_until,
            renewal,
        })
    }

    /// Who holds the lease `name` now, if anyone (stale holders included).
    pub async fn lease_holder(&self, name: &str) -> Result<Option<LeaseHolder>> {
        let path = Path::from(format!("_cdrlake/leases/{name}.json"));
        match read(self.store(), &path).await {
            Ok((holder, _)) => Ok(Some(holder)),
            Err(CatalogError::Storage(object_store::Error::NotFound { .. })) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Lease {
    /// True once a renewal found the lease taken by another process: stop before committing.
    pub fn is_lost(&self) -> bool {
        self.fence().check().is_err()
    }

    /// The check to make before each commit done under this lease.
    pub fn fence(&self) -> Fence {
        Fence {
            held: Some((
                self.name.clone(),
                self.lost.clone(),
                self.valid_until.clone(),
            )),
        }
    }

    /// Gives the lease back (only if still ours).
    pub async fn release(self) -> Result<()> {
        self.renewal.abort();
        if let Ok((current, _)) = read(&self.store, &self.path).await
            && current.owner == self.holder.owner
        {
            self.store.delete(&self.path).await?;
        }
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

async fn renew(
    store: Arc<dyn ObjectStore>,
    path: Path,
    mut holder: LeaseHolder,
    lost: Arc<AtomicBool>,
    valid_until: Arc<AtomicI64>,
) {
    loop {
        tokio::time::sleep(TTL / 3).await;
        let ours = match read(&store, &path).await {
            Ok((current, version)) if current.owner == holder.owner => Some(version),
            Ok(_) | Err(CatalogError::Storage(object_store::Error::NotFound { .. })) => None,
            // A storage hiccup: try again at the next tick, the lease has time left.
            Err(_) => continue,
        };
        let Some(version) = ours else {
            lost.store(true, Ordering::SeqCst);
            return;
        };
        holder.expires_at = Utc::now() + TTL;
        if take_over(&store, &path, &holder, version).await.is_err() {
            lost.store(true, Ordering::SeqCst);
            return;
        }
        valid_until.store(holder.expires_at.timestamp_millis(), Ordering::SeqCst);
    }
}

/// Replaces the lease object read at `version`: a conditional update where the store has one;
/// a local directory has none, so there it is delete-then-create (two processes taking over the
/// same stale lease at the same instant on one host could both succeed).
async fn take_over(
    store: &Arc<dyn ObjectStore>,
    path: &Path,
    holder: &LeaseHolder,
    version: UpdateVersion,
) -> Result<(), object_store::Error> {
    match put(store, path, holder, PutMode::Update(version)).await {
        Err(object_store::Error::NotImplemented { .. }) => {
            match store.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            put(store, path, holder, PutMode::Create).await
        }
        other => other,
    }
}

async fn put(
    store: &Arc<dyn ObjectStore>,
    path: &Path,
    holder: &LeaseHolder,
    mode: PutMode,
) -> Result<(), object_store::Error> {
    let body = serde_json::to_vec(holder).expect("a lease serializes");
    let options = PutOptions {
        mode,
        ..Default::default()
    };
    store
        .put_opts(path, PutPayload::from(body), options)
        .await
        .map(|_| ())
}

async fn read(store: &Arc<dyn ObjectStore>, path: &Path) -> Result<(LeaseHolder, UpdateVersion)> {
    let found = store.get(path).await?;
    let version = UpdateVersion {
        e_tag: found.meta.e_tag.clone(),
        version: found.meta.version.clone(),
    };
    let bytes = found.bytes().await?;
    let holder = serde_json::from_slice(&bytes).map_err(|e| {
        CatalogError::Config(format!(
            "lease {path} is not readable ({e}): delete it by hand"
        ))
    })?;
    Ok((holder, version))
}

fn random_id() -> Result<String> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random)
        .map_err(|e| CatalogError::Config(format!("no randomness for a lease id: {e}")))?;
    Ok(random.iter().map(|b| format!("{b:02x}")).collect())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Whether a process with `pid` runs on this host (Linux: /proc; elsewhere assume it does, so
/// only expiry frees the lease).
fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.exists() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LakehouseConfig;

    #[tokio::test]
    async fn one_holder_at_a_time_and_a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, _) = Lakehouse::init(LakehouseConfig::local(dir.path().to_str().unwrap()))
            .await
            .unwrap();
        let first = lake.acquire_lease("models", "run").await.unwrap();
        let refused = lake
            .acquire_lease("models", "close-period")
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("run (pid"),
            "names the holder: {refused}"
        );
        first.release().await.unwrap();
        assert_eq!(lake.lease_holder("models").await.unwrap(), None);

        // A holder whose process is gone from this host: taken over at once.
        let held = lake.acquire_lease("models", "run").await.unwrap();
        let path = Path::from("_cdrlake/leases/models.json");
        let mut dead = held.holder.clone();
        dead.pid = u32::MAX;
        put(lake.store(), &path, &dead, PutMode::Overwrite)
            .await
            .unwrap();
        drop(held);
        let next = lake.acquire_lease("models", "close-period").await.unwrap();
        assert_eq!(
            lake.lease_holder("models").await.unwrap().unwrap().purpose,
            "close-period"
        );
        assert!(!next.is_lost());
        next.release().await.unwrap();
    }

    #[tokio::test]
    async fn a_stalled_or_displaced_holder_is_fenced_off() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, _) = Lakehouse::init(LakehouseConfig::local(dir.path().to_str().unwrap()))
            .await
            .unwrap();
        let lease = lake.acquire_lease("models", "run").await.unwrap();
        let fence = lease.fence();
        fence.check().unwrap();
        Fence::none().check().unwrap();
        // Stalled: no renewal landed for the lease's lifetime.
        lease
            .valid_until
            .store(Utc::now().timestamp_millis(), Ordering::SeqCst);
        let stopped = fence.check().unwrap_err().to_string();
        assert!(
            stopped.contains("no longer holds the lakehouse's 'models' lease"),
            "{stopped}"
        );
        // Displaced: a renewal found another holder.
        lease.valid_until.store(i64::MAX, Ordering::SeqCst);
        fence.check().unwrap();
        lease.lost.store(true, Ordering::SeqCst);
        assert!(fence.check().is_err() && lease.is_lost());
        lease.release().await.unwrap();
    }
}

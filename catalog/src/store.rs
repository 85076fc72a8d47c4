//! The object store over the lakehouse root, used to discover tables (delta-rs opens its own
//! per table with the same settings).

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, RetryConfig};

use crate::config::S3Settings;
use crate::error::{CatalogError, Result};
use crate::location::Location;

/// The object store at `url` (`s3://bucket/prefix` or a directory) with the lakehouse's S3
/// settings: for files outside the lakehouse, such as a landing zone.
pub fn object_store_at(url: &str, s3: &S3Settings) -> Result<Arc<dyn ObjectStore>> {
    root_store(&Location::parse(url)?, s3)
}

pub(crate) fn root_store(location: &Location, s3: &S3Settings) -> Result<Arc<dyn ObjectStore>> {
    match location {
        Location::Local(dir) => {
            if dir.is_file() {
                return Err(CatalogError::Root {
                    root: dir.display().to_string(),
                    detail: "it is a file, not a directory".into(),
                });
            }
            if !dir.exists() {
                // Nothing written yet: an empty lakehouse until `init` or the first write.
                return Ok(Arc::new(InMemory::new()));
            }
            Ok(Arc::new(LocalFileSystem::new_with_prefix(dir)?))
        }
        Location::S3 { bucket, prefix } => {
            let mut b = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(s3.region_or_default())
                .with_allow_http(s3.allows_http())
                .with_virtual_hosted_style_request(false)
                .with_retry(RetryConfig {
                    max_retries: 2,
                    retry_timeout: Duration::from_secs(20),
                    backoff: Default::default(),
                });
            if let Some(e) = &s3.endpoint {
                b = b.with_endpoint(e);
            }
            if let Some(k) = &s3.access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(k) = &s3.secret_access_key {
                b = b.with_secret_access_key(k);
            }
            if let Some(t) = &s3.session_token {
                b = b.with_token(t);
            }
            let store: Arc<dyn ObjectStore> = Arc::new(b.build()?);
            if prefix.is_empty() {
                Ok(store)
            } else {
                Ok(Arc::new(PrefixStore::new(store, prefix.as_str())))
            }
        }
    }
}

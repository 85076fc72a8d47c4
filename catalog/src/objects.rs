//! Plain objects under the lakehouse root, outside any table (e.g. the project files a billing
//! close used, kept so the period can be replayed with exactly them).

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use crate::error::Result;
use crate::lakehouse::Lakehouse;

impl Lakehouse {
    pub async fn put_object(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        self.store()
            .put(&Path::from(path), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    pub async fn get_object(&self, path: &str) -> Result<Vec<u8>> {
        let found = self.store().get(&Path::from(path)).await?;
        Ok(found.bytes().await?.to_vec())
    }

    /// Every object under `prefix`, as paths relative to it, sorted.
    pub async fn list_objects(&self, prefix: &str) -> Result<Vec<String>> {
        let root = Path::from(prefix);
        let mut found: Vec<String> = self
            .store()
            .list(Some(&root))
            .map_ok(|meta| {
                meta.location
                    .as_ref()
                    .strip_prefix(root.as_ref())
                    .unwrap_or(meta.location.as_ref())
                    .trim_start_matches('/')
                    .to_string()
            })
            .try_collect()
            .await?;
        found.sort();
        Ok(found)
    }
}

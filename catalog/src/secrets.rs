//! The key of `hmac_token`. Configured (`CDRLAKE_HMAC_KEY` or `[analytics] hmac_key`), or else
//! one random key per lakehouse, created on first use at `system/_keys/hmac.key`. Whoever can read
//! that object can also read the raw PII in silver, so storing it there gives gold readers nothing
//! new, while tokens stay stable across runs without any setup.

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::{CatalogError, Result};
use crate::lakehouse::Lakehouse;

const KEY_PATH: &str = "system/_keys/hmac.key";

impl Lakehouse {
    pub async fn hmac_key(&self) -> Result<Vec<u8>> {
        if let Some(key) = &self.config().hmac_key {
            return Ok(key.as_bytes().to_vec());
        }
        let path = Path::from(KEY_PATH);
        match self.store().get(&path).await {
            Ok(found) => return Ok(found.bytes().await?.to_vec()),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)
            .map_err(|e| CatalogError::Config(format!("no randomness for the HMAC key: {e}")))?;
        let key: String = random.iter().map(|b| format!("{b:02x}")).collect();
        // Create-if-absent: two processes starting at once agree on whichever key landed first.
        let create = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .store()
            .put_opts(&path, PutPayload::from(key.clone()), create)
            .await
        {
            Ok(_) => Ok(key.into_bytes()),
            Err(object_store::Error::AlreadyExists { .. }) => {
                Ok(self.store().get(&path).await?.bytes().await?.to_vec())
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Lakehouse, LakehouseConfig};

    #[tokio::test]
    async fn one_stable_key_per_lakehouse_unless_configured() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lake");
        let (lake, _) = Lakehouse::init(LakehouseConfig::local(root.to_str().unwrap()))
            .await
            .unwrap();
        let first = lake.hmac_key().await.unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(lake.hmac_key().await.unwrap(), first);
        let other_dir = tempfile::tempdir().unwrap();
        let (other, _) =
            Lakehouse::init(LakehouseConfig::local(other_dir.path().to_str().unwrap()))
                .await
                .unwrap();
        assert_ne!(other.hmac_key().await.unwrap(), first);
        let configured = LakehouseConfig {
            hmac_key: Some("k".into()),
            ..LakehouseConfig::local(root.to_str().unwrap())
        };
        let (lake, _) = Lakehouse::init(configured).await.unwrap();
        assert_eq!(lake.hmac_key().await.unwrap(), b"k");
    }
}

//! One lakehouse: its root, its storage settings, and the Delta tables under it.

use std::collections::HashMap;
use std::sync::{Arc, Once};

use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use crate::config::LakehouseConfig;
use crate::error::{CatalogError, Result};
use crate::location::{Location, SCHEMAS, check_schema, is_identifier};
use crate::{s3, store};

static REGISTER_HANDLERS: Once = Once::new();

pub struct Lakehouse {
    config: LakehouseConfig,
    location: Location,
    store: Arc<dyn ObjectStore>,
    storage_options: HashMap<String, String>,
}

impl std::fmt::Debug for Lakehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No credentials in debug output.
        f.debug_struct("Lakehouse")
            .field("location", &self.location)
            .finish()
    }
}

/// What `init` did, for the CLI to report.
#[derive(Debug, Default)]
pub struct InitReport {
    pub created_bucket: bool,
    pub created_root: bool,
}

impl Lakehouse {
    /// Opens an existing lakehouse, checking that its root can be reached with these settings.
    pub async fn connect(config: LakehouseConfig) -> Result<Self> {
        let location = Location::parse(&config.root)?;
        match &location {
            Location::S3 { bucket, .. } => s3::check_bucket(&config.s3, bucket).await?,
            Location::Local(dir) if !dir.exists() => {
                return Err(CatalogError::Root {
                    root: dir.display().to_string(),
                    detail: "directory does not exist (run `cdrlake init` or `cdrlake generate`)"
                        .into(),
                });
            }
            Location::Local(_) => {}
        }
        Self::build(config, location)
    }

    /// Creates the bucket (S3) or directory (local) and the schema folders if missing, then connects.
    pub async fn init(config: LakehouseConfig) -> Result<(Self, InitReport)> {
        let location = Location::parse(&config.root)?;
        let mut report = InitReport::default();
        match &location {
            Location::S3 { bucket, .. } => {
                report.created_bucket = s3::ensure_bucket(&config.s3, bucket).await?;
            }
            Location::Local(dir) => {
                report.created_root = !dir.exists();
                for schema in SCHEMAS {
                    std::fs::create_dir_all(dir.join(schema)).map_err(|e| CatalogError::Root {
                        root: dir.display().to_string(),
                        detail: e.to_string(),
                    })?;
                }
            }
        }
        let lakehouse = Self::build(config, location)?;
        if lakehouse.location.is_s3() {
            // S3 has no folders: a marker object per schema makes them visible to browsers.
            for schema in SCHEMAS {
                let marker = Path::from(format!("{schema}/.cdrlake-schema"));
                lakehouse.store.put(&marker, bytes_of(schema)).await?;
            }
        }
        Ok((lakehouse, report))
    }

    fn build(config: LakehouseConfig, location: Location) -> Result<Self> {
        REGISTER_HANDLERS.call_once(|| deltalake::aws::register_handlers(None));
        let store = store::root_store(&location, &config.s3)?;
        let storage_options = if location.is_s3() {
            config.s3.storage_options()
        } else {
            HashMap::new()
        };
        Ok(Self {
            config,
            location,
            store,
            storage_options,
        })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn config(&self) -> &LakehouseConfig {
        &self.config
    }

    pub(crate) fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn storage_options(&self) -> &HashMap<String, String> {
        &self.storage_options
    }

    pub fn table_url(&self, schema: &str, table: &str) -> Result<Url> {
        self.location.table_url(schema, table)
    }

    /// Delta tables of `schema`, sorted: directories under `<root>/<schema>/` holding a `_delta_log`.
    /// Whether `schema.table` exists (a query naming a missing table fails, so readers of
    /// optional tables ask first).
    pub async fn has_table(&self, schema: &str, table: &str) -> Result<bool> {
        Ok(self.list_tables(schema).await?.iter().any(|t| t == table))
    }

    pub async fn list_tables(&self, schema: &str) -> Result<Vec<String>> {
        check_schema(schema)?;
        let listing = self
            .store
            .list_with_delimiter(Some(&Path::from(schema)))
            .await;
        let dirs = match listing {
            Ok(l) => l.common_prefixes,
            Err(object_store::Error::NotFound { .. }) => return Ok(vec![]),
            Err(e) => return Err(e.into()),
        };
        let mut names = Vec::new();
        for dir in dirs {
            // A folder whose name is no table name (put there by hand) is not a table.
            let Some(name) = dir
                .filename()
                .filter(|n| is_identifier(n))
                .map(str::to_string)
            else {
                continue;
            };
            if self.has_delta_log(&dir).await? {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    async fn has_delta_log(&self, dir: &Path) -> Result<bool> {
        match self.store.list_with_delimiter(Some(dir)).await {
            Ok(l) => Ok(l
                .common_prefixes
                .iter()
                .any(|p| p.filename() == Some("_delta_log"))),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn has_any_object(&self, dir: &Path) -> Result<bool> {
        match self.store.list_with_delimiter(Some(dir)).await {
            Ok(l) => Ok(!l.common_prefixes.is_empty() || !l.objects.is_empty()),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens `schema.table` at its latest committed version, or at `version`.
    pub async fn open_table(
        &self,
        schema: &str,
        table: &str,
        version: Option<u64>,
    ) -> Result<DeltaTable> {
        let url = self.table_url(schema, table)?;
        if let Location::Local(dir) = &self.location
            && !dir.join(schema).join(table).is_dir()
        {
            return Err(CatalogError::UnknownTable {
                schema: schema.into(),
                table: table.into(),
            });
        }
        let mut builder = DeltaTableBuilder::from_url(url)
            .map_err(|e| CatalogError::delta(format!("{schema}.{table}"), e))?
            .with_storage_options(self.storage_options.clone());
        if let Some(v) = version {
            builder = builder.with_version(v);
        }
        match builder.load().await {
            Ok(t) => Ok(t),
            Err(err) => Err(self.explain_open_error(schema, table, err).await),
        }
    }

    /// Tells "no such table" from "a directory that is not Delta" from a real Delta failure.
    async fn explain_open_error(
        &self,
        schema: &str,
        table: &str,
        err: deltalake::DeltaTableError,
    ) -> CatalogError {
        let dir = Path::from(format!("{schema}/{table}"));
        match (
            self.has_any_object(&dir).await,
            self.has_delta_log(&dir).await,
        ) {
            (Ok(false), _) => CatalogError::UnknownTable {
                schema: schema.into(),
                table: table.into(),
            },
            (Ok(true), Ok(false)) => CatalogError::NotADeltaTable {
                location: format!("{}/{schema}/{table}", self.location),
            },
            _ => CatalogError::delta(format!("{schema}.{table}"), err),
        }
    }

    /// A handle for writing to `schema.table`, whether or not it exists yet.
    pub async fn table_for_write(&self, schema: &str, table: &str) -> Result<DeltaTable> {
        let url = self.table_url(schema, table)?;
        if let Location::Local(dir) = &self.location {
            std::fs::create_dir_all(dir.join(schema).join(table)).map_err(|e| {
                CatalogError::Root {
                    root: dir.display().to_string(),
                    detail: e.to_string(),
                }
            })?;
        }
        DeltaTable::try_from_url_with_storage_options(url, self.storage_options.clone())
            .await
            .map_err(|e| CatalogError::delta(format!("{schema}.{table}"), e))
    }

    /// Every Delta table of every schema, as `(schema, table)`.
    pub async fn all_tables(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for schema in SCHEMAS {
            for t in self.list_tables(schema).await? {
                out.push((schema.to_string(), t));
            }
        }
        Ok(out)
    }

    pub(crate) async fn collect_history_limited(
        &self,
        table: &DeltaTable,
        limit: usize,
    ) -> Result<Vec<deltalake::kernel::CommitInfo>> {
        table
            .history(Some(limit))
            .try_collect()
            .await
            .map_err(|e| CatalogError::delta(table.table_url().to_string(), e))
    }

    pub(crate) async fn collect_history(
        &self,
        table: &DeltaTable,
    ) -> Result<Vec<deltalake::kernel::CommitInfo>> {
        table
            .history(None)
            .try_collect()
            .await
            .map_err(|e| CatalogError::delta(table.table_url().to_string(), e))
    }
}

fn bytes_of(s: &str) -> object_store::PutPayload {
    object_store::PutPayload::from(format!("cdrlake schema {s}\n"))
}

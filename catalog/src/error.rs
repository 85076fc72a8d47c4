//! Errors a user can act on: each names the thing that is wrong (endpoint, bucket, table, file).

use thiserror::Error;

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("configuration: {0}")]
    Config(String),

    #[error("cannot reach S3 endpoint {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },

    #[error("S3 endpoint {endpoint} refused the credentials for bucket '{bucket}' (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")]
    AccessDenied { endpoint: String, bucket: String },

    #[error("bucket '{bucket}' does not exist on {endpoint} (run `cdrlake init` to create it)")]
    NoSuchBucket { endpoint: String, bucket: String },

    #[error("S3 request to {endpoint} failed: {detail}")]
    S3 { endpoint: String, detail: String },

    #[error("unknown schema '{0}' (schemas are: bronze, silver, gold, system)")]
    UnknownSchema(String),

    #[error("table {schema}.{table} does not exist in the lakehouse")]
    UnknownTable { schema: String, table: String },

    #[error("{location} is not a Delta table (it has no _delta_log)")]
    NotADeltaTable { location: String },

    #[error("table name '{0}' is not valid: use schema.table with letters, digits and '_'")]
    BadTableName(String),

    #[error("lakehouse root {root} is not usable: {detail}")]
    Root { root: String, detail: String },

    /// The query a write streams from failed (delta-rs reports it in a wrapper of its own).
    #[error("Delta table {table}: {message}")]
    WriteQuery { table: String, message: String },

    #[error("Delta table {table}: {source}")]
    Delta {
        table: String,
        #[source]
        source: deltalake::DeltaTableError,
    },

    #[error("storage: {0}")]
    Storage(#[from] object_store::Error),

    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

impl CatalogError {
    pub fn delta(table: impl Into<String>, source: deltalake::DeltaTableError) -> Self {
        // DataFusion's errors reach us as "Failed to convert into Arrow schema: ..." or "Generic
        // DeltaTable error: ..."; the query's own message is the precise one.
        match source {
            deltalake::DeltaTableError::Arrow { source } => Self::WriteQuery { table: table.into(), message: source.to_string() },
            deltalake::DeltaTableError::Generic(message) => Self::WriteQuery { table: table.into(), message },
            source => Self::Delta { table: table.into(), source },
        }
    }
}

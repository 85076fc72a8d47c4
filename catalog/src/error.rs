//! Errors a user can act on: each names the thing that is wrong (endpoint, bucket, table, file).

use thiserror::Error;

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("configuration: {0}")]
    Config(String),

    #[error("cannot reach S3 endpoint {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },

    #[error(
        "S3 endpoint {endpoint} refused the credentials for bucket '{bucket}' (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
    )]
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

    #[error("the lakehouse is busy: {holder} holds its '{lease}' lease; try again when it is done")]
    Busy { lease: String, holder: String },

    #[error(
        "this process no longer holds the lakehouse's '{lease}' lease (it stalled past its expiry or another process took it over): stopped before committing more"
    )]
    LeaseLost { lease: String },

    #[error("{table} already holds application transaction {app_id} (version {version})")]
    TransactionCommitted {
        table: String,
        app_id: String,
        version: i64,
    },

    #[error("lakehouse root {root} is not usable: {detail}")]
    Root { root: String, detail: String },

    /// A delta-rs error that is only a message: its wrappers of DataFusion's and Arrow's errors
    /// (e.g. the query a write streams from failed), shown without the wrapper's own text.
    #[error("Delta table {table}: {detail}")]
    DeltaDetail { table: String, detail: String },

    #[error(
        "{table}: a retention of {hours} hours is shorter than the table's {min_hours} hours (delta.deletedFileRetentionDuration): versions older than it could no longer be read (cdrlake vacuum --force deletes anyway)"
    )]
    RetentionTooShort {
        table: String,
        hours: i64,
        min_hours: i64,
    },

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
        // DeltaTable error: ..."; the inner message is the precise one.
        match source {
            deltalake::DeltaTableError::Arrow { source } => Self::DeltaDetail {
                table: table.into(),
                detail: source.to_string(),
            },
            deltalake::DeltaTableError::Generic(detail) => Self::DeltaDetail {
                table: table.into(),
                detail,
            },
            source => Self::Delta {
                table: table.into(),
                source,
            },
        }
    }
}

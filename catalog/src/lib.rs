//! The cdrlake lakehouse: configuration, the Delta tables under one root (local directory or
//! S3 bucket), and their DataFusion catalog `cdrlake` with schemas bronze, silver, gold, system.

mod commits;
pub mod config;
pub mod error;
mod files;
mod info;
mod lakehouse;
mod lease;
pub mod location;
mod maintenance;
pub mod merge;
mod objects;
mod provider;
mod reads;
mod remote_input;
pub mod s3;
mod secrets;
mod store;
mod views;
mod write;

pub use config::{LakehouseConfig, Overrides, S3Settings};
pub use error::{CatalogError, Result};
pub use files::delta_columns;
pub use info::{Commit, TableInfo, max_from_statistics};
pub use lakehouse::{InitReport, Lakehouse};
pub use lease::{Fence, Lease, LeaseHolder};
pub use location::{CATALOG_NAME, Location, SCHEMAS, parse_table_name};
pub use maintenance::{Optimized, Vacuumed};
pub use merge::MergeOn;
pub use provider::{DeltaProvider, LakehouseCatalog, LakehouseSchema};
pub use reads::RowsRead;
pub use remote_input::PlansElsewhere;
pub use store::object_store_at;
pub use views::{LazyView, ViewDefinition};
pub use write::{
    CommitMetrics, Committed, ROW_GROUP_ROWS, TableWrite, WriteMode, WriteOptions,
    column_properties,
};

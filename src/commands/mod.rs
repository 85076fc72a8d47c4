//! One module per subcommand, and the arguments they share.

pub mod args;
pub mod cluster;
pub mod generate;
pub mod history;
pub mod ingest;
pub mod init;
pub mod models;
pub mod optimize;
pub mod periods;
pub mod progress;
pub mod query;
pub mod s3_server;
pub mod serve;
pub mod status;
pub mod tables;
pub mod up;
pub mod vacuum;

use std::sync::Arc;

use anyhow::Result;
use cdrlake_catalog::Lakehouse;

use crate::commands::args::GlobalArgs;

pub(crate) async fn connect(global: &GlobalArgs) -> Result<Arc<Lakehouse>> {
    Ok(Arc::new(
        Lakehouse::connect(global.lakehouse_config()?).await?,
    ))
}

/// For commands that write: a missing lakehouse root (or bucket) is created.
pub(crate) async fn connect_or_init(global: &GlobalArgs) -> Result<Arc<Lakehouse>> {
    Ok(Arc::new(
        Lakehouse::init(global.lakehouse_config()?).await?.0,
    ))
}

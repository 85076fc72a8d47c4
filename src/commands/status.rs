use anyhow::Result;
use clap::Args;

use crate::commands::args::{GlobalArgs, OutputArgs};
use crate::engine::Engine;
use crate::{freshness, output};

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `cdrlake status`: how fresh each table is, measured now (what `system.freshness` holds after
/// each run of a watching server).
pub async fn run(global: &GlobalArgs, args: &StatusArgs) -> Result<()> {
    let engine = Engine::new(super::connect(global).await?).await?;
    let rows = freshness::measure(&engine).await?;
    let batch = freshness::to_batch(&rows)?;
    output::write(
        std::slice::from_ref(&batch),
        batch.schema(),
        args.out.format,
        args.out.output.as_deref(),
    )
}

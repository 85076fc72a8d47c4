//! A model whose build ran out of its memory limit is built once more in one partition. The
//! first attempt committed nothing (a failed write leaves its table at its version), so the
//! retry is safe. Why: a spilling sort merges its files within memory it reserved, while the
//! sorts of the other partitions keep theirs; at 30M CDRs, gold.rated_cdr's allowance window
//! failed so in two partitions at any reservation tried and passed in one (docs/performance.md).

use anyhow::{Result, anyhow};

use super::materialize::{Built, build_model};
use super::project::Model;
use crate::engine::Engine;

/// Whether `e` is DataFusion's memory pool refusing an allocation.
pub fn ran_out_of_memory(e: &anyhow::Error) -> bool {
    format!("{e:#}").contains("Resources exhausted")
}

/// `build_model`, and once more with one target partition if that ran out of memory.
pub async fn build_model_retrying(
    engine: &Engine,
    model: &Model,
    full_refresh: bool,
    stamp: Option<&str>,
) -> Result<Built> {
    let first = match build_model(engine, model, full_refresh, stamp).await {
        Err(e) if ran_out_of_memory(&e) => e,
        other => return other,
    };
    tracing::warn!(
        "{}: ran out of memory, building it again in one partition: {first:#}",
        model.name
    );
    let one = [(
        "datafusion.execution.target_partitions".to_string(),
        "1".to_string(),
    )];
    let saved = engine.set_options(&one)?;
    let retried = build_model(engine, model, full_refresh, stamp).await;
    engine.restore_options(&saved);
    match retried {
        Ok(mut built) => {
            let note = "built in one partition after running out of memory in more";
            built.note = Some(match built.note {
                Some(n) => format!("{n}, {note}"),
                None => note.to_string(),
            });
            Ok(built)
        }
        Err(e) => Err(anyhow!(
            "ran out of memory, and again in one partition: {e:#} (give the run a larger --memory-limit)"
        )),
    }
}

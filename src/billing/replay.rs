//! `cdrlake replay-period`: recompute a closed period from exactly what its close used (the
//! Delta versions of every input, by time travel, and the project files kept with the close) in
//! a scratch lakehouse, and compare every invoice and line with what was issued.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use arrow::array::{AsArray, RecordBatch};
use cdrlake_catalog::{Lakehouse, LakehouseConfig, parse_table_name};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::Period;
use super::close::{INVOICE_COLUMNS, LINE_COLUMNS, as_text, first_text, issue_sql};
use super::store;
use crate::engine::Engine;
use crate::models::progress::Progress;
use crate::models::{Project, RunOptions, runner};

#[derive(Debug)]
pub struct Replay {
    pub invoices: usize,
    pub lines: usize,
    /// One line per row that only one side has: `issued only: ...` or `replayed only: ...`.
    pub differences: Vec<String>,
}

/// Replays `period` in `scratch` (a directory that is created, used and left for inspection).
pub async fn replay_period(
    engine: &Engine,
    period: Period,
    scratch: &Path,
    progress: &Progress,
) -> Result<Replay> {
    let lakehouse = engine.lakehouse();
    let record = engine
        .sql(&format!(
            "SELECT inputs FROM system.period_close WHERE billing_period = '{period}' AND action = 'close'"
        ))
        .await?;
    let inputs = first_text(&record, 0)
        .ok_or_else(|| anyhow!("{period} is not closed: there is nothing issued to replay"))?;
    let inputs: BTreeMap<String, u64> = serde_json::from_str(&inputs)
        .with_context(|| format!("system.period_close: the inputs of {period} are not readable"))?;

    let project = restore_project(lakehouse, period, &scratch.join("project")).await?;
    let root = scratch.join("lake");
    let (replica, _) = Lakehouse::init(LakehouseConfig::local(
        root.to_str().context("scratch path is not UTF-8")?,
    ))
    .await?;
    let replica = Arc::new(replica);
    progress.step(&format!(
        "replay-period {period}: copying the inputs at the versions the close recorded"
    ));
    for (name, version) in &inputs {
        // Model tables are rebuilt by the replay; logs of runs and queries are not inputs.
        if project.is_node(name) || (name.starts_with("system.") && name != "system.period_close") {
            continue;
        }
        let (schema, table) = parse_table_name(name)?;
        copy_at_version(engine, &replica, (&schema, &table), *version).await?;
    }
    let replayed = Engine::new(replica).await?;
    progress.step(&format!(
        "replay-period {period}: building the invoices from them"
    ));
    let run = runner::run(
        &replayed,
        &project,
        &RunOptions {
            select: vec!["+gold.invoice".into()],
            progress: progress.clone(),
            // A scratch lakehouse of its own: no lease to hold.
            ..RunOptions::default()
        },
    )
    .await?;
    if run.failed() > 0 {
        bail!(
            "replay of {period} could not build the invoices: {} model(s) failed (the scratch lakehouse is at {})",
            run.failed(),
            root.display()
        );
    }

    let invoice_schema = store::issued_invoice_schema();
    let line_schema = store::issued_line_schema();
    let replayed_invoices = store::conform(
        &replayed
            .sql(&issue_sql(period, INVOICE_COLUMNS, "gold.invoice"))
            .await?,
        &invoice_schema,
    )?;
    let replayed_lines = store::conform(
        &replayed
            .sql(&issue_sql(period, LINE_COLUMNS, "gold.invoice_line"))
            .await?,
        &line_schema,
    )?;
    let issued_invoices = store::conform(
        &engine
            .sql(&format!(
                "SELECT * FROM gold.issued_invoice WHERE billing_period = '{period}'"
            ))
            .await?,
        &invoice_schema,
    )?;
    let issued_lines = store::conform(
        &engine
            .sql(&format!(
                "SELECT * FROM gold.issued_invoice_line WHERE billing_period = '{period}'"
            ))
            .await?,
        &line_schema,
    )?;
    let mut differences = differ(
        "invoice",
        "invoice_number",
        (invoice_schema.clone(), issued_invoices.clone()),
        (invoice_schema, replayed_invoices),
    )
    .await?;
    differences.extend(
        differ(
            "line",
            "invoice_number || ' line ' || CAST(line_no AS VARCHAR) || ' ' || line_type || ' ' || CAST(amount AS VARCHAR)",
            (line_schema.clone(), issued_lines.clone()),
            (line_schema, replayed_lines),
        )
        .await?,
    );
    Ok(Replay {
        invoices: issued_invoices.iter().map(|b| b.num_rows()).sum(),
        lines: issued_lines.iter().map(|b| b.num_rows()).sum(),
        differences,
    })
}

/// Writes the project files kept with the close into `dir` and loads them.
async fn restore_project(lakehouse: &Lakehouse, period: Period, dir: &Path) -> Result<Project> {
    let prefix = store::project_prefix(period);
    let files = lakehouse.list_objects(&prefix).await?;
    if files.is_empty() {
        bail!("the close of {period} kept no project files ({prefix}): it cannot be replayed");
    }
    for relative in files {
        if relative
            .split('/')
            .any(|part| part == ".." || part.is_empty())
        {
            bail!("refusing the kept project file {relative}: not a plain relative path");
        }
        let target = dir.join(&relative);
        std::fs::create_dir_all(target.parent().expect("a file has a parent"))?;
        std::fs::write(
            &target,
            lakehouse
                .get_object(&format!("{prefix}/{relative}"))
                .await?,
        )?;
    }
    Project::load(dir)
}

/// Copies `schema.table` as it was at `version` into the replica, streamed.
async fn copy_at_version(
    engine: &Engine,
    replica: &Lakehouse,
    (schema, table): (&str, &str),
    version: u64,
) -> Result<()> {
    let df = engine
        .dataframe(&format!("SELECT * FROM {schema}.\"{table}@{version}\""))
        .await?;
    replica
        .write(schema, table)
        .await?
        .dataframe(df)
        .commit()
        .await?;
    Ok(())
}

/// The rows only one side has (every column compared), named by `key`.
async fn differ(
    what: &str,
    key: &str,
    (issued_schema, issued): (arrow::datatypes::SchemaRef, Vec<RecordBatch>),
    (replayed_schema, replayed): (arrow::datatypes::SchemaRef, Vec<RecordBatch>),
) -> Result<Vec<String>> {
    let ctx = SessionContext::new();
    ctx.register_table(
        "issued",
        Arc::new(MemTable::try_new(issued_schema, vec![issued])?),
    )?;
    ctx.register_table(
        "replayed",
        Arc::new(MemTable::try_new(replayed_schema, vec![replayed])?),
    )?;
    let batches = ctx
        .sql(&format!(
            "SELECT 'issued only' AS side, {key} AS row FROM (SELECT * FROM issued EXCEPT ALL SELECT * FROM replayed) AS a
             UNION ALL
             SELECT 'replayed only', {key} FROM (SELECT * FROM replayed EXCEPT ALL SELECT * FROM issued) AS b
             ORDER BY 2, 1"
        ))
        .await?
        .collect()
        .await?;
    let mut out = Vec::new();
    for batch in &batches {
        let (side, row) = (as_text(batch, 0)?, as_text(batch, 1)?);
        for i in 0..batch.num_rows() {
            out.push(format!(
                "{} {what}: {}",
                side.as_string::<i32>().value(i),
                row.as_string::<i32>().value(i)
            ));
        }
    }
    Ok(out)
}

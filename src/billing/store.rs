//! What closing writes: the issued invoices and lines (`gold.issued_invoice`,
//! `gold.issued_invoice_line`; each close writes its period's rows in files of their own, so file
//! statistics already keep a query on one period to its files, without partition columns, which
//! DataFusion reads as dictionaries that do not union with the models' strings) and the log of closes (`system.period_close`). The models read them, so they
//! exist, empty, before the first run.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cdrlake_catalog::Lakehouse;
use datafusion::prelude::{col, lit};

use super::Period;

pub const ISSUED_INVOICE: (&str, &str) = ("gold", "issued_invoice");
pub const ISSUED_LINE: (&str, &str) = ("gold", "issued_invoice_line");
pub const ISSUED_USAGE: (&str, &str) = ("gold", "issued_usage");
pub const PERIOD_CLOSE: (&str, &str) = ("system", "period_close");

fn money() -> DataType {
    DataType::Decimal128(18, 2)
}

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

/// gold.invoice's columns, as issued.
pub fn issued_invoice_schema() -> SchemaRef {
    let mut fields = vec![
        text("invoice_number"),
        text("customer_id"),
        text("billing_period"),
        Field::new("period_start", DataType::Date32, true),
        Field::new("period_end", DataType::Date32, true),
    ];
    for amount in [
        "recurring_amount",
        "voice_amount",
        "sms_amount",
        "data_amount",
        "roaming_amount",
        "discount_amount",
        "adjustment_amount",
        "net_amount",
        "vat_amount",
        "total_amount",
    ] {
        fields.push(Field::new(amount, money(), true));
    }
    fields.extend([
        text("currency"),
        Field::new("line_count", DataType::Int64, true),
        text("status"),
    ]);
    Arc::new(Schema::new(fields))
}

/// gold.invoice_line's columns, as issued.
pub fn issued_line_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("invoice_number"),
        Field::new("line_no", DataType::Int64, true),
        text("line_type"),
        text("description"),
        Field::new("quantity", DataType::Int64, true),
        Field::new("amount", money(), true),
        text("plan_id"),
        text("billing_period"),
        // On an ADJUSTMENT line: the closed period and the line type it adjusts.
        text("adjusts_period"),
        text("adjusts_line_type"),
    ]))
}

/// The charge of every CDR a closed invoice billed, per usage line type: what later changes are
/// counted against (gold.closed_usage_change).
pub fn issued_usage_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("billing_period"),
        text("customer_id"),
        text("cdr_id"),
        text("line_type"),
        Field::new("charge", DataType::Decimal128(18, 4), true),
    ]))
}

pub fn period_close_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("billing_period"),
        // close (release later: the files a closed period needs may then be vacuumed).
        text("action"),
        Field::new("at", utc(), true),
        text("by_user"),
        // The newest CDR start in silver.cdr when the period closed.
        Field::new("data_clock", utc(), true),
        Field::new("grace_days", DataType::Int64, true),
        Field::new("invoices", DataType::Int64, true),
        Field::new("net_amount", money(), true),
        Field::new("total_amount", money(), true),
        // JSON: {"schema.table": delta version} of every table when the invoices were taken.
        text("inputs"),
        // JSON: {"schema.name": sha256 of the model's (or seed's) file}.
        text("models"),
        text("cdrlake_version"),
        text("run_id"),
    ]))
}

/// Creates the four tables, empty, where missing (an upgraded lakehouse has none of them).
pub async fn ensure_tables(lakehouse: &Lakehouse) -> Result<()> {
    for ((schema, table), columns) in [
        (ISSUED_INVOICE, issued_invoice_schema()),
        (ISSUED_LINE, issued_line_schema()),
        (ISSUED_USAGE, issued_usage_schema()),
        (PERIOD_CLOSE, period_close_schema()),
    ] {
        lakehouse.ensure_table(schema, table, columns).await?;
    }
    Ok(())
}

/// Replaces the period's rows of `gold.issued_usage` with the period's rated CDRs, streamed
/// (a month of CDRs is not held in memory).
pub async fn write_period_usage(engine: &crate::engine::Engine, period: Period) -> Result<u64> {
    let df = engine
        .dataframe(&format!(
            "SELECT CAST(billing_period AS VARCHAR) AS billing_period, CAST(customer_id AS VARCHAR) AS customer_id,
                    CAST(cdr_id AS VARCHAR) AS cdr_id,
                    CAST(CASE WHEN roaming THEN 'ROAMING' ELSE service END AS VARCHAR) AS line_type,
                    CAST(charge AS DECIMAL(18, 4)) AS charge
             FROM gold.rated_cdr
             WHERE billing_period = '{period}' AND customer_id IS NOT NULL"
        ))
        .await?;
    let (schema, table) = ISSUED_USAGE;
    let written = engine
        .lakehouse()
        .write(schema, table)
        .await?
        .dataframe(df)
        .replace_where(col("billing_period").eq(lit(period.to_string())))
        .commit()
        .await?;
    Ok(written.version().unwrap_or_default())
}

/// `batches` with their columns cast to `schema`'s types (DataFusion may produce string views or
/// wider decimals), in `schema`'s order.
pub fn conform(batches: &[RecordBatch], schema: &SchemaRef) -> Result<Vec<RecordBatch>> {
    batches
        .iter()
        .map(|batch| {
            let columns = schema
                .fields()
                .iter()
                .map(|field| {
                    let column = batch
                        .column_by_name(field.name())
                        .with_context(|| format!("no column {} to issue", field.name()))?;
                    Ok(cast(column, field.data_type())?)
                })
                .collect::<Result<Vec<ArrayRef>>>()?;
            Ok(RecordBatch::try_new(schema.clone(), columns)?)
        })
        .collect()
}

/// Replaces the period's rows of an issued table with `batches` in one commit, so that a
/// close retried after a crash writes the same rows once.
pub async fn write_period(
    lakehouse: &Lakehouse,
    (schema, table): (&str, &str),
    period: Period,
    batches: Vec<RecordBatch>,
) -> Result<u64> {
    let written = lakehouse
        .write(schema, table)
        .await?
        .batches(batches)
        .replace_where(col("billing_period").eq(lit(period.to_string())))
        .commit()
        .await?;
    Ok(written.version().unwrap_or_default())
}

/// Where a close keeps the project files it used.
pub fn project_prefix(period: Period) -> String {
    format!("_cdrlake/closes/{period}/project")
}

/// A file of the project as it runs, with the node it defines.
pub struct ProjectFile {
    pub node: String,
    pub path: std::path::PathBuf,
    pub content: Vec<u8>,
}

/// Every file of the project as it runs: models and tests as rendered (their macros expanded, so
/// a replay needs no macro file), seeds as they are.
pub fn project_files(project: &crate::models::Project) -> Result<Vec<ProjectFile>> {
    let mut files = Vec::new();
    for model in project.models.values() {
        files.push(ProjectFile {
            node: model.name.clone(),
            path: model.path.clone(),
            // As a replay runs it: built from nothing.
            content: model.full_sql.clone().into_bytes(),
        });
    }
    for test in &project.tests {
        files.push(ProjectFile {
            node: test.name.clone(),
            path: test.path.clone(),
            content: test.sql.clone().into_bytes(),
        });
    }
    for seed in project.seeds.values() {
        files.push(ProjectFile {
            node: seed.name.clone(),
            path: seed.path.clone(),
            content: std::fs::read(&seed.path)?,
        });
    }
    Ok(files)
}

/// Keeps every model, seed and test file of `project` in the lakehouse under the period's
/// close, so a replay runs exactly them.
pub async fn save_project(
    lakehouse: &Lakehouse,
    period: Period,
    project: &crate::models::Project,
) -> Result<()> {
    for file in project_files(project)? {
        let relative = file
            .path
            .strip_prefix(&project.root)
            .with_context(|| format!("{} is outside the project", file.path.display()))?;
        let key = format!("{}/{}", project_prefix(period), relative.to_string_lossy());
        lakehouse.put_object(&key, file.content).await?;
    }
    Ok(())
}

//! `cdrlake close-period`: issue a billing period's invoices for good (billing.md, "Period
//! states, closing and adjustments"). Closing first builds gold.invoice and everything it reads
//! (their gates must pass), numbers the period's invoices INV-YYYYMM-NNNNNNN in customer_id order, writes them to the
//! issued tables, and logs the close with the Delta version of every table and the hash of every
//! model file, so the period can be recomputed exactly later. The models then show the period as
//! CLOSED from the issued rows and never recompute it.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Result, bail};
use arrow::array::{
    Array, AsArray, Decimal128Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{Decimal128Type, Int64Type};
use cdrlake_catalog::{Lakehouse, WriteMode};
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::Period;
use super::store::{self, ISSUED_INVOICE, ISSUED_LINE, PERIOD_CLOSE};
use crate::engine::Engine;
use crate::models::progress::Progress;
use crate::models::{Project, RunOptions, runner};

#[derive(Debug, Clone)]
pub struct CloseOptions {
    pub period: Period,
    /// Days after the period's last local day the data's clock must have passed.
    pub grace_days: u32,
    /// Who closes (recorded in system.period_close).
    pub user: String,
    /// The `models` lease's fence: checked before the runs' commits and the close's own.
    pub fence: cdrlake_catalog::Fence,
    /// Where the close and its runs report their steps.
    pub progress: Progress,
}

#[derive(Debug)]
pub struct Closed {
    pub invoices: i64,
    pub net_amount: String,
    pub total_amount: String,
    pub run_id: String,
}

/// Closes the period. The caller holds the lakehouse's `models` lease, so no run changes gold
/// between the gates and the issue.
pub async fn close_period(
    engine: &Engine,
    project: &Project,
    options: &CloseOptions,
) -> Result<Closed> {
    let period = options.period;
    let lakehouse = engine.lakehouse().clone();
    store::ensure_tables(&lakehouse).await?;
    engine.catalog().refresh().await?;
    if let Some(at) = closed_at(engine, period).await? {
        bail!("{period} is already closed (at {at}): its invoices never change");
    }

    options.progress.step(&format!(
        "close-period {period}: building the invoices and what they read (their gates must pass)"
    ));
    let gates = RunOptions {
        select: vec!["+gold.invoice".into()],
        full_refresh: false,
        fence: options.fence.clone(),
        progress: options.progress.clone(),
    };
    let built = runner::run(engine, project, &gates).await?;
    if built.failed() > 0 {
        bail!(
            "{period} not closed: {} model(s) failed and {} skipped in run {} (see above and system.model_runs)",
            built.failed(),
            built.skipped(),
            built.run_id
        );
    }
    // After the build, so CDRs ingested since the last run count for the clock.
    let clock = check_clock(engine, period, options.grace_days).await?;
    check_invoices(engine, period).await?;

    let invoices = engine
        .sql(&issue_sql(period, INVOICE_COLUMNS, "gold.invoice"))
        .await?;
    let lines = engine
        .sql(&issue_sql(period, LINE_COLUMNS, "gold.invoice_line"))
        .await?;
    let count: usize = invoices.iter().map(|b| b.num_rows()).sum();
    if count == 0 {
        bail!(
            "{period} has no provisional invoices to issue (is it a billed period? see gold.billing_period)"
        );
    }
    let invoices = store::conform(&invoices, &store::issued_invoice_schema())?;
    let lines = store::conform(&lines, &store::issued_line_schema())?;
    let (net, total) = totals(&invoices);

    options.fence.check()?;
    store::write_period_usage(engine, period).await?;
    store::write_period(&lakehouse, ISSUED_LINE, period, lines).await?;
    store::write_period(&lakehouse, ISSUED_INVOICE, period, invoices).await?;
    store::save_project(&lakehouse, period, project).await?;
    // The log row is the close: until it lands, the models keep the period open.
    options.fence.check()?;
    let record = CloseRecord {
        period,
        user: options.user.clone(),
        clock,
        grace_days: options.grace_days,
        invoices: count as i64,
        net,
        total,
        inputs: table_versions(&lakehouse).await?,
        models: file_hashes(project)?,
        run_id: built.run_id.clone(),
    };
    lakehouse
        .write_batches(
            PERIOD_CLOSE.0,
            PERIOD_CLOSE.1,
            vec![record.batch()?],
            WriteMode::Append,
        )
        .await?;

    options.progress.step(&format!(
        "close-period {period}: {count} invoices issued; showing them in gold"
    ));
    let select = RunOptions {
        select: vec![
            "gold.billing_period+".into(),
            "gold.closed_usage_change+".into(),
        ],
        full_refresh: false,
        fence: options.fence.clone(),
        progress: options.progress.clone(),
    };
    let shown = runner::run(engine, project, &select).await?;
    if shown.failed() > 0 {
        bail!(
            "{period} is closed and its invoices issued, but rebuilding gold after it failed (run {}): run `cdrlake run` again",
            shown.run_id
        );
    }
    Ok(Closed {
        invoices: count as i64,
        net_amount: money(net),
        total_amount: money(total),
        run_id: built.run_id,
    })
}

pub(super) const INVOICE_COLUMNS: &str = "n.issued AS invoice_number, t.customer_id, t.billing_period, t.period_start, \
    t.period_end, t.recurring_amount, t.voice_amount, t.sms_amount, t.data_amount, t.roaming_amount, \
    t.discount_amount, t.adjustment_amount, t.net_amount, t.vat_amount, t.total_amount, t.currency, t.line_count, \
    'ISSUED' AS status";

pub(super) const LINE_COLUMNS: &str = "n.issued AS invoice_number, t.line_no, t.line_type, t.description, \
    t.quantity, t.amount, t.plan_id, t.billing_period, t.adjusts_period, t.adjusts_line_type";

/// The open periods that may close by the data's clock with `grace_days`, oldest first.
pub async fn closable_periods(engine: &Engine, grace_days: u32) -> Result<Vec<Period>> {
    let batches = engine
        .sql(&format!(
            "SELECT billing_period FROM gold.billing_period
             WHERE status = 'OPEN'
               AND local_day_start(CAST(CAST(billing_period || '-01' AS DATE) + INTERVAL '1 month' + INTERVAL '{grace_days} days' AS DATE))
                   <= (SELECT max(start_time) FROM silver.cdr)
             ORDER BY billing_period"
        ))
        .await?;
    let mut periods = Vec::new();
    for batch in &batches {
        for value in as_text(batch, 0)?.as_string::<i32>().iter().flatten() {
            periods.push(Period::parse(value)?);
        }
    }
    Ok(periods)
}

/// The period's provisional rows of `table` under their issued numbers: gapless, in customer_id
/// order.
pub(super) fn issue_sql(period: Period, columns: &str, table: &str) -> String {
    format!(
        "WITH numbers AS (
            SELECT invoice_number AS draft,
                   'INV-' || replace(billing_period, '-', '') || '-'
                       || lpad(CAST(row_number() OVER (ORDER BY customer_id) AS VARCHAR), 7, '0') AS issued
            FROM gold.invoice
            WHERE billing_period = '{period}' AND status = 'PROVISIONAL'
        )
        SELECT {columns} FROM {table} t JOIN numbers n ON n.draft = t.invoice_number"
    )
}

/// When the period was closed, if it was.
async fn closed_at(engine: &Engine, period: Period) -> Result<Option<String>> {
    let batches = engine
        .sql(&format!(
            "SELECT CAST(max(at) AS VARCHAR) FROM system.period_close WHERE billing_period = '{period}' AND action = 'close'"
        ))
        .await?;
    Ok(first_text(&batches, 0))
}

/// A period may close once the data's clock (the newest CDR start) has passed its last local
/// day plus the grace. Returns the clock.
async fn check_clock(engine: &Engine, period: Period, grace_days: u32) -> Result<Option<i64>> {
    let from_day = period.closable_from(grace_days);
    let batches = engine
        .sql(&format!(
            "SELECT
                CAST(max(start_time) AS VARCHAR) AS clock,
                CAST(local_day_start(DATE '{from_day}') AS VARCHAR) AS closable_from,
                coalesce(max(start_time) >= local_day_start(DATE '{from_day}'), false) AS ended,
                arrow_cast(max(start_time), 'Int64') AS clock_us
             FROM silver.cdr"
        ))
        .await?;
    let clock = first_text(&batches, 0).unwrap_or_else(|| "none (no CDRs)".into());
    let closable_from = first_text(&batches, 1).unwrap_or_default();
    let ended = batches
        .first()
        .filter(|b| b.num_rows() > 0)
        .map(|b| b.column(2).as_boolean().value(0))
        .unwrap_or(false);
    if !ended {
        bail!(
            "{period} cannot close yet: it may close from {from_day} 00:00 local time ({closable_from}), {grace_days} day(s) after its last day (--grace-days), and by the data's clock it is {clock} (the newest CDR's start)"
        );
    }
    Ok(batches.first().and_then(|b| {
        b.column(3)
            .as_primitive_opt::<Int64Type>()
            .map(|c| c.value(0))
    }))
}

/// Each invoice of the period equals the sum of its lines, its total is net + VAT, and only a
/// DISCOUNT (or ADJUSTMENT) line is negative: the gold tables were read at different moments of
/// the run, so check them together before issuing.
async fn check_invoices(engine: &Engine, period: Period) -> Result<()> {
    let batches = engine
        .sql(&format!(
            "SELECT
                (SELECT count(*)
                 FROM gold.invoice i
                 LEFT JOIN (SELECT invoice_number, sum(amount) AS lines_total, count(*) AS lines FROM gold.invoice_line GROUP BY invoice_number) l
                   ON l.invoice_number = i.invoice_number
                 WHERE i.billing_period = '{period}' AND i.status = 'PROVISIONAL'
                   AND (l.lines IS NULL OR l.lines_total <> i.net_amount OR l.lines <> i.line_count
                        OR i.total_amount <> i.net_amount + i.vat_amount)) AS inconsistent,
                (SELECT count(*) FROM gold.invoice_line
                 WHERE billing_period = '{period}' AND amount < 0 AND line_type NOT IN ('DISCOUNT', 'ADJUSTMENT')) AS negative"
        ))
        .await?;
    let count = |column: usize| {
        batches
            .first()
            .map(|b| b.column(column).as_primitive::<Int64Type>().value(0))
            .unwrap_or(0)
    };
    let (inconsistent, negative) = (count(0), count(1));
    if inconsistent > 0 || negative > 0 {
        bail!(
            "{period} not closed: {inconsistent} invoice(s) differ from their lines and {negative} line(s) are negative (gold.invoice, gold.invoice_line)"
        );
    }
    Ok(())
}

pub(super) fn first_text(batches: &[RecordBatch], column: usize) -> Option<String> {
    let batch = batches.iter().find(|b| b.num_rows() > 0)?;
    let array = as_text(batch, column).ok()?;
    let array = array.as_string::<i32>();
    (!array.is_null(0)).then(|| array.value(0).to_string())
}

/// A column as plain strings (query results may hold string views or dictionaries).
pub(super) fn as_text(batch: &RecordBatch, column: usize) -> Result<arrow::array::ArrayRef> {
    Ok(arrow::compute::cast(
        batch.column(column),
        &arrow::datatypes::DataType::Utf8,
    )?)
}

/// Net and total of the issued invoices, in cents.
fn totals(invoices: &[RecordBatch]) -> (i128, i128) {
    let sum = |name: &str| {
        invoices
            .iter()
            .map(|b| {
                b.column_by_name(name)
                    .map(|c| {
                        c.as_primitive::<Decimal128Type>()
                            .iter()
                            .flatten()
                            .sum::<i128>()
                    })
                    .unwrap_or(0)
            })
            .sum()
    };
    (sum("net_amount"), sum("total_amount"))
}

pub(super) fn money(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

/// The latest Delta version of every table in the lakehouse.
async fn table_versions(lakehouse: &Lakehouse) -> Result<BTreeMap<String, u64>> {
    let mut versions = BTreeMap::new();
    for (schema, table) in lakehouse.all_tables().await? {
        let opened = lakehouse.open_table(&schema, &table, None).await?;
        if let Some(version) = opened.version() {
            versions.insert(format!("{schema}.{table}"), version);
        }
    }
    Ok(versions)
}

/// sha256 of every model, seed and singular test as it runs (models and tests rendered).
fn file_hashes(project: &Project) -> Result<BTreeMap<String, String>> {
    let mut hashes = BTreeMap::new();
    for file in store::project_files(project)? {
        let digest = Sha256::digest(&file.content);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        hashes.insert(file.node, hex);
    }
    Ok(hashes)
}

struct CloseRecord {
    period: Period,
    user: String,
    clock: Option<i64>,
    grace_days: u32,
    invoices: i64,
    net: i128,
    total: i128,
    inputs: BTreeMap<String, u64>,
    models: BTreeMap<String, String>,
    run_id: String,
}

impl CloseRecord {
    fn batch(&self) -> Result<RecordBatch> {
        let text = |s: &str| Arc::new(StringArray::from(vec![s.to_string()])) as Arc<dyn Array>;
        let utc = |us: Option<i64>| {
            Arc::new(TimestampMicrosecondArray::from(vec![us]).with_timezone("UTC"))
                as Arc<dyn Array>
        };
        let cents = |v: i128| {
            Arc::new(
                Decimal128Array::from(vec![v])
                    .with_precision_and_scale(18, 2)
                    .expect("(18, 2) is a valid decimal type"),
            ) as Arc<dyn Array>
        };
        let columns: Vec<Arc<dyn Array>> = vec![
            text(&self.period.to_string()),
            text("close"),
            utc(Some(Utc::now().timestamp_micros())),
            text(&self.user),
            utc(self.clock),
            Arc::new(Int64Array::from(vec![i64::from(self.grace_days)])),
            Arc::new(Int64Array::from(vec![self.invoices])),
            cents(self.net),
            cents(self.total),
            text(&serde_json::to_string(&self.inputs)?),
            text(&serde_json::to_string(&self.models)?),
            text(env!("CARGO_PKG_VERSION")),
            text(&self.run_id),
        ];
        Ok(RecordBatch::try_new(store::period_close_schema(), columns)?)
    }
}

/// Closed periods not released yet, with the Delta version each recorded per table: files those
/// versions need must survive `vacuum` so the period can be replayed.
pub async fn held_versions(engine: &Engine) -> Result<Vec<(Period, BTreeMap<String, u64>)>> {
    let (schema, table) = PERIOD_CLOSE;
    if engine
        .lakehouse()
        .open_table(schema, table, None)
        .await
        .is_err()
    {
        return Ok(vec![]);
    }
    let batches = engine
        .sql(
            "SELECT c.billing_period, c.inputs FROM system.period_close c
             WHERE c.action = 'close'
               AND NOT EXISTS (SELECT 1 FROM system.period_close r WHERE r.action = 'release' AND r.billing_period = c.billing_period)
             ORDER BY c.billing_period",
        )
        .await?;
    let mut held = Vec::new();
    for batch in &batches {
        let (periods, inputs) = (as_text(batch, 0)?, as_text(batch, 1)?);
        for row in 0..batch.num_rows() {
            let period = Period::parse(periods.as_string::<i32>().value(row))?;
            let versions = serde_json::from_str(inputs.as_string::<i32>().value(row))?;
            held.push((period, versions));
        }
    }
    Ok(held)
}

/// Releases a closed period: its recorded versions no longer hold back `vacuum` (the invoices stay
/// issued; a replay works only as long as the files are there).
pub async fn release_period(engine: &Engine, period: Period, user: &str) -> Result<()> {
    if !held_versions(engine)
        .await?
        .iter()
        .any(|(p, _)| *p == period)
    {
        bail!("{period} is not a closed, unreleased period: nothing to release");
    }
    let schema = store::period_close_schema();
    let mut columns: Vec<Arc<dyn Array>> = schema
        .fields()
        .iter()
        .map(|f| arrow::array::new_null_array(f.data_type(), 1))
        .collect();
    columns[0] = Arc::new(StringArray::from(vec![period.to_string()]));
    columns[1] = Arc::new(StringArray::from(vec!["release"]));
    columns[2] = Arc::new(
        TimestampMicrosecondArray::from(vec![Utc::now().timestamp_micros()]).with_timezone("UTC"),
    );
    columns[3] = Arc::new(StringArray::from(vec![user.to_string()]));
    engine
        .lakehouse()
        .write_batches(
            PERIOD_CLOSE.0,
            PERIOD_CLOSE.1,
            vec![RecordBatch::try_new(schema, columns)?],
            WriteMode::Append,
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn money_is_written_with_two_decimals() {
        assert_eq!(money(10554), "105.54");
        assert_eq!(money(-657), "-6.57");
        assert_eq!(money(5), "0.05");
    }
}

//! `cdrlake test`: generic tests declared in model headers and singular tests in `sql/tests/`.
//! Each test is a query returning failing rows; results go to `system.test_results`.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result, bail};
use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use futures::StreamExt;

use std::sync::Arc;

use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::Column;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::prelude::{col, lit};

use super::binds;
use super::dag::Dag;
use super::header::{Bind, Severity, TestSpec};
use super::progress::{Event, Progress};
use super::project::{Model, Project, SingularTest};
use super::system::{TestResult, new_run_id, record_test_results};
use crate::engine::Engine;

#[derive(Debug, Clone)]
pub struct DataTest {
    pub name: String,
    pub model: String,
    /// Returns the failing rows.
    pub sql: String,
    pub severity: Severity,
    /// A header test of `model` (compiled from the model's name, not a query of its own).
    pub generic: bool,
    /// Parameters of `sql` bound to a column's largest value before it runs (freshness).
    pub maxima: Vec<Maximum>,
    /// A singular test's `@bind` parameters.
    pub binds: Vec<Bind>,
    /// `$last_passed` is when this test last passed (it runs after an incremental build), not
    /// the beginning of time (a whole check).
    pub since_last_pass: bool,
}

/// The parameter of a singular test that checks only what changed since it last passed: the
/// time of that pass in `cdrlake run` after an incremental build, else the beginning of time.
const LAST_PASSED: &str = "last_passed";

/// `$param`: the largest value of `schema.table.column`.
#[derive(Debug, Clone)]
pub struct Maximum {
    pub param: String,
    pub schema: String,
    pub table: String,
    pub column: String,
}

/// Splits `a, 'b,c', f(x, y)` at top-level commas.
fn split_args(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, false);
    for ch in s.chars() {
        match ch {
            '\'' => quote = !quote,
            '(' if !quote => depth += 1,
            ')' if !quote => depth -= 1,
            ',' if !quote && depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Turns `unique(cdr_id)` on `model` into a failing-rows query.
pub fn compile_generic(model: &Model, spec: &TestSpec) -> Result<DataTest> {
    compile_generic_on(model, spec, &model.name)
}

/// The same test, on `relation` (e.g. only the rows a commit added) instead of the whole model.
pub fn compile_generic_on(model: &Model, spec: &TestSpec, relation: &str) -> Result<DataTest> {
    let at = || {
        format!(
            "{}:{}: test `{}`",
            model.path.display(),
            spec.line,
            spec.text
        )
    };
    let (kind, rest) = spec
        .text
        .split_once('(')
        .with_context(|| format!("{}: expected kind(arguments)", at()))?;
    let inner = rest
        .trim_end()
        .strip_suffix(')')
        .with_context(|| format!("{}: missing ')'", at()))?;
    let args = split_args(inner);
    let m = relation;
    let mut maxima = Vec::new();
    let sql = match (kind.trim(), args.as_slice()) {
        ("unique", cols) if !cols.is_empty() => {
            let c = cols.join(", ");
            format!("SELECT {c}, count(*) AS copies FROM {m} GROUP BY {c} HAVING count(*) > 1")
        }
        ("not_null", cols) if !cols.is_empty() => {
            let cond = cols
                .iter()
                .map(|c| format!("{c} IS NULL"))
                .collect::<Vec<_>>()
                .join(" OR ");
            format!("SELECT * FROM {m} WHERE {cond}")
        }
        ("accepted_values", [column, values @ ..]) if !values.is_empty() => {
            format!(
                "SELECT {column} FROM {m} WHERE {column} IS NOT NULL AND {column} NOT IN ({})",
                values.join(", ")
            )
        }
        ("relationships", [column, target]) => {
            let (table, target_col) = target
                .rsplit_once('.')
                .filter(|(t, _)| t.contains('.'))
                .with_context(|| format!("{}: relationships(column, schema.table.column)", at()))?;
            format!(
                "SELECT x.{column} FROM {m} x WHERE x.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.{target_col} = x.{column})"
            )
        }
        ("freshness", [column, lag, against @ ..])
            if against.len() <= 1 && lag.starts_with('\'') && lag.ends_with('\'') =>
        {
            // Against the wall clock, or against the newest value of another table's column
            // (historical data: gold is fresh when it is as new as silver, however old that is).
            // Always the whole table (the rows one commit added say nothing of how new it is),
            // from the Delta log's file statistics where it has them, not a scan.
            let (schema, table) = model.name.split_once('.').context("schema.table")?;
            maxima.push(Maximum {
                param: "newest".into(),
                schema: schema.into(),
                table: table.into(),
                column: column.clone(),
            });
            let reference = match against {
                [target] => {
                    let (name, target_col) = target
                        .rsplit_once('.')
                        .filter(|(t, _)| t.contains('.'))
                        .with_context(|| {
                            format!("{}: freshness(column, 'lag', schema.table.column)", at())
                        })?;
                    let (schema, table) = name.split_once('.').context("schema.table")?;
                    maxima.push(Maximum {
                        param: "reference".into(),
                        schema: schema.into(),
                        table: table.into(),
                        column: target_col.into(),
                    });
                    "$reference".to_string()
                }
                _ => "now()".to_string(),
            };
            format!(
                "SELECT newest, reference FROM (SELECT $newest AS newest, {reference} AS reference) f \
                 WHERE newest IS NULL OR newest < reference - INTERVAL {lag}"
            )
        }
        ("expression", _) if !inner.trim().is_empty() => {
            format!("SELECT * FROM {m} WHERE NOT coalesce(({inner}), false)")
        }
        (other, _) => bail!(
            "{}: unknown test or wrong arguments '{other}' (unique, not_null, accepted_values, relationships, freshness(column, 'lag'[, schema.table.column]), expression)",
            at()
        ),
    };
    Ok(DataTest {
        name: format!("{} {}", model.name, spec.text),
        model: model.name.clone(),
        sql,
        severity: spec.severity,
        generic: true,
        maxima,
        binds: Vec::new(),
        since_last_pass: false,
    })
}

fn singular(t: &SingularTest, model: &str) -> DataTest {
    DataTest {
        name: t.name.clone(),
        model: model.to_string(),
        sql: t.sql.trim().trim_end_matches(';').to_string(),
        severity: t.severity,
        generic: false,
        maxima: Vec::new(),
        binds: t.binds.clone(),
        since_last_pass: false,
    }
}

/// Whether a header test reads nothing but its model's rows (`unique`, `not_null`,
/// `accepted_values`, an `expression` without a subquery): rows that passed it pass it again
/// until they change. `relationships` and `freshness` read another table, which may have.
pub fn reads_only_its_rows(test: &DataTest) -> bool {
    let text = test
        .name
        .strip_prefix(test.model.as_str())
        .unwrap_or(&test.name);
    let Some((kind, args)) = text.trim().split_once('(') else {
        return false;
    };
    test.generic
        && match kind.trim() {
            "unique" | "not_null" | "accepted_values" => true,
            "expression" => !args.to_ascii_lowercase().contains("select"),
            _ => false,
        }
}

/// The other table a test reads, built before it: `relationships(col, gold.dim.col)` ->
/// `gold.dim`, `freshness(col, '1 hour', silver.cdr.start_time)` -> `silver.cdr`.
pub fn referenced_table(test: &str) -> Option<String> {
    let (kind, rest) = test.trim().split_once('(')?;
    let position = match kind.trim() {
        "relationships" => 1,
        "freshness" => 2,
        _ => return None,
    };
    let args = rest.trim_end().strip_suffix(')')?;
    let target = split_args(args).get(position)?.clone();
    target
        .rsplit_once('.')
        .map(|(table, _)| table.to_string())
        .filter(|t| t.contains('.'))
}

/// The tests of the selected nodes: generic tests of selected models, and singular tests
/// reading at least one selected node.
pub fn collect(project: &Project, dag: &Dag, select: &[String]) -> Result<Vec<DataTest>> {
    let selected = dag.select(select)?;
    let mut tests = Vec::new();
    for model in project
        .models
        .values()
        .filter(|m| selected.contains(&m.name))
    {
        for spec in &model.header.tests {
            tests.push(compile_generic(model, spec)?);
        }
    }
    for t in &project.tests {
        let reads: Vec<&str> = t.deps.iter().map(|d| d.name.as_str()).collect();
        if select.is_empty() || reads.iter().any(|r| selected.contains(*r)) {
            let model = reads
                .iter()
                .find(|r| project.is_node(r))
                .or(reads.first())
                .copied()
                .unwrap_or("");
            tests.push(singular(t, model));
        }
    }
    Ok(tests)
}

/// The tests each node of `order` runs when it is built: its own generic tests, and each
/// singular test that reads it as the last of the project's nodes it reads (in dependency order),
/// so a test of two models gates the second.
pub fn by_node(
    project: &Project,
    dag: &Dag,
    order: &[String],
) -> Result<BTreeMap<String, Vec<DataTest>>> {
    let mut out: BTreeMap<String, Vec<DataTest>> = BTreeMap::new();
    for node in order {
        if let Some(model) = project.models.get(node) {
            for spec in &model.header.tests {
                out.entry(node.clone())
                    .or_default()
                    .push(compile_generic(model, spec)?);
            }
        }
    }
    let full_order = dag.order(&dag.nodes().cloned().collect());
    for t in &project.tests {
        let last = full_order
            .iter()
            .rev()
            .find(|n| t.deps.iter().any(|d| &d.name == *n));
        if let Some(node) = last.filter(|n| order.contains(n)) {
            out.entry(node.clone()).or_default().push(singular(t, node));
        }
    }
    Ok(out)
}

/// Runs `tests`. Returns the results and the number of failures that count (failed with
/// severity error, or could not run).
pub async fn check(engine: &Engine, tests: &[DataTest], run_id: &str) -> (Vec<TestResult>, usize) {
    // Two at a time: most tests are one scan and a count, which alone keeps one core busy.
    // The futures are made up front: a stream `map` closure over borrowed tests would make this
    // future not `Send` for every lifetime, and the server runs it on a spawned task.
    let checks: Vec<_> = tests.iter().map(|t| check_one(engine, t, run_id)).collect();
    let results: Vec<TestResult> = futures::stream::iter(checks).buffered(2).collect().await;
    let failures = results
        .iter()
        .filter(|r| matches!(r.status.as_str(), "fail" | "error"))
        .count();
    (results, failures)
}

async fn check_one(engine: &Engine, t: &DataTest, run_id: &str) -> TestResult {
    // When it started: a later `$last_passed` check looks at every row written after that.
    let checked_at = Utc::now();
    let outcome = failing_rows(engine, t).await;
    let severity = match t.severity {
        Severity::Error => "error",
        Severity::Warn => "warn",
    };
    let (status, failing_rows, message) = match outcome {
        Ok(b) => {
            let n = b[0].column(0).as_primitive::<Int64Type>().value(0) as u64;
            let status = match (n, t.severity) {
                (0, _) => "pass",
                (_, Severity::Warn) => "warn",
                (_, Severity::Error) => "fail",
            };
            (status, Some(n), None)
        }
        Err(e) => ("error", None, Some(crate::error::one_line(&e))),
    };
    TestResult {
        run_id: run_id.to_string(),
        test: t.name.clone(),
        model: t.model.clone(),
        status: status.to_string(),
        failing_rows,
        checked_at,
        severity: severity.to_string(),
        message,
    }
}

async fn failing_rows(engine: &Engine, t: &DataTest) -> Result<Vec<RecordBatch>> {
    let count_sql = format!("SELECT count(*) FROM (\n{}\n) failing", t.sql);
    let df = engine.dataframe(&count_sql).await?;
    let types = df.logical_plan().get_parameter_types()?;
    if types.is_empty() {
        return Ok(df.collect().await?);
    }
    let mut values = HashMap::new();
    for m in &t.maxima {
        let newest = super::maxima::largest(engine, &m.schema, &m.table, &m.column).await?;
        values.insert(m.param.clone(), newest.into());
    }
    let reads_last_pass = std::iter::once(&t.sql)
        .chain(t.binds.iter().map(|b| &b.sql))
        .any(|sql| sql.contains(&format!("${LAST_PASSED}")));
    if reads_last_pass {
        let since = match t.since_last_pass {
            true => last_passed(engine, &t.name).await?,
            false => None,
        };
        let micros = since.map_or(0, |at| at.timestamp_micros());
        let value = ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into()));
        values.insert(LAST_PASSED.to_string(), value.into());
    }
    binds::compute_for(engine, &t.name, &t.sql, &t.binds, &types, &mut values).await?;
    Ok(df
        .with_param_values(ParamValues::Map(values))?
        .collect()
        .await?)
}

/// When `test` last passed (`system.test_results`), if it ever did.
async fn last_passed(engine: &Engine, test: &str) -> Result<Option<DateTime<Utc>>> {
    if !engine
        .lakehouse()
        .has_table("system", "test_results")
        .await?
    {
        return Ok(None);
    }
    let batches = engine
        .dataframe(&format!(
            "SELECT max(checked_at) FROM system.test_results WHERE test = '{}' AND status = 'pass'",
            test.replace('\'', "''")
        ))
        .await?
        .collect()
        .await?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    Ok(match ScalarValue::try_from_array(batch.column(0), 0)? {
        ScalarValue::TimestampMicrosecond(Some(us), _) => DateTime::from_timestamp_micros(us),
        ScalarValue::TimestampMillisecond(Some(ms), _) => DateTime::from_timestamp_millis(ms),
        ScalarValue::TimestampNanosecond(Some(ns), _) => Some(DateTime::from_timestamp_nanos(ns)),
        _ => None,
    })
}

/// `cdrlake test`: runs `tests`, prints a report, records results. Returns the number of
/// failures that count.
pub async fn run_tests(
    engine: &Engine,
    tests: &[DataTest],
    progress: &Progress,
) -> Result<(String, Vec<TestResult>, usize)> {
    let run_id = new_run_id();
    let (results, failures) = check(engine, tests, &run_id).await;
    progress.event(&Event::Tests {
        results: &results,
        nested: false,
    });
    record_test_results(engine.lakehouse(), &results).await?;
    Ok((run_id, results, failures))
}

/// The failed tests of `results` that block publishing, for an error message.
pub fn blocking(results: &[TestResult]) -> String {
    results
        .iter()
        .filter(|r| matches!(r.status.as_str(), "fail" | "error"))
        .map(|r| match (&r.message, r.failing_rows) {
            (Some(m), _) => format!("{} ({m})", r.test),
            (None, Some(n)) => format!("{} ({n} failing rows)", r.test),
            _ => r.test.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// An incremental build's tests: `model`'s header tests on the rows that version `version` of its
/// table added (registered as `schema."table@added"` until `forget_commit`), the others as given.
/// Earlier rows passed when they were written, so a daily run's tests read a day, not the table.
/// `past`: only the rows it holds (see `Built::tests_past`).
pub async fn on_commit(
    engine: &Engine,
    model: &Model,
    version: u64,
    past: Option<(String, ScalarValue)>,
    tests: &[DataTest],
) -> Result<Vec<DataTest>> {
    let table = engine
        .lakehouse()
        .open_table(&model.schema, &model.table, None)
        .await?;
    let added = cdrlake_catalog::DeltaProvider::added_by(table, version).await?;
    let schema = engine
        .catalog()
        .lakehouse_schema(&model.schema)
        .context("unknown schema")?;
    let added: Arc<dyn TableProvider> = match past {
        Some((column, since)) => {
            // Typed as the column exactly: the scan prunes and filters with it.
            let stored = added.schema().field_with_name(&column)?.data_type().clone();
            let since = since.cast_to(&stored)?;
            engine
                .ctx()
                .read_table(Arc::new(added))?
                .filter(col(Column::from_name(column)).gt(lit(since)))?
                .into_view()
        }
        None => Arc::new(added),
    };
    schema.register_table(added_name(model), added)?;
    let relation = format!("{}.\"{}\"", model.schema, added_name(model));
    let mut scoped = Vec::with_capacity(tests.len());
    for spec in &model.header.tests {
        let test = compile_generic_on(model, spec, &relation)?;
        // Only the header tests asked for (the runner leaves out those a commit already passed).
        if tests.iter().any(|t| t.generic && t.name == test.name) {
            scoped.push(test);
        }
    }
    scoped.extend(tests.iter().filter(|t| !t.generic).map(|t| DataTest {
        since_last_pass: true,
        ..t.clone()
    }));
    Ok(scoped)
}

pub fn forget_commit(engine: &Engine, model: &Model) {
    if let Some(schema) = engine.catalog().lakehouse_schema(&model.schema) {
        let _ = schema.deregister_table(&added_name(model));
    }
}

fn added_name(model: &Model) -> String {
    format!("{}@added", model.table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::header::Header;

    fn model() -> Model {
        Model {
            name: "silver.cdr".into(),
            schema: "silver".into(),
            table: "cdr".into(),
            path: "sql/silver/cdr.sql".into(),
            sql: String::new(),
            full_sql: String::new(),
            header: Header::default(),
            deps: vec![],
            full_deps: vec![],
        }
    }

    fn sql(text: &str) -> String {
        compile_generic(
            &model(),
            &TestSpec {
                text: text.into(),
                severity: Severity::Error,
                line: 2,
            },
        )
        .unwrap()
        .sql
    }

    #[test]
    fn only_tests_of_a_models_own_rows_may_skip_rows_that_passed_them() {
        let reads_own = |text: &str| {
            let spec = TestSpec {
                text: text.into(),
                severity: Severity::Error,
                line: 2,
            };
            reads_only_its_rows(&compile_generic(&model(), &spec).unwrap())
        };
        assert!(reads_own("unique(cdr_id)"));
        assert!(reads_own("not_null(a, b)"));
        assert!(reads_own("accepted_values(service, 'VOICE')"));
        assert!(reads_own("expression(duration_s >= 0)"));
        assert!(!reads_own(
            "expression(cell_id IN (SELECT cell_id FROM silver.cell))"
        ));
        assert!(!reads_own(
            "relationships(customer_id, silver.subscriber.customer_id)"
        ));
        assert!(!reads_own("freshness(start_time, '6 hours')"));
    }

    #[test]
    fn generic_tests_compile_to_failing_rows() {
        assert_eq!(
            sql("unique(cdr_id)"),
            "SELECT cdr_id, count(*) AS copies FROM silver.cdr GROUP BY cdr_id HAVING count(*) > 1"
        );
        assert_eq!(
            sql("not_null(a, b)"),
            "SELECT * FROM silver.cdr WHERE a IS NULL OR b IS NULL"
        );
        assert_eq!(
            sql("accepted_values(service, 'VOICE', 'SMS, MMS')"),
            "SELECT service FROM silver.cdr WHERE service IS NOT NULL AND service NOT IN ('VOICE', 'SMS, MMS')"
        );
        assert!(
            sql("relationships(customer_id, silver.subscriber.customer_id)").contains(
                "NOT EXISTS (SELECT 1 FROM silver.subscriber r WHERE r.customer_id = x.customer_id)"
            )
        );
        assert_eq!(
            sql("freshness(start_time, '6 hours')"),
            "SELECT newest, reference FROM (SELECT $newest AS newest, now() AS reference) f \
             WHERE newest IS NULL OR newest < reference - INTERVAL '6 hours'"
        );
        let against = compile_generic(
            &model(),
            &TestSpec {
                text: "freshness(start_time, '2 hours', bronze.voice_cdr._ingested_at)".into(),
                severity: Severity::Error,
                line: 2,
            },
        )
        .unwrap();
        assert!(
            against.sql.contains("$reference AS reference"),
            "{}",
            against.sql
        );
        let bound: Vec<_> = against
            .maxima
            .iter()
            .map(|m| format!("{}={}.{}.{}", m.param, m.schema, m.table, m.column))
            .collect();
        assert_eq!(
            bound,
            [
                "newest=silver.cdr.start_time",
                "reference=bronze.voice_cdr._ingested_at"
            ]
        );
        assert_eq!(
            sql("expression(coalesce(a, 0) >= 0)"),
            "SELECT * FROM silver.cdr WHERE NOT coalesce((coalesce(a, 0) >= 0), false)"
        );
        let err = compile_generic(
            &model(),
            &TestSpec {
                text: "uniq(x)".into(),
                severity: Severity::Error,
                line: 2,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("sql/silver/cdr.sql:2"), "{err}");
    }
}

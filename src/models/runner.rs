//! `cdrlake run`: build the selected models and seeds in dependency order.
//!
//! A failing node is reported and its descendants are skipped; other branches still run. Every
//! node's outcome goes to `system.model_runs` with the Delta versions of the tables it read.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cdrlake_catalog::CatalogError;
use chrono::Utc;

use super::dag::Dag;
use super::datatests::{self, DataTest};
use super::fingerprint;
use super::header::Materialization;
use super::materialize::{Built, build_seed, build_table_gated};
use super::memory_retry;
use super::peak_rss;
use super::progress::{Event, NodeInfo, NodeOutcome, Progress};
use super::project::Project;
use super::system::{
    ModelRun, RunStatus, new_run_id, passed_last_run, record_model_runs, record_test_results,
};
use crate::engine::Engine;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub select: Vec<String>,
    pub full_refresh: bool,
    /// Checked before each model: a run whose lease was lost stops before committing more.
    pub fence: cdrlake_catalog::Fence,
    /// Where the run reports its nodes as they finish.
    pub progress: Progress,
}

#[derive(Debug)]
pub struct RunReport {
    pub run_id: String,
    pub runs: Vec<ModelRun>,
}

impl RunReport {
    pub fn failed(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| r.status == RunStatus::Error)
            .count()
    }
    pub fn skipped(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| r.status == RunStatus::Skipped)
            .count()
    }
}

/// Every table a selected node reads must be a node of the project or exist in the lakehouse.
pub async fn check_sources(
    engine: &Engine,
    project: &Project,
    dag: &Dag,
    nodes: &[String],
) -> Result<()> {
    for node in nodes {
        let Some(model) = project.models.get(node) else {
            continue;
        };
        for source in dag.sources(node) {
            if exists(engine, source).await? {
                continue;
            }
            let at = model
                .deps
                .iter()
                .find(|d| &d.name == source)
                .map(|d| (d.line, d.column))
                .unwrap_or((1, 1));
            bail!(
                "{}:{}:{}: {} reads {source}, which is not a model, a seed or a table in the lakehouse",
                model.path.display(),
                at.0,
                at.1,
                model.name
            );
        }
    }
    Ok(())
}

async fn exists(engine: &Engine, name: &str) -> Result<bool> {
    let (schema, table) = name.split_once('.').unwrap_or(("", name));
    let Some(provider) = engine.catalog().lakehouse_schema(schema) else {
        return Err(CatalogError::UnknownSchema(schema.into()).into());
    };
    Ok(
        datafusion::catalog::SchemaProvider::table(provider.as_ref(), table)
            .await?
            .is_some(),
    )
}

/// The Delta version of each table `node` reads (views have none and are left out).
async fn input_versions(engine: &Engine, project: &Project, dag: &Dag, node: &str) -> String {
    let mut versions = BTreeMap::new();
    let reads = dag.parents(node).iter().chain(dag.sources(node));
    for name in reads {
        if project
            .models
            .get(name)
            .is_some_and(|m| m.header.materialized == super::header::Materialization::View)
        {
            continue;
        }
        if let Some((schema, table)) = name.split_once('.')
            && let Ok(t) = engine.lakehouse().open_table(schema, table, None).await
            && let Some(v) = t.version()
        {
            versions.insert(name.clone(), v);
        }
    }
    serde_json::to_string(&versions).unwrap_or_default()
}

pub async fn run(engine: &Engine, project: &Project, options: &RunOptions) -> Result<RunReport> {
    let dag = Dag::build(project)?;
    let selected = dag.select(&options.select)?;
    let order = dag.order(&selected);
    check_sources(engine, project, &dag, &order).await?;
    let node_tests = datatests::by_node(project, &dag, &order)?;
    let run_id = new_run_id();
    let progress = &options.progress;
    progress.event(&Event::RunStarted {
        run_id: &run_id,
        nodes: order.len(),
    });
    let mut test_results = Vec::new();
    // Re-checking them is the safe default: a log that cannot be read costs only time.
    let passed = passed_last_run(engine).await.unwrap_or_else(|e| {
        tracing::warn!("system.model_runs unreadable, every model is tested: {e:#}");
        Default::default()
    });

    let mut unusable: BTreeSet<String> = BTreeSet::new();
    let mut runs = Vec::new();
    for (i, node) in order.iter().enumerate() {
        options.fence.check()?;
        let (kind, materialization) = match project.models.get(node) {
            Some(m) => ("model", m.header.materialized.to_string()),
            None => ("seed", "seed".to_string()),
        };
        let info = NodeInfo {
            index: i + 1,
            total: order.len(),
            kind,
            name: node.clone(),
            materialization: materialization.clone(),
        };
        progress.event(&Event::NodeStarted(&info));
        peak_rss::reset();
        let started_at = Utc::now();
        let timer = Instant::now();
        let blocked_by = dag
            .parents(node)
            .iter()
            .find(|p| unusable.contains(*p))
            .cloned();
        let inputs = input_versions(engine, project, &dag, node).await;
        let tests = node_tests.get(node).map(Vec::as_slice).unwrap_or_default();
        // A table or seed whose inputs and definition are those its table was built from is
        // up to date: nothing is rebuilt or re-tested (see `fingerprint.rs`).
        let stamp = if blocked_by.is_none() && fingerprint::skippable(project, node) {
            Some(
                fingerprint::fingerprint(engine, project, &dag, node, tests)
                    .await
                    .with_context(|| format!("{node}: fingerprint"))?,
            )
        } else {
            None
        };
        let current = match &stamp {
            Some(s) if !options.full_refresh => fingerprint::up_to_date(engine, node, s).await?,
            _ => None,
        };
        let mut node_results = Vec::new();
        let gated = !tests.is_empty()
            && project
                .models
                .get(node)
                .is_some_and(|m| m.header.materialized == Materialization::Table);
        // A model's `@set` options hold for its build and its tests, then the run's own return.
        let settings = project
            .models
            .get(node)
            .map(|m| m.header.settings.as_slice())
            .unwrap_or_default();
        let saved_options = if settings.is_empty() {
            None
        } else {
            Some(
                engine
                    .set_options(settings)
                    .with_context(|| format!("{node}: @set"))?,
            )
        };
        let stamp = stamp.as_deref();
        let read_before = engine.rows_read().total();
        let mut outcome: Result<Built> = match (&blocked_by, project.models.get(node)) {
            (Some(_), _) => Ok(Built::default()),
            (None, _) if current.is_some() => Ok(Built {
                rows: None,
                version: current,
                note: Some("up to date: inputs and definition unchanged, not rebuilt".into()),
                tests_on_commit: false,
                tests_past: None,
                unchanged: false,
            }),
            (None, Some(model)) if gated => {
                let (outcome, results) =
                    build_table_gated(engine, model, tests, &run_id, stamp).await;
                node_results = results;
                outcome
            }
            (None, Some(model)) => {
                memory_retry::build_model_retrying(engine, model, options.full_refresh, stamp).await
            }
            (None, None) => build_seed(engine, &project.seeds[node], stamp).await,
        };
        let read_by_build = engine.rows_read().total() - read_before;
        // The commit the table is still at passed its tests in the last run: those that read only
        // its rows are not run again on a build that commits nothing. A failed check is repeated
        // until fixed: the run that failed recorded no pass.
        let tested_before = outcome.as_ref().is_ok_and(|b| {
            b.unchanged
                && b.tests_on_commit
                && b.version.is_some()
                && passed.get(node) == b.version.as_ref()
        });
        let untested: Vec<DataTest>;
        let tests = if tested_before {
            untested = tests
                .iter()
                .filter(|t| !datatests::reads_only_its_rows(t))
                .cloned()
                .collect();
            untested.as_slice()
        } else {
            tests
        };
        if let (true, Ok(built)) = (tested_before, &mut outcome) {
            let note = built.note.take().unwrap_or_default();
            built.note = Some(format!(
                "{note}; its rows passed their tests at this version"
            ));
        }
        // Views and incremental merges are checked once built: what they show is already
        // committed, but nothing downstream is built on a failure.
        let outcome = match outcome {
            // An up-to-date table is checked again too: a test may read tables it does not.
            Ok(built)
                if blocked_by.is_none() && (!gated || current.is_some()) && !tests.is_empty() =>
            {
                let model = project.models.get(node).filter(|_| built.tests_on_commit);
                let scoped = match (model, built.version) {
                    // A build that committed nothing checks every row its last commit wrote:
                    // `tests_past` bounds the rows a merge writes now, which are none.
                    (Some(m), Some(v)) => {
                        let past = built.tests_past.clone().filter(|_| !built.unchanged);
                        Some(datatests::on_commit(engine, m, v, past, tests).await)
                    }
                    _ => None,
                };
                let (results, failures) = match &scoped {
                    Some(Ok(scoped)) => datatests::check(engine, scoped, &run_id).await,
                    // Tests that cannot be scoped check the whole table, as on a full build.
                    _ => datatests::check(engine, tests, &run_id).await,
                };
                if let Some(m) = model {
                    datatests::forget_commit(engine, m);
                }
                let blocking = datatests::blocking(&results);
                node_results = results;
                if failures > 0 {
                    Err(anyhow::anyhow!(
                        "built, but {failures} test(s) failed: {blocking}; nothing downstream is built"
                    ))
                } else {
                    Ok(built)
                }
            }
            other => other,
        };
        if let Some(saved) = saved_options {
            engine.restore_options(&saved);
        }
        let elapsed = timer.elapsed().as_secs_f64();
        let read = engine.rows_read().total() - read_before;
        let mut run = ModelRun {
            run_id: run_id.clone(),
            model: node.clone(),
            materialization,
            status: RunStatus::Success,
            rows: None,
            started_at,
            finished_at: Utc::now(),
            error: None,
            inputs,
            output_version: None,
        };
        let finished = match (blocked_by, outcome) {
            (Some(parent), _) => {
                run.status = RunStatus::Skipped;
                run.error = Some(format!("skipped: upstream {parent} did not build"));
                unusable.insert(node.clone());
                NodeOutcome::Skipped { upstream: parent }
            }
            (None, Ok(built)) => {
                run.rows = built.rows;
                run.output_version = built.version;
                NodeOutcome::Built {
                    seconds: elapsed,
                    rows: built.rows,
                    note: built.note,
                }
            }
            (None, Err(e)) => {
                let at = project
                    .models
                    .get(node)
                    .map(|m| format!("{}: ", m.path.display()))
                    .unwrap_or_default();
                let message = format!("{at}{}", crate::error::one_line(&e));
                run.status = RunStatus::Error;
                run.error = Some(message.clone());
                unusable.insert(node.clone());
                NodeOutcome::Failed { message }
            }
        };
        progress.event(&Event::NodeFinished {
            node: &info,
            outcome: &finished,
            rows_read: read,
            read_by_tests: read - read_by_build,
            peak_rss: peak_rss::peak_bytes(),
        });
        progress.event(&Event::Tests {
            results: &node_results,
            nested: true,
        });
        test_results.append(&mut node_results);
        runs.push(run);
    }
    record_model_runs(engine.lakehouse(), &runs).await?;
    record_test_results(engine.lakehouse(), &test_results).await?;
    count(&runs, &test_results);
    let report = RunReport { run_id, runs };
    progress.event(&Event::RunFinished {
        ok: report.runs.len() - report.failed() - report.skipped(),
        failed: report.failed(),
        skipped: report.skipped(),
    });
    Ok(report)
}

/// The run in the process's metrics: builds by outcome and time, the run's outcome, and the
/// tests that failed (fail or error: those stop what follows, as gates).
fn count(runs: &[ModelRun], tests: &[super::system::TestResult]) {
    let metrics = crate::metrics::metrics();
    for run in runs {
        let status = match run.status {
            RunStatus::Success => "ok",
            RunStatus::Error => "error",
            RunStatus::Skipped => "skipped",
        };
        metrics.model_builds.with_label_values(&[status]).inc();
        let seconds = (run.finished_at - run.started_at).num_milliseconds() as f64 / 1000.0;
        metrics.model_seconds.observe(seconds);
    }
    let failed = runs.iter().any(|r| r.status == RunStatus::Error);
    metrics
        .runs
        .with_label_values(&[if failed { "failed" } else { "ok" }])
        .inc();
    let gates = tests
        .iter()
        .filter(|t| matches!(t.status.as_str(), "fail" | "error"))
        .count();
    metrics.gate_failures.inc_by(gates as u64);
}

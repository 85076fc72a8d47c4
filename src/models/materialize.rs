//! Building one node: a seed, a view, a table (Delta overwrite) or an incremental model (Delta
//! MERGE of new and changed rows). Each is one Delta commit (or one view object) or nothing.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cdrlake_catalog::{CatalogError, MergeOn, TableWrite, WriteMode, WriteOptions};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema, TimeUnit};
use datafusion::common::{Column, ParamValues, ScalarValue};
use datafusion::prelude::{DataFrame, Expr, col, lit};
use deltalake::DeltaTable;

use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::MemTable;

use super::binds;
use super::changes;
use super::datatests::{self, DataTest};
use super::fingerprint::COMMIT_KEY;
use super::header::{Materialization, OnExistingKey};
use super::held;
use super::project::{Model, Seed};
use super::seeds::read_seed;
use super::stage::{self, Staged, stage_ctes};
use super::system::TestResult;
use crate::engine::Engine;
use crate::output::plain_type;

/// What a build did: rows written (or merged), and the table version it produced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Built {
    pub rows: Option<u64>,
    pub version: Option<u64>,
    pub note: Option<String>,
    /// An incremental build of an existing table (committed or not): its data tests check the
    /// rows of the table's latest commit, not the whole table.
    pub tests_on_commit: bool,
    /// Of those, only the rows past this value of this column: a merge writes rows past
    /// `$since` on the model's `@watermark`, and rewrites the files holding the rows it updates, copying older rows
    /// that passed when they were written.
    pub tests_past: Option<(String, ScalarValue)>,
    /// Nothing committed: the table is at the version an earlier run left it.
    pub unchanged: bool,
}

impl Built {
    fn on_commit(self) -> Self {
        Self {
            tests_on_commit: true,
            tests_past: None,
            ..self
        }
    }
}

/// `stamp`: the node's fingerprint, recorded on the commit (see `fingerprint.rs`).
pub async fn build_seed(engine: &Engine, seed: &Seed, stamp: Option<&str>) -> Result<Built> {
    let text = std::fs::read_to_string(&seed.path)
        .with_context(|| format!("cannot read {}", seed.path.display()))?;
    let batches =
        read_seed(&text, &seed.columns).with_context(|| seed.path.display().to_string())?;
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    let options = WriteOptions {
        commit_metadata: stamp_entries(stamp),
        ..Default::default()
    };
    let committed = engine
        .lakehouse()
        .write(&seed.schema, &seed.table)
        .await?
        .batches(batches)
        .mode(WriteMode::Overwrite)
        .options(options)
        .commit()
        .await?;
    Ok(Built {
        rows: Some(rows),
        version: committed.version(),
        note: None,
        tests_on_commit: false,
        tests_past: None,
        unchanged: false,
    })
}

fn stamp_entries(stamp: Option<&str>) -> Vec<(String, serde_json::Value)> {
    stamp
        .map(|s| (COMMIT_KEY.to_string(), serde_json::Value::from(s)))
        .into_iter()
        .collect()
}

pub async fn build_model(
    engine: &Engine,
    model: &Model,
    full_refresh: bool,
    stamp: Option<&str>,
) -> Result<Built> {
    match model.header.materialized {
        Materialization::View => build_view(engine, model).await,
        Materialization::Table => build_table(engine, model, stamp).await,
        Materialization::Incremental => build_incremental(engine, model, full_refresh).await,
    }
}

async fn build_view(engine: &Engine, model: &Model) -> Result<Built> {
    engine
        .register_view(&model.schema, &model.table, &model.sql)
        .await?;
    engine
        .lakehouse()
        .save_view(&model.schema, &model.table, &model.sql)
        .await?;
    Ok(Built::default())
}

/// A model that was a view before and is a table now must not stay shadowed by the view.
async fn drop_old_view(engine: &Engine, model: &Model) -> Result<()> {
    if engine
        .lakehouse()
        .drop_view(&model.schema, &model.table)
        .await?
    {
        engine.deregister_view(&model.schema, &model.table)?;
    }
    Ok(())
}

async fn build_table(engine: &Engine, model: &Model, stamp: Option<&str>) -> Result<Built> {
    let staged = stage_ctes(engine, model, None).await?;
    let df = engine.dataframe(&staged.sql).await?;
    overwrite(engine, model, df, stamp_entries(stamp)).await
}

/// A table model whose tests are gates: its rows are computed into memory, the tests run with the
/// model's name bound to them (other tables as committed), and only if none fails are they written
/// as the new version. A failing gate leaves the published table untouched.
pub async fn build_table_gated(
    engine: &Engine,
    model: &Model,
    tests: &[DataTest],
    run_id: &str,
    stamp: Option<&str>,
) -> (Result<Built>, Vec<TestResult>) {
    let staged = match stage(engine, model).await {
        Ok(s) => s,
        Err(e) => return (Err(e), vec![]),
    };
    let provider = engine.catalog().lakehouse_schema(&model.schema).cloned();
    let shadowed = provider
        .as_ref()
        .and_then(|p| p.register_table(model.table.clone(), staged.clone()).ok())
        .flatten();
    let (results, failures) = datatests::check(engine, tests, run_id).await;
    if let Some(p) = &provider {
        let _ = match shadowed {
            Some(view) => p.register_table(model.table.clone(), view),
            None => p.deregister_table(&model.table),
        };
    }
    if failures > 0 {
        let version = engine
            .lakehouse()
            .open_table(&model.schema, &model.table, None)
            .await
            .ok()
            .and_then(|t| t.version());
        let kept = version
            .map(|v| format!("stays at version {v}"))
            .unwrap_or_else(|| "was not created".into());
        let error = anyhow::anyhow!(
            "not published, {failures} gate(s) failed: {}; {} {kept}",
            datatests::blocking(&results),
            model.name
        );
        return (Err(error), results);
    }
    let outcome = match engine.ctx().read_table(staged) {
        Ok(df) => overwrite(engine, model, df, stamp_entries(stamp)).await,
        Err(e) => Err(e.into()),
    };
    (outcome, results)
}

async fn stage(engine: &Engine, model: &Model) -> Result<Arc<dyn TableProvider>> {
    let staged = stage_ctes(engine, model, None).await?;
    let df = engine.dataframe(&staged.sql).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let partitions = held::collect_partitioned(df).await?;
    Ok(Arc::new(MemTable::try_new(schema, partitions)?))
}

/// Streams `df` into the model's table as one overwrite commit, with `metadata` in its commit info.
async fn overwrite(
    engine: &Engine,
    model: &Model,
    df: DataFrame,
    metadata: Vec<(String, serde_json::Value)>,
) -> Result<Built> {
    drop_old_view(engine, model).await?;
    let header = &model.header;
    let options = WriteOptions {
        partition_by: header.partition_by.clone(),
        description: (!header.description.is_empty()).then(|| header.description.clone()),
        ..write_options(model, df.schema().as_arrow(), metadata)?
    };
    #[cfg(feature = "ballista")]
    if crate::cluster::on_cluster(&df) {
        let committed = crate::cluster::overwrite_on_cluster(
            engine.lakehouse(),
            df,
            &model.schema,
            &model.table,
            options,
        )
        .await?;
        return Ok(Built {
            rows: Some(committed.metrics.rows_added),
            version: committed.version(),
            note: None,
            tests_on_commit: false,
            tests_past: None,
            unchanged: false,
        });
    }
    let committed = engine
        .lakehouse()
        .write(&model.schema, &model.table)
        .await?
        .mode(WriteMode::Overwrite)
        .options(options)
        .dataframe(df)
        .commit()
        .await?;
    Ok(Built {
        rows: Some(committed.metrics.rows_added),
        version: committed.version(),
        note: None,
        tests_on_commit: false,
        tests_past: None,
        unchanged: false,
    })
}

/// For a `$since` of type `t`: its SQL type name, and its smallest value (used when everything is new).
fn watermark_type(t: &DataType) -> Result<(&'static str, &'static str)> {
    Ok(match t {
        DataType::Timestamp(..) => ("TIMESTAMP", "1970-01-01T00:00:00Z"),
        DataType::Date32 | DataType::Date64 => ("DATE", "1970-01-01"),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            ("BIGINT", "-9223372036854775808")
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            ("BIGINT UNSIGNED", "0")
        }
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => ("VARCHAR", ""),
        other => bail!(
            "$since cannot be of type {other}: use a timestamp, date, integer or text watermark"
        ),
    })
}

pub(super) fn beginning_of_time(t: &DataType) -> Result<ScalarValue> {
    Ok(ScalarValue::try_from_string(
        watermark_type(t)?.1.to_string(),
        t,
    )?)
}

/// The first table an incremental build reads (and a full one does not) that does not exist.
async fn missing_incremental_read(engine: &Engine, model: &Model) -> Result<Option<String>> {
    let only_incremental = model
        .deps
        .iter()
        .filter(|d| d.name != model.name && !model.full_deps.iter().any(|f| f.name == d.name));
    for dep in only_incremental {
        let Some((schema, table)) = dep.name.split_once('.') else {
            continue;
        };
        match engine.lakehouse().open_table(schema, table, None).await {
            Ok(_) => {}
            Err(CatalogError::UnknownTable { .. }) => return Ok(Some(dep.name.clone())),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

async fn build_incremental(engine: &Engine, model: &Model, full_refresh: bool) -> Result<Built> {
    let lakehouse = engine.lakehouse();
    let existing = match lakehouse
        .open_table(&model.schema, &model.table, None)
        .await
    {
        Ok(t) => Some(t),
        Err(CatalogError::UnknownTable { .. }) => None,
        // Data files and no log: a first write that was killed before its commit. Those files
        // belong to no version; the model is built as a new table beside them.
        Err(CatalogError::NotADeltaTable { location }) => {
            tracing::warn!(
                "{location}: files from a first write that never committed; building {} as a new table",
                model.name
            );
            None
        }
        Err(e) => return Err(e.into()),
    };
    // What the model's last commits recorded, read once from the table just opened.
    let history = match &existing {
        Some(t) => {
            lakehouse
                .recent_commit_infos(t, changes::SEARCHED_COMMITS)
                .await?
        }
        None => Vec::new(),
    };
    let recorded = |key: &str| history.iter().find_map(|info| info.get(key));
    let (versions, references_changed) =
        changes::reference_versions(engine, model, recorded(changes::VERSIONS_KEY)).await?;
    // A changed reference table (a tariff) changes rows of every period: rebuild it all.
    let rebuild = references_changed && existing.is_some() && !full_refresh;
    // A table partitioned otherwise than the header says (built before `@partition_by` changed)
    // cannot take the commit: rebuilt whole, partitioned anew.
    let repartition = !full_refresh
        && existing
            .as_ref()
            .is_some_and(|t| partition_columns(t) != model.header.partition_by);
    let full_refresh = full_refresh || rebuild || repartition;
    // A table read inside `{% if is_incremental %}` only that is not there yet (a model built
    // from this one, added to the project since): this run builds from scratch.
    let missing_read = match (&existing, full_refresh) {
        (Some(_), false) => missing_incremental_read(engine, model).await?,
        _ => None,
    };
    let full_refresh = full_refresh || missing_read.is_some();
    let full_build;
    let model = if full_refresh || existing.is_none() {
        full_build = model.full_build();
        &full_build
    } else {
        model
    };
    let since_last_commit = (!full_refresh)
        .then(|| recorded(changes::COMMIT_KEY))
        .flatten();
    let marks = changes::marks(engine, model, since_last_commit).await?;
    let df = engine.dataframe(&model.sql).await?;
    let mut param_types = df.logical_plan().get_parameter_types()?;
    let since_type = match param_types.remove("$since").flatten() {
        Some(t) => Some(t),
        None => binds::since_type(engine, model).await?,
    };
    let since = match (&since_type, &existing, full_refresh) {
        (None, ..) => None,
        (Some(t), Some(_), false) => Some(watermark(engine, model, t).await?),
        (Some(t), ..) => Some(beginning_of_time(t)?),
    };
    let mut values = HashMap::new();
    // The rows a merge writes are past $since on the watermark: its tests check those.
    let tests_past = model
        .header
        .watermark
        .as_deref()
        .map(str::to_string)
        .zip(since.clone());
    for (name, value) in since
        .map(|v| ("since".to_string(), v))
        .into_iter()
        .chain(marks.bind)
    {
        values.insert(name, value.into());
    }
    // Each bind runs once the CTEs it may read are staged: a CTE is staged as soon as the binds
    // it names have values, so it is computed once for the binds after it and the query.
    let mut staged = Staged::new(engine, model);
    let binds = &model.header.binds;
    for (i, bind) in binds.iter().enumerate() {
        let bound = (!values.is_empty()).then(|| ParamValues::Map(values.clone()));
        let unbound: Vec<String> = binds[i..].iter().map(|b| b.param.clone()).collect();
        staged
            .stage(engine, model, bound.as_ref(), &unbound)
            .await?;
        binds::compute_for(
            engine,
            &model.name,
            &staged.sql,
            std::slice::from_ref(bind),
            &param_types,
            &mut values,
        )
        .await?;
    }
    let params = (!values.is_empty()).then(|| ParamValues::Map(values));
    staged.stage(engine, model, params.as_ref(), &[]).await?;
    let with_params = |df: DataFrame| -> Result<DataFrame> {
        Ok(match &params {
            Some(p) => df.with_param_values(p.clone())?,
            None => df,
        })
    };
    let mut metadata: Vec<(String, serde_json::Value)> = Vec::new();
    if !marks.record.is_empty() {
        metadata.push((
            changes::COMMIT_KEY.to_string(),
            serde_json::Value::Object(marks.record),
        ));
    }
    if !versions.is_empty() {
        metadata.push((
            changes::VERSIONS_KEY.to_string(),
            serde_json::Value::Object(versions),
        ));
    }
    let df = if model.header.stage.is_empty() {
        df
    } else {
        engine.dataframe(&staged.sql).await?
    };
    let Some(target) = existing.filter(|_| !full_refresh) else {
        let mut built = overwrite(engine, model, with_params(df)?, metadata).await?;
        built.note = Some(if rebuild {
            "rebuilt: a reference table changed".into()
        } else if repartition {
            "rebuilt: its @partition_by changed".into()
        } else if let Some(table) = missing_read {
            format!("rebuilt: {table}, which an incremental build reads, is not there yet")
        } else if full_refresh {
            "full refresh".into()
        } else {
            "first build".into()
        });
        return Ok(built);
    };
    check_same_columns(engine, model, &df).await?;
    if let Some(filter) = &model.header.replace_where {
        if let Some(name) = binds::null_parameter(filter, params.as_ref()) {
            return Ok(Built {
                rows: Some(0),
                version: target.version(),
                note: Some(format!("nothing changed (${name} is null)")),
                tests_on_commit: true,
                tests_past: None,
                unchanged: true,
            });
        }
        let predicate = binds::stored_predicate(engine, model, filter, params.as_ref())
            .await
            .with_context(|| format!("{}: @replace_where {filter}", model.name))?;
        return replace_where(model, target, with_params(df)?, predicate, metadata).await;
    }
    if let Some(replace_on) = &model.header.replace_on {
        let groups = match &replace_on.groups {
            Some(cte) => {
                let query = stage::cte_query(&staged.sql, cte)?;
                let rows = with_params(engine.dataframe(&query).await?)?
                    .select(vec![col(Column::from_name(&replace_on.column))])?
                    .distinct()?;
                Some(rows.collect().await?)
            }
            None => None,
        };
        let df = with_params(df)?;
        return replace(
            engine,
            model,
            target,
            df,
            &replace_on.column,
            groups,
            metadata,
        )
        .await
        .map(Built::on_commit);
    }

    // Only rows that are new or differ from the target: a re-run over the same input commits nothing.
    let target_filter = binds::target_predicate(engine, model, params.as_ref()).await?;
    let source_sql = match model.header.on_existing_key {
        OnExistingKey::Update => staged.output(engine, model, params.as_ref()).await?,
        // NOT EXISTS names the model's query once.
        OnExistingKey::Keep => staged.sql.clone(),
    };
    let changed_sql = changed_rows_sql(model, &source_sql);
    let changed = with_params(engine.dataframe(&changed_sql).await?)?;
    let batches = held::collect(changed).await?;
    // The staged rows are read no more: freed before the merge needs its memory.
    drop(staged);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows == 0 {
        return Ok(Built {
            rows: Some(0),
            version: target.version(),
            note: Some("no new or changed rows".into()),
            tests_on_commit: true,
            tests_past,
            unchanged: true,
        });
    }
    let source = engine.ctx().read_batches(batches)?;
    let options = write_options(model, source.schema().as_arrow(), metadata)?;
    let committed = TableWrite::on(target, &model.schema, &model.table)
        .options(options)
        .dataframe(source)
        .merge(MergeOn {
            keys: model.header.unique_key.clone(),
            target_filter,
            update_matched: model.header.on_existing_key == OnExistingKey::Update,
        })
        .await?;
    let metrics = &committed.metrics;
    // The merge scans the target itself: count the rows of the files it rewrote.
    engine
        .rows_read()
        .add(metrics.rows_copied + metrics.rows_updated + metrics.rows_deleted);
    Ok(Built {
        rows: Some(metrics.rows_added + metrics.rows_updated),
        version: committed.version(),
        note: Some(format!(
            "{} inserted, {} updated",
            metrics.rows_added, metrics.rows_updated
        )),
        tests_on_commit: true,
        tests_past,
        unchanged: false,
    })
}

/// `@replace_where`: the run's rows, streamed, replace the stored rows `predicate` holds, in one
/// commit. Its data tests check the rows that commit wrote.
async fn replace_where(
    model: &Model,
    target: DeltaTable,
    df: DataFrame,
    predicate: Expr,
    metadata: Vec<(String, serde_json::Value)>,
) -> Result<Built> {
    let options = write_options(model, df.schema().as_arrow(), metadata)?;
    let committed = TableWrite::on(target, &model.schema, &model.table)
        .options(options)
        .dataframe(df)
        .replace_where(predicate)
        .commit()
        .await?;
    let metrics = &committed.metrics;
    Ok(Built {
        rows: Some(metrics.rows_added),
        version: committed.version(),
        note: Some(format!(
            "recent rows replaced ({} file(s) removed)",
            metrics.files_removed
        )),
        tests_on_commit: true,
        tests_past: None,
        unchanged: false,
    })
}

/// `@replace_on`: the run's rows replace every stored row whose `column` is one of `groups` (one
/// column of values; without it, the values the rows hold), in one commit (Delta's replaceWhere).
/// No group: nothing committed.
async fn replace(
    engine: &Engine,
    model: &Model,
    target: DeltaTable,
    df: DataFrame,
    column: &str,
    groups: Option<Vec<RecordBatch>>,
    metadata: Vec<(String, serde_json::Value)>,
) -> Result<Built> {
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut batches = held::collect(df).await?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if batches.is_empty() {
        // Groups left without rows are still replaced: by nothing.
        batches.push(RecordBatch::new_empty(schema.clone()));
    }
    let keys = match groups {
        Some(groups) => groups,
        None => {
            engine
                .ctx()
                .read_batches(batches.clone())?
                .select(vec![col(Column::from_name(column))])?
                .distinct()?
                .collect()
                .await?
        }
    };
    let mut values = Vec::new();
    for batch in &keys {
        for row in 0..batch.num_rows() {
            let value = ScalarValue::try_from_array(batch.column(0), row)?;
            if value.is_null() {
                bail!(
                    "{}: @replace_on column {column} is null in a produced row",
                    model.name
                );
            }
            values.push(lit(value));
        }
    }
    let replaced = values.len();
    if replaced == 0 {
        return Ok(Built {
            rows: Some(0),
            version: target.version(),
            note: Some("nothing changed".into()),
            // As a merge with nothing to merge: the tests check the last commit, not the table.
            tests_on_commit: true,
            tests_past: None,
            unchanged: true,
        });
    }
    let committed = TableWrite::on(target, &model.schema, &model.table)
        .options(write_options(model, &schema, metadata)?)
        .batches(batches)
        .replace_where(col(Column::from_name(column)).in_list(values, false))
        .commit()
        .await?;
    Ok(Built {
        rows: Some(rows as u64),
        version: committed.version(),
        note: Some(format!("{replaced} {column} value(s) replaced")),
        tests_on_commit: false,
        tests_past: None,
        unchanged: false,
    })
}

/// The write options of a model's commit: its `@no_dictionary` and `@no_statistics` columns
/// (checked against the columns it produces) and `metadata` for the commit info.
fn write_options(
    model: &Model,
    schema: &Schema,
    metadata: Vec<(String, serde_json::Value)>,
) -> Result<WriteOptions> {
    let header = &model.header;
    for (setting, columns) in [
        ("no_dictionary", &header.no_dictionary),
        ("no_statistics", &header.no_statistics),
    ] {
        if let Some(unknown) = columns.iter().find(|c| schema.field_with_name(c).is_err()) {
            bail!(
                "{}: @{setting} names '{unknown}', which is not a column of the model",
                model.name
            );
        }
    }
    Ok(WriteOptions {
        plain_columns: header.no_dictionary.clone(),
        unindexed_columns: header.no_statistics.clone(),
        commit_metadata: metadata,
        ..Default::default()
    })
}

pub(super) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// `(model) EXCEPT (target rows whose key the model produced)`; with `on_existing_key: keep`, only
/// the rows whose key is not in the target.
fn changed_rows_sql(model: &Model, sql: &str) -> String {
    let keys = model
        .header
        .unique_key
        .iter()
        .map(|k| format!("s.{k} = t.{k}", k = quote(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let body = sql.trim().trim_end_matches(';');
    // Stored rows outside `@target_filter` cannot share a key with the run's rows.
    let target = match &model.header.target_filter {
        Some(filter) => format!(
            "(SELECT * FROM {}.{} WHERE {filter})",
            quote(&model.schema),
            quote(&model.table)
        ),
        None => format!("{}.{}", quote(&model.schema), quote(&model.table)),
    };
    if model.header.on_existing_key == OnExistingKey::Keep {
        return format!(
            "WITH cdrlake_source AS (\n{body}\n)\nSELECT * FROM cdrlake_source s\nWHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {keys})",
        );
    }
    // The produced keys come first in the join: a hash join builds its table from the left side,
    // and the target may be far larger than what a run produces.
    let key_list = model
        .header
        .unique_key
        .iter()
        .map(|k| quote(k))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH cdrlake_source AS (\n{body}\n)\nSELECT * FROM cdrlake_source\nEXCEPT\nSELECT t.* FROM (SELECT DISTINCT {key_list} FROM cdrlake_source) s JOIN {target} t ON {keys}",
    )
}

/// `max(watermark) - lookback` over the current table; the beginning of time when it is empty.
async fn watermark(engine: &Engine, model: &Model, t: &DataType) -> Result<ScalarValue> {
    let column = model
        .header
        .watermark
        .as_deref()
        .context("an incremental model using $since needs `-- @watermark: column`")?;
    let lookback = match &model.header.lookback {
        Some(l) => format!(" - INTERVAL '{}'", l.replace('\'', "''")),
        None => String::new(),
    };
    let at = || format!("computing $since for {}", model.name);
    let newest = super::maxima::largest(engine, &model.schema, &model.table, column)
        .await
        .with_context(at)?;
    let df = engine
        .dataframe(&format!(
            "SELECT CAST($newest{lookback} AS {})",
            watermark_type(t)?.0
        ))
        .await
        .with_context(at)?
        .with_param_values(ParamValues::Map(HashMap::from([(
            "newest".to_string(),
            newest.into(),
        )])))?;
    let batches = df.collect().await.with_context(at)?;
    let value = ScalarValue::try_from_array(batches[0].column(0), 0)?;
    if value.is_null() {
        beginning_of_time(t)
    } else {
        Ok(value)
    }
}

/// The type a column has once stored in Delta: timestamps are microseconds, any zone is UTC;
/// partition columns read back dictionary-encoded.
fn stored_type(t: &DataType) -> DataType {
    match plain_type(t) {
        DataType::Dictionary(_, value) => stored_type(&value),
        DataType::Timestamp(_, zone) => {
            DataType::Timestamp(TimeUnit::Microsecond, zone.map(|_| "UTC".into()))
        }
        other => other,
    }
}

/// The partition columns a Delta table was created with.
fn partition_columns(table: &DeltaTable) -> Vec<String> {
    table
        .snapshot()
        .map(|s| s.metadata().partition_columns().to_vec())
        .unwrap_or_default()
}

/// An incremental merge cannot change columns; that needs `--full-refresh`.
async fn check_same_columns(engine: &Engine, model: &Model, df: &DataFrame) -> Result<()> {
    let target = engine
        .ctx()
        .table(format!("{}.{}", quote(&model.schema), quote(&model.table)))
        .await?;
    let shape = |d: &DataFrame| -> Vec<(String, DataType)> {
        d.schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), stored_type(f.data_type())))
            .collect()
    };
    let (now, stored) = (shape(df), shape(&target));
    if now != stored {
        let differences: Vec<String> = now
            .iter()
            .filter(|c| !stored.contains(c))
            .map(|(n, t)| format!("{n} {t}"))
            .chain(
                stored
                    .iter()
                    .filter(|c| !now.contains(c))
                    .map(|(n, t)| format!("was {n} {t}")),
            )
            .collect();
        bail!(
            "the columns of {} changed since it was built ({}); rebuild it with `cdrlake run --full-refresh --select {}`",
            model.name,
            differences.join(", "),
            model.name
        );
    }
    Ok(())
}

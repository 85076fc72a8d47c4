//! `@bind` parameters and the `@target_filter` of an incremental model: values computed before
//! the query and bound as literals, so that scans can skip files by their statistics (a
//! subquery would be evaluated only once the scan already runs).

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::metadata::ScalarAndMetadata;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, ParamValues, ScalarValue};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::Expr;

use super::header::Bind;
use super::materialize::quote;
use super::project::Model;
use super::stage;
use crate::engine::Engine;

/// Computes the `@bind` parameters of a query (a model's or a singular test's; `name` for
/// errors) in order, each with the values bound so far, and adds them to `values`. Each bind's
/// query is written after `sql`'s `WITH` clause, so it can read its CTEs (staged ones as their
/// rows). A value is cast to the type the query expects (`types`).
pub async fn compute_for(
    engine: &Engine,
    name: &str,
    sql: &str,
    binds: &[Bind],
    types: &HashMap<String, Option<DataType>>,
    values: &mut HashMap<String, ScalarAndMetadata>,
) -> Result<()> {
    for (bind, query) in queries(sql, binds)? {
        let at = || format!("{name}: @bind {}", bind.param);
        let mut df = engine.dataframe(&query).await.with_context(at)?;
        if !df.logical_plan().get_parameter_types()?.is_empty() {
            df = df.with_param_values(ParamValues::Map(values.clone()))?;
        }
        if df.schema().fields().len() != 1 {
            bail!("{}: its query must return one column", at());
        }
        let column_type = df.schema().field(0).data_type().clone();
        let batches = df.collect().await.with_context(at)?;
        let value = match batches.iter().find(|b| b.num_rows() > 0) {
            Some(batch) => ScalarValue::try_from_array(batch.column(0), 0)?,
            None => ScalarValue::try_from(&column_type)?,
        };
        let value = match types.get(&format!("${}", bind.param)).cloned().flatten() {
            Some(t) if t != value.data_type() => value
                .cast_to(&t)
                .with_context(|| format!("{}: casting {value} to {t}", at()))?,
            _ => value,
        };
        values.insert(bind.param.clone(), value.into());
    }
    Ok(())
}

/// Each bind with its query, written after `sql`'s `WITH` clause so it can read its CTEs.
pub fn queries<'a>(sql: &str, binds: &'a [Bind]) -> Result<Vec<(&'a Bind, String)>> {
    let with = stage::with_clause(sql)?;
    Ok(binds
        .iter()
        .map(|bind| (bind, format!("{with}\n{}", bind.sql)))
        .collect())
}

/// The `@target_filter` as a predicate on the merge's `target` alias, its parameters replaced by
/// their values (delta-rs prunes the target's files only with literal bounds).
pub async fn target_predicate(
    engine: &Engine,
    model: &Model,
    params: Option<&ParamValues>,
) -> Result<Option<Expr>> {
    let Some(filter) = &model.header.target_filter else {
        return Ok(None);
    };
    let at = || format!("{}: @target_filter {filter}", model.name);
    let predicate = stored_predicate(engine, model, filter, params)
        .await
        .with_context(at)?;
    let on_target = predicate
        .transform(|e| {
            Ok(match e {
                Expr::Column(c) => {
                    Transformed::yes(Expr::Column(Column::new(Some("target"), c.name)))
                }
                other => Transformed::no(other),
            })
        })?
        .data;
    Ok(Some(on_target))
}

/// `filter`, SQL over the model's stored columns, as an expression with its parameters
/// replaced by their values.
pub async fn stored_predicate(
    engine: &Engine,
    model: &Model,
    filter: &str,
    params: Option<&ParamValues>,
) -> Result<Expr> {
    let sql = format!(
        "SELECT * FROM {}.{} WHERE {filter}",
        quote(&model.schema),
        quote(&model.table)
    );
    let mut df = engine.dataframe(&sql).await?;
    if let Some(params) = params {
        df = df.with_param_values(params.clone())?;
    }
    let mut predicate = None;
    df.logical_plan().apply(|plan| {
        if let LogicalPlan::Filter(f) = plan {
            predicate = Some(f.predicate.clone());
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let predicate = predicate.context("no predicate")?;
    // Stored columns by name alone, as a Delta predicate names them.
    Ok(predicate
        .transform(|e| {
            Ok(match e {
                Expr::Column(c) => Transformed::yes(Expr::Column(Column::from_name(c.name))),
                other => Transformed::no(other),
            })
        })?
        .data)
}

/// The first parameter `sql` names (`$name`) whose bound value is null.
pub fn null_parameter(sql: &str, params: Option<&ParamValues>) -> Option<String> {
    let Some(ParamValues::Map(values)) = params else {
        return None;
    };
    let mut names: Vec<&String> = values.keys().collect();
    // `$a_b` before `$a`: a name is a whole identifier.
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names
        .into_iter()
        .find(|name| names_parameter(sql, name) && values[*name].value.is_null())
        .cloned()
}

/// Whether `sql` names parameter `$name` (as a whole identifier: `$a_b` is not `$a`).
pub fn names_parameter(sql: &str, name: &str) -> bool {
    sql.match_indices(&format!("${name}")).any(|(at, m)| {
        let next = sql[at + m.len()..].chars().next();
        // A `--` comment (the model's header among them) names nothing.
        let line = &sql[sql[..at].rfind('\n').map_or(0, |i| i + 1)..at];
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') && !line.contains("--")
    })
}

/// The type `$since` has in the first bind query that uses it: a model may use `$since` only
/// there (its own query reading the bound literal instead).
pub async fn since_type(engine: &Engine, model: &Model) -> Result<Option<DataType>> {
    for (bind, sql) in queries(&model.sql, &model.header.binds)? {
        let df = engine
            .dataframe(&sql)
            .await
            .with_context(|| format!("{}: @bind {}", model.name, bind.param))?;
        if let Some(t) = df.logical_plan().get_parameter_types()?.remove("$since") {
            return Ok(t);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::names_parameter;

    #[test]
    fn a_parameter_is_named_in_code_not_in_comments_or_longer_names() {
        assert!(names_parameter("SELECT 1 WHERE t > $since", "since"));
        assert!(!names_parameter("SELECT 1 WHERE t > $since_day", "since"));
        assert!(!names_parameter(
            "-- @target_filter: t >= $from\nSELECT 1 -- not $from\nFROM x",
            "from"
        ));
        assert!(names_parameter("-- header\nSELECT $from", "from"));
    }
}

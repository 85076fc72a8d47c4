//! `@stage: cte, ...`: CTEs of a model computed once, into memory, before the model's query.
//! DataFusion 55 inlines a CTE wherever it is named, so a CTE read twice is computed twice
//! (`silver.cdr`'s split of single- and multi-record events: two aggregates over every record).
//! A staged CTE's body is replaced by a scan of its rows for the rest of the build; the text
//! around it is kept as written, so errors still point at the model's own lines.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use datafusion::catalog::SchemaProvider;
use datafusion::common::ParamValues;
use datafusion::datasource::MemTable;
use sqlparser::ast::Statement;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Location;

use super::binds::names_parameter;
use super::materialize::quote;
use super::project::Model;
use crate::engine::Engine;

/// Where one CTE sits in the SQL text (byte offsets).
#[derive(Debug)]
struct CteText {
    /// Just after the opening parenthesis of its body.
    body_start: usize,
    /// At its closing parenthesis.
    body_end: usize,
}

/// The staged CTEs' rows registered in the model's schema; removed again when dropped.
pub struct Staged {
    pub sql: String,
    schema: Option<Arc<dyn SchemaProvider>>,
    tables: Vec<String>,
    /// The `@stage` CTEs staged so far.
    ctes: Vec<String>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema {
            for table in &self.tables {
                let _ = schema.deregister_table(table);
            }
        }
    }
}

/// Computes all the model's `@stage` CTEs (with `params` bound) and returns its SQL reading them.
/// Without `@stage`, the SQL as written.
pub async fn stage_ctes(
    engine: &Engine,
    model: &Model,
    params: Option<&ParamValues>,
) -> Result<Staged> {
    let mut staged = Staged::new(engine, model);
    staged.stage(engine, model, params, &[]).await?;
    Ok(staged)
}

impl Staged {
    /// Nothing staged yet: the model's SQL as written.
    pub fn new(engine: &Engine, model: &Model) -> Staged {
        let schema = engine
            .catalog()
            .lakehouse_schema(&model.schema)
            .map(|s| s.clone() as Arc<dyn SchemaProvider>);
        Staged {
            sql: model.sql.clone(),
            schema,
            tables: Vec::new(),
            ctes: Vec::new(),
        }
    }

    /// Computes the model's `@stage` CTEs not staged yet, in order, with `params` bound, except
    /// those whose text up to their end names a parameter of `unbound`: they wait for its value.
    /// The `@bind` queries run between two calls, so a CTE they read is computed once for both.
    pub async fn stage(
        &mut self,
        engine: &Engine,
        model: &Model,
        params: Option<&ParamValues>,
        unbound: &[String],
    ) -> Result<()> {
        for cte in &model.header.stage {
            if self.ctes.contains(cte) {
                continue;
            }
            let located = locate_cte(&self.sql, cte)
                .with_context(|| format!("{}: @stage {cte}", model.name))?;
            let query = format!("{}\nSELECT * FROM {cte}", &self.sql[..=located.body_end]);
            if unbound.iter().any(|p| names_parameter(&query, p)) {
                continue;
            }
            let scan = self
                .hold(
                    engine,
                    model,
                    &query,
                    params,
                    format!("{}__stage_{cte}", model.table),
                )
                .await
                .with_context(|| format!("{}: @stage {cte}", model.name))?;
            self.sql = format!(
                "{}{scan}{}",
                &self.sql[..located.body_start],
                &self.sql[located.body_end..]
            );
            self.ctes.push(cte.clone());
        }
        Ok(())
    }

    /// Computes the model's query (its staged SQL, `params` bound) once into memory and returns a
    /// query reading those rows: the changed-rows comparison names its source twice, and
    /// DataFusion would compute the whole model for each.
    pub async fn output(
        &mut self,
        engine: &Engine,
        model: &Model,
        params: Option<&ParamValues>,
    ) -> Result<String> {
        let sql = self.sql.clone();
        self.hold(
            engine,
            model,
            &sql,
            params,
            format!("{}__output", model.table),
        )
        .await
    }

    /// Computes `query` (`params` bound) into memory, registers its rows as `table` in the model's
    /// schema until `self` is dropped, and returns a query reading them.
    async fn hold(
        &mut self,
        engine: &Engine,
        model: &Model,
        query: &str,
        params: Option<&ParamValues>,
        table: String,
    ) -> Result<String> {
        let mut df = engine.dataframe(query).await?;
        if let Some(params) = params {
            df = df.with_param_values(params.clone())?;
        }
        let arrow_schema = Arc::new(df.schema().as_arrow().clone());
        #[cfg(feature = "ballista")]
        if crate::cluster::on_cluster(&df) && cdrlake_catalog::delta_columns(&arrow_schema).is_ok()
        {
            return hold_on_cluster(engine, model, df, &table).await;
        }
        let partitions = super::held::collect_partitioned(df).await?;
        let rows = MemTable::try_new(arrow_schema, partitions)?;
        let provider = self
            .schema
            .as_ref()
            .with_context(|| format!("schema {} is not in the lakehouse catalog", model.schema))?;
        provider.register_table(table.clone(), Arc::new(rows))?;
        let scan = format!("SELECT * FROM {}.{}", quote(&model.schema), quote(&table));
        self.tables.push(table);
        Ok(scan)
    }
}

/// On a cluster, staged rows are written by the executors as a table of the `system` schema,
/// replaced by the model's next build there: a scan of it runs on the cluster as well, where rows
/// held in this process's memory would keep every query reading them here.
#[cfg(feature = "ballista")]
async fn hold_on_cluster(
    engine: &Engine,
    model: &Model,
    df: datafusion::prelude::DataFrame,
    table: &str,
) -> Result<String> {
    let name = format!("stage__{}__{table}", model.schema);
    let options = cdrlake_catalog::WriteOptions {
        description: Some(format!(
            "Rows of {} staged on the cluster (@stage); replaced by its next build there.",
            model.name
        )),
        ..Default::default()
    };
    crate::cluster::overwrite_on_cluster(engine.lakehouse(), df, "system", &name, options).await?;
    Ok(format!("SELECT * FROM system.{}", quote(&name)))
}

/// A query returning the rows of CTE `cte` of `sql` (the text up to it, then `SELECT * FROM cte`).
pub fn cte_query(sql: &str, cte: &str) -> Result<String> {
    let located = locate_cte(sql, cte)?;
    Ok(format!(
        "{}\nSELECT * FROM {cte}",
        &sql[..=located.body_end]
    ))
}

/// The model's outer `WITH` clause, up to its last CTE's closing parenthesis (empty without
/// one): a query written after it can read the model's CTEs.
pub fn with_clause(sql: &str) -> Result<&str> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql)?;
    let [Statement::Query(query)] = statements.as_slice() else {
        bail!("the model is not one SELECT")
    };
    let last = query.with.as_ref().and_then(|w| w.cte_tables.last());
    Ok(match last {
        Some(cte) => &sql[..=offset(sql, cte.closing_paren_token.0.span.start)],
        None => "",
    })
}

/// Checks that every `@stage` name is a CTE of the model's outer `WITH`.
pub fn check(model: &Model) -> Result<()> {
    for cte in &model.header.stage {
        locate_cte(&model.sql, cte).with_context(|| format!("@stage {cte}"))?;
    }
    if let Some(cte) = model
        .header
        .replace_on
        .as_ref()
        .and_then(|r| r.groups.as_ref())
    {
        locate_cte(&model.sql, cte).with_context(|| format!("@replace_on ... FROM {cte}"))?;
    }
    Ok(())
}

fn locate_cte(sql: &str, name: &str) -> Result<CteText> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql)?;
    let [Statement::Query(query)] = statements.as_slice() else {
        bail!("the model is not one SELECT")
    };
    let ctes = query
        .with
        .as_ref()
        .map(|w| w.cte_tables.as_slice())
        .unwrap_or_default();
    let Some(cte) = ctes
        .iter()
        .find(|c| c.alias.name.value.eq_ignore_ascii_case(name))
    else {
        let known: Vec<_> = ctes.iter().map(|c| c.alias.name.value.as_str()).collect();
        bail!(
            "no CTE named '{name}' in the model's WITH (it has: {})",
            known.join(", ")
        );
    };
    let after_name = offset(sql, cte.alias.name.span.end);
    let open = sql[after_name..]
        .find('(')
        .context("no opening parenthesis after the CTE's name")?
        + after_name;
    let body_end = offset(sql, cte.closing_paren_token.0.span.start);
    Ok(CteText {
        body_start: open + 1,
        body_end,
    })
}

/// Byte offset of a sqlparser location (1-based line, 1-based column counted in characters).
fn offset(sql: &str, at: Location) -> usize {
    let line_start = sql
        .split_inclusive('\n')
        .take(at.line.saturating_sub(1) as usize)
        .map(str::len)
        .sum::<usize>();
    let line = &sql[line_start..];
    let column = at.column.saturating_sub(1) as usize;
    let within = line
        .char_indices()
        .nth(column)
        .map(|(i, _)| i)
        .unwrap_or(line.len());
    line_start + within
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = "WITH a AS (SELECT 1 AS x),\n-- 'µs' before: columns count characters\nsets AS (\n    SELECT x FROM a GROUP BY x HAVING count(*) > 1\n),\nb AS (SELECT * FROM sets)\nSELECT * FROM b JOIN sets USING (x)";

    #[test]
    fn finds_the_body_between_its_parentheses() {
        let at = locate_cte(SQL, "sets").unwrap();
        assert_eq!(
            &SQL[at.body_start..at.body_end],
            "\n    SELECT x FROM a GROUP BY x HAVING count(*) > 1\n"
        );
        let at = locate_cte(SQL, "a").unwrap();
        assert_eq!(&SQL[at.body_start..at.body_end], "SELECT 1 AS x");
    }

    #[test]
    fn the_with_clause_ends_at_the_last_ctes_parenthesis() {
        assert!(
            with_clause(SQL)
                .unwrap()
                .ends_with("b AS (SELECT * FROM sets)")
        );
        assert_eq!(with_clause("SELECT 1").unwrap(), "");
    }

    #[test]
    fn counts_columns_in_characters() {
        let sql = "WITH µ AS (SELECT 'µµ' AS x), y AS (SELECT 2) SELECT * FROM µ, y";
        let at = locate_cte(sql, "y").unwrap();
        assert_eq!(&sql[at.body_start..at.body_end], "SELECT 2");
    }

    #[test]
    fn names_the_ctes_there_are_when_one_is_missing() {
        let e = locate_cte(SQL, "nope").unwrap_err().to_string();
        assert!(
            e.contains("no CTE named 'nope'") && e.contains("a, sets, b"),
            "{e}"
        );
        assert!(
            locate_cte("SELECT 1", "sets")
                .unwrap_err()
                .to_string()
                .contains("(it has: )")
        );
    }
}

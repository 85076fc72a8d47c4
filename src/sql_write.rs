//! SQL that writes to lakehouse tables: `INSERT INTO schema.table ...`, `CREATE TABLE schema.table
//! AS SELECT ...` and `DELETE FROM schema.table [WHERE ...]`. Each is one Delta commit (or none, on
//! any error: the table stays at its previous version). Used by the Flight SQL server's
//! CommandStatementUpdate and by `cdrlake query`.

use std::ops::ControlFlow;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cdrlake_catalog::{CatalogError, WriteMode};
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::prelude::{DataFrame, Expr, cast, col, lit};
use sqlparser::ast::{
    FromTable, ObjectName, ObjectNamePart, Statement, TableFactor, TableObject, Visit, Visitor,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::engine::Engine;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteStatement {
    Insert {
        schema: String,
        table: String,
        columns: Vec<String>,
        query: String,
    },
    CreateTableAs {
        schema: String,
        table: String,
        query: String,
        or_replace: bool,
        if_not_exists: bool,
    },
    Delete {
        schema: String,
        table: String,
        predicate: Option<String>,
    },
}

fn table_name(name: &ObjectName) -> Result<(String, String)> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) if i.quote_style.is_some() => i.value.clone(),
            ObjectNamePart::Identifier(i) => i.value.to_ascii_lowercase(),
            other => other.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [schema, table] => Ok((schema.clone(), table.clone())),
        [catalog, schema, table] if catalog == cdrlake_catalog::CATALOG_NAME => {
            Ok((schema.clone(), table.clone()))
        }
        _ => bail!("name the table as schema.table (e.g. gold.my_table), not '{name}'"),
    }
}

impl WriteStatement {
    /// The writing statement `sql` is, or `None` for a query (or anything else DataFusion plans).
    pub fn parse(sql: &str) -> Result<Option<Self>> {
        let Ok(statements) = Parser::parse_sql(&GenericDialect {}, sql) else {
            return Ok(None);
        };
        let [statement] = statements.as_slice() else {
            return Ok(None);
        };
        Ok(Some(match statement {
            Statement::Insert(insert) => {
                let TableObject::TableName(name) = &insert.table else {
                    bail!("INSERT INTO a table function is not supported")
                };
                let (schema, table) = table_name(name)?;
                let query = insert
                    .source
                    .as_ref()
                    .context("INSERT needs VALUES or a SELECT")?
                    .to_string();
                if insert.overwrite {
                    bail!("INSERT OVERWRITE is not supported: use CREATE OR REPLACE TABLE ... AS");
                }
                let columns = insert
                    .columns
                    .iter()
                    .map(|c| c.to_string().trim_matches('"').to_string())
                    .collect();
                Self::Insert {
                    schema,
                    table,
                    columns,
                    query,
                }
            }
            Statement::CreateTable(create) if create.query.is_some() => {
                let (schema, table) = table_name(&create.name)?;
                if !create.columns.is_empty() {
                    bail!(
                        "CREATE TABLE ... AS takes its columns from the query: leave out the column list"
                    );
                }
                let query = create
                    .query
                    .as_ref()
                    .map(|q| q.to_string())
                    .unwrap_or_default();
                Self::CreateTableAs {
                    schema,
                    table,
                    query,
                    or_replace: create.or_replace,
                    if_not_exists: create.if_not_exists,
                }
            }
            Statement::Delete(delete) => {
                let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) =
                    &delete.from;
                let [only] = from.as_slice() else {
                    bail!("DELETE reads one table")
                };
                let TableFactor::Table { name, .. } = &only.relation else {
                    bail!("DELETE FROM a table")
                };
                if !only.joins.is_empty() || delete.using.is_some() {
                    bail!(
                        "DELETE with joins or USING is not supported: use a subquery-free WHERE on the table's columns"
                    );
                }
                // delta-rs plans the predicate without a catalog: a subquery would panic there.
                if delete.selection.as_ref().is_some_and(has_subquery) {
                    bail!(
                        "DELETE with a subquery in WHERE is not supported: compute the value first and write it as a literal"
                    );
                }
                let (schema, table) = table_name(name)?;
                Self::Delete {
                    schema,
                    table,
                    predicate: delete.selection.as_ref().map(|e| e.to_string()),
                }
            }
            _ => return Ok(None),
        }))
    }

    pub fn target(&self) -> (&str, &str) {
        match self {
            Self::Insert { schema, table, .. }
            | Self::CreateTableAs { schema, table, .. }
            | Self::Delete { schema, table, .. } => (schema, table),
        }
    }

    /// Executes the statement as one Delta commit; returns the rows written or deleted.
    pub async fn execute(&self, engine: &Engine) -> Result<u64> {
        let (schema, table) = self.target();
        let lakehouse = engine.lakehouse();
        cdrlake_catalog::location::check_schema(schema)?;
        let exists = lakehouse.has_table(schema, table).await?;
        if !exists && self.is_view(engine, schema, table) {
            bail!("{schema}.{table} is a view: only Delta tables can be written");
        }
        match self {
            Self::Insert { columns, query, .. } => {
                if !exists {
                    return Err(CatalogError::UnknownTable {
                        schema: schema.into(),
                        table: table.into(),
                    }
                    .into());
                }
                let target_schema = engine
                    .dataframe(&format!("SELECT * FROM \"{schema}\".\"{table}\""))
                    .await?
                    .schema()
                    .as_arrow()
                    .clone();
                let source = engine.dataframe(query).await?;
                let produced: Vec<String> = source
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                let names: Vec<String> = if columns.is_empty() {
                    target_schema
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect()
                } else {
                    columns.clone()
                };
                if produced.len() != names.len() {
                    bail!(
                        "INSERT gives {} column(s) for {} column(s) of {schema}.{table}",
                        produced.len(),
                        names.len()
                    );
                }
                // By position (or by the listed names); columns left out are null.
                let mut exprs: Vec<Expr> = Vec::new();
                for field in target_schema.fields() {
                    let expr = match names.iter().position(|n| n == field.name()) {
                        Some(i) => cast(
                            col(datafusion::common::Column::from_name(&produced[i])),
                            field.data_type().clone(),
                        ),
                        None => cast(lit(ScalarValue::Null), field.data_type().clone()),
                    };
                    exprs.push(expr.alias(field.name()));
                }
                if let Some(unknown) = names
                    .iter()
                    .find(|n| target_schema.field_with_name(n).is_err())
                {
                    bail!("{schema}.{table} has no column '{unknown}'");
                }
                self.write(engine, source.select(exprs)?, WriteMode::Append)
                    .await
            }
            Self::CreateTableAs {
                query,
                or_replace,
                if_not_exists,
                ..
            } => {
                match (exists, or_replace, if_not_exists) {
                    (true, false, true) => return Ok(0),
                    (true, false, false) => bail!(
                        "{schema}.{table} already exists (CREATE OR REPLACE TABLE replaces it)"
                    ),
                    _ => {}
                }
                self.write(engine, engine.dataframe(query).await?, WriteMode::Overwrite)
                    .await
            }
            Self::Delete { predicate, .. } => {
                if !exists {
                    return Err(CatalogError::UnknownTable {
                        schema: schema.into(),
                        table: table.into(),
                    }
                    .into());
                }
                let state: Arc<dyn Session> = Arc::new(engine.ctx().state());
                let write = lakehouse.write(schema, table).await?;
                let committed = write.delete(predicate.clone(), state).await?;
                Ok(committed.metrics.rows_deleted)
            }
        }
    }

    /// Streams `df` into the target as one commit and returns the rows it added, as that commit
    /// recorded them (another writer's commit in the meantime is not counted). A failure leaves
    /// the table as it was.
    async fn write(&self, engine: &Engine, df: DataFrame, mode: WriteMode) -> Result<u64> {
        let (schema, table) = self.target();
        let write = engine.lakehouse().write(schema, table).await?;
        let committed = write.dataframe(df).mode(mode).commit().await?;
        Ok(committed.metrics.rows_added)
    }

    fn is_view(&self, engine: &Engine, schema: &str, table: &str) -> bool {
        engine
            .catalog()
            .lakehouse_schema(schema)
            .is_some_and(|s| datafusion::catalog::SchemaProvider::table_exist(s.as_ref(), table))
    }
}

/// Whether `expr` holds a subquery (`(SELECT ...)`, `IN (SELECT ...)`, `EXISTS`).
fn has_subquery(expr: &sqlparser::ast::Expr) -> bool {
    struct Finder;
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _query: &sqlparser::ast::Query) -> ControlFlow<()> {
            ControlFlow::Break(())
        }
    }
    expr.visit(&mut Finder).is_break()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_writes_and_leaves_queries_alone() {
        assert_eq!(
            WriteStatement::parse("INSERT INTO bronze.notes (id, text) VALUES (1, 'a')").unwrap(),
            Some(WriteStatement::Insert {
                schema: "bronze".into(),
                table: "notes".into(),
                columns: vec!["id".into(), "text".into()],
                query: "VALUES (1, 'a')".into()
            })
        );
        assert!(matches!(
            WriteStatement::parse("CREATE OR REPLACE TABLE cdrlake.gold.x AS SELECT 1 AS a")
                .unwrap(),
            Some(WriteStatement::CreateTableAs {
                or_replace: true,
                if_not_exists: false,
                ..
            })
        ));
        assert_eq!(
            WriteStatement::parse("DELETE FROM gold.x WHERE a > 1").unwrap(),
            Some(WriteStatement::Delete {
                schema: "gold".into(),
                table: "x".into(),
                predicate: Some("a > 1".into())
            })
        );
        assert_eq!(WriteStatement::parse("SELECT * FROM gold.x").unwrap(), None);
        assert_eq!(
            WriteStatement::parse("SELEC nonsense").unwrap(),
            None,
            "DataFusion reports the syntax error"
        );
        for sql in [
            "DELETE FROM gold.x WHERE a = (SELECT max(a) FROM gold.x)",
            "DELETE FROM gold.x WHERE a IN (SELECT a FROM gold.y)",
            "DELETE FROM gold.x WHERE b = 1 AND EXISTS (SELECT 1 FROM gold.y)",
        ] {
            let e = WriteStatement::parse(sql).unwrap_err().to_string();
            assert!(e.contains("subquery"), "{sql}: {e}");
        }
        assert!(
            WriteStatement::parse("DELETE FROM x")
                .unwrap_err()
                .to_string()
                .contains("schema.table")
        );
    }
}

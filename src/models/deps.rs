//! Dependencies of a model: the tables and views its one SELECT reads, found in the sqlparser AST.
//! CTE names are not dependencies; table functions (`generate_series(...)`) are not either. A UDF
//! that reads a table (`destination_zone` reads `bronze.tariff_destination`) is a dependency on it.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use anyhow::{Result, bail};
use sqlparser::ast::{
    Expr, ObjectName, ObjectNamePart, Query, Spanned, Statement, TableFactor, Visit, Visitor,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// A table a model reads, with where it is named (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    pub line: u64,
    pub column: u64,
}

/// Functions that read a lakehouse table, and the table.
const TABLE_READING_FUNCTIONS: &[(&str, &str)] =
    &[("destination_zone", "bronze.tariff_destination")];

#[derive(Default)]
struct Collector {
    ctes: BTreeSet<String>,
    refs: Vec<(Vec<String>, u64, u64)>,
}

impl Visitor for Collector {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(normalize(
                    &cte.alias.name.value,
                    cte.alias.name.quote_style.is_some(),
                ));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Function(f) = expr {
            let name = parts(&f.name).join(".");
            if let Some((_, table)) = TABLE_READING_FUNCTIONS
                .iter()
                .find(|(function, _)| *function == name)
            {
                let span = f.name.span();
                self.refs.push((
                    table.split('.').map(str::to_string).collect(),
                    span.start.line,
                    span.start.column,
                ));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name, args: None, ..
        } = factor
        {
            let span = name.span();
            self.refs
                .push((parts(name), span.start.line, span.start.column));
        }
        ControlFlow::Continue(())
    }
}

/// Unquoted identifiers are case-insensitive, as in DataFusion.
fn normalize(ident: &str, quoted: bool) -> String {
    if quoted {
        ident.to_string()
    } else {
        ident.to_ascii_lowercase()
    }
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => normalize(&i.value, i.quote_style.is_some()),
            other => other.to_string(),
        })
        .collect()
}

/// Parses `sql` (exactly one SELECT) and returns what it reads, as `schema.table`, in order of
/// first appearance. Single-part names must be CTEs.
pub fn dependencies(sql: &str) -> Result<Vec<Reference>> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql)
        .map_err(|e| anyhow::anyhow!("SQL error: {e}"))?;
    let statement = match statements.as_slice() {
        [one @ Statement::Query(_)] => one,
        [_] => {
            bail!("a model holds one SELECT (or WITH ... SELECT), not another kind of statement")
        }
        [] => bail!("no SQL statement found"),
        _ => bail!(
            "a model holds exactly one statement, found {}",
            statements.len()
        ),
    };
    let mut c = Collector::default();
    let _ = statement.visit(&mut c);
    let mut out: Vec<Reference> = Vec::new();
    for (parts, line, column) in c.refs {
        let name = match parts.as_slice() {
            [one] if c.ctes.contains(one) => continue,
            [one] => {
                bail!("line {line}, column {column}: '{one}' must be qualified as schema.table")
            }
            [schema, table] => format!("{schema}.{table}"),
            [catalog, schema, table] if catalog == "cdrlake" => format!("{schema}.{table}"),
            _ => bail!(
                "line {line}, column {column}: '{}' is not a cdrlake table name",
                parts.join(".")
            ),
        };
        if !out.iter().any(|r| r.name == name) {
            out.push(Reference { name, line, column });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Vec<String> {
        dependencies(sql)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    #[test]
    fn finds_tables_in_joins_subqueries_and_ctes() {
        let sql = "WITH recent AS (SELECT * FROM bronze.voice_cdr WHERE x > 1)\n\
                   SELECT * FROM recent r JOIN silver.subscriber s ON r.a = s.a\n\
                   WHERE EXISTS (SELECT 1 FROM cdrlake.bronze.plan p WHERE p.id = s.plan_id)\n\
                   UNION ALL SELECT * FROM (SELECT * FROM gold.x) sub, generate_series(1, 3)";
        assert_eq!(
            names(sql),
            vec![
                "bronze.voice_cdr",
                "silver.subscriber",
                "bronze.plan",
                "gold.x"
            ]
        );
        assert_eq!(
            names("SELECT destination_zone(other_party) FROM silver.cdr"),
            vec!["bronze.tariff_destination", "silver.cdr"]
        );
    }

    #[test]
    fn positions_and_errors() {
        let refs = dependencies("SELECT *\nFROM   bronze.plan").unwrap();
        assert_eq!((refs[0].line, refs[0].column), (2, 8));
        let err = dependencies("SELECT * FROM plan").unwrap_err().to_string();
        assert!(err.contains("'plan' must be qualified"), "{err}");
        assert!(
            dependencies("DELETE FROM bronze.plan")
                .unwrap_err()
                .to_string()
                .contains("one SELECT")
        );
        assert!(
            dependencies("SELECT 1; SELECT 2")
                .unwrap_err()
                .to_string()
                .contains("exactly one")
        );
        let err = dependencies("SELEC 1").unwrap_err().to_string();
        assert!(err.contains("Line: 1, Column: 1"), "{err}");
        assert!(names("SELECT 1").is_empty());
        assert_eq!(names("SELECT * FROM Bronze.PLAN"), vec!["bronze.plan"]);
    }
}

//! What a client may run, decided on the parsed statement before anything is planned. Deny by
//! default: a statement kind not named here is refused, whatever a later parser adds.
//!
//! - analysts and engineers: queries (`SELECT`, `WITH`, `VALUES`), `EXPLAIN [ANALYZE]` of a
//!   query, `DESCRIBE`, `SHOW TABLES | COLUMNS | FUNCTIONS | <setting>`, and `SET`/`RESET` of
//!   the session options in [`super::session::SETTABLE`];
//! - engineers also: `INSERT INTO`, `CREATE TABLE ... AS`, `DELETE FROM` on lakehouse tables,
//!   through the Delta write path (never DataFusion's in-memory DML), and `CALL` of the billing
//!   procedures in [`super::procedures`].
//!
//! Table functions are limited to the generators in [`TABLE_FUNCTIONS`]: none reads files. The
//! client engine checks the logical plan again (no DDL, DML or statements), so a statement that
//! passed here in a form this module did not foresee still cannot change anything.

use std::ops::ControlFlow;

use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use sqlparser::ast::{Expr, Set, Statement, TableFactor, Value, Visit, Visitor};
use tonic::Status;

use super::auth::Role;
use super::procedures::Procedure;
use crate::sql_write::WriteStatement;

/// Table functions a client may call: they generate rows and read nothing.
pub const TABLE_FUNCTIONS: [&str; 2] = ["generate_series", "range"];

/// What an allowed statement is, for the server to run.
#[derive(Debug)]
pub enum Allowed {
    /// Planned and streamed in the client's session.
    Query,
    /// Run through the Delta write path (engineers only).
    Write(WriteStatement),
    /// `SET key = value`: a session option.
    Set { key: String, value: String },
    /// `RESET key`: a session option back to the server's default.
    Reset { key: String },
    /// `CALL close_period(...)` and the like (engineers only).
    Call(Procedure),
}

/// Why a statement is refused: the role may not (PermissionDenied) or no client may
/// (InvalidArgument). The text is one line, for the client and the query log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Role(String),
    Kind(String),
}

impl Refusal {
    pub fn message(&self) -> &str {
        match self {
            Self::Role(m) | Self::Kind(m) => m,
        }
    }

    pub fn status(&self) -> Status {
        match self {
            Self::Role(m) => Status::permission_denied(m.clone()),
            Self::Kind(m) => Status::invalid_argument(m.clone()),
        }
    }
}

/// Classifies one SQL text for a client of `role`.
pub fn classify(sql: &str, role: Role) -> Result<Allowed, Refusal> {
    let numbered = crate::placeholders::number_question_marks(sql);
    let mut statements = DFParser::parse_sql(&numbered)
        .map_err(|e| Refusal::Kind(format!("SQL error: {}", e.strip_backtrace())))?;
    let statement = match (statements.pop_front(), statements.is_empty()) {
        (Some(s), true) => s,
        (None, _) => return Err(Refusal::Kind("no SQL statement".into())),
        (Some(_), false) => {
            return Err(Refusal::Kind(
                "one statement per request: send each statement on its own".into(),
            ));
        }
    };
    check_table_functions(&statement)?;
    match statement {
        DFStatement::Statement(s) => classify_sql(sql, *s, role),
        DFStatement::Explain(explain) => match *explain.statement {
            DFStatement::Statement(s) if matches!(*s, Statement::Query(_)) => Ok(Allowed::Query),
            other => Err(Refusal::Kind(format!(
                "EXPLAIN is allowed for queries only, not for {}",
                kind_of_df(&other)
            ))),
        },
        DFStatement::Reset(datafusion::sql::parser::ResetStatement::Variable(name)) => {
            Ok(Allowed::Reset {
                key: name.to_string().to_ascii_lowercase(),
            })
        }
        other => Err(Refusal::Kind(format!(
            "{} is not allowed: clients cannot read or write files on the server",
            kind_of_df(&other)
        ))),
    }
}

fn classify_sql(sql: &str, statement: Statement, role: Role) -> Result<Allowed, Refusal> {
    match statement {
        Statement::Query(_)
        | Statement::ExplainTable { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. } => Ok(Allowed::Query),
        Statement::Set(set) => classify_set(set),
        Statement::Insert(_) | Statement::Delete(_) => write(sql, role),
        Statement::Call(call) => Procedure::classify(&call, role).map(Allowed::Call),
        Statement::CreateTable(create) if create.query.is_some() => write(sql, role),
        Statement::CreateTable(_) => Err(Refusal::Kind(
            "CREATE TABLE needs AS SELECT ...: tables are created from a query".into(),
        )),
        other => Err(Refusal::Kind(format!(
            "{} statements are not allowed: clients run queries, and engineers INSERT INTO, CREATE TABLE ... AS, DELETE FROM and CALL close_period/release_period",
            kind_of(&other)
        ))),
    }
}

fn write(sql: &str, role: Role) -> Result<Allowed, Refusal> {
    let write = WriteStatement::parse(sql)
        .map_err(|e| Refusal::Kind(crate::error::one_line(&e)))?
        .ok_or_else(|| Refusal::Kind("not a writing statement cdrlake supports".into()))?;
    if role != Role::Engineer {
        let (schema, table) = write.target();
        return Err(Refusal::Role(format!(
            "{role:?}s may not write {schema}.{table}: writing needs the engineer role"
        )));
    }
    Ok(Allowed::Write(write))
}

fn classify_set(set: Set) -> Result<Allowed, Refusal> {
    match set {
        Set::SingleAssignment {
            variable, values, ..
        } if values.len() == 1 => Ok(Allowed::Set {
            key: variable.to_string().to_ascii_lowercase(),
            value: setting_text(&values[0]),
        }),
        Set::SetTimeZone { value, .. } => Ok(Allowed::Set {
            key: "datafusion.execution.time_zone".into(),
            value: setting_text(&value),
        }),
        other => Err(Refusal::Kind(format!(
            "'{other}' is not allowed: SET takes one option and one value"
        ))),
    }
}

/// A setting's value as text: quoted strings without their quotes, anything else as written.
fn setting_text(value: &Expr) -> String {
    match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// Refuses table functions other than the generators, wherever they appear (subqueries, CTEs).
fn check_table_functions(statement: &DFStatement) -> Result<(), Refusal> {
    struct Functions(Option<String>);
    impl Visitor for Functions {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
            let name = match factor {
                TableFactor::Table {
                    name,
                    args: Some(_),
                    ..
                }
                | TableFactor::Function { name, .. } => Some(name.to_string()),
                TableFactor::TableFunction { expr, .. } => Some(expr.to_string()),
                _ => None,
            };
            match name {
                Some(n) if !TABLE_FUNCTIONS.contains(&n.to_ascii_lowercase().as_str()) => {
                    self.0 = Some(n);
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            }
        }
    }
    let mut functions = Functions(None);
    let inner = match statement {
        DFStatement::Statement(s) => Some(s.as_ref()),
        DFStatement::Explain(e) => match e.statement.as_ref() {
            DFStatement::Statement(s) => Some(s.as_ref()),
            _ => None,
        },
        _ => None,
    };
    if let Some(s) = inner {
        let _ = s.visit(&mut functions);
    }
    match functions.0 {
        Some(name) => Err(Refusal::Kind(format!(
            "table function {name} is not allowed (allowed: {})",
            TABLE_FUNCTIONS.join(", ")
        ))),
        None => Ok(()),
    }
}

/// The statement kind's name, as sqlparser calls it (`CreateView`, `Copy`, ...).
pub fn kind_of(statement: &Statement) -> String {
    let debug = format!("{statement:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

fn kind_of_df(statement: &DFStatement) -> String {
    match statement {
        DFStatement::Statement(s) => kind_of(s),
        DFStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE".into(),
        DFStatement::CopyTo(_) => "COPY TO".into(),
        DFStatement::Explain(_) => "EXPLAIN".into(),
        DFStatement::Reset(_) => "RESET".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Statement kinds a client may send at all (writes only as engineer).
    const ALLOWED_KINDS: [&str; 13] = [
        "Query",
        "EXPLAIN",
        "RESET",
        "ExplainTable",
        "ShowTables",
        "ShowColumns",
        "ShowFunctions",
        "ShowVariable",
        "Set",
        "Insert",
        "Delete",
        "CreateTable",
        "Call",
    ];

    /// One or more samples of every statement kind the parser produces, including the
    /// DataFusion extensions. Parsed, each is named by its kind; the test then checks the kind
    /// is on the allow-list or refused.
    const SAMPLES: &[&str] = &[
        "SELECT 1",
        "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
        "VALUES (1), (2)",
        "DESCRIBE gold.invoice",
        "SHOW TABLES",
        "SHOW COLUMNS FROM gold.invoice",
        "SHOW FUNCTIONS",
        "SHOW datafusion.execution.batch_size",
        "SET datafusion.execution.batch_size = 100",
        "SET TIME ZONE 'Africa/Casablanca'",
        "INSERT INTO bronze.x VALUES (1)",
        "DELETE FROM bronze.x WHERE a = 1",
        "CREATE TABLE bronze.x AS SELECT 1 AS a",
        "CREATE TABLE bronze.x (a INT)",
        "UPDATE gold.invoice SET net = 0",
        "MERGE INTO gold.invoice t USING gold.invoice s ON t.a = s.a WHEN MATCHED THEN DELETE",
        "TRUNCATE TABLE gold.invoice",
        "CREATE VIEW gold.v AS SELECT 1",
        "CREATE OR REPLACE VIEW gold.v AS SELECT 1",
        "DROP VIEW IF EXISTS silver.cdr_record",
        "DROP TABLE gold.invoice",
        "DROP SCHEMA gold",
        "DROP FUNCTION f",
        "CREATE SCHEMA x",
        "CREATE DATABASE x",
        "CREATE FUNCTION f(a INT) RETURNS INT RETURN a",
        "CREATE INDEX i ON gold.invoice (a)",
        "CREATE ROLE r",
        "CREATE SEQUENCE s",
        "CREATE TYPE t AS (a INT)",
        "CREATE MACRO m(a) AS a",
        "CREATE SECRET s (TYPE s3, KEY_ID 'x')",
        "CREATE STAGE s URL = 's3://x'",
        "CREATE TRIGGER t AFTER INSERT ON x FOR EACH ROW EXECUTE FUNCTION f()",
        "CREATE PROCEDURE p AS BEGIN SELECT 1; END",
        "CREATE USER u",
        "CREATE DOMAIN d AS INT",
        "CREATE VIRTUAL TABLE t USING fts5(a)",
        "ALTER TABLE gold.invoice ADD COLUMN x INT",
        "ALTER VIEW gold.v AS SELECT 2",
        "ALTER INDEX i RENAME TO j",
        "ALTER ROLE r RENAME TO s",
        "ALTER SCHEMA a RENAME TO b",
        "ALTER USER u RENAME TO v",
        "RENAME TABLE a TO b",
        "COPY (SELECT 1 AS a) TO '/tmp/x.csv' STORED AS CSV",
        "COPY t FROM STDIN",
        "CREATE EXTERNAL TABLE t (line VARCHAR) STORED AS CSV LOCATION '/etc/hostname'",
        "CREATE UNBOUNDED EXTERNAL TABLE t (a INT) STORED AS CSV LOCATION '/tmp'",
        "EXPLAIN SELECT 1",
        "EXPLAIN ANALYZE SELECT 1",
        "EXPLAIN ANALYZE INSERT INTO gold.invoice SELECT * FROM gold.invoice LIMIT 1",
        "EXPLAIN COPY (SELECT 1) TO '/tmp/x' STORED AS CSV",
        "EXPLAIN CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc'",
        "RESET datafusion.execution.batch_size",
        "PREPARE p AS SELECT 1",
        "EXECUTE p",
        "DEALLOCATE p",
        "BEGIN",
        "START TRANSACTION",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT s",
        "RELEASE SAVEPOINT s",
        "SET ROLE admin",
        "SET SESSION AUTHORIZATION admin",
        "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "SET NAMES utf8",
        "SET (a, b) = (1, 2)",
        "GRANT SELECT ON gold.invoice TO analyst",
        "REVOKE SELECT ON gold.invoice FROM analyst",
        "DENY SELECT ON t TO u",
        "ANALYZE TABLE gold.invoice COMPUTE STATISTICS",
        "VACUUM gold.invoice",
        "OPTIMIZE TABLE gold.invoice",
        "CACHE TABLE gold.invoice",
        "UNCACHE TABLE gold.invoice",
        "KILL 1",
        "USE gold",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "DETACH DATABASE x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "LOAD DATA INPATH '/etc/passwd' INTO TABLE t",
        "PRAGMA table_info(x)",
        "DISCARD ALL",
        "DECLARE c CURSOR FOR SELECT 1",
        "FETCH NEXT FROM c",
        "CLOSE c",
        "COMMENT ON TABLE gold.invoice IS 'x'",
        "LISTEN ch",
        "NOTIFY ch",
        "UNLOAD('SELECT 1') TO 's3://x'",
        "LOCK TABLES t READ",
        "UNLOCK TABLES",
        "CALL p()",
        "CALL close_period('2026-04')",
        "ASSERT 1 = 1",
        "FLUSH TABLES",
        "MSCK REPAIR TABLE t",
        "SHOW CREATE TABLE gold.invoice",
        "SHOW DATABASES",
        "SHOW SCHEMAS",
        "SHOW VARIABLES",
        "SHOW STATUS",
        "SHOW COLLATION",
        "SHOW VIEWS",
        "SHOW OBJECTS",
        "SHOW CHARSET",
        "RAISERROR('x', 16, 1)",
        "PRINT 'x'",
        "RETURN 1",
        "THROW 1, 'x', 1",
        "WAITFOR DELAY '00:00:01'",
        "EXPORT DATA OPTIONS(uri='gs://x') AS SELECT 1",
        "REPLACE INTO t VALUES (1)",
        "DROP TRIGGER t ON x",
        "DROP PROCEDURE p",
        "DROP EXTENSION e",
        "CREATE EXTENSION e",
        "CREATE CONNECTOR c TYPE 't' URL 'u'",
        "DROP CONNECTOR c",
        "CREATE SERVER s FOREIGN DATA WRAPPER w",
        "CREATE POLICY p ON t",
        "DROP POLICY p ON t",
        "CREATE OPERATOR + (FUNCTION = f)",
        "CREATE TEXT SEARCH CONFIGURATION c (PARSER = p)",
    ];

    #[test]
    fn every_statement_kind_is_allowed_by_name_or_refused() {
        let mut seen = BTreeSet::new();
        for sql in SAMPLES {
            let Ok(mut parsed) = DFParser::parse_sql(sql) else {
                continue;
            };
            let kind = kind_of_df(&parsed.pop_front().unwrap());
            seen.insert(kind.clone());
            for role in [Role::Analyst, Role::Engineer] {
                match classify(sql, role) {
                    Ok(_) => assert!(
                        ALLOWED_KINDS.contains(&kind.as_str()),
                        "{sql} ({kind}) allowed for {role:?} but not on the allow-list"
                    ),
                    Err(Refusal::Role(_)) => assert!(
                        role == Role::Analyst
                            && ["Insert", "Delete", "CreateTable", "Call"].contains(&kind.as_str()),
                        "{sql} ({kind}) refused for the role of {role:?}"
                    ),
                    Err(Refusal::Kind(_)) => {}
                }
            }
        }
        for kind in ALLOWED_KINDS {
            assert!(seen.contains(kind), "no sample of allowed kind {kind}");
        }
        // The samples must reach far beyond the allow-list, or the test proves little.
        assert!(
            seen.len() >= 60,
            "only {} kinds parsed: {seen:?}",
            seen.len()
        );
    }

    #[test]
    fn the_reported_classes_are_refused() {
        let refused = |sql: &str, role| classify(sql, role).unwrap_err();
        for sql in [
            "CREATE EXTERNAL TABLE t (line VARCHAR) STORED AS CSV LOCATION '/etc/hostname'",
            "COPY (SELECT 1 AS a) TO '/tmp/x.csv' STORED AS CSV",
            "EXPLAIN ANALYZE INSERT INTO gold.invoice SELECT * FROM gold.invoice LIMIT 1",
            "DROP VIEW IF EXISTS silver.cdr_record",
            "CREATE VIEW gold.v AS SELECT 1",
            "CREATE TABLE gold.t (a INT)",
            "SELECT 1; DROP VIEW gold.v",
            "SELECT * FROM read_csv('/etc/passwd')",
            "SELECT * FROM (SELECT * FROM read_parquet('/x')) t",
            "PREPARE p AS INSERT INTO gold.invoice SELECT * FROM gold.invoice",
        ] {
            for role in [Role::Analyst, Role::Engineer] {
                assert!(matches!(refused(sql, role), Refusal::Kind(_)), "{sql}");
            }
        }
        assert!(matches!(
            refused(
                "INSERT INTO gold.invoice SELECT * FROM gold.invoice",
                Role::Analyst
            ),
            Refusal::Role(_)
        ));
        assert!(matches!(
            classify("INSERT INTO bronze.x SELECT 1", Role::Engineer),
            Ok(Allowed::Write(_))
        ));
        assert!(matches!(
            classify("SELECT * FROM generate_series(1, 3)", Role::Analyst),
            Ok(Allowed::Query)
        ));
        match classify("SET datafusion.execution.batch_size = 17", Role::Analyst) {
            Ok(Allowed::Set { key, value }) => {
                assert_eq!(
                    (key.as_str(), value.as_str()),
                    ("datafusion.execution.batch_size", "17")
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify("SET TIME ZONE 'Africa/Casablanca'", Role::Analyst),
            Ok(Allowed::Set { value, .. }) if value == "Africa/Casablanca"
        ));
    }
}

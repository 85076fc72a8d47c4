//! Per-model settings: `-- @key: value` lines in the comment block at the top of a `.sql` file.
//! Other comment lines of that block are the model's description.

use std::fmt;

use anyhow::{Context, Result, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Materialization {
    #[default]
    View,
    Table,
    Incremental,
}

impl fmt::Display for Materialization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::View => "view",
            Self::Table => "table",
            Self::Incremental => "incremental",
        })
    }
}

/// What an incremental run does with a produced row whose key is already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnExistingKey {
    /// Replace the stored row when it differs (re-stitched sessions, late corrections).
    #[default]
    Update,
    /// Keep the stored row: the table only grows (records of facts that never change, such as a
    /// rejection, whose `rejected_at` must stay the first one).
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warn,
}

/// A generic test as written: `unique(cdr_id)`, with its severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSpec {
    pub text: String,
    pub severity: Severity,
    /// 1-based line of the `@test` / `@warn` comment.
    pub line: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub materialized: Materialization,
    pub unique_key: Vec<String>,
    pub partition_by: Vec<String>,
    /// Columns written without a Parquet dictionary: mostly unique values (ids, timestamps, byte
    /// counts), where a dictionary overflows its page and only costs encoding time.
    pub no_dictionary: Vec<String>,
    /// Columns written without Parquet min/max statistics: text no query filters on, where
    /// comparing every value with the running min and max is a fifth of the encoding time.
    pub no_statistics: Vec<String>,
    /// Output column whose maximum (minus `lookback`) is bound to `$since` on incremental runs.
    pub watermark: Option<String>,
    /// A SQL interval, e.g. `2 hours`.
    pub lookback: Option<String>,
    pub on_existing_key: OnExistingKey,
    pub description: String,
    pub tests: Vec<TestSpec>,
    /// For singular tests: `@severity: warn`.
    pub severity: Option<Severity>,
    /// DataFusion session options in force while this node is built and tested (`@set: key = value`).
    pub settings: Vec<(String, String)>,
    /// CTEs computed once into memory before the query (`@stage: name, ...`): DataFusion computes
    /// a CTE again wherever it is named.
    pub stage: Vec<String>,
    /// Parameters bound to what an input gained since this model last read it
    /// (`@changed_since: name = schema.table.column`, see `changes.rs`).
    pub changed_since: Vec<ChangedSince>,
    /// An incremental run replaces groups of stored rows, instead of merging on `unique_key`
    /// (`@replace_on: column [FROM cte]`).
    pub replace_on: Option<ReplaceOn>,
    /// Inputs without a change column (reference tables, seeds): when one of them has another
    /// Delta version than at the model's last commit, the run rebuilds the model whole
    /// (`@rebuild_on_change: schema.table, ...`).
    pub rebuild_on_change: Vec<String>,
    /// Parameters computed before the query (`@bind: name = SELECT ...`), in order, each from the
    /// first column of the first row of its query (null when it has none). The query may read
    /// the model's CTEs and use `$since`, the `@changed_since` parameters and earlier binds.
    pub binds: Vec<Bind>,
    /// A predicate on the stored rows (`@target_filter: start_time >= $records_from`): only rows
    /// it holds can share a key with the run's rows, so the merge and the changed-rows comparison
    /// read only the files whose statistics may hold such rows.
    pub target_filter: Option<String>,
    /// An incremental run replaces the stored rows this predicate holds with the rows it
    /// produces, which must all hold it (`@replace_where: start_time >= $rerate_from`): a run
    /// rewrites the recent rows it recomputes, not a whole period. A bound parameter of the
    /// predicate that is null means nothing changed: no commit.
    pub replace_where: Option<String>,
}

/// `@bind: records_from = SELECT min(start_time) FROM ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub param: String,
    pub sql: String,
}

fn bind(value: &str) -> Option<Bind> {
    let (param, sql) = value.split_once('=')?;
    let param = param.trim().trim_start_matches('$');
    let ident = !param.is_empty() && param.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let sql = sql.trim();
    (ident && !sql.is_empty()).then(|| Bind {
        param: param.to_string(),
        sql: sql.to_string(),
    })
}

/// `@replace_on: billing_period FROM changed_periods`: the run replaces every stored row whose
/// `billing_period` is a value of the CTE `changed_periods` (so a group left without rows is
/// deleted); without `FROM`, the values its rows hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaceOn {
    pub column: String,
    pub groups: Option<String>,
}

fn replace_on(value: &str) -> Option<ReplaceOn> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match words.as_slice() {
        [column] => Some(ReplaceOn {
            column: column.to_string(),
            groups: None,
        }),
        [column, from, cte] if from.eq_ignore_ascii_case("from") => Some(ReplaceOn {
            column: column.to_string(),
            groups: Some(cte.to_string()),
        }),
        _ => None,
    }
}

/// `@changed_since: cdr_since = silver.cdr._mediated_at`: `$cdr_since` is the largest
/// `_mediated_at` silver.cdr held when this model last committed (the beginning of time on a
/// first build or full refresh), so `WHERE _mediated_at > $cdr_since` reads what arrived since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedSince {
    pub param: String,
    pub schema: String,
    pub table: String,
    pub column: String,
}

fn changed_since(value: &str) -> Option<ChangedSince> {
    let (param, source) = value.split_once('=')?;
    let param = param.trim().trim_start_matches('$');
    let mut parts = source.trim().split('.');
    let (schema, table, column) = (parts.next()?, parts.next()?, parts.next()?);
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (parts.next().is_none() && [param, schema, table, column].into_iter().all(ident)).then(|| {
        ChangedSince {
            param: param.to_string(),
            schema: schema.to_string(),
            table: table.to_string(),
            column: column.to_string(),
        }
    })
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Reads the leading comment block of a model's `sql`.
pub fn parse(sql: &str) -> Result<Header> {
    let h = settings(sql)?;
    check_model(&h)?;
    Ok(h)
}

/// Reads the leading comment block of a singular test: `@severity` and `@bind` (a test's binds
/// are computed before it runs, as a model's are).
pub fn parse_test(sql: &str) -> Result<Header> {
    let h = settings(sql)?;
    let test_settings = Header {
        severity: h.severity,
        binds: h.binds.clone(),
        description: h.description.clone(),
        ..Header::default()
    };
    if h != test_settings {
        bail!("a singular test takes only `-- @severity` and `-- @bind` settings");
    }
    Ok(h)
}

fn settings(sql: &str) -> Result<Header> {
    let mut h = Header::default();
    let mut description = Vec::new();
    for (i, raw) in sql.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else {
            break;
        };
        let comment = comment.trim();
        let Some(setting) = comment.strip_prefix('@') else {
            description.push(comment.to_string());
            continue;
        };
        let lineno = i + 1;
        let (key, value) = setting
            .split_once(':')
            .map(|(k, v)| (k.trim(), v.trim()))
            .with_context(|| format!("line {lineno}: expected `-- @key: value`, found `{line}`"))?;
        match key {
            "materialized" => {
                h.materialized = match value {
                    "view" => Materialization::View,
                    "table" => Materialization::Table,
                    "incremental" => Materialization::Incremental,
                    other => bail!(
                        "line {lineno}: materialized must be view, table or incremental, not '{other}'"
                    ),
                }
            }
            "unique_key" => h.unique_key = list(value),
            "partition_by" => h.partition_by = list(value),
            "no_dictionary" => h.no_dictionary = list(value),
            "no_statistics" => h.no_statistics = list(value),
            "stage" => h.stage = list(value),
            "changed_since" => h.changed_since.push(changed_since(value).with_context(|| {
                format!("line {lineno}: expected `-- @changed_since: name = schema.table.column`, found `{line}`")
            })?),
            "replace_on" => {
                h.replace_on = Some(replace_on(value).with_context(|| {
                    format!("line {lineno}: expected `-- @replace_on: column [FROM cte]`, found `{line}`")
                })?)
            }
            "rebuild_on_change" => {
                h.rebuild_on_change = list(value);
                if let Some(bad) = h.rebuild_on_change.iter().find(|t| t.split('.').count() != 2) {
                    bail!("line {lineno}: @rebuild_on_change takes schema.table names, not '{bad}'");
                }
            }
            "bind" => h.binds.push(bind(value).with_context(|| {
                format!("line {lineno}: expected `-- @bind: name = SELECT ...`, found `{line}`")
            })?),
            "target_filter" => h.target_filter = Some(value.to_string()),
            "replace_where" => h.replace_where = Some(value.to_string()),
            "watermark" => h.watermark = Some(value.to_string()),
            "lookback" => h.lookback = Some(value.to_string()),
            "on_existing_key" => {
                h.on_existing_key = match value {
                    "update" => OnExistingKey::Update,
                    "keep" => OnExistingKey::Keep,
                    other => bail!(
                        "line {lineno}: on_existing_key must be update or keep, not '{other}'"
                    ),
                }
            }
            "test" => h.tests.push(TestSpec {
                text: value.to_string(),
                severity: Severity::Error,
                line: lineno,
            }),
            "warn" => h.tests.push(TestSpec {
                text: value.to_string(),
                severity: Severity::Warn,
                line: lineno,
            }),
            "severity" => {
                h.severity = Some(match value {
                    "error" => Severity::Error,
                    "warn" => Severity::Warn,
                    other => bail!("line {lineno}: severity must be error or warn, not '{other}'"),
                })
            }
            "set" => {
                let (option, setting) = value
                    .split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .with_context(|| format!("line {lineno}: expected `-- @set: datafusion.option = value`, found `{line}`"))?;
                // Checked here so a typo fails when the project loads, not halfway through a run.
                datafusion::config::ConfigOptions::new()
                    .set(&option, &setting)
                    .map_err(|e| {
                        anyhow::anyhow!("line {lineno}: @set {option}: {}", e.strip_backtrace())
                    })?;
                h.settings.push((option, setting));
            }
            other => bail!(
                "line {lineno}: unknown setting '@{other}' (known: materialized, unique_key, partition_by, no_dictionary, no_statistics, watermark, lookback, on_existing_key, changed_since, replace_on, replace_where, rebuild_on_change, bind, target_filter, set, stage, test, warn, severity)"
            ),
        }
    }
    h.description = description.join(" ");
    Ok(h)
}

/// The rules between a model's settings.
fn check_model(h: &Header) -> Result<()> {
    if h.materialized == Materialization::Incremental
        && h.unique_key.is_empty()
        && h.replace_on.is_none()
        && h.replace_where.is_none()
    {
        bail!(
            "an incremental model needs `-- @unique_key: column[, column]`, `-- @replace_on: column` or `-- @replace_where: predicate`"
        );
    }
    if h.replace_where.is_some() && (h.replace_on.is_some() || !h.unique_key.is_empty()) {
        bail!(
            "`@replace_where` replaces rows by a predicate: it goes without `@replace_on` and `@unique_key`"
        );
    }
    if h.materialized != Materialization::Incremental
        && (h.replace_on.is_some()
            || h.replace_where.is_some()
            || !h.changed_since.is_empty()
            || !h.rebuild_on_change.is_empty())
    {
        bail!(
            "`@replace_on`, `@replace_where`, `@changed_since` and `@rebuild_on_change` are for `@materialized: incremental`"
        );
    }
    if h.materialized != Materialization::Incremental
        && (!h.binds.is_empty() || h.target_filter.is_some())
    {
        bail!("`@bind` and `@target_filter` are for `@materialized: incremental`");
    }
    if h.target_filter.is_some() && (h.replace_on.is_some() || h.unique_key.is_empty()) {
        bail!(
            "`@target_filter` narrows a merge on `@unique_key`; `@replace_on` models do not merge"
        );
    }
    if h.lookback.is_some() && h.watermark.is_none() {
        bail!("`@lookback` needs `@watermark`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_singular_test_takes_severity_and_binds_only() {
        let h = parse_test("-- @severity: warn\n-- @bind: a = SELECT 1\nSELECT 1").unwrap();
        assert_eq!((h.severity, h.binds.len()), (Some(Severity::Warn), 1));
        let err = parse_test("-- @materialized: table\nSELECT 1").unwrap_err();
        assert!(err.to_string().contains("only"), "{err}");
    }

    #[test]
    fn reads_binds_in_order_and_a_target_filter() {
        let h = parse(
            "-- @materialized: incremental\n-- @unique_key: k\n-- @bind: $a = SELECT min(t) FROM s.x WHERE t > $since\n-- @bind: b = SELECT $a\n-- @target_filter: t >= $a\nSELECT 1",
        )
        .unwrap();
        let names: Vec<&str> = h.binds.iter().map(|b| b.param.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(h.binds[0].sql, "SELECT min(t) FROM s.x WHERE t > $since");
        assert_eq!(h.target_filter.as_deref(), Some("t >= $a"));
        assert!(
            parse("-- @materialized: incremental\n-- @unique_key: k\n-- @bind: SELECT 1\nSELECT 1")
                .is_err()
        );
        assert!(parse("-- @materialized: table\n-- @bind: a = SELECT 1\nSELECT 1").is_err());
        assert!(parse("-- @materialized: incremental\n-- @replace_on: p\n-- @target_filter: p > 1\nSELECT 1").is_err());
        let h = parse("-- @materialized: incremental\n-- @replace_where: t >= $from\nSELECT 1")
            .unwrap();
        assert_eq!(h.replace_where.as_deref(), Some("t >= $from"));
        assert!(parse("-- @materialized: incremental\n-- @replace_where: t >= $a\n-- @unique_key: k\nSELECT 1").is_err());
        assert!(parse("-- @materialized: table\n-- @replace_where: t >= $a\nSELECT 1").is_err());
    }

    #[test]
    fn reads_changed_since_and_replace_on() {
        let h = parse(
            "-- @materialized: incremental\n-- @replace_on: hour_start\n-- @changed_since: $cdr_since = silver.cdr._mediated_at\nSELECT 1",
        )
        .unwrap();
        assert_eq!(
            h.replace_on,
            Some(ReplaceOn {
                column: "hour_start".into(),
                groups: None
            })
        );
        let grouped =
            parse("-- @materialized: incremental\n-- @replace_on: p from changed\nSELECT 1")
                .unwrap();
        assert_eq!(
            grouped.replace_on.and_then(|r| r.groups).as_deref(),
            Some("changed")
        );
        assert!(parse("-- @materialized: incremental\n-- @replace_on: p of x\nSELECT 1").is_err());
        assert_eq!(
            h.changed_since,
            vec![ChangedSince {
                param: "cdr_since".into(),
                schema: "silver".into(),
                table: "cdr".into(),
                column: "_mediated_at".into(),
            }]
        );
        for bad in [
            "x = silver.cdr",
            "x = a.b.c.d",
            "= silver.cdr.c",
            "x y = silver.cdr.c",
        ] {
            let sql = format!(
                "-- @materialized: incremental\n-- @unique_key: k\n-- @changed_since: {bad}\nSELECT 1"
            );
            assert!(parse(&sql).is_err(), "{bad}");
        }
        assert!(parse("-- @materialized: table\n-- @replace_on: h\nSELECT 1").is_err());
    }

    #[test]
    fn reads_settings_and_description() {
        let sql = "-- One row per call.\n-- @materialized: incremental\n-- @unique_key: cdr_id\n-- @watermark: _ingested_at\n-- @lookback: 1 hour\n-- @test: unique(cdr_id)\n-- @warn: expression(duration_s < 86400)\nSELECT 1\n-- @test: not_read(x)\n";
        let h = parse(sql).unwrap();
        assert_eq!(h.materialized, Materialization::Incremental);
        assert_eq!(h.unique_key, vec!["cdr_id"]);
        assert_eq!(
            parse("-- @no_dictionary: cdr_id, start_time\nSELECT 1")
                .unwrap()
                .no_dictionary,
            vec!["cdr_id", "start_time"]
        );
        assert_eq!(
            parse("-- @no_statistics: imei, other_party\nSELECT 1")
                .unwrap()
                .no_statistics,
            vec!["imei", "other_party"]
        );
        let set = parse("-- @set: datafusion.optimizer.join_reordering = false\nSELECT 1")
            .unwrap()
            .settings;
        assert_eq!(
            set,
            vec![(
                "datafusion.optimizer.join_reordering".to_string(),
                "false".to_string()
            )]
        );
        let unknown = parse("-- x\n-- @set: datafusion.optimizer.join_reorderin = false\nSELECT 1")
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("line 2") && unknown.contains("join_reorderin"),
            "{unknown}"
        );
        let bad_value = parse("-- @set: datafusion.optimizer.join_reordering = maybe\nSELECT 1")
            .unwrap_err()
            .to_string();
        assert!(bad_value.contains("maybe"), "{bad_value}");
        assert_eq!(h.lookback.as_deref(), Some("1 hour"));
        assert_eq!(h.on_existing_key, OnExistingKey::Update);
        assert_eq!(
            parse("-- @on_existing_key: keep\nSELECT 1")
                .unwrap()
                .on_existing_key,
            OnExistingKey::Keep
        );
        assert!(parse("-- @on_existing_key: replace\nSELECT 1").is_err());
        assert_eq!(h.description, "One row per call.");
        assert_eq!(
            h.tests.len(),
            2,
            "settings after the SQL starts are plain comments"
        );
        assert_eq!(
            h.tests[1],
            TestSpec {
                text: "expression(duration_s < 86400)".into(),
                severity: Severity::Warn,
                line: 7
            }
        );
    }

    #[test]
    fn rejects_typos_and_incomplete_incremental() {
        let err = parse("-- @materialised: table\nSELECT 1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 1") && err.contains("@materialised"),
            "{err}"
        );
        let err = parse("-- @materialized: incremental\nSELECT 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unique_key"), "{err}");
        assert!(parse("-- @materialized: ephemeral\nSELECT 1").is_err());
        assert_eq!(
            parse("SELECT 1").unwrap().materialized,
            Materialization::View
        );
    }
}

//! The shipped model project (`sql/`) builds, and its seeds carry the tariff of the spec.

mod common;

use common::{cdrlake, stdout};

#[test]
fn up_builds_the_shipped_project_with_the_spec_tariff() {
    let dir = tempfile::tempdir().unwrap();
    let project = std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("sql");
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let o = cdrlake(
        dir.path(),
        &[
            "--lakehouse",
            lake,
            "up",
            "--project",
            project.to_str().unwrap(),
            "--customers",
            "30",
            "--days",
            "1",
            "--no-serve",
        ],
        &[],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), common::stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("bronze.tariff_rate: version 0, 28 rows"),
        "{out}"
    );
    assert!(
        out.contains("no CDRs yet: generating 30 subscribers over 1 days"),
        "{out}"
    );
    assert!(out.contains("bronze.voice_cdr: version 0"), "{out}");
    // A second `up` keeps the data it has.
    let again = cdrlake(
        dir.path(),
        &[
            "--lakehouse",
            lake,
            "up",
            "--project",
            project.to_str().unwrap(),
            "--no-serve",
        ],
        &[],
    );
    assert!(!stdout(&again).contains("generating"), "{}", stdout(&again));

    let q = |sql: &str| {
        let o = cdrlake(
            dir.path(),
            &["--lakehouse", lake, "query", "--format", "csv", sql],
            &[],
        );
        assert!(o.status.success(), "{}", common::stderr(&o));
        stdout(&o)
    };
    assert_eq!(
        q(
            "SELECT plan_id, monthly_fee, voice_allowance_s, sms_allowance, data_allowance_mb FROM bronze.plan ORDER BY monthly_fee"
        ),
        "plan_id,monthly_fee,voice_allowance_s,sms_allowance,data_allowance_mb\nP_BASIC,49.00,3600,50,2048\nP_PLUS,99.00,18000,200,10240\nP_MAX,199.00,180000,1000,51200\n"
    );
    assert_eq!(
        q(
            "SELECT zone, count(*) AS prefixes FROM bronze.tariff_destination GROUP BY zone ORDER BY zone"
        ),
        "zone,prefixes\nHIGH_RISK,3\nINTL_Z1,9\nINTL_Z2,4\nINTL_Z3,5\nINTL_Z4,1\nMA_FIXED,2\nMA_MOBILE,2\nMA_ONNET,2\nMA_PREMIUM,1\nSHORT_CODE,1\n"
    );
    // Rows the rating worked example depends on.
    assert_eq!(
        q(
            "SELECT zone, service, band, connect_fee, rate, first_s, next_s, min_charge FROM bronze.tariff_rate \
           WHERE (zone, service) IN (('MA_FIXED', 'VOICE'), ('INTL_Z1', 'VOICE'), ('ROAMING', 'VOICE_MO'), ('HOME', 'DATA')) ORDER BY zone, band"
        ),
        "zone,service,band,connect_fee,rate,first_s,next_s,min_charge\n\
         HOME,DATA,ANY,0.0000,0.1000,,,0.0000\n\
         INTL_Z1,VOICE,ANY,0.5000,3.0000,1,1,1.0000\n\
         MA_FIXED,VOICE,OFFPEAK,0.0000,0.6000,60,1,0.0000\n\
         MA_FIXED,VOICE,PEAK,0.0000,1.0000,60,1,0.0000\n\
         ROAMING,VOICE_MO,ANY,0.0000,10.0000,60,60,0.0000\n"
    );
    assert_eq!(
        q("SELECT count(*) AS n FROM bronze.tariff_rate WHERE service = 'SMS'"),
        "n\n10\n"
    );

    // Silver and gold have the columns and types the spec names.
    let columns = q(
        "SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns \
         WHERE table_schema IN ('silver', 'gold')",
    );
    let built: std::collections::BTreeMap<(String, String), String> =
        csv::Reader::from_reader(columns.as_bytes())
            .records()
            .map(|r| {
                let r = r.unwrap();
                ((r[0].to_string(), r[1].to_string()), r[2].to_string())
            })
            .collect();
    let mut missing = Vec::new();
    let mut mistyped = Vec::new();
    let mut checked = 0;
    for (table, columns) in contract::tables() {
        for (column, spec_type) in columns {
            checked += 1;
            match built.get(&(table.clone(), column.clone())) {
                None => missing.push(format!("{table}.{column}")),
                Some(actual) => {
                    if let Some(t) = spec_type
                        && !contract::type_matches(&t, actual)
                    {
                        mistyped.push(format!("{table}.{column}: spec {t}, built {actual}"));
                    }
                }
            }
        }
    }
    assert!(
        checked > 120,
        "the spec's column lists were not found ({checked} columns)"
    );
    assert!(
        missing.is_empty(),
        "columns the spec names are missing: {missing:?}"
    );
    assert!(
        mistyped.is_empty(),
        "columns of another type than the spec's: {mistyped:?}"
    );
    // billing.md: "Invoice amounts are money2".
    for ((table, column), actual) in &built {
        if table == "gold.invoice" && column.ends_with("_amount") {
            assert!(
                contract::type_matches("money2", actual),
                "{table}.{column}: {actual}"
            );
        }
    }
}

/// The silver and gold column lists of `../shared/spec` (data-contract, rating, billing,
/// analytics): the backquoted names after a table's name, a type where the spec gives one.
mod contract {
    const TYPES: [&str; 8] = [
        "text", "ts", "date", "int", "money4", "money2", "bool", "float",
    ];

    /// A column's name and the spec's type for it, where the spec gives one.
    pub type Column = (String, Option<String>);

    fn spec(file: &str) -> String {
        let path = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
            .join("../shared/spec")
            .join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The line that starts with `start` (a list item's dash aside).
    fn line<'a>(text: &'a str, start: &str) -> &'a str {
        text.lines()
            .map(|l| l.trim_start_matches("- "))
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("the spec has no line starting with {start:?}"))
    }

    /// The line after the one that starts with `heading`.
    fn next_line<'a>(text: &'a str, heading: &str) -> &'a str {
        let mut lines = text.lines().skip_while(|l| !l.starts_with(heading));
        lines
            .next()
            .unwrap_or_else(|| panic!("the spec has no line starting with {heading:?}"));
        lines.next().unwrap_or_default()
    }

    /// `text` with every parenthesis removed, and the type some of them held: `(money4)`.
    fn columns(text: &str) -> Vec<Column> {
        let mut flat = String::new();
        let mut depth = 0;
        let mut inner = String::new();
        for c in text.chars() {
            match c {
                '(' => {
                    depth += 1;
                    inner.clear();
                }
                ')' => {
                    depth -= 1;
                    if depth == 0 && TYPES.contains(&inner.trim()) {
                        flat.push_str(&format!(" {} ", inner.trim()));
                    }
                }
                _ if depth > 0 => inner.push(c),
                _ => flat.push(c),
            }
        }
        let parts: Vec<&str> = flat.split('`').collect();
        let mut out = Vec::new();
        // Odd parts are quoted; the word after a name may be its type.
        for i in (1..parts.len()).step_by(2) {
            let name = parts[i];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                continue;
            }
            let after = parts.get(i + 1).copied().unwrap_or("");
            let word = after
                .trim_start()
                .split([' ', ',', '.', ';'])
                .next()
                .unwrap_or("");
            let kind = TYPES.contains(&word).then(|| word.to_string());
            out.push((name.to_string(), kind));
        }
        out
    }

    /// The text inside the parenthesis that opens right after `start`.
    fn inside<'a>(text: &'a str, start: &str) -> &'a str {
        let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
        let mut depth = 1;
        for (i, c) in text[from..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 1 => return &text[from..from + i],
                ')' => depth -= 1,
                _ => {}
            }
        }
        panic!("unbalanced parenthesis after {start:?}")
    }

    pub fn tables() -> Vec<(String, Vec<Column>)> {
        let (contract, rating, billing, analytics) = (
            spec("data-contract.md"),
            spec("rating.md"),
            spec("billing.md"),
            spec("analytics.md"),
        );
        let mut tables = vec![
            ("silver.cdr", columns(line(&contract, "`cdr_id` text"))),
            (
                "silver.cdr_rejected",
                columns(next_line(&contract, "`silver.cdr_rejected`")),
            ),
            (
                "silver.subscriber",
                columns(line(&contract, "`silver.subscriber`:")),
            ),
            (
                "gold.rated_cdr",
                columns(line(&rating, "`gold.rated_cdr` columns:")),
            ),
            (
                "gold.invoice_line",
                columns(next_line(&billing, "## Lines (`gold.invoice_line`)")),
            ),
            (
                "gold.invoice",
                columns(next_line(&billing, "## Header (`gold.invoice`)")),
            ),
            (
                "gold.dim_customer",
                columns(line(&analytics, "`gold.dim_customer`")),
            ),
            (
                "gold.dim_date",
                columns(inside(&analytics, "`gold.dim_date` (")),
            ),
            (
                "gold.fact_cdr",
                columns(line(&analytics, "`gold.fact_cdr`:")),
            ),
            (
                "gold.agg_customer_monthly",
                columns(line(&analytics, "`gold.agg_customer_monthly`:")),
            ),
            (
                "gold.agg_cell_hourly",
                columns(line(&analytics, "`gold.agg_cell_hourly`:")),
            ),
            (
                "gold.fraud_alert",
                columns(next_line(&analytics, "## Fraud (`gold.fraud_alert`)")),
            ),
        ]
        .into_iter()
        .map(|(t, c)| (t.to_string(), c))
        .collect::<Vec<_>>();
        for report in [
            "report_revenue_by_plan",
            "report_top_customers",
            "report_revenue_by_region",
            "report_usage_by_service",
        ] {
            let name = format!("gold.{report}");
            tables.push((name.clone(), columns(line(&billing, &format!("`{name}`:")))));
        }
        tables
    }

    /// Whether information_schema's `data_type` is the spec's type (strings may be views or
    /// dictionaries of strings: the same text to a client).
    pub fn type_matches(spec: &str, actual: &str) -> bool {
        match spec {
            "text" => actual.contains("Utf8"),
            "ts" => {
                actual.starts_with("Timestamp(")
                    && actual.contains("UTC")
                    && (actual.contains("Microsecond") || actual.contains("µs"))
            }
            "date" => actual == "Date32",
            "int" => actual == "Int64",
            "money4" => actual.contains("Decimal128(18, 4)"),
            "money2" => actual.contains("Decimal128(18, 2)"),
            "bool" => actual == "Boolean",
            "float" => actual == "Float64",
            other => panic!("unknown spec type {other}"),
        }
    }

    #[test]
    fn the_parser_reads_names_and_types_and_skips_what_is_in_parentheses() {
        let got = columns(
            "`cdr_id` text (unique), `record_type` (`VOICE_MO`, `other`), `start_time` ts, `charge` (money4), `x` (a `y` here)",
        );
        let want: Vec<Column> = vec![
            ("cdr_id".into(), Some("text".into())),
            ("record_type".into(), None),
            ("start_time".into(), Some("ts".into())),
            ("charge".into(), Some("money4".into())),
            ("x".into(), None),
        ];
        assert_eq!(got, want);
    }
}

/// bronze.tariff_destination with one prefix.
fn destinations(prefix: &str, zone: &str) -> arrow::record_batch::RecordBatch {
    use std::sync::Arc;
    arrow::record_batch::RecordBatch::try_from_iter(vec![
        (
            "prefix",
            Arc::new(arrow::array::StringArray::from(vec![prefix])) as arrow::array::ArrayRef,
        ),
        (
            "zone",
            Arc::new(arrow::array::StringArray::from(vec![zone])) as arrow::array::ArrayRef,
        ),
    ])
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_zone_follows_the_tariff_table_version_whatever_the_query_says() {
    use cdrlake_catalog::{Lakehouse, LakehouseConfig, WriteMode};
    let dir = tempfile::tempdir().unwrap();
    let config = LakehouseConfig::local(dir.path().join("lake").to_str().unwrap());
    let lakehouse = std::sync::Arc::new(Lakehouse::init(config).await.unwrap().0);
    let write = |zone: &'static str| {
        let lakehouse = lakehouse.clone();
        async move {
            lakehouse
                .write_batches(
                    "bronze",
                    "tariff_destination",
                    vec![destinations("+2126", zone)],
                    WriteMode::Overwrite,
                )
                .await
                .unwrap();
        }
    };
    let engine = cdrlake::engine::Engine::new(lakehouse.clone())
        .await
        .unwrap();
    let zone = |sql: &'static str| {
        let engine = &engine;
        async move {
            let batches = engine.sql(sql).await.unwrap();
            arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string()
        }
    };
    // No tariff yet: the function says it has no table; then the first version is loaded.
    let missing = engine
        .sql("SELECT destination_zone('+212612345678')")
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("tariff_destination"), "{missing}");
    write("MA_MOBILE").await;
    assert!(
        zone("SELECT destination_zone('+212612345678') AS z")
            .await
            .contains("MA_MOBILE")
    );

    // A view calls the function; the query naming only the view sees each new tariff version.
    engine
        .register_view(
            "gold",
            "zoned",
            "SELECT destination_zone('+212612345678') AS z",
        )
        .await
        .unwrap();
    write("MA_PREMIUM").await;
    assert!(
        zone("SELECT z FROM gold.zoned")
            .await
            .contains("MA_PREMIUM")
    );
    write("HIGH_RISK").await;
    assert!(zone("SELECT z FROM gold.zoned").await.contains("HIGH_RISK"));
}

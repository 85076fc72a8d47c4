//! The model runner on a small project (`tests/project`): every materialization, seeds,
//! selectors, data tests, lineage, system tables and each error case, through the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use cdrlake_catalog::{Lakehouse, LakehouseConfig, WriteMode};
use common::{assert_clean_error, cdrlake, copy_dir, stdout};

/// Calls `ids`, ingested at `hour` o'clock on 2026-04-06 (UTC). Odd ids go off-net.
fn bronze_calls(ids: std::ops::Range<i64>, hour: i64) -> RecordBatch {
    let n = ids.clone().count();
    let ingested = 1_775_433_600_000_000i64 + hour * 3_600_000_000; // 2026-04-06T00:00Z
    RecordBatch::try_from_iter(vec![
        (
            "call_id",
            Arc::new(Int64Array::from_iter_values(ids.clone())) as ArrayRef,
        ),
        (
            "served_msisdn",
            Arc::new(StringArray::from_iter_values(
                ids.clone().map(|i| format!("+2126100000{:02}", i % 5)),
            )),
        ),
        (
            "other_party",
            Arc::new(StringArray::from_iter_values(ids.clone().map(|i| {
                if i % 2 == 0 {
                    "+212661234567"
                } else {
                    "+212700000000"
                }
            }))),
        ),
        // Call 3 has no duration and is filtered out by the view.
        (
            "duration_s",
            Arc::new(Int64Array::from_iter_values(
                ids.clone().map(|i| if i == 3 { 0 } else { 60 * (i + 1) }),
            )),
        ),
        (
            "_ingested_at",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(vec![ingested; n]).with_timezone("UTC"),
            ),
        ),
    ])
    .unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// A lakehouse with bronze.calls (ids 0..6) and a copy of the test project in `sql/`.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &PathBuf::from(
                std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
            )
            .join("tests/project"),
            &dir.path().join("sql"),
        );
        let f = Self { dir };
        f.append(0..6, 1);
        f
    }

    fn cwd(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self) -> LakehouseConfig {
        LakehouseConfig::local(self.cwd().join("lakehouse").to_str().unwrap())
    }

    fn append(&self, ids: std::ops::Range<i64>, hour: i64) {
        let config = self.config();
        rt().block_on(async move {
            let (lh, _) = Lakehouse::init(config).await.unwrap();
            lh.write_batches(
                "bronze",
                "calls",
                vec![bronze_calls(ids, hour)],
                WriteMode::Append,
            )
            .await
            .unwrap();
        });
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        cdrlake(self.cwd(), args, &[])
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "cdrlake {args:?} failed:\n{}{}",
            stdout(&o),
            common::stderr(&o)
        );
        stdout(&o)
    }

    fn csv(&self, sql: &str) -> String {
        self.ok(&["query", "--format", "csv", sql])
    }

    fn version(&self, table: &str) -> u64 {
        let (schema, name) = table.split_once('.').unwrap();
        let config = self.config();
        rt().block_on(async move {
            Lakehouse::connect(config)
                .await
                .unwrap()
                .table_info(schema, name)
                .await
                .unwrap()
                .version
        })
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.cwd().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn run_builds_every_materialization_in_order_and_records_it() {
    let f = Fixture::new();
    let out = f.ok(&["run"]);
    let order: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with('['))
        .map(|l| l.split(' ').nth(2).unwrap())
        .collect();
    assert_eq!(
        order,
        vec![
            "bronze.rates",
            "gold.top_callers",
            "silver.calls_clean",
            "silver.calls_rated",
            "gold.usage_by_zone"
        ],
        "{out}"
    );
    assert!(out.contains("done: 5 ok, 0 failed, 0 skipped"), "{out}");

    // The seed has its declared types; the view and tables are queryable from a new process.
    assert_eq!(
        f.csv("SELECT arrow_typeof(rate_per_min) AS t, arrow_typeof(valid_from) AS d FROM bronze.rates LIMIT 1"),
        "t,d\n\"Decimal128(18, 4)\",Date32\n"
    );
    assert_eq!(
        f.csv("SELECT count(*) AS n FROM silver.calls_clean"),
        "n\n5\n"
    );
    assert_eq!(
        f.csv("SELECT zone, calls, seconds, revenue FROM gold.usage_by_zone ORDER BY zone"),
        "zone,calls,seconds,revenue\nMA_MOBILE,2,480,9.6000\nMA_ONNET,3,540,4.5000\n"
    );

    // A view reads the latest bronze without a re-run.
    f.append(10..11, 2);
    assert_eq!(
        f.csv("SELECT count(*) AS n FROM silver.calls_clean"),
        "n\n6\n"
    );

    let runs = f.csv(
        "SELECT model, materialization, status, rows, inputs FROM system.model_runs ORDER BY model",
    );
    assert!(runs.contains("bronze.rates,seed,success,2,{}"), "{runs}");
    assert!(
        runs.contains("gold.top_callers,table,success,5,\"{\"\"bronze.calls\"\":0}\""),
        "{runs}"
    );
    assert!(
        runs.contains("silver.calls_rated,incremental,success,5,"),
        "{runs}"
    );
    assert!(
        runs.contains("bronze.rates\"\":"),
        "a model records the version of every table it reads: {runs}"
    );
}

#[test]
fn incremental_merges_new_rows_and_a_rerun_changes_nothing() {
    let f = Fixture::new();
    f.ok(&["run"]);
    let v1 = f.version("silver.calls_rated");

    let out = f.ok(&["run", "--select", "silver.calls_rated"]);
    assert!(out.contains("no new or changed rows"), "{out}");
    assert_eq!(
        f.version("silver.calls_rated"),
        v1,
        "a re-run with no new input commits nothing"
    );

    // A new batch two hours later, and a late row inside the one-hour lookback.
    f.append(6..9, 3);
    f.append(9..10, 2);
    let out = f.ok(&["run", "--select", "silver.calls_rated+"]);
    assert!(out.contains("4 rows, 4 inserted, 0 updated"), "{out}");
    assert_eq!(f.version("silver.calls_rated"), v1 + 1, "one merge commit");
    assert_eq!(
        f.csv("SELECT count(*) AS n, count(DISTINCT call_id) AS k FROM silver.calls_rated"),
        "n,k\n9,9\n"
    );
    assert_eq!(
        f.csv("SELECT sum(calls) AS c FROM gold.usage_by_zone"),
        "c\n9\n",
        "descendants were rebuilt"
    );

    let out = f.ok(&["run", "--select", "silver.calls_rated", "--full-refresh"]);
    assert!(out.contains("full refresh"), "{out}");
    assert_eq!(
        f.csv("SELECT count(*) AS n FROM silver.calls_rated"),
        "n\n9\n"
    );
}

#[test]
fn files_of_a_first_write_that_never_committed_do_not_stop_the_next_run() {
    let f = Fixture::new();
    f.ok(&["run"]);
    let expected = f.csv("SELECT count(*) AS n FROM silver.calls_rated");
    // What a run killed during the table's first write leaves: data files, no log.
    let table = f.cwd().join("lakehouse/silver/calls_rated");
    std::fs::remove_dir_all(table.join("_delta_log")).unwrap();
    assert!(std::fs::read_dir(&table).unwrap().next().is_some());
    let out = f.ok(&["run", "--select", "silver.calls_rated"]);
    assert!(out.contains("silver.calls_rated (incremental) OK"), "{out}");
    assert_eq!(
        f.csv("SELECT count(*) AS n FROM silver.calls_rated"),
        expected
    );
}

#[test]
fn selectors_choose_nodes() {
    let f = Fixture::new();
    let built = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with('['))
            .map(|l| l.split(' ').nth(2).unwrap().to_string())
            .collect()
    };
    assert_eq!(
        built(&f.ok(&["run", "-s", "+silver.calls_rated"])),
        vec!["bronze.rates", "silver.calls_clean", "silver.calls_rated"]
    );
    assert_eq!(
        built(&f.ok(&["run", "-s", "silver.calls_clean+"])),
        vec![
            "silver.calls_clean",
            "silver.calls_rated",
            "gold.usage_by_zone"
        ]
    );
    assert_eq!(
        built(&f.ok(&["run", "-s", "gold.*"])),
        vec!["gold.top_callers", "gold.usage_by_zone"]
    );
    assert_eq!(
        built(&f.ok(&["run", "-s", "bronze.rates", "gold.top_callers"])),
        vec!["bronze.rates", "gold.top_callers"]
    );
    assert_clean_error(
        &f.run(&["run", "-s", "gold.nothing"]),
        &["selector 'gold.nothing' matches no model or seed"],
    );
}

#[test]
fn data_tests_pass_fail_and_are_recorded() {
    let f = Fixture::new();
    f.ok(&["run"]);
    let out = f.ok(&["test"]);
    assert!(out.contains("8 passed, 0 failed, 0 warned"), "{out}");
    assert!(
        out.contains("PASS silver.calls_rated relationships(zone, bronze.rates.zone)"),
        "{out}"
    );
    assert!(out.contains("PASS tests/revenue_matches_calls"), "{out}");

    // Break data: a zone with no rate, and a duplicate id through a second bronze row.
    f.write(
        "sql/silver/calls_clean.sql",
        &std::fs::read_to_string(f.cwd().join("sql/silver/calls_clean.sql"))
            .unwrap()
            .replace("'MA_MOBILE' END", "'MA_OTHER' END"),
    );
    f.write(
        "sql/tests/warn_only.sql",
        "-- @severity: warn\nSELECT * FROM silver.calls_clean WHERE duration_s > 100\n",
    );
    // The run checks the view it built: the failure stops the run, the warning does not.
    let o = f.run(&["run", "-s", "silver.calls_clean"]);
    assert!(stdout(&o).contains("silver.calls_clean (view) ERROR: sql/silver/calls_clean.sql: built, but 1 test(s) failed: silver.calls_clean accepted_values"), "{}", stdout(&o));
    assert_clean_error(&o, &["1 model(s) failed"]);
    let o = f.run(&["test", "-s", "silver.calls_clean"]);
    let out = stdout(&o);
    assert!(out.contains("FAIL silver.calls_clean accepted_values(zone, 'MA_ONNET', 'MA_MOBILE') (2 failing rows)"), "{out}");
    assert!(
        out.contains("WARN tests/warn_only (4 failing rows)"),
        "{out}"
    );
    assert!(
        !out.contains("calls_rated unique"),
        "only the selected model's tests run: {out}"
    );
    assert_clean_error(&o, &["1 data test(s) failed"]);

    let recorded = f.csv(
        "SELECT status, count(*) AS n FROM system.test_results GROUP BY status ORDER BY status",
    );
    // 8 passes in the first run and 8 in the first test command; then twice (run, test):
    // calls_clean's not_null passes, accepted_values fails, warn_only warns.
    assert_eq!(recorded, "status,n\nfail,2\npass,18\nwarn,2\n");
}

#[test]
fn unique_finds_repeated_keys_and_repeated_nulls() {
    let f = Fixture::new();
    f.write(
        "sql/silver/keys.sql",
        "-- @materialized: table\n-- @test: unique(id)\n-- @test: unique(k)\n-- @test: unique(k, id)\n\
         SELECT * FROM (VALUES (1, 'a'), (2, 'a'), (3, CAST(NULL AS VARCHAR)), (4, NULL), (5, 'b'), (6, 'c')) AS t(id, k)\n",
    );
    // A table's tests are gates: the duplicates fail it before it is published.
    let o = f.run(&["run", "-s", "silver.keys"]);
    assert!(!o.status.success(), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("PASS silver.keys unique(id)"), "{out}");
    assert!(out.contains("PASS silver.keys unique(k, id)"), "{out}");
    // 'a' twice and null twice; 'b' and 'c' once.
    assert!(
        out.contains("FAIL silver.keys unique(k) (2 failing rows)"),
        "{out}"
    );
}

#[test]
fn a_failing_gate_keeps_the_published_table_and_skips_what_reads_it() {
    let f = Fixture::new();
    f.write(
        "sql/gold/zone_share.sql",
        "-- @materialized: table\nSELECT zone, calls FROM gold.usage_by_zone\n",
    );
    f.ok(&["run"]);
    let before = f.version("gold.usage_by_zone");
    let published = f.csv("SELECT zone, calls FROM gold.usage_by_zone ORDER BY zone");

    // New rows that fail the model's own gate `expression(calls > 0)`; the published rows pass it,
    // so only a check of the staged rows can catch this.
    let model = f.cwd().join("sql/gold/usage_by_zone.sql");
    f.write(
        "sql/gold/usage_by_zone.sql",
        &std::fs::read_to_string(&model)
            .unwrap()
            .replace("count(*) AS calls", "count(*) - 3 AS calls"),
    );
    let o = f.run(&["run"]);
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "gold.usage_by_zone (table) ERROR: sql/gold/usage_by_zone.sql: not published, 1 gate(s) failed: gold.usage_by_zone expression(calls > 0) (2 failing rows); gold.usage_by_zone stays at version {before}"
        )),
        "{out}"
    );
    assert!(
        out.contains("FAIL gold.usage_by_zone expression(calls > 0) (2 failing rows)"),
        "{out}"
    );
    assert!(
        out.contains("gold.zone_share (table) SKIPPED (upstream gold.usage_by_zone did not build)"),
        "{out}"
    );
    assert_clean_error(&o, &["1 model(s) failed, 1 skipped"]);
    assert_eq!(f.version("gold.usage_by_zone"), before);
    assert_eq!(
        f.csv("SELECT zone, calls FROM gold.usage_by_zone ORDER BY zone"),
        published
    );
    let gate = f.csv("SELECT status, failing_rows FROM system.test_results WHERE test = 'gold.usage_by_zone expression(calls > 0)' ORDER BY checked_at");
    assert_eq!(gate, "status,failing_rows\npass,0\nfail,2\n");
}

#[test]
fn lineage_and_compile() {
    let f = Fixture::new();
    let mermaid = f.ok(&["lineage"]);
    assert!(mermaid.starts_with("graph LR\n"), "{mermaid}");
    for edge in [
        "bronze_calls --> silver_calls_clean",
        "bronze_rates --> silver_calls_rated",
        "silver_calls_rated --> gold_usage_by_zone",
    ] {
        assert!(mermaid.contains(edge), "{edge} missing:\n{mermaid}");
    }
    assert!(
        mermaid.contains("bronze_calls[(\"bronze.calls\")]"),
        "sources are drawn as stores:\n{mermaid}"
    );
    let dot = f.ok(&["lineage", "--format", "dot"]);
    assert!(
        dot.contains("\"silver.calls_clean\" -> \"silver.calls_rated\";"),
        "{dot}"
    );

    f.ok(&["run", "-s", "+silver.calls_clean"]);
    let compiled = f.ok(&["compile", "silver.calls_clean"]);
    assert!(compiled.contains("-- reads: bronze.calls"), "{compiled}");
    assert!(
        compiled.contains("-- logical plan") && compiled.contains("TableScan: bronze.calls"),
        "{compiled}"
    );
}

#[test]
fn errors_name_the_model_file_and_position() {
    let f = Fixture::new();
    f.ok(&["run"]);

    f.write(
        "sql/gold/ghost.sql",
        "-- @materialized: table\nSELECT *\nFROM   bronze.nowhere\n",
    );
    let o = f.run(&["run"]);
    let path = f.cwd().join("sql/gold/ghost.sql");
    assert_clean_error(
        &o,
        &[
            "sql/gold/ghost.sql:3:8: gold.ghost reads bronze.nowhere",
            "not a model, a seed or a table",
        ],
    );
    std::fs::remove_file(&path).unwrap();

    f.write("sql/silver/a.sql", "SELECT * FROM silver.b");
    f.write("sql/silver/b.sql", "SELECT * FROM silver.a");
    let err = assert_clean_error(
        &f.run(&["run"]),
        &["dependency cycle:", "silver.a", "silver.b"],
    );
    assert!(!err.contains("gold"), "{err}");
    std::fs::remove_file(f.cwd().join("sql/silver/a.sql")).unwrap();
    std::fs::remove_file(f.cwd().join("sql/silver/b.sql")).unwrap();

    f.write(
        "sql/gold/broken.sql",
        "-- @materialized: table\nSELECT zone\nFROM silver.calls_rated WHERE zone = ) OR true\n",
    );
    assert_clean_error(
        &f.run(&["run"]),
        &[
            "sql/gold/broken.sql: SQL error",
            "found: ) at Line: 3, Column: 38",
        ],
    );
    std::fs::remove_file(f.cwd().join("sql/gold/broken.sql")).unwrap();

    // A model that fails at plan time: its descendants are skipped, other branches run, and
    // its table keeps its previous version.
    let before = f.version("silver.calls_rated");
    let rated = f.cwd().join("sql/silver/calls_rated.sql");
    let good = std::fs::read_to_string(&rated).unwrap();
    std::fs::write(
        &rated,
        good.replace(
            "c.duration_s * r.rate_per_min",
            "c.duration_s * r.no_such_column",
        ),
    )
    .unwrap();
    let o = f.run(&["run"]);
    let out = stdout(&o);
    assert!(
        out.contains("silver.calls_rated (incremental) ERROR:") && out.contains("no_such_column"),
        "{out}"
    );
    assert!(
        out.contains(
            "gold.usage_by_zone (table) SKIPPED (upstream silver.calls_rated did not build)"
        ),
        "{out}"
    );
    assert!(out.contains("gold.top_callers (table) OK"), "{out}");
    assert_clean_error(&o, &["1 model(s) failed, 1 skipped"]);
    assert_eq!(
        f.version("silver.calls_rated"),
        before,
        "nothing half-written"
    );
    let runs = f.csv(
        "SELECT model, status FROM system.model_runs WHERE status <> 'success' ORDER BY model",
    );
    assert_eq!(
        runs,
        "model,status\ngold.usage_by_zone,skipped\nsilver.calls_rated,error\n"
    );

    // A failure while executing (not planning) leaves the table as it was too.
    std::fs::write(&rated, good).unwrap();
    f.write(
        "sql/gold/top_callers.sql",
        "-- @materialized: table\nSELECT served_msisdn, CAST(served_msisdn AS INT) AS n FROM bronze.calls\n",
    );
    let before = f.version("gold.top_callers");
    let o = f.run(&["run", "-s", "gold.top_callers"]);
    assert!(
        stdout(&o).contains("gold.top_callers (table) ERROR:"),
        "{}",
        stdout(&o)
    );
    assert_eq!(f.version("gold.top_callers"), before);
    assert_eq!(
        f.csv("SELECT count(*) AS n FROM gold.top_callers"),
        "n\n5\n"
    );
}

#[test]
fn system_tables_accept_nulls_after_a_first_run_without_any() {
    let f = Fixture::new();
    // First record: a table with a row count and no error; then a view (no row count) and a failure.
    f.ok(&["run", "-s", "gold.top_callers"]);
    f.ok(&["run", "-s", "silver.calls_clean"]);
    f.write(
        "sql/gold/bad.sql",
        "-- @materialized: table\nSELECT nope FROM bronze.calls\n",
    );
    assert_eq!(f.run(&["run", "-s", "gold.bad"]).status.code(), Some(1));
    let runs = f.csv("SELECT model, status, rows IS NULL AS no_rows, error IS NULL AS no_error FROM system.model_runs ORDER BY started_at");
    assert_eq!(
        runs,
        "model,status,no_rows,no_error\ngold.top_callers,success,false,true\nsilver.calls_clean,success,true,true\ngold.bad,error,true,false\n"
    );
}

/// For every Parquet file of a table directory: whether `column` has a dictionary page and
/// whether it has min/max statistics, in any row group.
fn column_encoding(table_dir: &Path, column: &str) -> Vec<(bool, bool)> {
    std::fs::read_dir(table_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| {
            let reader =
                parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&p).unwrap())
                    .unwrap();
            let meta = parquet::file::reader::FileReader::metadata(&reader);
            let index = meta
                .file_metadata()
                .schema_descr()
                .columns()
                .iter()
                .position(|c| c.name() == column)
                .unwrap();
            let dictionary = meta
                .row_groups()
                .iter()
                .any(|rg| rg.column(index).dictionary_page_offset().is_some());
            let statistics = meta.row_groups().iter().any(|rg| {
                rg.column(index)
                    .statistics()
                    .is_some_and(|s| s.min_bytes_opt().is_some())
            });
            (dictionary, statistics)
        })
        .collect()
}

#[test]
fn no_dictionary_and_no_statistics_columns_are_written_so_and_an_unknown_one_is_an_error() {
    let f = Fixture::new();
    let model = f.cwd().join("sql/silver/calls_rated.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    let settings =
        "-- @unique_key: call_id\n-- @no_dictionary: call_id\n-- @no_statistics: served_msisdn\n";
    f.write(
        "sql/silver/calls_rated.sql",
        &text.replacen("-- @unique_key: call_id\n", settings, 1),
    );
    f.ok(&["run", "--select", "+silver.calls_rated"]);
    f.append(6..9, 3);
    f.ok(&["run", "--select", "silver.calls_rated"]);
    let table = f.cwd().join("lakehouse/silver/calls_rated");
    let call_id = column_encoding(&table, "call_id");
    assert!(
        call_id.len() >= 2
            && call_id
                .iter()
                .all(|(dictionary, stats)| !dictionary && *stats),
        "build and merge files write call_id plain, with statistics: {call_id:?}"
    );
    let msisdn = column_encoding(&table, "served_msisdn");
    assert!(
        msisdn
            .iter()
            .all(|(dictionary, stats)| *dictionary && !stats),
        "served_msisdn keeps its dictionary, without statistics: {msisdn:?}"
    );
    assert!(
        column_encoding(&table, "zone")
            .iter()
            .all(|e| *e == (true, true)),
        "other columns keep both"
    );
    let filtered =
        f.csv("SELECT count(*) AS n FROM silver.calls_rated WHERE served_msisdn = '+212610000001'");
    assert_eq!(filtered, f.csv("SELECT count(*) AS n FROM silver.calls_rated WHERE concat(served_msisdn, '') = '+212610000001'"), "a filter on it finds the same rows");
    assert_ne!(filtered, "n\n0\n");

    let v = f.version("silver.calls_rated");
    for (setting, message) in [
        (
            "-- @no_dictionary: call_idd\n",
            "@no_dictionary names 'call_idd'",
        ),
        (
            "-- @no_statistics: msisdn\n",
            "@no_statistics names 'msisdn'",
        ),
    ] {
        f.write(
            "sql/silver/calls_rated.sql",
            &text.replacen(
                "-- @unique_key: call_id\n",
                &format!("-- @unique_key: call_id\n{setting}"),
                1,
            ),
        );
        let out = f.run(&["run", "--select", "silver.calls_rated", "--full-refresh"]);
        assert!(!out.status.success());
        assert!(
            stdout(&out).contains(message) || common::stderr(&out).contains(message),
            "{}{}",
            stdout(&out),
            common::stderr(&out)
        );
        assert_eq!(f.version("silver.calls_rated"), v, "the table is unchanged");
    }
}

#[test]
fn set_options_hold_for_their_model_only_and_a_typo_fails_at_load() {
    let f = Fixture::new();
    // Identifier normalization off: the column keeps its capitals. The second model reads the
    // first, so it is built after it, when the option must be back to DataFusion's default.
    let option = "datafusion.sql_parser.enable_ident_normalization";
    f.write(
        "sql/gold/with_set.sql",
        &format!("-- @materialized: table\n-- @set: {option} = false\nSELECT 1 AS MixedCase\n"),
    );
    f.write(
        "sql/gold/without_set.sql",
        "-- @materialized: table\nSELECT 2 AS MixedCase FROM gold.with_set\n",
    );
    f.ok(&["run", "--select", "gold.with_set+"]);
    assert_eq!(f.csv("SELECT * FROM gold.with_set"), "MixedCase\n1\n");
    assert_eq!(f.csv("SELECT * FROM gold.without_set"), "mixedcase\n2\n");

    f.write(
        "sql/gold/with_set.sql",
        &format!("-- @materialized: table\n-- @set: {option}s = false\nSELECT 1 AS MixedCase\n"),
    );
    let out = f.run(&["run", "--select", "gold.with_set"]);
    let text = format!("{}{}", stdout(&out), common::stderr(&out));
    assert!(
        !out.status.success()
            && text.contains("line 2")
            && text.contains("enable_ident_normalizations"),
        "{text}"
    );
}

#[test]
fn a_model_over_the_memory_limit_is_retried_in_one_partition_then_fails_naming_it() {
    let f = Fixture::new();
    f.write(
        "sql/gold/heavy.sql",
        "-- @materialized: table\nSELECT 1 AS n\n",
    );
    f.ok(&["run", "--select", "gold.heavy"]);
    let version = f.version("gold.heavy");
    // An aggregate that must hold ~24 MB and cannot spill, in a run limited to 8 MB.
    f.write(
        "sql/gold/heavy.sql",
        "-- @materialized: table\nSELECT array_length(array_agg(value)) AS n FROM generate_series(1, 3000000)\n",
    );
    let out = f.run(&["run", "--select", "gold.heavy", "--memory-limit", "8M"]);
    let text = format!("{}{}", stdout(&out), common::stderr(&out));
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("gold.heavy")
            && text.contains("ran out of memory, and again in one partition")
            && text.contains("--memory-limit"),
        "{text}"
    );
    assert_eq!(
        f.version("gold.heavy"),
        version,
        "the failed build committed"
    );
    assert_eq!(f.csv("SELECT n FROM gold.heavy"), "n\n1\n");
    // Without the limit it builds.
    f.ok(&["run", "--select", "gold.heavy"]);
    assert_eq!(f.csv("SELECT n FROM gold.heavy"), "n\n3000000\n");
}

#[test]
fn staged_ctes_are_computed_once_with_since_bound_and_an_unknown_one_fails_at_load() {
    let f = Fixture::new();
    // random() differs at every evaluation: the two reads of `fresh` agree only if it was computed once.
    let model = "-- @materialized: incremental\n-- @unique_key: call_id\n-- @watermark: _ingested_at\n-- @stage: fresh\n\
        WITH fresh AS (\n    SELECT call_id, _ingested_at, random() AS draw FROM bronze.calls WHERE _ingested_at > $since\n)\n\
        SELECT a.call_id, a._ingested_at, a.draw = b.draw AS same_draw\nFROM fresh a JOIN fresh b ON a.call_id = b.call_id\n";
    f.write("sql/gold/staged.sql", model);
    f.ok(&["run", "--select", "gold.staged"]);
    assert_eq!(
        f.csv("SELECT count(*) AS n, bool_and(same_draw) AS same FROM gold.staged"),
        "n,same\n6,true\n"
    );

    // The next batch: the staged CTE holds only rows after $since, and the merge reads it too.
    f.append(6..9, 3);
    let out = f.ok(&["run", "--select", "gold.staged"]);
    assert!(out.contains("3 rows, 3 inserted, 0 updated"), "{out}");
    assert_eq!(
        f.csv("SELECT count(*) AS n, bool_and(same_draw) AS same FROM gold.staged"),
        "n,same\n9,true\n"
    );

    // Without @stage DataFusion computes the CTE at each read: the check above can fail.
    f.write(
        "sql/gold/staged.sql",
        &model.replace("-- @stage: fresh\n", ""),
    );
    f.ok(&["run", "--select", "gold.staged", "--full-refresh"]);
    assert_eq!(
        f.csv("SELECT bool_or(same_draw) AS same FROM gold.staged"),
        "same\nfalse\n"
    );

    f.write(
        "sql/gold/staged.sql",
        &model.replace("@stage: fresh", "@stage: frsh"),
    );
    let out = f.run(&["run", "--select", "gold.staged"]);
    let text = format!("{}{}", stdout(&out), common::stderr(&out));
    assert!(
        !out.status.success()
            && text.contains("staged.sql")
            && text.contains("no CTE named 'frsh'")
            && text.contains("(it has: fresh)"),
        "{text}"
    );
}

#[test]
fn a_bind_reads_the_rows_staged_for_the_query_and_a_cte_naming_a_bind_is_staged_after_it() {
    let f = Fixture::new();
    // `best` is the highest random draw of `fresh`: exactly one call has it only if the bind read
    // the staged rows (computing the CTE again would draw new numbers). `top` names $best, so it
    // is staged once `best` is known, and before `second`, which reads it: exactly one call has
    // the highest of top's own draws only if `second` and the query read the same rows.
    let model = "-- @materialized: incremental\n-- @unique_key: call_id\n-- @watermark: _ingested_at\n\
        -- @stage: fresh, top\n-- @bind: best = SELECT max(draw) FROM fresh\n\
        -- @bind: second = SELECT max(again) FROM top\n\
        WITH fresh AS (\n    SELECT call_id, _ingested_at, random() AS draw FROM bronze.calls WHERE _ingested_at > $since\n),\n\
        top AS (SELECT call_id, random() AS again FROM fresh WHERE draw <= $best)\n\
        SELECT f.call_id, f._ingested_at, f.draw = $best AS best, t.again = $second AS second\n\
        FROM fresh f LEFT JOIN top t ON f.call_id = t.call_id\n";
    f.write("sql/gold/best.sql", model);
    f.ok(&["run", "--select", "gold.best"]);
    let best = "SELECT count(*) AS n, count(*) FILTER (WHERE best) AS best, count(*) FILTER (WHERE second) AS second FROM gold.best";
    assert_eq!(f.csv(best), "n,best,second\n6,1,1\n");

    f.append(6..9, 3);
    let out = f.ok(&["run", "--select", "gold.best"]);
    assert!(out.contains("3 rows, 3 inserted, 0 updated"), "{out}");
    assert_eq!(f.csv(best), "n,best,second\n9,2,2\n");
}

#[test]
fn a_run_with_nothing_new_rewrites_no_table_and_a_change_rebuilds_only_what_reads_it() {
    let f = Fixture::new();
    f.ok(&["run"]);
    let tables = [
        "bronze.rates",
        "gold.top_callers",
        "silver.calls_rated",
        "gold.usage_by_zone",
    ];
    let versions = |f: &Fixture| tables.map(|t| f.version(t));
    let built = versions(&f);

    // Nothing new: no model table gets a new version, and the gates are still checked.
    let out = f.ok(&["run"]);
    assert_eq!(versions(&f), built, "{out}");
    assert!(
        out.contains("gold.top_callers (table) OK") && out.contains("up to date"),
        "{out}"
    );
    assert!(out.contains("unique(zone)"), "the tests still run: {out}");

    // A changed seed is written again; what reads it only as far as its own output changes.
    let seed = std::fs::read_to_string(f.cwd().join("sql/seeds/bronze.rates.csv")).unwrap();
    f.write(
        "sql/seeds/bronze.rates.csv",
        &format!("{seed}MA_INTL,3.0000,2026-01-01\n"),
    );
    f.ok(&["run"]);
    let after_seed = versions(&f);
    assert_eq!(after_seed[0], built[0] + 1, "the seed is rewritten");
    assert_eq!(after_seed[1..], built[1..], "nothing reading only calls is");

    // New calls: the table models reading them are rebuilt.
    f.append(6..8, 3);
    f.ok(&["run"]);
    let after_calls = versions(&f);
    assert_eq!(after_calls[0], after_seed[0], "the seed did not change");
    assert_eq!(
        after_calls[1],
        after_seed[1] + 1,
        "top_callers reads the calls"
    );
    assert_eq!(
        after_calls[3],
        after_seed[3] + 1,
        "usage_by_zone reads the merged calls"
    );
    assert_eq!(
        f.csv("SELECT sum(calls) AS c FROM gold.usage_by_zone"),
        "c\n7\n"
    );

    // A changed model definition is rebuilt; --full-refresh rebuilds every table.
    let model = f.cwd().join("sql/gold/top_callers.sql");
    let sql = std::fs::read_to_string(&model).unwrap();
    f.write(
        "sql/gold/top_callers.sql",
        &sql.replace("GROUP BY", "WHERE duration_s > 0\nGROUP BY"),
    );
    f.ok(&["run"]);
    assert_eq!(f.version("gold.top_callers"), after_calls[1] + 1);
    assert_eq!(f.version("gold.usage_by_zone"), after_calls[3]);
    f.ok(&["run", "--full-refresh"]);
    assert_eq!(f.version("gold.usage_by_zone"), after_calls[3] + 1);
}

/// The rows a run's data tests read, from its output ("read N rows (M by tests)"): what the
/// tests' scans yield (a filter the scan applies itself yields fewer).
fn by_tests(out: &str) -> u64 {
    let (_, after) = out.split_once("read ").expect("rows read");
    let (_, after) = after.split_once(" rows (").expect("rows read");
    after.split(" by tests").next().unwrap().parse().unwrap()
}

#[test]
fn an_incremental_builds_tests_check_the_rows_its_commit_added_and_a_full_refresh_all() {
    let f = Fixture::new();
    f.write(
        "sql/silver/short_calls.sql",
        "-- @materialized: incremental\n-- @unique_key: call_id\n-- @watermark: _ingested_at\n\
         -- @test: expression(duration_s < 600)\n-- @test: unique(call_id)\n\
         SELECT call_id, duration_s, _ingested_at FROM bronze.calls WHERE _ingested_at > $since\n",
    );
    let first = f.ok(&["run", "-s", "silver.short_calls"]);
    assert!(
        by_tests(&first) >= 6,
        "a first build tests all 6 rows: {first}"
    );

    // Three new calls (420, 480, 540 s): only they are tested.
    f.append(6..9, 3);
    let out = f.ok(&["run", "-s", "silver.short_calls"]);
    assert!(out.contains("3 inserted, 0 updated"), "{out}");
    assert!(by_tests(&out) <= 6, "two tests of the 3 new rows: {out}");
    assert!(
        out.contains("PASS silver.short_calls expression(duration_s < 600)"),
        "{out}"
    );

    // Nothing new: that commit passed its tests in the last run, so none reads it again.
    let out = f.ok(&["run", "-s", "silver.short_calls"]);
    assert!(
        out.contains("no new or changed rows; its rows passed their tests at this version"),
        "{out}"
    );
    assert_eq!(by_tests(&out), 0, "{out}");

    // Two more, 600 and 660 s: the tests of the new commit find them.
    f.append(9..11, 4);
    let o = f.run(&["run", "-s", "silver.short_calls"]);
    let out = stdout(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("FAIL silver.short_calls expression(duration_s < 600) (2 failing rows)"),
        "{out}"
    );
    assert!(
        out.contains("PASS silver.short_calls unique(call_id)"),
        "{out}"
    );

    // Nothing new after the failure: the failed commit is tested again, and fails again.
    let o = f.run(&["run", "-s", "silver.short_calls"]);
    let out = stdout(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("(2 failing rows)"), "{out}");

    // A full refresh tests the whole table again: all 11 rows, the same 2 failing.
    let o = f.run(&["run", "-s", "silver.short_calls", "--full-refresh"]);
    let out = stdout(&o);
    assert!(out.contains("(2 failing rows)"), "{out}");
    assert!(by_tests(&out) >= 11, "the whole table: {out}");
}

#[test]
fn a_merges_tests_check_the_rows_it_wrote_not_the_rows_it_copied() {
    let f = Fixture::new();
    f.write(
        "sql/silver/calls_seen.sql",
        "-- @materialized: incremental\n-- @unique_key: call_id\n-- @watermark: _ingested_at\n\
         -- @test: unique(call_id)\n\
         SELECT call_id, duration_s, _ingested_at FROM bronze.calls WHERE _ingested_at > $since\n",
    );
    f.ok(&["run", "-s", "silver.calls_seen"]);
    // Call 0 delivered again, later: the merge updates it and rewrites the file holding all six
    // calls. Its test reads that one row, not the six (a test whose condition the scan applies
    // itself, as `expression`, yields only failing rows either way).
    f.append(0..1, 5);
    let out = f.ok(&["run", "-s", "silver.calls_seen"]);
    assert!(out.contains("0 inserted, 1 updated"), "{out}");
    assert_eq!(by_tests(&out), 1, "{out}");
    assert!(
        out.contains("PASS silver.calls_seen unique(call_id)"),
        "{out}"
    );
}

#[test]
fn binds_are_computed_before_the_query_and_the_target_filter_bounds_the_merge() {
    let f = Fixture::new();
    // $first_new: the lowest call of the new batch. The model re-emits the two calls before it
    // and promises (@target_filter) that only stored calls from $first_new on share its keys.
    f.write(
        "sql/silver/windowed.sql",
        "-- @materialized: incremental\n-- @unique_key: call_id\n-- @watermark: _ingested_at\n\
         -- @bind: first_new = SELECT min(call_id) FROM bronze.calls WHERE _ingested_at > $since\n\
         -- @bind: first_read = SELECT $first_new - 2\n\
         -- @target_filter: call_id >= $first_new\n\
         SELECT call_id, max(_ingested_at) AS _ingested_at, CAST($first_new AS BIGINT) AS bound\n\
         FROM bronze.calls WHERE call_id >= $first_read GROUP BY call_id\n",
    );
    f.ok(&["run", "-s", "silver.windowed"]);
    assert_eq!(
        f.csv("SELECT count(*) AS n, max(bound) AS bound FROM silver.windowed"),
        "n,bound\n6,0\n"
    );

    // Calls 6..9 arrive: $first_new is 6, so calls 4 and 5 are re-emitted with bound 6. The
    // stored 4 and 5 lie outside the target filter: the merge does not read them and inserts
    // second rows, which shows that the filter bounded both the comparison and the merge.
    f.append(6..9, 3);
    let out = f.ok(&["run", "-s", "silver.windowed"]);
    assert!(out.contains("5 rows, 5 inserted, 0 updated"), "{out}");
    assert_eq!(
        f.csv(
            "SELECT call_id, count(*) AS n, max(bound) AS bound FROM silver.windowed \
             WHERE call_id >= 4 GROUP BY call_id ORDER BY call_id"
        ),
        "call_id,n,bound\n4,2,6\n5,2,6\n6,1,6\n7,1,6\n8,1,6\n"
    );

    // A bind query that fails names the model and the bind.
    f.write(
        "sql/silver/windowed.sql",
        "-- @materialized: incremental\n-- @unique_key: call_id\n\
         -- @bind: broken = SELECT nope FROM bronze.calls\nSELECT call_id FROM bronze.calls\n",
    );
    let o = f.run(&["run", "-s", "silver.windowed"]);
    let text = format!("{}{}", stdout(&o), common::stderr(&o));
    assert!(
        !o.status.success() && text.contains("silver.windowed: @bind broken"),
        "{text}"
    );
}

#[test]
fn a_macro_is_rendered_into_the_models_that_call_it_and_changing_it_rebuilds_them() {
    let f = Fixture::new();
    f.write(
        "sql/macros/calls.sql",
        "{% macro longer_than(seconds) %}duration_s > {{ seconds }}{% endmacro %}",
    );
    f.write(
        "sql/gold/long_calls.sql",
        "-- @materialized: table\n{% from \"macros/calls.sql\" import longer_than %}\nSELECT count(*) AS calls FROM bronze.calls WHERE {{ longer_than(150) }}\n",
    );
    f.ok(&["run"]);
    // Durations 60 * (id + 1) for ids 0..6, id 3 none: 180, 300 and 360 are over 150.
    assert_eq!(f.csv("SELECT calls FROM gold.long_calls"), "calls\n3\n");
    let compiled = f.ok(&["compile", "gold.long_calls"]);
    assert!(compiled.contains("WHERE duration_s > 150"), "{compiled}");
    let built = f.version("gold.long_calls");

    // The macro is part of the model's definition: a change to it alone rebuilds the model.
    f.write(
        "sql/macros/calls.sql",
        "{% macro longer_than(seconds) %}duration_s >= {{ seconds }}{% endmacro %}",
    );
    f.ok(&["run", "--select", "gold.long_calls"]);
    assert_eq!(f.version("gold.long_calls"), built + 1);

    // A misspelt argument is an error naming the model file and the line, not an empty string.
    f.write(
        "sql/gold/long_calls.sql",
        "-- @materialized: table\n{% from \"macros/calls.sql\" import longer_than %}\nSELECT count(*) AS calls FROM bronze.calls WHERE {{ longer_than(secs) }}\n",
    );
    let out = f.run(&["run"]);
    assert_clean_error(
        &out,
        &["gold/long_calls.sql", "undefined", "long_calls.sql:3"],
    );
    assert_eq!(f.version("gold.long_calls"), built + 1);
}

/// Collects a run's events as the lines they print.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<String>>);

impl cdrlake::models::progress::ProgressSink for Recorded {
    fn event(&self, event: &cdrlake::models::progress::Event<'_>) {
        self.0.lock().unwrap().push(event.to_string());
    }
}

#[test]
fn a_run_reports_each_node_to_the_progress_its_caller_gives_it() {
    use cdrlake::models::progress::Progress;
    use cdrlake::models::{Project, RunOptions, runner};

    let f = Fixture::new();
    let recorded = Arc::new(Recorded::default());
    let config = f.config();
    let project = Project::load(&f.cwd().join("sql")).unwrap();
    let report = rt().block_on(async {
        let (lakehouse, _) = Lakehouse::init(config).await.unwrap();
        let engine = cdrlake::engine::Engine::new(Arc::new(lakehouse))
            .await
            .unwrap();
        let options = RunOptions {
            progress: Progress(recorded.clone()),
            ..RunOptions::default()
        };
        runner::run(&engine, &project, &options).await.unwrap()
    });
    let lines = recorded.0.lock().unwrap().clone();
    let text = lines.join("\n");
    assert_eq!(
        lines.first().unwrap(),
        &format!("run {}: 5 node(s)", report.run_id)
    );
    assert_eq!(lines.last().unwrap(), "done: 5 ok, 0 failed, 0 skipped");
    // Each node is announced, then reported with its outcome and its tests, in build order.
    let started: Vec<&String> = lines.iter().filter(|l| l.ends_with(" ...")).collect();
    let finished: Vec<&String> = lines.iter().filter(|l| l.contains(") OK in ")).collect();
    assert_eq!((started.len(), finished.len()), (5, 5), "{text}");
    assert!(
        started[2].starts_with("[3/5] model silver.calls_clean (view)"),
        "{text}"
    );
    let rated = lines
        .iter()
        .position(|l| l.starts_with("[4/5] model silver.calls_rated (incremental) OK in"))
        .expect(&text);
    assert!(
        lines[rated + 1].starts_with("      [1/3] PASS silver.calls_rated unique(call_id)"),
        "{text}"
    );
}

#[test]
fn two_runs_at_once_leave_consistent_tables_or_one_is_refused_clearly() {
    let f = Fixture::new();
    f.append(6..400, 2);
    let outputs: Vec<std::process::Output> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| f.run(&["run", "--full-refresh"])))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert!(
        outputs.iter().any(|o| o.status.success()),
        "at least one run completes: {}",
        common::stderr(&outputs[0])
    );
    for o in outputs.iter().filter(|o| !o.status.success()) {
        assert_clean_error(o, &["the lakehouse is busy", "'models' lease"]);
    }
    // Whatever the interleaving, every table is whole: the tests pass and a run finds it so.
    let tests = f.ok(&["test"]);
    assert!(!tests.contains("FAIL"), "{tests}");
    assert_eq!(
        f.csv("SELECT count(*) AS n FROM silver.calls_rated"),
        "n\n399\n"
    );
    let again = f.ok(&["run"]);
    assert!(again.contains("done: 5 ok, 0 failed, 0 skipped"), "{again}");
}

//! The real `cdrlake` binary: init, query, tables, history, output formats, and clean errors.

mod common;

use std::path::Path;

use cdrlake_catalog::{Lakehouse, LakehouseConfig, WriteMode};
use common::{TestS3, assert_clean_error, calls, cdrlake, stdout};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn seed(config: LakehouseConfig) {
    rt().block_on(async {
        let (lh, _) = Lakehouse::init(config).await.unwrap();
        lh.write_batches("bronze", "calls", vec![calls(0..2)], WriteMode::Append)
            .await
            .unwrap();
        lh.write_batches("bronze", "calls", vec![calls(2..4)], WriteMode::Append)
            .await
            .unwrap();
    });
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "cdrlake failed: {}", common::stderr(o));
    stdout(o)
}

#[test]
fn local_init_query_tables_history() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    // Default root is ./lakehouse in the working directory.
    let out = ok(&cdrlake(cwd, &["init"], &[]));
    assert!(out.contains("lakehouse ready"), "{out}");
    for schema in ["bronze", "silver", "gold", "system"] {
        assert!(cwd.join("lakehouse").join(schema).is_dir());
    }
    seed(LakehouseConfig::local(
        cwd.join("lakehouse").to_str().unwrap(),
    ));

    let csv = ok(&cdrlake(
        cwd,
        &[
            "query",
            "--format",
            "csv",
            "SELECT call_id, served_msisdn, charge FROM bronze.calls ORDER BY call_id",
        ],
        &[],
    ));
    assert_eq!(
        csv,
        "call_id,served_msisdn,charge\n0,+212610000000,1.2345\n1,+212610000001,2.4690\n2,+212610000002,3.7035\n3,+212610000003,4.9380\n"
    );

    let json = ok(&cdrlake(
        cwd,
        &[
            "query",
            "--format",
            "json",
            "SELECT count(*) AS n FROM bronze.calls",
        ],
        &[],
    ));
    assert_eq!(json.trim(), "[{\"n\":4}]");
    // An empty CDRLAKE_ENGINE (compose passes unset variables so) means this process.
    let local = ok(&cdrlake(
        cwd,
        &[
            "query",
            "--format",
            "json",
            "SELECT count(*) AS n FROM bronze.calls",
        ],
        &[("CDRLAKE_ENGINE", String::new())],
    ));
    assert_eq!(local.trim(), "[{\"n\":4}]");

    let table = ok(&cdrlake(cwd, &["tables"], &[]));
    let row = table
        .lines()
        .find(|l| l.contains("calls"))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(&cells[1..6], &["bronze", "calls", "1", "4", "2"], "{table}");

    let history = ok(&cdrlake(
        cwd,
        &["history", "bronze.calls", "--format", "csv"],
        &[],
    ));
    let versions: Vec<&str> = history
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(versions, vec!["1", "0"], "{history}");
    assert!(history.contains("WRITE"), "{history}");

    // Parquet to a file, read back.
    let file = cwd.join("out.parquet");
    ok(&cdrlake(
        cwd,
        &[
            "query",
            "--format",
            "parquet",
            "-o",
            file.to_str().unwrap(),
            "SELECT * FROM bronze.calls",
        ],
        &[],
    ));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 4);
}

#[test]
fn config_file_and_flag_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::write(
        cwd.join("cdrlake.toml"),
        "[lakehouse]\nroot = \"./from-file\"\n",
    )
    .unwrap();
    ok(&cdrlake(cwd, &["init"], &[]));
    assert!(
        cwd.join("from-file/bronze").is_dir(),
        "cdrlake.toml root is used"
    );
    ok(&cdrlake(
        cwd,
        &["init"],
        &[("CDRLAKE_LAKEHOUSE", "./from-env".into())],
    ));
    assert!(
        cwd.join("from-env/bronze").is_dir(),
        "the environment overrides the file"
    );
    ok(&cdrlake(
        cwd,
        &["--lakehouse", "./from-flag", "init"],
        &[("CDRLAKE_LAKEHOUSE", "./from-env".into())],
    ));
    assert!(
        cwd.join("from-flag/bronze").is_dir(),
        "the flag overrides the environment"
    );
}

#[test]
fn s3_init_and_query() {
    let s3 = TestS3::start();
    let dir = tempfile::tempdir().unwrap();
    let env = s3.env();
    let out = ok(&cdrlake(
        dir.path(),
        &["--lakehouse", "s3://cli-lake/cdr", "init"],
        &env,
    ));
    assert!(out.contains("created bucket"), "{out}");
    assert!(s3.root.path().join("cli-lake").is_dir());
    seed(s3.config("s3://cli-lake/cdr"));
    let csv = ok(&cdrlake(
        dir.path(),
        &[
            "--lakehouse",
            "s3://cli-lake/cdr",
            "query",
            "--format",
            "csv",
            "SELECT sum(duration_s) AS s FROM bronze.calls",
        ],
        &env,
    ));
    assert_eq!(csv, "s\n246\n", "60+61+62+63");
    let tables = ok(&cdrlake(
        dir.path(),
        &[
            "--lakehouse",
            "s3://cli-lake/cdr",
            "tables",
            "bronze",
            "--format",
            "csv",
        ],
        &env,
    ));
    assert!(
        tables
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("bronze,calls,1,4,2,"),
        "{tables}"
    );
    // A second init is harmless.
    let out = ok(&cdrlake(
        dir.path(),
        &["--lakehouse", "s3://cli-lake/cdr", "init"],
        &env,
    ));
    assert!(!out.contains("created bucket"), "{out}");
}

#[test]
fn s3_errors_are_one_clear_line() {
    let s3 = TestS3::start();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let env = s3.env();
    ok(&cdrlake(
        cwd,
        &["--lakehouse", "s3://ok-bucket", "init"],
        &env,
    ));

    let o = cdrlake(cwd, &["--lakehouse", "s3://no-such-bucket", "tables"], &env);
    assert_clean_error(&o, &["no-such-bucket", "does not exist", "cdrlake init"]);

    let mut wrong = env.clone();
    wrong.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    wrong.push(("AWS_SECRET_ACCESS_KEY", "wrong".into()));
    let o = cdrlake(
        cwd,
        &["--lakehouse", "s3://ok-bucket", "query", "SELECT 1"],
        &wrong,
    );
    assert_clean_error(&o, &["refused the credentials", "ok-bucket"]);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let o = cdrlake(
        cwd,
        &[
            "--lakehouse",
            "s3://ok-bucket",
            "--s3-endpoint",
            &endpoint,
            "tables",
        ],
        &env,
    );
    assert_clean_error(&o, &["cannot reach S3 endpoint", &endpoint]);
}

#[test]
fn local_errors_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    ok(&cdrlake(cwd, &["init"], &[]));
    seed(LakehouseConfig::local(
        cwd.join("lakehouse").to_str().unwrap(),
    ));
    let stray = cwd.join("lakehouse/silver/not_delta");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("part.csv"), "x\n").unwrap();

    assert_clean_error(
        &cdrlake(cwd, &["query", "SELECT * FROM bronze.missing"], &[]),
        &["bronze.missing", "not found"],
    );
    // `-o json` is a format name given as the output file: refused, no file named json.
    let trap = cdrlake(cwd, &["query", "SELECT 1 AS a", "-o", "json"], &[]);
    assert!(!trap.status.success());
    assert!(
        common::stderr(&trap).contains("use --format json"),
        "{}",
        common::stderr(&trap)
    );
    assert!(!cwd.join("json").exists());
    ok(&cdrlake(
        cwd,
        &["query", "SELECT 1 AS a", "-o", "./json"],
        &[],
    ));
    assert!(cwd.join("json").exists(), "a path names the file it is");
    assert_clean_error(
        &cdrlake(cwd, &["query", "SELECT * FROM platinum.calls"], &[]),
        &["unknown schema 'platinum'"],
    );
    assert_clean_error(
        &cdrlake(cwd, &["query", "SELECT * FROM hive.bronze.calls"], &[]),
        &["unknown catalog 'hive'"],
    );
    assert_clean_error(
        &cdrlake(cwd, &["query", "SELECT * FROM silver.not_delta"], &[]),
        &["not_delta is not a Delta table"],
    );
    let err = assert_clean_error(
        &cdrlake(cwd, &["query", "SELEC * FROM bronze.calls"], &[]),
        &["SELEC", "Line: 1, Column: 1"],
    );
    assert_eq!(
        err.matches("Expected").count(),
        1,
        "the parser message appears once: {err}"
    );
    assert_clean_error(
        &cdrlake(cwd, &["query", "SELECT nope FROM bronze.calls"], &[]),
        &["nope"],
    );
    assert_clean_error(
        &cdrlake(cwd, &["history", "bronze.missing"], &[]),
        &["bronze.missing does not exist"],
    );
    assert_clean_error(
        &cdrlake(cwd, &["history", "platinum.x"], &[]),
        &["unknown schema 'platinum'"],
    );
    assert_clean_error(
        &cdrlake(cwd, &["tables", "platinum"], &[]),
        &["unknown schema 'platinum'"],
    );
    assert_clean_error(
        &cdrlake(cwd, &["--lakehouse", "./nowhere", "tables"], &[]),
        &["nowhere", "does not exist"],
    );
    assert_clean_error(
        &cdrlake(cwd, &["--lakehouse", "gs://x", "tables"], &[]),
        &["gs://x"],
    );
    assert_clean_error(
        &cdrlake(cwd, &["query", "--format", "parquet", "SELECT 1"], &[]),
        &["--output"],
    );
    std::fs::write(cwd.join("bad.toml"), "[lakehouse]\nrooot = 1\n").unwrap();
    assert_clean_error(
        &cdrlake(cwd, &["--config", "bad.toml", "tables"], &[]),
        &["bad.toml", "rooot"],
    );
    assert!(
        Path::new(&cwd.join("lakehouse/bronze/calls/_delta_log")).is_dir(),
        "errors changed nothing"
    );
}

#[test]
fn sql_writes_stream_count_their_rows_and_a_failing_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    ok(&cdrlake(cwd, &["init"], &[]));
    let query = |sql: &str| cdrlake(cwd, &["query", sql], &[]);
    let created = ok(&query(
        "CREATE TABLE gold.notes AS SELECT CAST(value AS INT) AS id, 'n' || value AS note FROM generate_series(1, 50000)",
    ));
    assert!(
        created.contains("50000 row(s) affected in gold.notes"),
        "{created}"
    );
    let inserted = ok(&query(
        "INSERT INTO gold.notes (note, id) SELECT 'late', CAST(value AS INT) FROM generate_series(50001, 50003)",
    ));
    assert!(inserted.contains("3 row(s) affected"), "{inserted}");
    let history = |cwd: &Path| ok(&cdrlake(cwd, &["history", "gold.notes"], &[]));
    let versions = history(cwd);

    // The error is the query's own (not delta-rs's wrapper), raised mid-write after rows were produced.
    let err = assert_clean_error(
        &query(
            "INSERT INTO gold.notes SELECT CAST(value AS INT), CAST(10 / (value - 40000) AS VARCHAR) FROM generate_series(1, 60000)",
        ),
        &["gold.notes", "Divide by zero"],
    );
    assert!(
        !err.contains("Arrow schema") && !err.contains("Generic DeltaTable"),
        "{err}"
    );
    assert_eq!(history(cwd), versions, "no commit");
    let rows = ok(&cdrlake(
        cwd,
        &[
            "query",
            "--format",
            "csv",
            "SELECT count(*) AS n, max(id) AS top FROM gold.notes",
        ],
        &[],
    ));
    assert_eq!(rows, "n,top\n50003,50003\n");
    let replaced = ok(&query(
        "CREATE OR REPLACE TABLE gold.notes AS SELECT 1 AS id WHERE false",
    ));
    assert!(replaced.contains("0 row(s) affected"), "{replaced}");
    assert_eq!(
        ok(&cdrlake(
            cwd,
            &[
                "query",
                "--format",
                "csv",
                "SELECT count(*) AS n FROM gold.notes"
            ],
            &[]
        )),
        "n\n0\n"
    );
}

#[test]
fn vacuum_on_s3_deletes_only_replaced_files_and_guards_the_retention() {
    let s3 = TestS3::start();
    let dir = tempfile::tempdir().unwrap();
    let env = s3.env();
    let run = |args: &[&str]| {
        let mut all = vec!["--lakehouse", "s3://vac-lake/cdr"];
        all.extend_from_slice(args);
        cdrlake(dir.path(), &all, &env)
    };
    ok(&run(&["init"]));
    ok(&run(&["query", "CREATE TABLE gold.t AS SELECT 1 AS id"]));
    ok(&run(&[
        "query",
        "CREATE OR REPLACE TABLE gold.t AS SELECT 2 AS id",
    ]));
    let table_dir = s3.root.path().join("vac-lake/cdr/gold/t");
    let is_parquet = |e: &std::io::Result<std::fs::DirEntry>| {
        e.as_ref()
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "parquet")
    };
    let parquet = || {
        std::fs::read_dir(&table_dir)
            .unwrap()
            .filter(is_parquet)
            .count()
    };
    assert_eq!(parquet(), 2);

    assert!(
        ok(&run(&["vacuum", "gold.t"])).contains("gold.t: 0 file(s) deleted"),
        "inside the default retention"
    );
    assert_clean_error(
        &run(&["vacuum", "gold.t", "--retain-hours", "0"]),
        &["gold.t", "168 hours", "--force"],
    );
    let planned = ok(&run(&[
        "vacuum",
        "gold.t",
        "--retain-hours",
        "0",
        "--force",
        "--dry-run",
    ]));
    assert!(
        planned.contains("gold.t: 1 file(s) would be deleted") && planned.contains(".parquet"),
        "{planned}"
    );
    assert_eq!(parquet(), 2, "a dry run deletes nothing");
    assert!(
        ok(&run(&[
            "vacuum",
            "gold.t",
            "--retain-hours",
            "0",
            "--force"
        ]))
        .contains("gold.t: 1 file(s) deleted")
    );
    assert_eq!(parquet(), 1);
    assert_eq!(
        ok(&run(&["query", "--format", "csv", "SELECT id FROM gold.t"])),
        "id\n2\n"
    );
}

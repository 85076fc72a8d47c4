//! The catalog over both backends: a local directory and a real S3 server on loopback.

mod common;

use std::sync::Arc;

use arrow::array::{AsArray, Int64Array};
use arrow::datatypes::{DataType, Int64Type};
use cdrlake::engine::Engine;
use cdrlake_catalog::{CatalogError, Lakehouse, LakehouseConfig, WriteMode};
use common::{TestS3, calls};

fn single_i64(batches: &[arrow::record_batch::RecordBatch]) -> i64 {
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// Create, append from a second instance, query without restart, time travel, history, tables.
async fn lifecycle(config: LakehouseConfig) {
    let (first, _) = Lakehouse::init(config.clone()).await.expect("init");
    let first = Arc::new(first);
    let engine = Engine::new(first.clone()).await.expect("engine");

    first
        .write_batches("bronze", "calls", vec![calls(0..3)], WriteMode::Append)
        .await
        .expect("create");
    // Another process: its own catalog instance on the same root.
    let second = Lakehouse::connect(config.clone()).await.expect("connect");
    second
        .write_batches("bronze", "calls", vec![calls(3..5)], WriteMode::Append)
        .await
        .expect("append");

    let b = engine
        .sql("SELECT count(*) FROM bronze.calls")
        .await
        .expect("count");
    assert_eq!(
        single_i64(&b),
        5,
        "the first engine sees the second instance's commit"
    );

    let b = engine
        .sql("SELECT sum(charge) AS total FROM cdrlake.bronze.calls")
        .await
        .expect("sum");
    assert!(
        matches!(
            b[0].schema().field(0).data_type(),
            DataType::Decimal128(_, 4)
        ),
        "money stays decimal"
    );
    let total = datafusion::arrow::util::display::array_value_to_string(b[0].column(0), 0).unwrap();
    assert_eq!(total, "18.5175", "1.2345 * (1+2+3+4+5)");

    let b = engine
        .sql("SELECT count(*) FROM bronze.\"calls@0\"")
        .await
        .expect("time travel");
    assert_eq!(single_i64(&b), 3, "version 0 holds the first commit only");

    assert_eq!(
        second.list_tables("bronze").await.unwrap(),
        vec!["calls".to_string()]
    );
    let info = second.table_info("bronze", "calls").await.unwrap();
    assert_eq!((info.version, info.rows, info.files), (1, Some(5), 2));
    assert!(info.size_bytes > 0 && info.last_modified.is_some());

    let history = second.history("bronze", "calls").await.unwrap();
    assert_eq!(
        history.iter().map(|c| c.version).collect::<Vec<_>>(),
        vec![1, 0]
    );
    assert!(
        history.iter().all(|c| c.operation == "WRITE"),
        "{history:?}"
    );

    // Overwrite replaces rows in one commit; the old version stays readable.
    second
        .write_batches("bronze", "calls", vec![calls(10..11)], WriteMode::Overwrite)
        .await
        .expect("overwrite");
    let b = engine
        .sql("SELECT call_id FROM bronze.calls")
        .await
        .unwrap();
    assert_eq!(
        b[0].column(0).as_primitive::<Int64Type>(),
        &Int64Array::from(vec![10])
    );
    let b = engine
        .sql("SELECT count(*) FROM bronze.\"calls@1\"")
        .await
        .unwrap();
    assert_eq!(single_i64(&b), 5);

    // information_schema lists lakehouse tables once the catalog is refreshed.
    engine.catalog().refresh().await.unwrap();
    let b = engine
        .sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'bronze'")
        .await
        .unwrap();
    assert_eq!(b[0].column(0).as_string::<i32>().value(0), "calls");
}

/// Unknown table, unknown schema, a directory that is not Delta, bad SQL: each names the culprit.
async fn errors(config: LakehouseConfig, put_stray_file: impl AsyncFnOnce()) {
    let (lakehouse, _) = Lakehouse::init(config).await.expect("init");
    put_stray_file().await;
    let lakehouse = Arc::new(lakehouse);
    let engine = Engine::new(lakehouse.clone()).await.unwrap();

    let err = engine
        .sql("SELECT * FROM bronze.nope")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope") && err.contains("not found"), "{err}");

    let err = engine
        .sql("SELECT * FROM platinum.x")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown schema 'platinum'"), "{err}");

    let err = engine
        .sql("SELECT * FROM bronze.raw_drop")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bronze/raw_drop is not a Delta table"),
        "{err}"
    );
    let err = lakehouse
        .open_table("bronze", "raw_drop", None)
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::NotADeltaTable { .. }), "{err}");

    let err = engine.sql("SELEC 1").await.unwrap_err().to_string();
    assert!(err.contains("SELEC"), "{err}");
    assert!(
        lakehouse.list_tables("bronze").await.unwrap().is_empty(),
        "a stray file is not a table"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_directory_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    lifecycle(LakehouseConfig::local(
        dir.path().join("lake").to_str().unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_lifecycle() {
    let s3 = TestS3::start();
    lifecycle(s3.config("s3://lake/prod")).await;
    // The bucket was created by init and the table lives under the prefix.
    assert!(
        s3.root
            .path()
            .join("lake/prod/bronze/calls/_delta_log")
            .is_dir()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_directory_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let stray = root.join("bronze/raw_drop");
    errors(
        LakehouseConfig::local(root.to_str().unwrap()),
        async move || {
            std::fs::create_dir_all(&stray).unwrap();
            std::fs::write(stray.join("cdrs.csv"), "a,b\n1,2\n").unwrap();
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_errors() {
    let s3 = TestS3::start();
    // s3s-fs keeps each object as a file under <root>/<bucket>/<key>.
    let stray = s3.root.path().join("errs/bronze/raw_drop");
    errors(s3.config("s3://errs"), async move || {
        std::fs::create_dir_all(&stray).unwrap();
        std::fs::write(stray.join("cdrs.csv"), "a,b\n1,2\n").unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_connection_problems_are_named() {
    let s3 = TestS3::start();
    Lakehouse::init(s3.config("s3://present"))
        .await
        .expect("init");

    let err = Lakehouse::connect(s3.config("s3://absent"))
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::NoSuchBucket { .. }), "{err}");
    assert!(
        err.to_string().contains("bucket 'absent' does not exist"),
        "{err}"
    );

    let mut wrong = s3.config("s3://present");
    wrong.s3.secret_access_key = Some("not-the-secret".into());
    let err = Lakehouse::connect(wrong).await.unwrap_err();
    assert!(matches!(err, CatalogError::AccessDenied { .. }), "{err}");

    // A loopback port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut unreachable = s3.config("s3://present");
    unreachable.s3.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let err = Lakehouse::connect(unreachable).await.unwrap_err();
    assert!(matches!(err, CatalogError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

/// Independent writers appending to one S3 table at once: conditional put makes each commit
/// land on its own version, so no rows are lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_concurrent_appends_lose_nothing() {
    let s3 = TestS3::start();
    let config = s3.config("s3://race");
    let (first, _) = Lakehouse::init(config.clone()).await.unwrap();
    first
        .write_batches("bronze", "calls", vec![calls(0..1)], WriteMode::Append)
        .await
        .unwrap();

    let writers = 4;
    let appends = 3;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let lakehouse = Lakehouse::connect(config).await.unwrap();
            for a in 0..appends {
                let start = 100 + (w * appends + a) * 10;
                lakehouse
                    .write_batches(
                        "bronze",
                        "calls",
                        vec![calls(start..start + 10)],
                        WriteMode::Append,
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let info = first.table_info("bronze", "calls").await.unwrap();
    assert_eq!(
        info.version,
        (writers * appends) as u64,
        "one version per commit"
    );
    assert_eq!(
        info.rows,
        Some(1 + (writers * appends * 10) as u64),
        "no commit overwrote another"
    );
    let engine = Engine::new(Arc::new(first)).await.unwrap();
    let b = engine
        .sql("SELECT count(DISTINCT call_id) FROM bronze.calls")
        .await
        .unwrap();
    assert_eq!(single_i64(&b), 1 + writers * appends * 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_memory_limit_bounds_the_pool() {
    use datafusion::execution::memory_pool::MemoryLimit;
    let dir = tempfile::tempdir().unwrap();
    let (lakehouse, _) = Lakehouse::init(LakehouseConfig::local(
        dir.path().join("lake").to_str().unwrap(),
    ))
    .await
    .unwrap();
    let engine = Engine::with_memory_limit(Arc::new(lakehouse), Some(8 << 20))
        .await
        .unwrap();
    assert!(
        matches!(engine.ctx().runtime_env().memory_pool.memory_limit(), MemoryLimit::Finite(n) if n == 8 << 20)
    );
    // An aggregate that must hold ~24 MB cannot spill: it fails cleanly instead of exhausting the host.
    let err = engine
        .sql("SELECT array_length(array_agg(value)) FROM generate_series(1, 3000000)")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Resources exhausted"), "{err}");
    // Small queries still run in the same pool.
    let b = engine
        .sql("SELECT count(*) FROM generate_series(1, 1000)")
        .await
        .unwrap();
    assert_eq!(single_i64(&b), 1000);
}

//! The one write path (`cdrlake_catalog::TableWrite`): every kind of commit, what it reports,
//! and that a refused or failed write leaves the table at its version. On a local directory and
//! on a real S3 server on loopback.

mod common;

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch};
use arrow::datatypes::Int64Type;
use cdrlake::engine::Engine;
use cdrlake_catalog::{
    CatalogError, CommitMetrics, Committed, Lakehouse, LakehouseConfig, MergeOn, WriteMode,
    WriteOptions,
};
use common::{TestS3, calls};
use datafusion::prelude::{col, lit};

async fn count(engine: &Engine) -> i64 {
    let b = engine
        .sql("SELECT count(*) FROM bronze.calls")
        .await
        .unwrap();
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

async fn duration_of(engine: &Engine, id: i64) -> i64 {
    let b = engine
        .sql(&format!(
            "SELECT duration_s FROM bronze.calls WHERE call_id = {id}"
        ))
        .await
        .unwrap();
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// `calls(ids)` with every duration set to `seconds`, to see which rows a merge took.
fn calls_lasting(ids: std::ops::Range<i64>, seconds: i64) -> RecordBatch {
    let batch = calls(ids);
    let n = batch.num_rows();
    let column = batch.schema().index_of("duration_s").unwrap();
    let mut columns = batch.columns().to_vec();
    columns[column] = Arc::new(Int64Array::from(vec![seconds; n])) as ArrayRef;
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

async fn merge_on_id(lakehouse: &Lakehouse, rows: RecordBatch, update_matched: bool) -> Committed {
    let write = lakehouse.write("bronze", "calls").await.unwrap();
    let on = MergeOn {
        keys: vec!["call_id".into()],
        target_filter: None,
        update_matched,
    };
    write.batches(vec![rows]).merge(on).await.unwrap()
}

async fn every_kind_of_commit(config: LakehouseConfig) {
    let (lakehouse, _) = Lakehouse::init(config).await.unwrap();
    let lakehouse = Arc::new(lakehouse);
    let engine = Engine::new(lakehouse.clone()).await.unwrap();
    let write = || lakehouse.write("bronze", "calls");

    let first = write()
        .await
        .unwrap()
        .batches(vec![calls(0..3)])
        .commit_metadata(vec![("cdrlake.test".into(), "first".into())])
        .commit()
        .await
        .unwrap();
    assert_eq!(first.version(), Some(0));
    assert_eq!(first.metrics.rows_added, 3);
    assert!(first.metrics.files_added >= 1);
    let (_, entry) = lakehouse
        .last_commit_entry("bronze", "calls", "cdrlake.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry, Some("first".into()), "commit metadata is recorded");

    // A DataFrame is streamed in with its own session.
    let df = engine.ctx().read_batch(calls(3..5)).unwrap();
    let streamed = write().await.unwrap().dataframe(df).commit().await.unwrap();
    assert_eq!(streamed.metrics.rows_added, 2);
    assert_eq!(count(&engine).await, 5);

    // Replace the rows a predicate selects: ids 3 and 4 become id 3 alone.
    let replaced = write()
        .await
        .unwrap()
        .batches(vec![calls(3..4)])
        .replace_where(col("call_id").gt_eq(lit(3i64)))
        .commit()
        .await
        .unwrap();
    assert_eq!(replaced.metrics.rows_added, 1);
    assert!(
        replaced.metrics.files_removed >= 1,
        "{:?}",
        replaced.metrics
    );
    assert_eq!(count(&engine).await, 4);

    // Merge updating matches: ids 2 and 3 change, 4 and 5 are new.
    let merged = merge_on_id(&lakehouse, calls_lasting(2..6, 999), true).await;
    assert_eq!(
        (merged.metrics.rows_added, merged.metrics.rows_updated),
        (2, 2),
        "{:?}",
        merged.metrics
    );
    assert_eq!(count(&engine).await, 6);
    assert_eq!(duration_of(&engine, 2).await, 999);
    assert_eq!(
        duration_of(&engine, 1).await,
        61,
        "an unmatched row is kept"
    );

    // Merge keeping matches: id 5 stays as stored, 6 is new.
    let kept = merge_on_id(&lakehouse, calls_lasting(5..7, 7), false).await;
    assert_eq!((kept.metrics.rows_added, kept.metrics.rows_updated), (1, 0));
    assert_eq!(duration_of(&engine, 5).await, 999);
    assert_eq!(duration_of(&engine, 6).await, 7);

    let session = Arc::new(engine.ctx().state());
    let deleted = write()
        .await
        .unwrap()
        .delete(Some("call_id < 2".into()), session)
        .await
        .unwrap();
    assert_eq!(deleted.metrics.rows_deleted, 2);
    assert_eq!(count(&engine).await, 5);
    let version = deleted.version();

    // A batch of other columns is refused; the table stays at its version.
    let other = RecordBatch::try_from_iter(vec![(
        "something_else",
        Arc::new(Int64Array::from(vec![1])) as ArrayRef,
    )])
    .unwrap();
    let refused = write().await.unwrap().batches(vec![other]).commit().await;
    assert!(refused.is_err(), "a write of other columns must fail");
    let info = lakehouse.table_info("bronze", "calls").await.unwrap();
    assert_eq!(Some(info.version), version);

    // An application transaction commits once.
    let once = || WriteOptions {
        app_transaction: Some(("feed-7".into(), 1)),
        ..Default::default()
    };
    let first = write()
        .await
        .unwrap()
        .batches(vec![calls(10..11)])
        .options(once())
        .commit()
        .await
        .unwrap();
    let again = write()
        .await
        .unwrap()
        .batches(vec![calls(10..11)])
        .options(once())
        .commit()
        .await;
    assert!(
        matches!(
            again,
            Err(CatalogError::TransactionCommitted { version: 1, .. })
        ),
        "{again:?}"
    );
    let info = lakehouse.table_info("bronze", "calls").await.unwrap();
    assert_eq!(Some(info.version), first.version());

    // Overwrite replaces rows and schema.
    let overwritten = write()
        .await
        .unwrap()
        .batches(vec![calls(0..2)])
        .mode(WriteMode::Overwrite)
        .commit()
        .await
        .unwrap();
    assert_eq!(overwritten.metrics.rows_added, 2);
    assert!(overwritten.metrics.files_removed >= 2);
    assert_eq!(
        overwritten.metrics,
        CommitMetrics {
            rows_added: 2,
            files_added: overwritten.metrics.files_added,
            files_removed: overwritten.metrics.files_removed,
            ..Default::default()
        },
        "an overwrite updates, copies and deletes no rows"
    );
    assert_eq!(count(&engine).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_directory_every_kind_of_commit() {
    let dir = tempfile::tempdir().unwrap();
    every_kind_of_commit(LakehouseConfig::local(
        dir.path().join("lake").to_str().unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_every_kind_of_commit() {
    let s3 = TestS3::start();
    every_kind_of_commit(s3.config("s3://writes")).await;
}

/// Every write caps Parquet row groups (`ROW_GROUP_ROWS`): a writer holds each open partition's
/// row group in memory, so the cap bounds what a partitioned write holds outside the query pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_groups_are_capped_on_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let (lakehouse, _) = Lakehouse::init(LakehouseConfig::local(root.to_str().unwrap()))
        .await
        .unwrap();
    let rows = 2 * cdrlake_catalog::ROW_GROUP_ROWS as i64 + 1000;
    lakehouse
        .write_batches(
            "bronze",
            "calls",
            vec![calls(0..rows)],
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
    let mut groups = Vec::new();
    for file in std::fs::read_dir(root.join("bronze").join("calls")).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|x| x == "parquet") {
            let reader = parquet::file::reader::SerializedFileReader::new(
                std::fs::File::open(&path).unwrap(),
            )
            .unwrap();
            let meta = parquet::file::reader::FileReader::metadata(&reader);
            groups.extend(meta.row_groups().iter().map(|rg| rg.num_rows()));
        }
    }
    assert_eq!(groups.iter().sum::<i64>(), rows, "{groups:?}");
    assert!(groups.len() >= 3, "{groups:?}");
    assert!(
        groups
            .iter()
            .all(|&n| n <= cdrlake_catalog::ROW_GROUP_ROWS as i64),
        "{groups:?}"
    );
}

/// Files written by another process (a cluster's executors) become the table's content in one
/// commit that also replaces its columns; a commit that cannot count the files' rows is refused
/// and leaves the table at its version.
async fn files_written_elsewhere_replace_the_table(config: LakehouseConfig) {
    let (lakehouse, _) = Lakehouse::init(config).await.unwrap();
    let lakehouse = Arc::new(lakehouse);
    let engine = Engine::new(lakehouse.clone()).await.unwrap();
    lakehouse
        .write_batches("bronze", "calls", vec![calls(0..100)], WriteMode::Overwrite)
        .await
        .unwrap();
    let narrow = calls(100..150)
        .project(&[
            calls(0..1).schema().index_of("call_id").unwrap(),
            calls(0..1).schema().index_of("duration_s").unwrap(),
        ])
        .unwrap();
    let (_, stored) = cdrlake_catalog::delta_columns(&narrow.schema()).unwrap();
    let store = lakehouse
        .table_for_write("bronze", "calls")
        .await
        .unwrap()
        .object_store();
    let config = deltalake::datafile::writer::WriterConfig::new(
        stored.clone(),
        vec![],
        None,
        None,
        None,
        Default::default(),
        None,
    );
    let mut writer = deltalake::datafile::writer::DeltaWriter::new(store, config);
    writer.write(&narrow).await.unwrap();
    let adds = writer.close().await.unwrap();

    let mut unstated = adds[0].clone();
    unstated.stats = None;
    let refused = lakehouse
        .overwrite_with_files(
            "bronze",
            "calls",
            &stored,
            vec![unstated],
            WriteOptions::default(),
        )
        .await;
    assert!(
        refused.unwrap_err().to_string().contains("no row count"),
        "a file without statistics is refused"
    );
    assert_eq!(
        count(&engine).await,
        100,
        "the refused commit changed nothing"
    );

    let committed = lakehouse
        .overwrite_with_files(
            "bronze",
            "calls",
            &stored,
            adds,
            WriteOptions {
                commit_metadata: vec![("cdrlake.test".into(), serde_json::json!(7))],
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(committed.version(), Some(1));
    assert_eq!(committed.metrics.rows_added, 50);
    assert_eq!(committed.metrics.files_added, 1);
    assert!(committed.metrics.files_removed >= 1);
    assert_eq!(count(&engine).await, 50);
    let columns = engine
        .sql("SELECT * FROM bronze.calls LIMIT 1")
        .await
        .unwrap()[0]
        .schema();
    let names: Vec<&str> = columns.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["call_id", "duration_s"]);
    let expected = calls(120..121);
    let expected = expected
        .column_by_name("duration_s")
        .unwrap()
        .as_primitive::<Int64Type>()
        .value(0);
    assert_eq!(duration_of(&engine, 120).await, expected);
    let entry = lakehouse
        .last_commit_entry("bronze", "calls", "cdrlake.test")
        .await
        .unwrap();
    assert_eq!(entry, Some((1, Some(serde_json::json!(7)))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_directory_files_written_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    files_written_elsewhere_replace_the_table(LakehouseConfig::local(
        dir.path().join("lake").to_str().unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_files_written_elsewhere() {
    let s3 = TestS3::start();
    files_written_elsewhere_replace_the_table(s3.config("s3://elsewhere")).await;
}

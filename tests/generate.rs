//! `cdrlake generate`: reproducible, contract-shaped bronze data.

mod common;

use std::path::Path;

use cdrlake::contract::{bronze_event_columns, BRONZE_EVENT_TABLES, METADATA_COLUMNS};
use common::{cdrlake, stdout};

fn generate(cwd: &Path, lake: &str, seed: &str) {
    let o = cdrlake(cwd, &["--lakehouse", lake, "generate", "--customers", "120", "--days", "2", "--seed", seed], &[]);
    assert!(o.status.success(), "{}{}", stdout(&o), common::stderr(&o));
    assert!(stdout(&o).contains("CDRs/s"), "a summary with rates: {}", stdout(&o));
}

fn csv(cwd: &Path, lake: &str, sql: &str) -> String {
    let o = cdrlake(cwd, &["--lakehouse", lake, "query", "--format", "csv", sql], &[]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    stdout(&o)
}

/// Every row of every generated table, in row-number order.
fn dump(cwd: &Path, lake: &str) -> String {
    let mut all = String::new();
    for (table, _) in BRONZE_EVENT_TABLES {
        all += &csv(cwd, lake, &format!("SELECT * FROM bronze.{table} ORDER BY _row_number"));
    }
    all + &csv(cwd, lake, "SELECT * FROM bronze.cell ORDER BY cell_id")
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    generate(cwd, "./a", "7");
    generate(cwd, "./b", "7");
    generate(cwd, "./c", "8");
    let a = dump(cwd, "./a");
    assert!(a.lines().count() > 5_000, "a real amount of data");
    assert!(a == dump(cwd, "./b"), "same seed and options: identical rows");
    assert!(a != dump(cwd, "./c"), "another seed: other data");
    // Running again into the same lakehouse replaces the data rather than doubling it.
    let before = csv(cwd, "./a", "SELECT count(*) AS n FROM bronze.voice_cdr");
    generate(cwd, "./a", "7");
    assert_eq!(csv(cwd, "./a", "SELECT count(*) AS n FROM bronze.voice_cdr"), before);
}

#[test]
fn tables_have_the_contract_columns_and_sound_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    generate(cwd, "./lake", "1");
    for (table, columns) in BRONZE_EVENT_TABLES {
        let got = csv(
            cwd,
            "./lake",
            &format!("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'bronze' AND table_name = '{table}' ORDER BY ordinal_position"),
        );
        let names: Vec<&str> = got.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
        let mut expected: Vec<&str> = columns.to_vec();
        expected.extend(METADATA_COLUMNS);
        assert_eq!(names, expected, "bronze.{table}");
        let types: Vec<&str> = got.lines().skip(1).take(columns.len()).map(|l| l.split(',').nth(1).unwrap()).collect();
        assert!(types.iter().all(|t| t.starts_with("Utf8")), "bronze.{table} event fields are text: {types:?}");
        // _row_number runs 1..n without gaps.
        let rn = csv(cwd, "./lake", &format!("SELECT count(*) = max(_row_number) AND min(_row_number) = 1 AS ok FROM bronze.{table}"));
        assert_eq!(rn, "ok\ntrue\n", "bronze.{table}");
    }
    assert_eq!(bronze_event_columns("voice_cdr").unwrap().len(), 17);
    let cell = csv(cwd, "./lake", "SELECT arrow_typeof(latitude) AS t, count(*) > 40 AS enough FROM bronze.cell GROUP BY 1");
    assert_eq!(cell, "t,enough\nFloat64,true\n");

    // Mediation's deduplication keys are unique in clean generated data.
    let dup = |sql: &str| csv(cwd, "./lake", &format!("SELECT count(*) AS n FROM ({sql} HAVING count(*) > 1)"));
    assert_eq!(dup("SELECT recording_entity, call_reference, record_type, sequence_number FROM bronze.voice_cdr GROUP BY 1, 2, 3, 4"), "n\n0\n");
    assert_eq!(dup("SELECT recording_entity, message_reference, record_type FROM bronze.sms_cdr GROUP BY 1, 2, 3"), "n\n0\n");
    assert_eq!(dup("SELECT pgw_address, charging_id, record_sequence_number FROM bronze.data_cdr GROUP BY 1, 2, 3"), "n\n0\n");
    // Every event is delivered after it happened, within the hour that follows.
    let late = csv(
        cwd,
        "./lake",
        "SELECT count(*) AS n FROM bronze.voice_cdr WHERE _ingested_at < CAST(release_time AS TIMESTAMP) OR _ingested_at > CAST(release_time AS TIMESTAMP) + INTERVAL '70 minutes'",
    );
    assert_eq!(late, "n\n0\n");
    // Long calls arrive as partial records of at most 30 minutes, closed by cause 1.
    let partials = csv(cwd, "./lake", "SELECT count(*) AS n FROM bronze.voice_cdr WHERE sequence_number IS NOT NULL AND (CAST(duration_s AS INT) > 1800 OR cause_for_term NOT IN ('0', '1', '3', '4'))");
    assert_eq!(partials, "n\n0\n");
}

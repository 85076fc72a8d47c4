//! `cdrlake ingest` through the real binary: formats, ingest metadata, duplicate refusal,
//! contract checks and bad files, each leaving the table version unchanged.

mod common;

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use cdrlake::contract::bronze_event_columns;
use common::{Lake, TestS3, assert_clean_error, cdrlake, stdout};

fn voice_csv(rows: usize, seed: usize) -> String {
    let cols = bronze_event_columns("voice_cdr").unwrap();
    let mut s = cols.join(",") + "\n";
    for r in 0..rows {
        let row: Vec<String> = cols
            .iter()
            .map(|c| match *c {
                "record_type" => "MOC".to_string(),
                "call_reference" => format!("{}", seed * 1000 + r),
                "served_msisdn" => "0612 34 56 78".to_string(),
                "answer_time" => "2026-04-06T11:15:00+01:00".to_string(),
                "sequence_number" => String::new(),
                other => format!("{other}-{r}"),
            })
            .collect();
        s += &(row.join(",") + "\n");
    }
    s
}

fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "failed:\n{}{}",
        stdout(o),
        common::stderr(o)
    );
    stdout(o)
}

#[test]
fn csv_with_metadata_and_exact_contract_columns() {
    let lake = Lake::new();
    let a = lake.file("landing/msc1.csv", voice_csv(3, 1));
    let b = lake.file("landing/msc2.csv", voice_csv(2, 2));
    let out = ok(&lake.ingest(&["landing", "--into", "bronze.voice_cdr"]));
    assert!(out.contains("2 file(s) ingested, 5 rows"), "{out}");

    let cols = lake.csv("SELECT column_name FROM information_schema.columns WHERE table_schema = 'bronze' AND table_name = 'voice_cdr' ORDER BY ordinal_position");
    let mut expected: Vec<&str> = bronze_event_columns("voice_cdr").unwrap().to_vec();
    expected.extend(["_batch_id", "_source", "_row_number", "_ingested_at"]);
    assert_eq!(cols.lines().skip(1).collect::<Vec<_>>(), expected);

    let meta = lake.csv("SELECT _source, count(*) AS n, count(DISTINCT _batch_id) AS batches, min(_row_number) AS lo, max(_row_number) AS hi FROM bronze.voice_cdr GROUP BY _source ORDER BY _source");
    assert_eq!(
        meta,
        format!(
            "_source,n,batches,lo,hi\n{},3,1,1,3\n{},2,1,1,2\n",
            a.display(),
            b.display()
        )
    );
    assert_eq!(
        lake.csv("SELECT count(DISTINCT _batch_id) AS n FROM bronze.voice_cdr"),
        "n\n2\n"
    );
    assert_eq!(
        lake.csv("SELECT served_msisdn, answer_time, sequence_number IS NULL AS empty FROM bronze.voice_cdr LIMIT 1"),
        "served_msisdn,answer_time,empty\n0612 34 56 78,2026-04-06T11:15:00+01:00,true\n",
        "fields are kept exactly as sent; an empty field is null"
    );
    assert_eq!(
        lake.csv("SELECT arrow_typeof(_ingested_at) AS t FROM bronze.voice_cdr LIMIT 1"),
        "t\n\"Timestamp(µs, \"\"UTC\"\")\"\n"
    );
}

#[test]
fn json_and_parquet() {
    let lake = Lake::new();
    let cols = bronze_event_columns("sms_cdr").unwrap();
    let line = |r: usize| {
        let fields: Vec<String> = cols
            .iter()
            .map(|c| format!("\"{c}\":\"{c}-{r}\""))
            .collect();
        format!("{{{}}}\n", fields.join(","))
    };
    lake.file("smsc.ndjson", line(1) + &line(2));
    ok(&lake.ingest(&["smsc.ndjson", "--into", "bronze.sms_cdr"]));

    // Parquet with a numeric column: stored as its text.
    let mut arrays: Vec<(&str, ArrayRef)> = Vec::new();
    for c in cols {
        if *c == "sms_result" {
            arrays.push((c, Arc::new(Int64Array::from(vec![0, 1]))));
        } else {
            arrays.push((
                c,
                Arc::new(StringArray::from(vec![
                    format!("{c}-p1"),
                    format!("{c}-p2"),
                ])),
            ));
        }
    }
    let batch = RecordBatch::try_from_iter(arrays).unwrap();
    let path = lake.cwd().join("smsc.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    ok(&lake.ingest(&["smsc.parquet", "--into", "bronze.sms_cdr"]));
    assert_eq!(
        lake.csv(
            "SELECT sms_result, _row_number FROM bronze.sms_cdr ORDER BY _ingested_at, _row_number"
        ),
        "sms_result,_row_number\nsms_result-1,1\nsms_result-2,2\n0,1\n1,2\n"
    );
    // --format overrides the extension.
    lake.file("smsc.txt", line(3));
    ok(&lake.ingest(&["smsc.txt", "--format", "json", "--into", "bronze.sms_cdr"]));
    assert_clean_error(
        &lake.ingest(&["smsc.txt", "--into", "bronze.sms_cdr", "--force"]),
        &["smsc.txt", "--format"],
    );
}

#[test]
fn the_same_content_is_refused_unless_forced() {
    let lake = Lake::new();
    let content = voice_csv(2, 7);
    lake.file("day1/a.csv", &content);
    lake.file("redelivered/a-copy.csv", &content);
    ok(&lake.ingest(&["day1/a.csv", "--into", "bronze.voice_cdr"]));
    let v = lake.version("bronze.voice_cdr");
    let o = lake.ingest(&["redelivered/a-copy.csv", "--into", "bronze.voice_cdr"]);
    assert_clean_error(
        &o,
        &[
            "a-copy.csv",
            "already ingested into bronze.voice_cdr",
            "--force",
        ],
    );
    assert_eq!(lake.version("bronze.voice_cdr"), v, "nothing committed");
    // Another table may take the same file.
    ok(&lake.ingest(&["day1/a.csv", "--into", "bronze.voice_cdr_replay"]));
    ok(&lake.ingest(&[
        "redelivered/a-copy.csv",
        "--into",
        "bronze.voice_cdr",
        "--force",
    ]));
    assert_eq!(
        lake.csv("SELECT count(*) AS n FROM bronze.voice_cdr"),
        "n\n4\n"
    );
    assert_clean_error(
        &lake.ingest(&["day1/a.csv", "--into", "bronze.voice_cdr"]),
        &["already ingested"],
    );
}

#[test]
fn the_same_file_ingested_by_several_processes_at_once_commits_once() {
    let lake = Lake::new();
    lake.file("day1/a.csv", voice_csv(2, 1));
    ok(&lake.ingest(&["day1/a.csv", "--into", "bronze.voice_cdr"]));
    let content = voice_csv(3, 2);
    let copies = 4;
    for i in 0..copies {
        lake.file(&format!("copy{i}/b.csv"), &content);
    }
    let outputs: Vec<std::process::Output> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..copies)
            .map(|i| {
                let lake = &lake;
                scope.spawn(move || {
                    lake.ingest(&[&format!("copy{i}/b.csv"), "--into", "bronze.voice_cdr"])
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let committed = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(committed, 1, "exactly one ingest commits the content");
    for o in outputs.iter().filter(|o| !o.status.success()) {
        assert_clean_error(o, &["already ingested into bronze.voice_cdr"]);
    }
    assert_eq!(
        lake.csv("SELECT count(*) AS n FROM bronze.voice_cdr"),
        "n\n5\n",
        "the first file's 2 rows and the second's 3, once"
    );
}

#[test]
fn contract_columns_are_checked_and_can_evolve() {
    let lake = Lake::new();
    ok(&lake.ingest(&[
        lake.file("ok.csv", voice_csv(1, 1)).to_str().unwrap(),
        "--into",
        "bronze.voice_cdr",
    ]));
    let v = lake.version("bronze.voice_cdr");

    let missing = voice_csv(1, 2)
        .replace("served_imei,", "")
        .replace("served_imei-0,", "");
    let o = lake.ingest(&[
        lake.file("missing.csv", missing).to_str().unwrap(),
        "--into",
        "bronze.voice_cdr",
    ]);
    assert_clean_error(
        &o,
        &[
            "missing.csv",
            "missing column(s) of bronze.voice_cdr: served_imei",
        ],
    );

    let extra = voice_csv(1, 3)
        .replacen('\n', ",roaming_partner,tap_file\n", 1)
        .replace("visited_mccmnc-0\n", "visited_mccmnc-0,20801,TAP1\n");
    let path = lake.file("extra.csv", extra);
    let o = lake.ingest(&[path.to_str().unwrap(), "--into", "bronze.voice_cdr"]);
    assert_clean_error(
        &o,
        &[
            "unknown column(s) for bronze.voice_cdr: roaming_partner, tap_file",
            "--allow-new-columns",
        ],
    );
    assert_eq!(lake.version("bronze.voice_cdr"), v);

    ok(&lake.ingest(&[
        path.to_str().unwrap(),
        "--into",
        "bronze.voice_cdr",
        "--allow-new-columns",
    ]));
    assert_eq!(
        lake.csv(
            "SELECT call_reference, roaming_partner FROM bronze.voice_cdr ORDER BY call_reference"
        ),
        "call_reference,roaming_partner\n1000,\n3000,20801\n"
    );
    // Later files without the new columns still land.
    ok(&lake.ingest(&[
        lake.file("later.csv", voice_csv(1, 4)).to_str().unwrap(),
        "--into",
        "bronze.voice_cdr",
    ]));

    assert_clean_error(
        &lake.ingest(&["ok.csv", "--into", "bronze.plan"]),
        &["bronze.plan is typed reference data"],
    );
    assert_clean_error(
        &lake.ingest(&["ok.csv", "--into", "silver.cdr"]),
        &["files land in bronze"],
    );
}

#[test]
fn bad_files_commit_nothing_and_keep_going_reports_each() {
    let lake = Lake::new();
    ok(&lake.ingest(&[
        lake.file("good0.csv", voice_csv(1, 0)).to_str().unwrap(),
        "--into",
        "bronze.voice_cdr",
    ]));
    let v = lake.version("bronze.voice_cdr");

    let short_row = voice_csv(3, 1)
        .replacen("visited_mccmnc-1\n", "\n", 1)
        .replace(",\n", "\n");
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "short.csv",
            short_row.into_bytes(),
            vec!["short.csv", "line 3: incorrect number of fields"],
        ),
        (
            "latin1.csv",
            [voice_csv(1, 2).as_bytes(), b"MOC,\xe9\n"].concat(),
            vec!["latin1.csv", "line 3: invalid UTF-8"],
        ),
        (
            "wrong.json",
            voice_csv(1, 3).into_bytes(),
            vec!["wrong.json", "line 1: not JSON"],
        ),
        (
            "fake.parquet",
            b"PAR1 not really".to_vec(),
            vec!["fake.parquet", "not a readable Parquet file"],
        ),
    ];
    for (name, bytes, needles) in &cases {
        let path = lake.file(name, bytes);
        assert_clean_error(
            &lake.ingest(&[path.to_str().unwrap(), "--into", "bronze.voice_cdr"]),
            needles,
        );
        assert_eq!(
            lake.version("bronze.voice_cdr"),
            v,
            "{name} left the table unchanged"
        );
    }
    assert_clean_error(
        &lake.ingest(&["nowhere.csv", "--into", "bronze.voice_cdr"]),
        &["nowhere.csv", "cannot read the file"],
    );
    assert_clean_error(
        &lake.ingest(&["landing/*.csv", "--into", "bronze.voice_cdr"]),
        &["no file matches 'landing/*.csv'"],
    );

    lake.file("batch/1.csv", voice_csv(1, 11));
    std::fs::copy(lake.cwd().join("short.csv"), lake.cwd().join("batch/2.csv")).unwrap();
    lake.file("batch/3.csv", voice_csv(1, 13));
    let o = lake.ingest(&["batch/*.csv", "--into", "bronze.voice_cdr"]);
    assert!(
        stdout(&o).contains("1 file(s) ingested"),
        "stops at the first bad file: {}",
        stdout(&o)
    );
    assert_clean_error(&o, &["batch/2.csv", "line 3"]);

    let o = lake.ingest(&["batch/*.csv", "--into", "bronze.voice_cdr", "--keep-going"]);
    let out = stdout(&o);
    assert!(
        out.contains("batch/1.csv: FAILED, nothing committed: already ingested"),
        "{out}"
    );
    assert!(
        out.contains("batch/3.csv: 1 rows into bronze.voice_cdr"),
        "{out}"
    );
    assert_clean_error(&o, &["2 files failed: batch/1.csv, batch/2.csv"]);
    assert_eq!(
        lake.csv("SELECT call_reference FROM bronze.voice_cdr ORDER BY call_reference"),
        "call_reference\n0\n11000\n13000\n",
        "only whole good files landed"
    );
}

#[test]
fn ingest_into_s3() {
    let s3 = TestS3::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("msc.csv"), voice_csv(4, 5)).unwrap();
    let env = s3.env();
    let o = cdrlake(
        dir.path(),
        &[
            "--lakehouse",
            "s3://landing/lake",
            "ingest",
            "msc.csv",
            "--into",
            "bronze.voice_cdr",
        ],
        &env,
    );
    ok(&o);
    let o = cdrlake(
        dir.path(),
        &[
            "--lakehouse",
            "s3://landing/lake",
            "ingest",
            "msc.csv",
            "--into",
            "bronze.voice_cdr",
        ],
        &env,
    );
    assert_clean_error(&o, &["already ingested"]);
    let o = cdrlake(
        dir.path(),
        &[
            "--lakehouse",
            "s3://landing/lake",
            "query",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM bronze.voice_cdr",
        ],
        &env,
    );
    assert_eq!(ok(&o), "n\n4\n");
}

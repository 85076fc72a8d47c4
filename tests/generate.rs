//! `cdrlake generate`: reproducible, contract-shaped bronze data.

mod common;

use std::path::Path;

use cdrlake::contract::{BRONZE_EVENT_TABLES, METADATA_COLUMNS, bronze_event_columns};
use common::{cdrlake, stdout};

fn generate(cwd: &Path, lake: &str, seed: &str, dirt_rate: &str) {
    let o = cdrlake(
        cwd,
        &[
            "--lakehouse",
            lake,
            "generate",
            "--customers",
            "120",
            "--days",
            "3",
            "--seed",
            seed,
            "--dirt-rate",
            dirt_rate,
        ],
        &[],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), common::stderr(&o));
    assert!(
        stdout(&o).contains("CDRs/s"),
        "a summary with rates: {}",
        stdout(&o)
    );
}

fn csv(cwd: &Path, lake: &str, sql: &str) -> String {
    let o = cdrlake(
        cwd,
        &["--lakehouse", lake, "query", "--format", "csv", sql],
        &[],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    stdout(&o)
}

/// Every row of every generated table, in row-number order.
fn dump(cwd: &Path, lake: &str) -> String {
    let mut all = String::new();
    for (table, _) in BRONZE_EVENT_TABLES {
        all += &csv(
            cwd,
            lake,
            &format!("SELECT * FROM bronze.{table} ORDER BY _row_number"),
        );
    }
    all + &csv(cwd, lake, "SELECT * FROM bronze.cell ORDER BY cell_id")
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    generate(cwd, "./a", "7", "0.02");
    generate(cwd, "./b", "7", "0.02");
    generate(cwd, "./c", "8", "0.02");
    let a = dump(cwd, "./a");
    assert!(a.lines().count() > 5_000, "a real amount of data");
    assert!(
        a == dump(cwd, "./b"),
        "same seed and options: identical rows"
    );
    assert!(a != dump(cwd, "./c"), "another seed: other data");
    // Running again into the same lakehouse replaces the data rather than doubling it.
    let before = csv(cwd, "./a", "SELECT count(*) AS n FROM bronze.voice_cdr");
    generate(cwd, "./a", "7", "0.02");
    assert_eq!(
        csv(cwd, "./a", "SELECT count(*) AS n FROM bronze.voice_cdr"),
        before
    );
}

#[test]
fn tables_have_the_contract_columns_and_sound_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    generate(cwd, "./lake", "1", "0");
    for (table, columns) in BRONZE_EVENT_TABLES {
        let got = csv(
            cwd,
            "./lake",
            &format!(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'bronze' AND table_name = '{table}' ORDER BY ordinal_position"
            ),
        );
        let names: Vec<&str> = got
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        let mut expected: Vec<&str> = columns.to_vec();
        expected.extend(METADATA_COLUMNS);
        assert_eq!(names, expected, "bronze.{table}");
        let types: Vec<&str> = got
            .lines()
            .skip(1)
            .take(columns.len())
            .map(|l| l.split(',').nth(1).unwrap())
            .collect();
        assert!(
            types.iter().all(|t| t.starts_with("Utf8")),
            "bronze.{table} event fields are text: {types:?}"
        );
        // _row_number runs 1..n without gaps.
        let rn = csv(
            cwd,
            "./lake",
            &format!(
                "SELECT count(*) = max(_row_number) AND min(_row_number) = 1 AS ok FROM bronze.{table}"
            ),
        );
        assert_eq!(rn, "ok\ntrue\n", "bronze.{table}");
    }
    assert_eq!(bronze_event_columns("voice_cdr").unwrap().len(), 17);
    let cell = csv(
        cwd,
        "./lake",
        "SELECT arrow_typeof(latitude) AS t, count(*) > 40 AS enough FROM bronze.cell GROUP BY 1",
    );
    assert_eq!(cell, "t,enough\nFloat64,true\n");

    // Mediation's deduplication keys are unique in clean generated data.
    let dup = |sql: &str| {
        csv(
            cwd,
            "./lake",
            &format!("SELECT count(*) AS n FROM ({sql} HAVING count(*) > 1)"),
        )
    };
    assert_eq!(
        dup(
            "SELECT recording_entity, call_reference, record_type, sequence_number FROM bronze.voice_cdr GROUP BY 1, 2, 3, 4"
        ),
        "n\n0\n"
    );
    assert_eq!(
        dup(
            "SELECT recording_entity, message_reference, record_type FROM bronze.sms_cdr GROUP BY 1, 2, 3"
        ),
        "n\n0\n"
    );
    assert_eq!(
        dup(
            "SELECT pgw_address, charging_id, record_sequence_number FROM bronze.data_cdr GROUP BY 1, 2, 3"
        ),
        "n\n0\n"
    );
    // Every event is delivered after it happened, within the hour that follows.
    let late = csv(
        cwd,
        "./lake",
        "SELECT count(*) AS n FROM bronze.voice_cdr WHERE _ingested_at < CAST(release_time AS TIMESTAMP) OR _ingested_at > CAST(release_time AS TIMESTAMP) + INTERVAL '70 minutes'",
    );
    assert_eq!(late, "n\n0\n");
    // Long calls arrive as partial records of at most 30 minutes, closed by cause 1.
    let partials = csv(
        cwd,
        "./lake",
        "SELECT count(*) AS n FROM bronze.voice_cdr WHERE sequence_number IS NOT NULL AND (CAST(duration_s AS INT) > 1800 OR cause_for_term NOT IN ('0', '1', '3', '4'))",
    );
    assert_eq!(partials, "n\n0\n");
}

/// Bronze's raw text carries no min/max statistics (nothing filters on it); the ingest metadata
/// does, so incremental models can skip files by `_ingested_at`.
#[test]
fn bronze_files_have_statistics_for_the_metadata_only() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "./lake", "3", "0");
    let files: Vec<_> = std::fs::read_dir(dir.path().join("lake/bronze/voice_cdr"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert_eq!(files.len(), 3, "one file a day");
    for file in files {
        let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        for column in group.columns() {
            let name = column.column_path().string();
            let has_min_max = column
                .statistics()
                .is_some_and(|s| s.min_bytes_opt().is_some());
            assert_eq!(
                has_min_max,
                name.starts_with('_'),
                "{name} in {}",
                file.display()
            );
        }
    }
}

fn truth_count(truth: &serde_json::Value, table: &str, kind: &str) -> u64 {
    truth["dirt"]["rows"][table][kind].as_u64().unwrap_or(0)
}

fn n(cwd: &Path, sql: &str) -> u64 {
    csv(cwd, "./lake", sql)
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn ground_truth_matches_what_is_in_bronze() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let o = cdrlake(
        cwd,
        &[
            "--lakehouse",
            "./lake",
            "generate",
            "--customers",
            "300",
            "--days",
            "3",
            "--seed",
            "5",
            "--dirt-rate",
            "0.05",
            "--truth",
            "truth.json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("truth.json")).unwrap()).unwrap();
    for t in ["voice_cdr", "sms_cdr", "data_cdr"] {
        assert_eq!(
            truth["rows"][t].as_u64().unwrap(),
            n(cwd, &format!("SELECT count(*) FROM bronze.{t}")),
            "{t} row count"
        );
    }

    let dup = |keys: &str, table: &str| {
        n(
            cwd,
            &format!(
                "SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c FROM bronze.{table} GROUP BY {keys})"
            ),
        )
    };
    assert_eq!(
        dup(
            "recording_entity, call_reference, record_type, sequence_number",
            "voice_cdr"
        ),
        truth_count(&truth, "voice_cdr", "duplicate")
    );
    assert_eq!(
        dup(
            "recording_entity, message_reference, record_type",
            "sms_cdr"
        ),
        truth_count(&truth, "sms_cdr", "duplicate")
    );
    assert_eq!(
        dup(
            "pgw_address, charging_id, record_sequence_number",
            "data_cdr"
        ),
        truth_count(&truth, "data_cdr", "duplicate")
    );

    for t in ["voice_cdr", "sms_cdr", "data_cdr"] {
        assert_eq!(
            n(
                cwd,
                &format!("SELECT count(*) FROM bronze.{t} WHERE served_msisdn IS NULL")
            ),
            truth_count(&truth, t, "msisdn_from_imsi"),
            "{t}"
        );
    }
    let unparseable = "other_party IN ('12AB34', '+212', 'UNKNOWN', '+0012', '06-12-AB')";
    assert_eq!(
        n(
            cwd,
            &format!("SELECT count(*) FROM bronze.voice_cdr WHERE {unparseable}")
        ),
        truth_count(&truth, "voice_cdr", "unparseable_number")
    );
    assert_eq!(
        n(
            cwd,
            &format!("SELECT count(*) FROM bronze.sms_cdr WHERE {unparseable}")
        ),
        truth_count(&truth, "sms_cdr", "unparseable_number")
    );
    let messy = "(other_party LIKE '00212%' OR other_party LIKE '(+212)%' OR other_party LIKE '% %' OR (other_party LIKE '%-%' AND other_party <> '06-12-AB'))";
    assert_eq!(
        n(
            cwd,
            &format!("SELECT count(*) FROM bronze.voice_cdr WHERE {messy}")
        ),
        truth_count(&truth, "voice_cdr", "reformatted_number")
    );
    assert_eq!(
        n(
            cwd,
            "SELECT count(*) FROM bronze.voice_cdr WHERE duration_s LIKE '-%'"
        ),
        truth_count(&truth, "voice_cdr", "negative_measure")
    );
    assert_eq!(
        n(
            cwd,
            "SELECT count(*) FROM bronze.data_cdr WHERE uplink_bytes LIKE '-%'"
        ),
        truth_count(&truth, "data_cdr", "negative_measure")
    );
    assert_eq!(
        n(
            cwd,
            "SELECT count(*) FROM bronze.data_cdr WHERE rat_type NOT IN ('GERAN', 'UTRAN', 'EUTRAN', 'NR', '6')"
        ),
        truth_count(&truth, "data_cdr", "unknown_rat")
    );

    // Timestamps: unparseable or missing, in the future of their delivery, release before answer.
    let iso = "'^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}[+-]\\d{2}:\\d{2}$'";
    let valid = |c: &str| format!("({c} ~ {iso} AND {c} NOT LIKE '2026-13-%')");
    let bad = |t: &str, c: &str| {
        n(
            cwd,
            &format!(
                "SELECT count(*) FROM bronze.{t} WHERE NOT coalesce({}, false)",
                valid(c)
            ),
        )
    };
    assert_eq!(
        bad("voice_cdr", "release_time"),
        truth_count(&truth, "voice_cdr", "bad_timestamp")
    );
    assert_eq!(
        bad("sms_cdr", "event_time"),
        truth_count(&truth, "sms_cdr", "bad_timestamp")
    );
    assert_eq!(
        bad("data_cdr", "record_opening_time"),
        truth_count(&truth, "data_cdr", "bad_timestamp")
    );
    let future = |t: &str, c: &str| {
        n(
            cwd,
            &format!(
                "SELECT count(*) FROM bronze.{t} WHERE {} AND TRY_CAST({c} AS TIMESTAMP) > _ingested_at + INTERVAL '15 minutes'",
                valid(c)
            ),
        )
    };
    assert_eq!(
        future("voice_cdr", "release_time"),
        truth_count(&truth, "voice_cdr", "future_timestamp")
    );
    assert_eq!(
        future("sms_cdr", "event_time"),
        truth_count(&truth, "sms_cdr", "future_timestamp")
    );
    assert_eq!(
        future("data_cdr", "record_opening_time"),
        truth_count(&truth, "data_cdr", "future_timestamp")
    );
    assert_eq!(
        n(
            cwd,
            &format!(
                "SELECT count(*) FROM bronze.voice_cdr WHERE {} AND TRY_CAST(release_time AS TIMESTAMP) < TRY_CAST(coalesce(answer_time, seizure_time) AS TIMESTAMP)",
                valid("release_time")
            )
        ),
        truth_count(&truth, "voice_cdr", "release_before_answer")
    );

    // Partial sets: incomplete ones (a gap, or no final record) and ones sent in reverse.
    let incomplete = n(
        cwd,
        "SELECT count(*) FROM (SELECT pgw_address, charging_id, count(DISTINCT record_sequence_number) AS k, \
           max(CAST(record_sequence_number AS INT)) AS top, \
           max(CASE WHEN cause_for_rec_closing IN ('0', '4') THEN 1 ELSE 0 END) AS closed \
         FROM bronze.data_cdr GROUP BY 1, 2) WHERE k <> top OR closed = 0",
    );
    assert_eq!(
        Some(incomplete),
        truth["dirt"]["partial_sets_missing_record"]["data_cdr"]
            .as_u64()
            .or(Some(0))
    );
    let reversed = n(
        cwd,
        "SELECT count(*) FROM (SELECT pgw_address, charging_id, count(DISTINCT record_sequence_number) AS k, \
           max(CAST(record_sequence_number AS INT)) AS top, first_value(CAST(record_sequence_number AS INT) ORDER BY _row_number) AS first_sent \
         FROM bronze.data_cdr GROUP BY 1, 2) WHERE k > 1 AND k = top AND first_sent = top",
    );
    assert_eq!(
        Some(reversed),
        truth["dirt"]["partial_sets_out_of_order"]["data_cdr"]
            .as_u64()
            .or(Some(0))
    );
    let rejects = &truth["expected_rejects"]["voice_cdr"];
    assert_eq!(
        rejects["E005"].as_u64(),
        Some(truth_count(&truth, "voice_cdr", "duplicate"))
    );
    assert!(
        rejects["E002"].as_u64().unwrap() > 0 && rejects["E008"].as_u64().unwrap() > 0,
        "{rejects}"
    );
}

#[test]
fn injected_fraud_cases_are_in_bronze() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let o = cdrlake(
        cwd,
        &[
            "--lakehouse",
            "./lake",
            "generate",
            "--customers",
            "200",
            "--days",
            "3",
            "--seed",
            "9",
            "--truth",
            "t.json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("t.json")).unwrap()).unwrap();
    let cases = truth["fraud"].as_array().unwrap();
    let rules: Vec<&str> = cases.iter().map(|c| c["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, vec!["IMPOSSIBLE_TRAVEL", "VELOCITY", "IRSF"]);
    for case in cases {
        let msisdn = case["served_msisdn"].as_str().unwrap();
        let ids: Vec<&str> = case["cdr_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let list = ids
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let found = n(
            cwd,
            &format!(
                "SELECT count(*) FROM bronze.voice_cdr WHERE served_msisdn = '{msisdn}' AND concat('V:', recording_entity, ':', call_reference, ':', record_type) IN ({list})"
            ),
        );
        assert_eq!(found, ids.len() as u64, "{case}");
        match case["rule"].as_str().unwrap() {
            "IMPOSSIBLE_TRAVEL" => {
                let cities = n(
                    cwd,
                    &format!(
                        "SELECT count(DISTINCT c.city) FROM bronze.voice_cdr v JOIN bronze.cell c ON c.cell_id = v.cell_id WHERE concat('V:', v.recording_entity, ':', v.call_reference, ':', v.record_type) IN ({list})"
                    ),
                );
                assert_eq!(cities, 2, "the clone calls from another city: {case}");
            }
            "VELOCITY" => assert!(ids.len() > 25, "{case}"),
            _ => {
                let risky = n(
                    cwd,
                    &format!(
                        "SELECT count(*) FROM bronze.voice_cdr WHERE served_msisdn = '{msisdn}' AND (other_party LIKE '+881%' OR other_party LIKE '+882%' OR other_party LIKE '+4470%')"
                    ),
                );
                assert!(risky >= 5, "{case}");
            }
        }
    }
    // Normal traffic has no high-risk calls: every IRSF-like pattern is an injected one.
    let risky_callers = n(
        cwd,
        "SELECT count(DISTINCT served_msisdn) FROM bronze.voice_cdr WHERE other_party LIKE '+881%' OR other_party LIKE '+882%' OR other_party LIKE '+4470%'",
    );
    assert_eq!(risky_callers, 1);
}

#[test]
fn generate_into_s3() {
    let s3 = common::TestS3::start();
    let dir = tempfile::tempdir().unwrap();
    let env = s3.env();
    let lake = ["--lakehouse", "s3://gen/lake"];
    let o = cdrlake(
        dir.path(),
        &[&lake[..], &["generate", "--customers", "50", "--days", "1"]].concat(),
        &env,
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = cdrlake(
        dir.path(),
        &[&lake[..], &["tables", "bronze", "--format", "csv"]].concat(),
        &env,
    );
    let tables: Vec<String> = stdout(&o)
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(
        tables,
        vec![
            "cell",
            "crm_customer",
            "data_cdr",
            "network_probe",
            "sms_cdr",
            "voice_cdr"
        ]
    );
}

/// Every generated table's rows (delivery metadata aside) as sorted CSV lines.
fn rows_by_content(cwd: &Path, lake: &str) -> String {
    let mut all = String::new();
    for (table, columns) in BRONZE_EVENT_TABLES {
        let list = columns
            .iter()
            .copied()
            .chain(["_source", "_ingested_at"])
            .collect::<Vec<_>>()
            .join(", ");
        all += &csv(
            cwd,
            lake,
            &format!("SELECT {list} FROM bronze.{table} ORDER BY {list}"),
        );
    }
    all
}

fn cdrlake_ok(cwd: &Path, args: &[&str]) -> String {
    let o = cdrlake(cwd, args, &[]);
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        stdout(&o),
        common::stderr(&o)
    );
    stdout(&o)
}

#[test]
fn daily_deliveries_with_late_records_equal_one_delivery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    let common = [
        "--customers",
        "150",
        "--seed",
        "5",
        "--late-rate",
        "0.05",
        "--late-days",
        "2",
    ];
    let at_once = [
        &["--lakehouse", "./once", "generate", "--days", "4"][..],
        &common[..],
    ]
    .concat();
    cdrlake_ok(cwd, &at_once);
    let first = [
        &[
            "--lakehouse",
            "./daily",
            "generate",
            "--days",
            "1",
            "--span",
            "4",
            "--truth",
            "t0.json",
        ][..],
        &common[..],
    ]
    .concat();
    cdrlake_ok(cwd, &first);
    let truth0: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("t0.json")).expect("truth"))
            .expect("json");
    let held: u64 = truth0["held_back"]
        .as_object()
        .expect("held_back")
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(held > 0, "some of day 1's records are due later: {truth0}");
    // The next day has its own start date; a wrong one is refused.
    let wrong = cdrlake(
        cwd,
        &[
            "--lakehouse",
            "./daily",
            "generate",
            "--append",
            "--start",
            "2026-04-05",
        ],
        &[],
    );
    assert!(!wrong.status.success());
    assert!(
        common::stderr(&wrong).contains("next day to deliver is 2026-04-02"),
        "{}",
        common::stderr(&wrong)
    );
    let mut late_delivered = 0;
    for day in 2..=4 {
        let truth = format!("t{day}.json");
        let out = cdrlake_ok(
            cwd,
            &[
                "--lakehouse",
                "./daily",
                "generate",
                "--append",
                "--truth",
                &truth,
            ],
        );
        assert!(out.contains("(appending)"), "{out}");
        let t: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(cwd.join(&truth)).expect("truth"))
                .expect("json");
        assert_eq!(t["first_day"], day - 1);
        late_delivered += t["late_rows"]
            .as_object()
            .expect("late_rows")
            .values()
            .flat_map(|m| m.as_object().expect("by delay").values())
            .map(|v| v.as_u64().expect("count"))
            .sum::<u64>();
    }
    assert!(late_delivered > 0);
    // The world has 4 days: a fifth is refused and writes nothing.
    let past = cdrlake(
        cwd,
        &["--lakehouse", "./daily", "generate", "--append"],
        &[],
    );
    assert!(!past.status.success());
    assert!(
        common::stderr(&past).contains("would pass its end"),
        "{}",
        common::stderr(&past)
    );

    assert_eq!(
        rows_by_content(cwd, "./once"),
        rows_by_content(cwd, "./daily")
    );
    let crm = "SELECT customer_id, effective_from, _ingested_at FROM bronze.crm_customer ORDER BY 1, 2, 3";
    assert_eq!(csv(cwd, "./once", crm), csv(cwd, "./daily", crm));
    // A CRM version arrives on the morning it takes effect; before the period, on the first one.
    let early = csv(
        cwd,
        "./daily",
        "SELECT count(*) FROM bronze.crm_customer WHERE CAST(effective_from AS DATE) > CAST(_ingested_at AS DATE)",
    );
    assert_eq!(early.lines().nth(1), Some("0"), "{early}");
    // Late records arrived days after the hour they closed in: each delivery is one batch.
    let late = csv(
        cwd,
        "./daily",
        "SELECT count(*) FROM bronze.sms_cdr WHERE date_part('epoch', _ingested_at) - date_part('epoch', parse_timestamp_utc(event_time)) > 86400",
    );
    assert_ne!(late.lines().nth(1), Some("0"), "{late}");
    let batches = csv(
        cwd,
        "./daily",
        "SELECT count(DISTINCT _batch_id) FROM bronze.voice_cdr",
    );
    assert_eq!(batches.lines().nth(1), Some("4"), "{batches}");
}

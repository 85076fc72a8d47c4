//! Mediation (bronze to silver) through the real binary and the shipped `sql/` project: the
//! generator's ground truth, the accounting invariant, and incremental runs with late partial
//! records and duplicates across batches.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{Lake, contract_csv};

fn project() -> String {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("sql")
        .display()
        .to_string()
}

fn counts(lake: &Lake, sql: &str) -> BTreeMap<String, u64> {
    lake.csv(sql)
        .lines()
        .skip(1)
        .map(|l| {
            let (k, v) = l.rsplit_once(',').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn generated_bronze_mediates_exactly_to_the_ground_truth() {
    let lake = Lake::new();
    lake.ok(&[
        "generate",
        "--customers",
        "150",
        "--days",
        "2",
        "--seed",
        "11",
        "--dirt-rate",
        "0.06",
        "--truth",
        "truth.json",
    ]);
    let run = lake.ok(&["run", "--project", &project(), "--select", "silver.*"]);
    assert!(
        run.contains("silver.cdr ") && run.contains("silver.cdr_rejected"),
        "{run}"
    );
    let tests = lake.ok(&["test", "--project", &project(), "--select", "silver.*"]);
    assert!(
        tests.contains("PASS tests/mediation_accounts_for_every_bronze_row"),
        "the invariant is checked: {tests}"
    );

    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lake.cwd().join("truth.json")).unwrap())
            .unwrap();
    let mut expected = BTreeMap::new();
    for (table, reasons) in truth["expected_rejects"].as_object().unwrap() {
        for (reason, n) in reasons.as_object().unwrap() {
            expected.insert(format!("{table},{reason}"), n.as_u64().unwrap());
        }
    }
    let rejected = counts(
        &lake,
        "SELECT source_table, reason_code, count(*) FROM silver.cdr_rejected GROUP BY 1, 2 ORDER BY 1, 2",
    );
    assert!(
        expected.len() >= 8,
        "the dataset has dirt of most kinds: {expected:?}"
    );
    assert_eq!(
        rejected, expected,
        "rejects per table and reason equal what the generator injected"
    );

    // Sets that lost a record are W002; data with an unmapped RAT code is W003.
    let incomplete = counts(
        &lake,
        "SELECT service, count(*) FROM silver.cdr WHERE quality_flags LIKE '%W002%' GROUP BY 1 ORDER BY 1",
    );
    let missing = &truth["dirt"]["partial_sets_missing_record"];
    for (service, table) in [("DATA", "data_cdr"), ("VOICE", "voice_cdr")] {
        assert_eq!(
            incomplete.get(service).copied().unwrap_or(0),
            missing[table].as_u64().unwrap_or(0),
            "{service} W002"
        );
    }
    let unknown_rat = counts(
        &lake,
        "SELECT service, count(*) FROM silver.cdr WHERE quality_flags LIKE '%W003%' AND service = 'DATA' GROUP BY 1",
    );
    assert_eq!(
        unknown_rat.get("DATA").copied(),
        truth["dirt"]["rows"]["data_cdr"]["unknown_rat"].as_u64()
    );

    // Records without an MSISDN got theirs from the IMSI; reformatted numbers normalized.
    let from_imsi: u64 = ["voice_cdr", "sms_cdr", "data_cdr"]
        .iter()
        .filter_map(|t| truth["dirt"]["rows"][t]["msisdn_from_imsi"].as_u64())
        .sum();
    let recovered = lake.csv(
        "SELECT count(*) AS n FROM silver.cdr_record r WHERE r.reject_code IS NULL AND r.served_msisdn LIKE '+212%' AND \
         ((r.source_table = 'voice_cdr' AND EXISTS (SELECT 1 FROM bronze.voice_cdr b WHERE b._batch_id = r._batch_id AND b._row_number = r._row_number AND b.served_msisdn IS NULL)) \
          OR (r.source_table = 'sms_cdr' AND EXISTS (SELECT 1 FROM bronze.sms_cdr b WHERE b._batch_id = r._batch_id AND b._row_number = r._row_number AND b.served_msisdn IS NULL)) \
          OR (r.source_table = 'data_cdr' AND EXISTS (SELECT 1 FROM bronze.data_cdr b WHERE b._batch_id = r._batch_id AND b._row_number = r._row_number AND b.served_msisdn IS NULL)))",
    );
    assert_eq!(recovered, format!("n\n{from_imsi}\n"));
    assert_eq!(lake.csv("SELECT count(*) AS n FROM silver.cdr WHERE NOT (served_msisdn LIKE '+212%') OR length(served_msisdn) <> 13"), "n\n0\n");
    assert_eq!(
        lake.csv("SELECT count(*) AS n FROM silver.cdr WHERE customer_id IS NULL"),
        "n\n0\n",
        "every generated CDR has its subscriber"
    );

    // A second run with nothing new commits nothing.
    let again = lake.ok(&["run", "--project", &project(), "--select", "silver.*"]);
    assert!(
        again.contains("silver.cdr (incremental) OK") && again.contains("no new or changed rows"),
        "{again}"
    );
    assert_eq!(
        lake.csv("SELECT count(*) AS n FROM silver.cdr_rejected"),
        format!("n\n{}\n", expected.values().sum::<u64>())
    );
}

const CUSTOMER: &[(&str, &str)] = &[
    ("customer_id", "C9000001"),
    ("msisdn", "+212612345678"),
    ("imsi", "604019000000001"),
    ("first_name", "Amina"),
    ("last_name", "Test"),
    ("national_id", "AB123456"),
    ("city", "Casablanca"),
    ("region", "Casablanca-Settat"),
    ("segment", "consumer"),
    ("plan_id", "P_BASIC"),
    ("status", "active"),
    ("effective_from", "2026-01-01"),
];

fn voice<'a>(
    reference: &'a str,
    seq: &'a str,
    answer: &'a str,
    release: &'a str,
    duration: &'a str,
    cause: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("record_type", "MOC"),
        ("recording_entity", "MSC-T"),
        ("call_reference", reference),
        ("sequence_number", seq),
        ("served_imsi", "604019000000001"),
        ("served_msisdn", "0612345678"),
        ("other_party", "0661234567"),
        ("other_party_ton", "national"),
        ("seizure_time", answer),
        ("answer_time", answer),
        ("release_time", release),
        ("duration_s", duration),
        ("cause_for_term", cause),
        ("cell_id", "NOWHERE"),
        ("visited_mccmnc", "60401"),
    ]
}

#[test]
fn incremental_runs_restitch_late_partials_and_catch_duplicates_across_batches() {
    let lake = Lake::new();
    lake.ok(&[
        "generate",
        "--customers",
        "5",
        "--days",
        "1",
        "--dirt-rate",
        "0",
    ]);
    lake.file("crm.csv", contract_csv("crm_customer", &[CUSTOMER]));
    lake.ok(&["ingest", "crm.csv", "--into", "bronze.crm_customer"]);

    // Batch 1: partials 1 and 3 of a long call, a whole call, a self call, an unknown record type.
    let p1 = voice(
        "X1",
        "1",
        "2026-04-06T11:00:00+01:00",
        "2026-04-06T11:30:00+01:00",
        "1800",
        "1",
    );
    let p2 = voice(
        "X1",
        "2",
        "2026-04-06T11:30:00+01:00",
        "2026-04-06T12:00:00+01:00",
        "1800",
        "1",
    );
    let p3 = voice(
        "X1",
        "3",
        "2026-04-06T12:00:00+01:00",
        "2026-04-06T12:05:00+01:00",
        "300",
        "0",
    );
    let whole = voice(
        "X2",
        "",
        "2026-04-06T15:00:00+01:00",
        "2026-04-06T15:01:30+01:00",
        "90",
        "0",
    );
    let mut own = voice(
        "X3",
        "",
        "2026-04-06T16:00:00+01:00",
        "2026-04-06T16:01:00+01:00",
        "60",
        "0",
    );
    own.retain(|(k, _)| *k != "other_party");
    own.push(("other_party", "+212612345678"));
    let mut odd = voice(
        "X4",
        "",
        "2026-04-06T17:00:00+01:00",
        "2026-04-06T17:01:00+01:00",
        "60",
        "0",
    );
    odd[0] = ("record_type", "MOX");
    // A whole call (complete), joined later by a partial with its key: stored apart from the
    // incomplete events, it must still be found and replaced.
    let whole5 = voice(
        "X5",
        "",
        "2026-04-06T18:00:00+01:00",
        "2026-04-06T18:01:00+01:00",
        "60",
        "0",
    );
    let part5 = voice(
        "X5",
        "1",
        "2026-04-06T18:00:00+01:00",
        "2026-04-06T18:00:30+01:00",
        "30",
        "1",
    );
    lake.file(
        "msc-1.csv",
        contract_csv("voice_cdr", &[&p1, &p3, &whole, &own, &odd, &whole5]),
    );
    lake.ok(&["ingest", "msc-1.csv", "--into", "bronze.voice_cdr"]);
    lake.ok(&["run", "--project", &project(), "--select", "silver.*"]);

    let call = "SELECT source_record_count, duration_s, quality_flags, last_cell_id IS NOT NULL AS has_cell, end_time, customer_id \
                FROM silver.cdr WHERE cdr_id = 'V:MSC-T:X1:MOC'";
    assert_eq!(
        lake.csv(call),
        "source_record_count,duration_s,quality_flags,has_cell,end_time,customer_id\n2,2100,\"W002,W003\",true,2026-04-06T11:05:00Z,C9000001\n"
    );
    assert_eq!(
        lake.csv("SELECT reason_code, reason FROM silver.cdr_rejected WHERE record_json LIKE '%MSC-T%' ORDER BY reason_code"),
        "reason_code,reason\nE004,E004: self call: other_party '+212612345678' is served_msisdn +212612345678\nE009,E009: unknown record_type 'MOX' (expected MOC or MTC)\n"
    );

    let x5 = "SELECT source_record_count, quality_flags, _incomplete FROM silver.cdr WHERE cdr_id = 'V:MSC-T:X5:MOC'";
    assert_eq!(
        lake.csv(x5),
        "source_record_count,quality_flags,_incomplete\n1,W003,false\n"
    );

    // Batch 2, later: the missing partial, the whole call delivered again, a partial for X5.
    lake.file(
        "msc-2.csv",
        contract_csv("voice_cdr", &[&p2, &whole, &part5]),
    );
    lake.ok(&["ingest", "msc-2.csv", "--into", "bronze.voice_cdr"]);
    let run = lake.ok(&["run", "--project", &project(), "--select", "silver.*"]);
    assert!(
        run.contains("silver.voice_record (incremental) OK") && run.contains("3 rows, 3 inserted"),
        "only batch 2 is mediated: {run}"
    );
    assert_eq!(
        lake.csv(x5),
        "source_record_count,quality_flags,_incomplete\n2,\"W002,W003\",true\n",
        "a whole call mixed with a partial is incomplete, one row"
    );

    assert_eq!(
        lake.csv(call),
        "source_record_count,duration_s,quality_flags,has_cell,end_time,customer_id\n3,3900,W003,true,2026-04-06T11:05:00Z,C9000001\n"
    );
    assert_eq!(
        lake.csv("SELECT count(*) AS n FROM silver.cdr WHERE cdr_id LIKE 'V:MSC-T:%'"),
        "n\n3\n",
        "re-stitched, not duplicated"
    );
    let rejected = lake.csv(
        "SELECT r.reason_code, b._source LIKE '%msc-2.csv' AS late, b.call_reference FROM silver.cdr_rejected r \
         JOIN bronze.voice_cdr b ON b._batch_id = r._batch_id AND b._row_number = r._row_number \
         WHERE b.recording_entity = 'MSC-T' ORDER BY 1",
    );
    assert_eq!(
        rejected,
        "reason_code,late,call_reference\nE004,false,X3\nE005,true,X2\nE009,false,X4\n"
    );
    let tests = lake.ok(&["test", "--project", &project(), "--select", "silver.*"]);
    assert!(
        tests.contains("PASS tests/mediation_accounts_for_every_bronze_row"),
        "{tests}"
    );

    // In a run the invariant checks what was written since it last passed: a rejection that no
    // bronze row accounts for, written after that, fails the run; `cdrlake test` checks all.
    lake.csv(
        "INSERT INTO silver.cdr_rejected SELECT source_table, _batch_id, _row_number + 1000, reason_code, \
         reason, record_json, arrow_cast(now(), 'Timestamp(µs, \"UTC\")'), _ingested_at \
         FROM silver.cdr_rejected WHERE reason_code = 'E009'",
    );
    let run = common::cdrlake(
        lake.cwd(),
        &["run", "--project", &project(), "--select", "silver.*"],
        &[],
    );
    let out = common::stdout(&run);
    assert!(
        !run.status.success()
            && out.contains("FAIL tests/mediation_accounts_for_every_bronze_row (1 failing rows)"),
        "{out}{}",
        common::stderr(&run)
    );
    let tests = common::cdrlake(lake.cwd(), &["test", "--project", &project()], &[]);
    assert!(
        common::stdout(&tests).contains("FAIL tests/mediation_accounts_for_every_bronze_row"),
        "{}",
        common::stdout(&tests)
    );
}

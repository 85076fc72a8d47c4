//! The spec's worked example (rating.md, billing.md) as inputs: customer C0000001's CRM rows and
//! CDRs, written as contract CSVs and loaded through the real binary.

use std::path::PathBuf;

use super::{Lake, contract_csv, copy_dir};

/// Rating, billing and the reports (and what they read): these cases have no cells or probes,
/// which the network KPIs and fraud rules need.
pub fn run_billing(project: &str) -> Vec<&str> {
    vec![
        "run",
        "--project",
        project,
        "-s",
        "+gold.report_revenue_by_plan",
        "+gold.report_revenue_by_region",
        "+gold.report_top_customers",
        "+gold.report_usage_by_service",
        "silver.cdr_rejected",
    ]
}

/// The shipped project plus a one-cell `bronze.cell` seed (the generator normally writes it).
pub fn project(lake: &Lake) -> String {
    let dir = lake.cwd().join("project");
    copy_dir(
        &PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("sql"),
        &dir,
    );
    std::fs::write(
        dir.join("seeds").join("bronze.cell.csv"),
        "# latitude: float\n# longitude: float\n# capacity_erlang: float\n\
         cell_id,lac,site_name,city,region,latitude,longitude,technology,capacity_erlang\n\
         CAS0001,1001,Casa Anfa,Casablanca,Casablanca-Settat,33.5883,-7.6114,4G,40.0\n",
    )
    .unwrap();
    dir.display().to_string()
}

pub fn customer(plan: &str, from: &str) -> Vec<(&'static str, String)> {
    [
        ("customer_id", "C0000001"),
        ("msisdn", "+212612345678"),
        ("imsi", "604010000000001"),
        ("first_name", "Amina"),
        ("last_name", "Alaoui"),
        ("national_id", "BE123456"),
        ("city", "Casablanca"),
        ("region", "Casablanca-Settat"),
        ("segment", "consumer"),
        ("plan_id", plan),
        ("status", "active"),
        ("effective_from", from),
    ]
    .iter()
    .map(|(k, v)| (*k, v.to_string()))
    .collect()
}

pub fn call(
    reference: &str,
    answer: &str,
    release: &str,
    seconds: u32,
    to: &str,
    visited: &str,
) -> Vec<(&'static str, String)> {
    [
        ("record_type", "MOC"),
        ("recording_entity", "MSC-CAS"),
        ("call_reference", reference),
        ("served_imsi", "604010000000001"),
        ("served_msisdn", "+212612345678"),
        ("other_party", to),
        ("other_party_ton", "unknown"),
        ("seizure_time", answer),
        ("answer_time", answer),
        ("release_time", release),
        ("duration_s", &seconds.to_string()),
        ("cause_for_term", "0"),
        (
            "cell_id",
            if visited == "60401" {
                "CAS0001"
            } else {
                "FR0042"
            },
        ),
        ("visited_mccmnc", visited),
    ]
    .iter()
    .map(|(k, v)| (*k, v.to_string()))
    .collect()
}

pub fn sms(reference: &str, at: &str, to: &str) -> Vec<(&'static str, String)> {
    [
        ("record_type", "SMS_MO"),
        ("recording_entity", "SMSC-1"),
        ("message_reference", reference),
        ("served_imsi", "604010000000001"),
        ("served_msisdn", "+212612345678"),
        ("other_party", to),
        ("other_party_ton", "unknown"),
        ("event_time", at),
        ("sms_result", "0"),
        ("cell_id", "CAS0001"),
        ("visited_mccmnc", "60401"),
    ]
    .iter()
    .map(|(k, v)| (*k, v.to_string()))
    .collect()
}

pub fn data(
    charging_id: &str,
    seq: &str,
    opened: &str,
    cause: &str,
    up: u64,
    down: u64,
) -> Vec<(&'static str, String)> {
    [
        ("pgw_address", "10.0.0.1"),
        ("charging_id", charging_id),
        ("record_sequence_number", seq),
        ("served_imsi", "604010000000001"),
        ("served_msisdn", "+212612345678"),
        ("apn", "internet"),
        ("rat_type", "EUTRAN"),
        ("record_opening_time", opened),
        ("duration_s", "600"),
        ("cause_for_rec_closing", cause),
        ("uplink_bytes", &up.to_string()),
        ("downlink_bytes", &down.to_string()),
        ("cell_id", "CAS0001"),
        ("visited_mccmnc", "60401"),
    ]
    .iter()
    .map(|(k, v)| (*k, v.to_string()))
    .collect()
}

/// The worked example's deliveries: (file name, contract CSV).
pub fn worked_files() -> Vec<(&'static str, String)> {
    vec![
        (
            "crm.csv",
            contract_csv(
                "crm_customer",
                &[
                    customer("P_BASIC", "2023-06-15"),
                    customer("P_PLUS", "2026-04-21"),
                ],
            ),
        ),
        (
            "voice.csv",
            contract_csv(
                "voice_cdr",
                &[
                    call(
                        "V1",
                        "2026-04-06T11:15:00+01:00",
                        "2026-04-06T12:14:50+01:00",
                        3590,
                        "0661 23 45 67",
                        "60401",
                    ),
                    call(
                        "V2",
                        "2026-04-07T21:30:00+01:00",
                        "2026-04-07T21:32:05+01:00",
                        125,
                        "0522 12 34 56",
                        "60401",
                    ),
                    call(
                        "V3",
                        "2026-04-08T12:00:00+01:00",
                        "2026-04-08T12:00:07+01:00",
                        7,
                        "0033 1 42 68 53 00",
                        "60401",
                    ),
                    call(
                        "V9",
                        "2026-04-26T10:00:00+02:00",
                        "2026-04-26T10:01:01+02:00",
                        61,
                        "+212522000000",
                        "20801",
                    ),
                ],
            ),
        ),
        (
            "sms.csv",
            contract_csv(
                "sms_cdr",
                &[
                    sms("S4", "2026-04-09T10:00:00+01:00", "0612000001"),
                    sms("S5", "2026-04-09T10:05:00+01:00", "0612000001"),
                    sms("S6", "2026-04-09T11:00:00+01:00", "+34 612 345 678"),
                ],
            ),
        ),
        (
            "data.csv",
            contract_csv(
                "data_cdr",
                &[
                    data(
                        "7001",
                        "1",
                        "2026-04-10T09:00:00+01:00",
                        "16",
                        20_000_000,
                        480_000_000,
                    ),
                    data(
                        "7001",
                        "2",
                        "2026-04-10T09:10:00+01:00",
                        "16",
                        15_000_000,
                        600_000_000,
                    ),
                    data(
                        "7001",
                        "3",
                        "2026-04-10T09:20:00+01:00",
                        "0",
                        3_433_600,
                        35_000_000,
                    ),
                    data(
                        "7001",
                        "2",
                        "2026-04-10T09:10:00+01:00",
                        "16",
                        15_000_000,
                        600_000_000,
                    ),
                    data(
                        "7008",
                        "1",
                        "2026-04-25T20:00:00+01:00",
                        "0",
                        48_576_000,
                        1_000_000_000,
                    ),
                ],
            ),
        ),
    ]
}

/// Loads the worked example's customer and CDRs and runs every model.
pub fn worked_example(lake: &Lake, project: &str) {
    for (file, csv) in worked_files() {
        lake.file(file, csv);
    }
    for (file, table) in [
        ("crm.csv", "crm_customer"),
        ("voice.csv", "voice_cdr"),
        ("sms.csv", "sms_cdr"),
        ("data.csv", "data_cdr"),
    ] {
        lake.ok(&["ingest", file, "--into", &format!("bronze.{table}")]);
    }
    lake.ok(&run_billing(project));
}

pub const INVOICE: &str = "SELECT invoice_number, billing_period, period_start, period_end, recurring_amount, voice_amount, sms_amount, data_amount, \
                       roaming_amount, discount_amount, net_amount, vat_amount, total_amount, currency, line_count FROM gold.invoice";

/// The period's invoice and lines, every column, in a stable order.
pub fn april(lake: &Lake) -> String {
    lake.csv("SELECT * FROM gold.invoice WHERE billing_period = '2026-04' ORDER BY invoice_number")
        + &lake.csv("SELECT * FROM gold.invoice_line WHERE billing_period = '2026-04' ORDER BY invoice_number, line_no")
}

/// Creates bronze `tables` with no rows, as a delivery without such records would.
pub fn ingest_empty(lake: &Lake, tables: &[&str]) {
    for table in tables {
        lake.file(
            &format!("{table}.csv"),
            contract_csv(table, &[] as &[Vec<(&str, String)>]),
        );
        lake.ok(&[
            "ingest",
            &format!("{table}.csv"),
            "--into",
            &format!("bronze.{table}"),
        ]);
    }
}

/// Writes `rows` as a contract CSV named `name` and ingests it into `bronze.<table>`: a delivery.
pub fn deliver(lake: &Lake, name: &str, table: &str, rows: &[Vec<(&'static str, String)>]) {
    lake.file(name, contract_csv(table, rows));
    lake.ok(&["ingest", name, "--into", &format!("bronze.{table}")]);
}

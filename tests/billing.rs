//! The worked examples of the spec's `rating.md` and `billing.md` as golden tests: one customer's
//! CRM rows and CDRs go through the real pipeline (ingest, the shipped `sql/` models), and every
//! rated CDR, invoice line and the invoice must match to the cent. Also: idempotent re-runs,
//! re-rating once a missing subscriber arrives, and the quality-gate tests.

mod common;

use std::path::PathBuf;

use common::{Lake, assert_clean_error, cdrlake, contract_csv, copy_dir};

/// Rating, billing and the reports (and what they read): these cases have no cells or probes,
/// which the network KPIs and fraud rules need.
fn run_billing(project: &str) -> Vec<&str> {
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
fn project(lake: &Lake) -> String {
    let dir = lake.cwd().join("project");
    copy_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql"), &dir);
    std::fs::write(
        dir.join("seeds").join("bronze.cell.csv"),
        "# latitude: float\n# longitude: float\n# capacity_erlang: float\n\
         cell_id,lac,site_name,city,region,latitude,longitude,technology,capacity_erlang\n\
         CAS0001,1001,Casa Anfa,Casablanca,Casablanca-Settat,33.5883,-7.6114,4G,40.0\n",
    )
    .unwrap();
    dir.display().to_string()
}

fn customer(plan: &str, from: &str) -> Vec<(&'static str, String)> {
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

fn call(
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

fn sms(reference: &str, at: &str, to: &str) -> Vec<(&'static str, String)> {
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

fn data(
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

/// Loads the worked example's customer and CDRs and runs every model.
fn worked_example(lake: &Lake, project: &str) {
    lake.file(
        "crm.csv",
        contract_csv(
            "crm_customer",
            &[
                customer("P_BASIC", "2023-06-15"),
                customer("P_PLUS", "2026-04-21"),
            ],
        ),
    );
    lake.file(
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
    );
    lake.file(
        "sms.csv",
        contract_csv(
            "sms_cdr",
            &[
                sms("S4", "2026-04-09T10:00:00+01:00", "0612000001"),
                sms("S5", "2026-04-09T10:05:00+01:00", "0612000001"),
                sms("S6", "2026-04-09T11:00:00+01:00", "+34 612 345 678"),
            ],
        ),
    );
    lake.file(
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
    );
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

const INVOICE: &str = "SELECT invoice_number, billing_period, period_start, period_end, recurring_amount, voice_amount, sms_amount, data_amount, \
                       roaming_amount, discount_amount, net_amount, vat_amount, total_amount, currency, line_count FROM gold.invoice";

#[test]
fn the_worked_examples_rate_and_bill_to_the_cent() {
    let lake = Lake::new();
    let project = project(&lake);
    worked_example(&lake, &project);

    assert_eq!(
        lake.csv("SELECT reason_code, count(*) AS n FROM silver.cdr_rejected GROUP BY 1"),
        "reason_code,n\nE005,1\n",
        "the re-sent partial is rejected E005"
    );
    let rated = lake.csv(
        "SELECT cdr_id, billing_period, plan_id, record_type, zone, band, billable_units, allowance_units_used, chargeable_units, charge, rating_status \
         FROM gold.rated_cdr ORDER BY start_time",
    );
    assert_eq!(
        rated,
        "cdr_id,billing_period,plan_id,record_type,zone,band,billable_units,allowance_units_used,chargeable_units,charge,rating_status\n\
         V:MSC-CAS:V1:MOC,2026-04,P_BASIC,VOICE_MO,MA_ONNET,PEAK,3590,3590,0,0.0000,RATED\n\
         V:MSC-CAS:V2:MOC,2026-04,P_BASIC,VOICE_MO,MA_FIXED,OFFPEAK,125,10,115,1.1500,RATED\n\
         V:MSC-CAS:V3:MOC,2026-04,P_BASIC,VOICE_MO,INTL_Z1,PEAK,7,0,7,1.0000,RATED\n\
         S:SMSC-1:S4:SMS_MO,2026-04,P_BASIC,SMS_MO,MA_ONNET,PEAK,1,1,0,0.0000,RATED\n\
         S:SMSC-1:S5:SMS_MO,2026-04,P_BASIC,SMS_MO,MA_ONNET,PEAK,1,1,0,0.0000,RATED\n\
         S:SMSC-1:S6:SMS_MO,2026-04,P_BASIC,SMS_MO,INTL_Z1,PEAK,1,0,1,1.5000,RATED\n\
         D:10.0.0.1:7001,2026-04,P_BASIC,DATA,HOME,PEAK,1100,1100,0,0.0000,RATED\n\
         D:10.0.0.1:7008,2026-04,P_PLUS,DATA,HOME,OFFPEAK,1000,948,52,5.2000,RATED\n\
         V:MSC-CAS:V9:MOC,2026-04,P_PLUS,VOICE_MO,ROAMING,OFFPEAK,120,0,120,20.0000,RATED\n"
    );
    let lines = lake.csv(
        "SELECT l.line_no, l.line_type, l.quantity, l.amount FROM gold.invoice_line l \
         JOIN gold.invoice i ON i.invoice_number = l.invoice_number WHERE i.customer_id = 'C0000001' ORDER BY l.line_no",
    );
    assert_eq!(
        lines,
        "line_no,line_type,quantity,amount\n1,RECURRING,20,32.67\n2,RECURRING,10,33.00\n3,VOICE,3,2.15\n4,SMS,3,1.50\n5,DATA,2,5.20\n6,ROAMING,1,20.00\n7,DISCOUNT,1,-6.57\n"
    );
    let invoice = INVOICE;
    let expected = "invoice_number,billing_period,period_start,period_end,recurring_amount,voice_amount,sms_amount,data_amount,roaming_amount,discount_amount,net_amount,vat_amount,total_amount,currency,line_count\n\
                    PRV-202604-C0000001,2026-04,2026-04-01,2026-04-30,65.67,2.15,1.50,5.20,20.00,-6.57,87.95,17.59,105.54,MAD,7\n";
    assert_eq!(lake.csv(invoice), expected);
    assert_eq!(
        lake.csv("SELECT arrow_typeof(charge) AS c, arrow_typeof(amount) AS a FROM gold.rated_cdr, gold.invoice_line LIMIT 1"),
        "c,a\n\"Decimal128(18, 4)\",\"Decimal128(18, 2)\"\n"
    );

    // The reports, rebuilt with billing.
    assert_eq!(
        lake.csv("SELECT * FROM gold.report_revenue_by_plan"),
        "billing_period,plan_id,plan_name,customers,recurring_amount,usage_amount,net_amount,status\n2026-04,P_PLUS,Jawal Plus,1,65.67,28.85,87.95,PROVISIONAL\n",
        "a customer on two plans counts under the plan of the last RECURRING line"
    );
    assert_eq!(
        lake.csv("SELECT * FROM gold.report_top_customers"),
        "billing_period,rank,customer_id,msisdn_masked,net_amount,status\n2026-04,1,C0000001,+21261****678,87.95,PROVISIONAL\n"
    );
    assert_eq!(
        lake.csv("SELECT * FROM gold.report_revenue_by_region"),
        "billing_period,region,customers,net_amount,vat_amount,status\n2026-04,Casablanca-Settat,1,87.95,17.59,PROVISIONAL\n"
    );
    assert_eq!(
        lake.csv("SELECT * FROM gold.report_usage_by_service ORDER BY service, roaming"),
        "billing_period,service,roaming,cdrs,billable_units,charged_amount\n2026-04,DATA,false,2,2100,5.2000\n2026-04,SMS,false,3,3,1.5000\n\
         2026-04,VOICE,false,3,3722,2.1500\n2026-04,VOICE,true,1,120,20.0000\n"
    );

    // Quality gates, and billing is idempotent: the same numbers and amounts on a re-run.
    let tests = lake.ok(&[
        "test",
        "--project",
        &project,
        "-s",
        "+gold.invoice",
        "+gold.report_revenue_by_plan",
    ]);
    assert!(
        tests.contains("PASS tests/invoice_net_equals_its_lines")
            && tests.contains("PASS tests/invoice_numbers_are_gapless"),
        "{tests}"
    );
    let lines_before = lake.csv("SELECT * FROM gold.invoice_line ORDER BY invoice_number, line_no");
    lake.ok(&run_billing(&project));
    assert_eq!(lake.csv(invoice), expected);
    assert_eq!(
        lake.csv("SELECT * FROM gold.invoice_line ORDER BY invoice_number, line_no"),
        lines_before
    );
}

/// The period's invoice and lines, every column, in a stable order.
fn april(lake: &Lake) -> String {
    lake.csv("SELECT * FROM gold.invoice WHERE billing_period = '2026-04' ORDER BY invoice_number")
        + &lake.csv("SELECT * FROM gold.invoice_line WHERE billing_period = '2026-04' ORDER BY invoice_number, line_no")
}

#[test]
fn a_closed_period_keeps_its_issued_invoices_when_late_usage_arrives() {
    let lake = Lake::new();
    let project = project(&lake);
    worked_example(&lake, &project);
    let close = |period: &str| {
        cdrlake(
            lake.cwd(),
            &["close-period", period, "--project", &project],
            &[],
        )
    };

    // The newest CDR is from 25 April: April has not ended by the data's clock.
    assert_clean_error(
        &close("2026-04"),
        &["2026-04 cannot close yet", "2026-05-03", "--grace-days"],
    );
    assert_clean_error(&close("2026-4"), &["not a billing period", "YYYY-MM"]);
    assert_eq!(
        lake.csv("SELECT status FROM gold.invoice"),
        "status\nPROVISIONAL\n"
    );

    // Traffic of 4 May moves the clock past April's end plus 2 days of grace.
    lake.file(
        "may.csv",
        contract_csv(
            "sms_cdr",
            &[sms("S10", "2026-05-04T10:00:00+01:00", "0612000001")],
        ),
    );
    lake.ok(&["ingest", "may.csv", "--into", "bronze.sms_cdr"]);
    let closed = lake.ok(&["close-period", "2026-04", "--project", &project]);
    assert!(
        closed.contains("2026-04 closed: 1 invoices issued, net 87.95 MAD, total 105.54 MAD"),
        "{closed}"
    );
    assert_eq!(
        lake.csv(&format!("{INVOICE} WHERE billing_period = '2026-04'")),
        "invoice_number,billing_period,period_start,period_end,recurring_amount,voice_amount,sms_amount,data_amount,roaming_amount,discount_amount,net_amount,vat_amount,total_amount,currency,line_count\n\
         INV-202604-0000001,2026-04,2026-04-01,2026-04-30,65.67,2.15,1.50,5.20,20.00,-6.57,87.95,17.59,105.54,MAD,7\n",
        "the issued invoice has its number and the worked example's amounts"
    );
    assert_eq!(
        lake.csv("SELECT billing_period, status FROM gold.invoice ORDER BY 1"),
        "billing_period,status\n2026-04,ISSUED\n2026-05,PROVISIONAL\n"
    );
    assert_eq!(
        lake.csv("SELECT billing_period, status FROM gold.report_top_customers ORDER BY 1"),
        "billing_period,status\n2026-04,ISSUED\n2026-05,PROVISIONAL\n"
    );
    let log = lake.csv("SELECT billing_period, action, invoices, net_amount, total_amount, grace_days, inputs, models FROM system.period_close");
    assert!(log.starts_with("billing_period,action,invoices,net_amount,total_amount,grace_days,inputs,models\n2026-04,close,1,87.95,105.54,2,"), "{log}");
    assert!(
        log.contains("silver.cdr")
            && log.contains("gold.rated_cdr")
            && log.contains("gold.invoice_line"),
        "records what it used: {log}"
    );
    let issued = april(&lake);
    let issued_version = lake.version("gold.issued_invoice_line");

    // A late April call (international SMS, 1.50) arrives after the close: it is rated in April,
    // but April's invoice stays as issued (the difference is for an adjustment, not a reissue).
    lake.file(
        "late.csv",
        contract_csv(
            "sms_cdr",
            &[sms("S11", "2026-04-28T10:00:00+01:00", "+34 612 345 678")],
        ),
    );
    lake.ok(&["ingest", "late.csv", "--into", "bronze.sms_cdr"]);
    lake.ok(&run_billing(&project));
    assert_eq!(
        lake.csv(
            "SELECT billing_period, charge FROM gold.rated_cdr WHERE cdr_id = 'S:SMSC-1:S11:SMS_MO'"
        ),
        "billing_period,charge\n2026-04,1.5000\n"
    );
    assert_eq!(
        april(&lake),
        issued,
        "April's invoice and lines are unchanged"
    );
    assert_eq!(lake.version("gold.issued_invoice_line"), issued_version);

    // ... and the difference goes onto May's open invoice: April's SMS line comes to 3.00 now
    // (1.50 + the late 1.50) where 1.50 was issued, so +1.50, for 1 changed CDR. May: P_PLUS all
    // 31 days 99.00, the loyalty discount -9.90, the 4 May SMS on-net within the allowance.
    let may = "SELECT line_no, line_type, description, quantity, amount FROM gold.invoice_line \
               WHERE invoice_number = 'PRV-202605-C0000001' AND line_type IN ('RECURRING', 'SMS', 'DISCOUNT', 'ADJUSTMENT') ORDER BY line_no";
    assert_eq!(
        lake.csv(may),
        "line_no,line_type,description,quantity,amount\n1,RECURRING,\"P_PLUS Jawal Plus, 31/31 days\",31,99.00\n\
         3,SMS,\"SMS, 1 CDRs\",1,0.00\n6,DISCOUNT,Loyalty discount 10%,1,-9.90\n\
         7,ADJUSTMENT,Adjustment to INV-202604-0000001 SMS,1,1.50\n"
    );
    assert_eq!(
        lake.csv("SELECT adjustment_amount, net_amount, vat_amount, total_amount FROM gold.invoice WHERE billing_period = '2026-05'"),
        "adjustment_amount,net_amount,vat_amount,total_amount\n1.50,90.60,18.12,108.72\n"
    );

    assert_clean_error(&close("2026-04"), &["2026-04 is already closed"]);
    assert_clean_error(&close("2026-05"), &["2026-05 cannot close yet"]);

    // May closes once June's traffic is in; the adjustment is issued with it, and June's
    // invoice does not carry it again.
    lake.file(
        "june.csv",
        contract_csv(
            "sms_cdr",
            &[sms("S12", "2026-06-04T10:00:00+01:00", "0612000001")],
        ),
    );
    lake.ok(&["ingest", "june.csv", "--into", "bronze.sms_cdr"]);
    lake.ok(&["close-period", "2026-05", "--project", &project]);
    assert_eq!(
        lake.csv("SELECT invoice_number, adjustment_amount, net_amount, status FROM gold.invoice WHERE billing_period = '2026-05'"),
        "invoice_number,adjustment_amount,net_amount,status\nINV-202605-0000001,1.50,90.60,ISSUED\n"
    );
    assert_eq!(
        lake.csv("SELECT count(*) AS n FROM gold.invoice_line WHERE billing_period = '2026-06' AND line_type = 'ADJUSTMENT'"),
        "n\n0\n"
    );
    assert_eq!(
        lake.csv("SELECT count(*) AS n FROM gold.adjustment"),
        "n\n0\n"
    );
    let tests = lake.ok(&["test", "--project", &project, "-s", "+gold.invoice"]);
    assert!(
        tests.contains("PASS tests/invoice_numbers_are_gapless"),
        "{tests}"
    );

    // Replay: each closed period rebuilt from the versions and files its close recorded (the late
    // SMS came after April's close, and the project's files may change, yet April replays exactly).
    std::fs::write(
        PathBuf::from(&project).join("gold").join("billed_line.sql"),
        "SELECT 1 AS changed_after_the_close",
    )
    .unwrap();
    for (period, lines) in [("2026-04", 7), ("2026-05", 7)] {
        let replayed = lake.ok(&["replay-period", period]);
        assert!(
            replayed.contains(&format!("identical: {period} replayed from the versions its close recorded gives the 1 issued invoices and {lines} lines exactly")),
            "{replayed}"
        );
    }
    assert_clean_error(
        &cdrlake(lake.cwd(), &["replay-period", "2026-06"], &[]),
        &["2026-06 is not closed"],
    );
    // The files of the recorded versions are kept from vacuum until the periods are released
    // (gold.invoice was rebuilt after each close, so its recorded versions are old ones).
    assert_clean_error(
        &cdrlake(lake.cwd(), &["vacuum", "gold.invoice", "--dry-run"], &[]),
        &[
            "the close of 2026-04 recorded version",
            "cdrlake release-period 2026-04",
        ],
    );
    lake.ok(&["release-period", "2026-04"]);
    assert_clean_error(
        &cdrlake(lake.cwd(), &["release-period", "2026-04"], &[]),
        &["2026-04 is not a closed, unreleased period"],
    );
    assert_clean_error(
        &cdrlake(lake.cwd(), &["vacuum", "gold.invoice", "--dry-run"], &[]),
        &["the close of 2026-05 recorded version"],
    );
    lake.ok(&["release-period", "2026-05"]);
    lake.ok(&["vacuum", "gold.invoice", "--dry-run"]);
    // A tampered issued line is found.
    lake.ok(&[
        "query",
        "DELETE FROM gold.issued_invoice_line WHERE invoice_number = 'INV-202604-0000001' AND line_type = 'SMS'",
    ]);
    let tampered = cdrlake(lake.cwd(), &["replay-period", "2026-04"], &[]);
    assert_clean_error(
        &tampered,
        &["2026-04 replayed differs from what was issued: 1 row(s)"],
    );
    assert!(
        common::stdout(&tampered)
            .contains("replayed only line: INV-202604-0000001 line 4 SMS 1.50"),
        "{}",
        common::stdout(&tampered)
    );
}

#[test]
fn cdrs_without_a_subscriber_are_unrated_then_rerated_when_it_arrives() {
    let lake = Lake::new();
    let project = project(&lake);
    lake.file(
        "voice.csv",
        contract_csv(
            "voice_cdr",
            &[call(
                "V2",
                "2026-04-07T21:30:00+01:00",
                "2026-04-07T21:32:05+01:00",
                125,
                "0522 12 34 56",
                "60401",
            )],
        ),
    );
    lake.ok(&["ingest", "voice.csv", "--into", "bronze.voice_cdr"]);
    ingest_empty(&lake, &["sms_cdr", "data_cdr"]);
    lake.file(
        "crm0.csv",
        contract_csv(
            "crm_customer",
            &[{
                let mut other = customer("P_BASIC", "2020-01-01");
                other[0].1 = "C0000002".into();
                other[1].1 = "+212612999999".into();
                other
            }],
        ),
    );
    lake.ok(&["ingest", "crm0.csv", "--into", "bronze.crm_customer"]);
    lake.ok(&run_billing(&project));
    let status = "SELECT customer_id, rating_status, reason_code, charge FROM gold.rated_cdr";
    assert_eq!(
        lake.csv(status),
        "customer_id,rating_status,reason_code,charge\n,UNRATED,E006,0.0000\n"
    );

    lake.file(
        "crm.csv",
        contract_csv("crm_customer", &[customer("P_BASIC", "2023-06-15")]),
    );
    lake.ok(&["ingest", "crm.csv", "--into", "bronze.crm_customer"]);
    lake.ok(&run_billing(&project));
    assert_eq!(
        lake.csv(status),
        "customer_id,rating_status,reason_code,charge\nC0000001,RATED,,0.0000\n",
        "125 s within the allowance"
    );
}

/// A call across the month end whose first partial record arrives a day late: it was rated in
/// May from its second record, and must move to April, not stay in both.
#[test]
fn a_late_first_record_moves_a_call_to_the_period_it_started_in() {
    let lake = Lake::new();
    let project = project(&lake);
    lake.file(
        "crm.csv",
        contract_csv("crm_customer", &[customer("P_BASIC", "2023-06-15")]),
    );
    lake.ok(&["ingest", "crm.csv", "--into", "bronze.crm_customer"]);
    let partial = |seq: &str, answer: &str, release: &str, seconds: u32, cause: &str| {
        let mut record = call("V9", answer, release, seconds, "0522 12 34 56", "60401");
        record.push(("sequence_number", seq.to_string()));
        for (k, v) in record.iter_mut() {
            if *k == "cause_for_term" {
                *v = cause.to_string();
            }
        }
        record
    };
    let second = partial(
        "2",
        "2026-05-01T00:00:00+01:00",
        "2026-05-01T00:05:00+01:00",
        300,
        "0",
    );
    let first = partial(
        "1",
        "2026-04-30T23:50:00+01:00",
        "2026-05-01T00:00:00+01:00",
        600,
        "1",
    );
    lake.file("late1.csv", contract_csv("voice_cdr", &[second]));
    lake.ok(&["ingest", "late1.csv", "--into", "bronze.voice_cdr"]);
    ingest_empty(&lake, &["sms_cdr", "data_cdr"]);
    lake.ok(&run_billing(&project));
    lake.ok(&["run", "--project", &project, "-s", "+gold.fact_cdr"]);
    let rated = "SELECT billing_period, duration_s FROM gold.rated_cdr";
    assert_eq!(lake.csv(rated), "billing_period,duration_s\n2026-05,300\n");

    lake.file("late2.csv", contract_csv("voice_cdr", &[first]));
    lake.ok(&["ingest", "late2.csv", "--into", "bronze.voice_cdr"]);
    lake.ok(&run_billing(&project));
    lake.ok(&["run", "--project", &project, "-s", "+gold.fact_cdr"]);
    assert_eq!(lake.csv(rated), "billing_period,duration_s\n2026-04,900\n");
    assert_eq!(
        lake.csv("SELECT billing_period FROM gold.fact_cdr"),
        "billing_period\n2026-04\n"
    );
}

/// Creates bronze `tables` with no rows, as a delivery without such records would.
fn ingest_empty(lake: &Lake, tables: &[&str]) {
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

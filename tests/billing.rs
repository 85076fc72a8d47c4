//! The worked examples of the spec's `rating.md` and `billing.md` as golden tests: one customer's
//! CRM rows and CDRs go through the real pipeline (ingest, the shipped `sql/` models), and every
//! rated CDR, invoice line and the invoice must match to the cent. Also: idempotent re-runs,
//! re-rating once a missing subscriber arrives, and the quality-gate tests.

mod common;

use common::worked::{
    INVOICE, call, customer, ingest_empty, project, run_billing, sms, worked_example,
};
use common::{Lake, contract_csv};

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

/// One subscriber's CRM version: (customer, number, IMSI), plan, status, effective date.
fn version(
    who: (&str, &str, &str),
    plan: &str,
    status: &str,
    from: &str,
) -> Vec<(&'static str, String)> {
    let mut row = customer(plan, from);
    for (key, value) in [
        ("customer_id", who.0),
        ("msisdn", who.1),
        ("imsi", who.2),
        ("status", status),
    ] {
        row.iter_mut().find(|(k, _)| *k == key).unwrap().1 = value.into();
    }
    row
}

/// `record` with the served subscriber replaced.
fn served_by(
    mut record: Vec<(&'static str, String)>,
    who: (&str, &str, &str),
) -> Vec<(&'static str, String)> {
    for (key, value) in [("served_msisdn", who.1), ("served_imsi", who.2)] {
        record.iter_mut().find(|(k, _)| *k == key).unwrap().1 = value.into();
    }
    record
}

/// Billing's edge cases, each amount worked out by hand from billing.md and rating.md:
/// P_BASIC is 49.00 a month with 3,600 national voice seconds.
/// - A (activated 2024-04-01) gets the loyalty discount for 2026-04, B (2024-04-02) does not
///   (billing.md's own boundary example); both are billed 30/30 of the fee: 49.00.
/// - C is terminated from 2026-04-11: 10 active days, f = 10/30 = 0.333333333, 49.00 x f =
///   16.333333317 -> 16.33; no invoice for May.
/// - A's call at 2026-04-30T23:30Z is 00:30 local on 1 May: billed in 2026-05, not April.
/// - B's unanswered call is ZERO (rule 5) and still counts in VOICE's quantity.
/// - C's SMS to a premium number has no rate row once the tariff lacks one: UNRATED E007.
/// - Closing April numbers the three invoices INV-202604-0000001.. in customer_id order.
#[test]
fn billing_edge_cases_worked_out_by_hand() {
    let lake = Lake::new();
    let project = project(&lake);
    // The tariff without MA_PREMIUM SMS: such an SMS has no matching rate row.
    let rates = std::path::Path::new(&project).join("seeds/bronze.tariff_rate.csv");
    let tariff = std::fs::read_to_string(&rates).unwrap();
    assert!(tariff.contains("MA_PREMIUM,SMS,ANY,0,3.00,,,0\n"));
    std::fs::write(
        &rates,
        tariff.replace("MA_PREMIUM,SMS,ANY,0,3.00,,,0\n", ""),
    )
    .unwrap();

    let a = ("C0000011", "+212611000011", "604010000000011");
    let b = ("C0000012", "+212611000012", "604010000000012");
    let c = ("C0000013", "+212611000013", "604010000000013");
    common::worked::deliver(
        &lake,
        "crm.csv",
        "crm_customer",
        &[
            version(a, "P_BASIC", "active", "2024-04-01"),
            version(b, "P_BASIC", "active", "2024-04-02"),
            version(c, "P_BASIC", "active", "2026-03-01"),
            version(c, "P_BASIC", "terminated", "2026-04-11"),
        ],
    );
    let mut unanswered = served_by(
        call(
            "E2",
            "",
            "2026-04-10T10:00:20+00:00",
            0,
            "0522 12 34 56",
            "60401",
        ),
        b,
    );
    unanswered
        .iter_mut()
        .find(|(k, _)| *k == "seizure_time")
        .unwrap()
        .1 = "2026-04-10T10:00:00+00:00".into();
    common::worked::deliver(
        &lake,
        "voice.csv",
        "voice_cdr",
        &[
            served_by(
                call(
                    "E1",
                    "2026-04-30T23:30:00+00:00",
                    "2026-04-30T23:31:00+00:00",
                    60,
                    "0522 12 34 56",
                    "60401",
                ),
                a,
            ),
            unanswered,
        ],
    );
    common::worked::deliver(
        &lake,
        "sms.csv",
        "sms_cdr",
        &[served_by(
            sms("E3", "2026-04-05T12:00:00+01:00", "+212800000000"),
            c,
        )],
    );
    ingest_empty(&lake, &["data_cdr"]);
    lake.ok(&run_billing(&project));

    assert_eq!(
        lake.csv("SELECT customer_id, billing_period, zone, rating_status, reason_code, charge FROM gold.rated_cdr ORDER BY customer_id"),
        "customer_id,billing_period,zone,rating_status,reason_code,charge\n\
         C0000011,2026-05,MA_FIXED,RATED,,0.0000\n\
         C0000012,2026-04,MA_FIXED,ZERO,,0.0000\n\
         C0000013,2026-04,MA_PREMIUM,UNRATED,E007,0.0000\n"
    );
    assert_eq!(
        lake.csv(
            "SELECT i.customer_id, i.billing_period, l.line_type, l.quantity, l.amount FROM gold.invoice_line l \
             JOIN gold.invoice i ON i.invoice_number = l.invoice_number ORDER BY i.billing_period, i.customer_id, l.line_no"
        ),
        "customer_id,billing_period,line_type,quantity,amount\n\
         C0000011,2026-04,RECURRING,30,49.00\nC0000011,2026-04,VOICE,0,0.00\nC0000011,2026-04,SMS,0,0.00\n\
         C0000011,2026-04,DATA,0,0.00\nC0000011,2026-04,ROAMING,0,0.00\nC0000011,2026-04,DISCOUNT,1,-4.90\n\
         C0000012,2026-04,RECURRING,30,49.00\nC0000012,2026-04,VOICE,1,0.00\nC0000012,2026-04,SMS,0,0.00\n\
         C0000012,2026-04,DATA,0,0.00\nC0000012,2026-04,ROAMING,0,0.00\n\
         C0000013,2026-04,RECURRING,10,16.33\nC0000013,2026-04,VOICE,0,0.00\nC0000013,2026-04,SMS,1,0.00\n\
         C0000013,2026-04,DATA,0,0.00\nC0000013,2026-04,ROAMING,0,0.00\n\
         C0000011,2026-05,RECURRING,31,49.00\nC0000011,2026-05,VOICE,1,0.00\nC0000011,2026-05,SMS,0,0.00\n\
         C0000011,2026-05,DATA,0,0.00\nC0000011,2026-05,ROAMING,0,0.00\nC0000011,2026-05,DISCOUNT,1,-4.90\n\
         C0000012,2026-05,RECURRING,31,49.00\nC0000012,2026-05,VOICE,0,0.00\nC0000012,2026-05,SMS,0,0.00\n\
         C0000012,2026-05,DATA,0,0.00\nC0000012,2026-05,ROAMING,0,0.00\nC0000012,2026-05,DISCOUNT,1,-4.90\n",
        "B is eligible in May (2024-04-02 is on or before 2026-05-01 minus 24 months)"
    );
    let totals = "SELECT customer_id, net_amount, vat_amount, total_amount FROM gold.invoice WHERE billing_period = '2026-04' ORDER BY customer_id";
    let expected = "customer_id,net_amount,vat_amount,total_amount\n\
                    C0000011,44.10,8.82,52.92\nC0000012,49.00,9.80,58.80\nC0000013,16.33,3.27,19.60\n";
    assert_eq!(lake.csv(totals), expected);

    // Closing April: gapless numbers in customer_id order, the same amounts.
    lake.ok(&[
        "close-period",
        "2026-04",
        "--grace-days",
        "0",
        "--project",
        &project,
    ]);
    assert_eq!(
        lake.csv("SELECT invoice_number, customer_id FROM gold.invoice WHERE billing_period = '2026-04' ORDER BY invoice_number"),
        "invoice_number,customer_id\nINV-202604-0000001,C0000011\nINV-202604-0000002,C0000012\nINV-202604-0000003,C0000013\n"
    );
    assert_eq!(lake.csv(totals), expected);
}

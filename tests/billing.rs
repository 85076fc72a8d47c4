//! The worked examples of the spec's `rating.md` and `billing.md` as golden tests: one customer's
//! CRM rows and CDRs go through the real pipeline (ingest, the shipped `sql/` models), and every
//! rated CDR, invoice line and the invoice must match to the cent. Also: idempotent re-runs,
//! re-rating once a missing subscriber arrives, and the quality-gate tests.

mod common;

use common::worked::{INVOICE, call, customer, ingest_empty, project, run_billing, worked_example};
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

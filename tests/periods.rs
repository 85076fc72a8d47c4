//! Billing periods (billing.md, "Period states, closing and adjustments") on the spec's worked
//! example: closing, adjustments for what arrives after a close, replay, release, and the same
//! routine over Flight SQL.

mod common;

use std::path::PathBuf;

use common::server::{Server, rows, try_rows, users_config};
use common::worked::{
    INVOICE, april, call, customer, deliver, project, run_billing, sms, worked_example,
};
use common::{Lake, assert_clean_error, cdrlake};

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
    deliver(&lake, "may.csv", "sms_cdr", &[may_sms()]);

    // A failing gate refuses the close, and nothing is issued.
    let gate = PathBuf::from(&project)
        .join("tests")
        .join("no_invoice_over_50.sql");
    std::fs::write(
        &gate,
        "SELECT invoice_number FROM gold.invoice WHERE net_amount > 50",
    )
    .unwrap();
    assert_clean_error(
        &close("2026-04"),
        &["2026-04 not closed: 1 model(s) failed"],
    );
    assert_eq!(
        lake.csv("SELECT count(*) AS n FROM system.period_close"),
        "n\n0\n"
    );
    assert_eq!(
        lake.csv("SELECT count(*) AS n FROM gold.issued_invoice"),
        "n\n0\n"
    );
    std::fs::remove_file(&gate).unwrap();
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
    deliver(
        &lake,
        "late.csv",
        "sms_cdr",
        &[sms("S11", "2026-04-28T10:00:00+01:00", "+34 612 345 678")],
    );
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
    close_may(&lake, &project);
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
        &cdrlake(
            lake.cwd(),
            &["vacuum", "gold.invoice", "--retain-hours", "0", "--force"],
            &[],
        ),
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

/// billing.md's allowance example: a late call takes allowance away from a call already billed,
/// so the VOICE adjustment is the difference of the VOICE line (+2.00), not the late call's own
/// charge (1.90). A CRM correction of the plan change date adjusts RECURRING and DISCOUNT.
#[test]
fn late_usage_that_moves_allowance_and_a_crm_correction_adjust_the_next_invoice() {
    let lake = Lake::new();
    let project = april_closable(&lake);
    lake.ok(&["close-period", "2026-04", "--project", &project]);
    let issued = april(&lake);

    // Monday 6 April 21:00 (+01:00, OFFPEAK), on-net, 390 s: after V1, which used 3,590 s of the
    // 3,600 s allowance, and before V2, which had the last 10 s.
    let late = call(
        "V20",
        "2026-04-06T21:00:00+01:00",
        "2026-04-06T21:06:30+01:00",
        390,
        "0661 23 45 67",
        "60401",
    );
    deliver(&lake, "late.csv", "voice_cdr", &[late]);
    // The plan change to P_PLUS took effect on 16 April, not 21.
    deliver(
        &lake,
        "crm-fix.csv",
        "crm_customer",
        &[customer("P_PLUS", "2026-04-16")],
    );
    lake.ok(&run_billing(&project));

    // Recomputed April: V20 gets the last 10 s, 380 s x 0.30/60 = 1.9000; V2 loses its 10 s,
    // 125 s x 0.60/60 = 1.2500 (was 1.1500). VOICE 2.15 -> 4.15: +2.00 over 2 changed CDRs.
    assert_eq!(
        lake.csv("SELECT cdr_id, allowance_units_used, chargeable_units, charge FROM gold.rated_cdr WHERE cdr_id IN ('V:MSC-CAS:V20:MOC', 'V:MSC-CAS:V2:MOC') ORDER BY start_time"),
        "cdr_id,allowance_units_used,chargeable_units,charge\nV:MSC-CAS:V20:MOC,10,380,1.9000\nV:MSC-CAS:V2:MOC,0,125,1.2500\n"
    );
    assert_eq!(april(&lake), issued, "April stays as issued");
    // RECURRING: P_BASIC 15/30 x 49 = 24.50 and P_PLUS 15/30 x 99 = 49.50, 74.00 where 65.67 was
    // issued: +8.33; DISCOUNT -7.40 where -6.57: -0.83. No CDR makes either: quantity 0.
    assert_eq!(
        lake.csv("SELECT line_no, description, quantity, amount, adjusts_period, adjusts_line_type FROM gold.invoice_line WHERE billing_period = '2026-05' AND line_type = 'ADJUSTMENT' ORDER BY line_no"),
        "line_no,description,quantity,amount,adjusts_period,adjusts_line_type\n\
         7,Adjustment to INV-202604-0000001 RECURRING,0,8.33,2026-04,RECURRING\n\
         8,Adjustment to INV-202604-0000001 VOICE,2,2.00,2026-04,VOICE\n\
         9,Adjustment to INV-202604-0000001 DISCOUNT,0,-0.83,2026-04,DISCOUNT\n"
    );
    // May: 99.00 - 9.90 + 9.50 of adjustments = 98.60; VAT 19.72.
    assert_eq!(
        lake.csv("SELECT adjustment_amount, net_amount, vat_amount, total_amount FROM gold.invoice WHERE billing_period = '2026-05'"),
        "adjustment_amount,net_amount,vat_amount,total_amount\n9.50,98.60,19.72,118.32\n"
    );
    let replayed = lake.ok(&["replay-period", "2026-04"]);
    assert!(replayed.contains("identical: 2026-04"), "{replayed}");

    // May's document shows the corrections as such, in the invoice's line order.
    close_may(&lake, &project);
    lake.ok(&["invoices", "export", "2026-05", "--out", "may"]);
    let document = std::fs::read_to_string(lake.cwd().join("may/INV-202605-0000001.html")).unwrap();
    let adjustments: Vec<&str> = document
        .split("<tr class=\"adjustment\">")
        .skip(1)
        .map(|row| row.split("</tr>").next().unwrap())
        .collect();
    assert_eq!(adjustments.len(), 3, "{document}");
    for (row, (what, quantity, amount)) in adjustments.iter().zip([
        ("RECURRING", "0 changed", "8.33"),
        ("VOICE", "2 changed", "2.00"),
        ("DISCOUNT", "0 changed", "-0.83"),
    ]) {
        assert!(
            row.contains(&format!("Adjustment to INV-202604-0000001 {what}"))
                && row.contains(&format!("<td class=\"num\">{quantity}</td>"))
                && row.contains(&format!("<td class=\"num\">{amount}</td>")),
            "{row}"
        );
    }
    assert!(
        document.contains("Total due</td><td class=\"num\">118.32 MAD"),
        "{document}"
    );
}

/// June's traffic moves the data's clock past May's end plus the grace; then May closes.
fn close_may(lake: &Lake, project: &str) {
    deliver(
        lake,
        "june.csv",
        "sms_cdr",
        &[sms("S12", "2026-06-04T10:00:00+01:00", "0612000001")],
    );
    lake.ok(&["close-period", "2026-05", "--project", project]);
}

/// The worked example with traffic of 4 May, so April may close; returns the project.
fn april_closable(lake: &Lake) -> String {
    let project = project(lake);
    worked_example(lake, &project);
    deliver(lake, "may.csv", "sms_cdr", &[may_sms()]);
    project
}

/// 4 May: moves the data's clock past April's end plus the 2 days of grace.
fn may_sms() -> Vec<(&'static str, String)> {
    sms("S10", "2026-05-04T10:00:00+01:00", "0612000001")
}

/// `cdrlake serve --project` with an analyst and an engineer: only the engineer closes, the
/// close is logged under their name, and every client sees the issued invoices at once. Then the
/// closed period's customer documents.
#[test]
fn an_engineer_closes_a_period_over_flight_sql_and_exports_its_invoices() {
    let lake = Lake::new();
    let project = april_closable(&lake);
    let config = users_config(&lake);
    let server = Server::start(
        lake.cwd(),
        &[
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--project",
            &project,
        ],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut ana = server.client("ana", "ana-pw").await;
        let mut eng = server.client("eng", "eng-pw").await;

        let refused = ana
            .execute("CALL close_period('2026-04')".into(), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("permission")
                && refused.contains("Analysts may not call close_period"),
            "{refused}"
        );
        let status =
            "SELECT invoice_number, status FROM gold.invoice WHERE billing_period = '2026-04'";
        assert_eq!(
            rows(&mut ana, status).await,
            vec!["PRV-202604-C0000001,PROVISIONAL"]
        );

        assert_eq!(
            rows(&mut eng, "CALL close_period('2026-04')").await,
            vec!["2026-04,close,1,87.95,105.54,<run>"]
        );
        assert_eq!(
            rows(&mut ana, status).await,
            vec!["INV-202604-0000001,ISSUED"],
            "the server shows the issued invoice without a restart"
        );
        let again = eng
            .execute_update("CALL close_period('2026-04')".into(), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(again.contains("2026-04 is already closed"), "{again}");
        let early = try_rows(&mut eng, "CALL close_period('2026-05', 0)")
            .await
            .unwrap_err();
        assert!(early.contains("2026-05 cannot close yet"), "{early}");
        assert_eq!(
            eng.execute_update("CALL release_period('2026-04')".into(), None)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            rows(
                &mut ana,
                "SELECT billing_period, action, by_user FROM system.period_close ORDER BY at"
            )
            .await,
            vec!["2026-04,close,eng", "2026-04,release,eng"]
        );
    });
    drop(server);

    // The customer documents: issued amounts, the masked number only, and the CRM's current
    // name, escaped (a CRM feed is input like any other).
    let mut renamed = customer("P_PLUS", "2026-04-21");
    renamed[3].1 = "<script>alert(1)</script>Amina".into();
    deliver(&lake, "crm-name.csv", "crm_customer", &[renamed]);
    lake.ok(&["run", "--project", &project, "-s", "silver.subscriber"]);
    let out = lake.cwd().join("invoices");
    let exported = lake.ok(&[
        "invoices",
        "export",
        "2026-04",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        exported.contains("2026-04: 1 invoice documents"),
        "{exported}"
    );
    let document = std::fs::read_to_string(out.join("INV-202604-0000001.html")).unwrap();
    for needle in [
        "<title>Invoice INV-202604-0000001</title>",
        "&#60;script&#62;alert(1)&#60;/script&#62;Amina Alaoui",
        "Mobile number +21261****678",
        "Monthly fee: P_BASIC Jawal Basic, active 20/30 days",
        "<td>Calls</td>",
        "<td class=\"num\">2.15</td>",
        "<td class=\"num\">-6.57</td>",
        "Net amount (excl. VAT)</td><td class=\"num\">87.95 MAD",
        "VAT 20%</td><td class=\"num\">17.59 MAD",
        "Total due</td><td class=\"num\">105.54 MAD",
    ] {
        assert!(document.contains(needle), "{needle} not in:\n{document}");
    }
    assert!(
        !document.contains("+212612345678") && !document.contains("<script>"),
        "{document}"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        index.contains("<a href=\"INV-202604-0000001.html\">INV-202604-0000001</a>"),
        "{index}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o700);
        assert_eq!(mode(&out.join("INV-202604-0000001.html")), 0o600);
    }
    assert_clean_error(
        &cdrlake(
            lake.cwd(),
            &["invoices", "export", "2026-05", "--out", "may"],
            &[],
        ),
        &["2026-05 is not closed: only issued invoices are exported"],
    );
}

/// The routine on generated data: `up` closes April; a late April SMS for one generated customer
/// and a CRM correction for another arrive; April's issued rows stay as they were, May adjusts
/// exactly those two customers, April replays identical, and once April's issued lines are
/// deleted, replay lists every one of them.
#[test]
fn generated_april_stays_issued_through_late_data_and_replays() {
    let lake = Lake::new();
    let project = lake.cwd().join("project");
    common::copy_dir(
        &PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("sql"),
        &project,
    );
    let project = project.to_str().unwrap();
    let up = lake.ok(&[
        "up",
        "--project",
        project,
        "--customers",
        "40",
        "--days",
        "34",
        "--no-serve",
    ]);
    assert!(up.contains("2026-04 closed: "), "{up}");
    let issued = april(&lake);
    let versions = (
        lake.version("gold.issued_invoice"),
        lake.version("gold.issued_invoice_line"),
    );

    // Two customers on one CRM version since before April: a gets a late international SMS
    // (1.50, outside every allowance), b's plan change is back-dated to 16 April.
    let picked = lake.csv(
        "SELECT customer_id, msisdn, imsi, plan_id FROM bronze.crm_customer GROUP BY customer_id, msisdn, imsi, plan_id \
         HAVING count(*) = 1 AND max(status) = 'active' AND max(effective_from) < '2026-03-01' ORDER BY customer_id LIMIT 2",
    );
    let picked: Vec<Vec<&str>> = picked
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let (a, b) = (&picked[0], &picked[1]);
    let mut late = sms("LATE1", "2026-04-28T10:00:00+01:00", "+34 612 345 678");
    for (k, v) in late.iter_mut() {
        match *k {
            "served_msisdn" => *v = a[1].to_string(),
            "served_imsi" => *v = a[2].to_string(),
            _ => {}
        }
    }
    deliver(&lake, "late.csv", "sms_cdr", &[late]);
    let new_plan = if b[3] == "P_MAX" { "P_BASIC" } else { "P_MAX" };
    lake.ok(&[
        "query", "--format", "csv", "-o", "crm-fix.csv",
        &format!(
            "SELECT customer_id, msisdn, imsi, first_name, last_name, national_id, city, region, segment, \
             '{new_plan}' AS plan_id, status, '2026-04-16' AS effective_from FROM bronze.crm_customer WHERE customer_id = '{}'",
            b[0]
        ),
    ]);
    lake.ok(&["ingest", "crm-fix.csv", "--into", "bronze.crm_customer"]);
    lake.ok(&["run", "--project", project]);

    assert_eq!(april(&lake), issued, "April's invoices and lines as issued");
    assert_eq!(
        (
            lake.version("gold.issued_invoice"),
            lake.version("gold.issued_invoice_line")
        ),
        versions
    );
    // b: 15 of 30 days moved from the old fee to the new one; the loyalty discount, where b has
    // one, follows at 10% of it.
    let fee = |plan: &str| -> i64 {
        let text = lake.csv(&format!(
            "SELECT CAST(monthly_fee * 100 AS BIGINT) AS cents FROM bronze.plan WHERE plan_id = '{plan}'"
        ));
        text.lines().nth(1).unwrap().parse().unwrap()
    };
    let recurring = (fee(new_plan) - fee(b[3])) / 2;
    let money = |cents: i64| {
        format!(
            "{}{}.{:02}",
            if cents < 0 { "-" } else { "" },
            cents.abs() / 100,
            cents.abs() % 100
        )
    };
    let adjustments = lake.csv(
        "SELECT i.customer_id, l.adjusts_line_type, l.quantity, l.amount FROM gold.invoice_line l \
         JOIN gold.invoice i ON i.invoice_number = l.invoice_number WHERE l.line_type = 'ADJUSTMENT' ORDER BY 1, l.line_no",
    );
    let had_discount = lake.csv(&format!(
        "SELECT count(*) AS n FROM gold.invoice_line l JOIN gold.invoice i ON i.invoice_number = l.invoice_number \
         WHERE i.customer_id = '{}' AND i.billing_period = '2026-04' AND l.line_type = 'DISCOUNT'",
        b[0]
    )) == "n\n1\n";
    let mut expected = format!(
        "customer_id,adjusts_line_type,quantity,amount\n{},SMS,1,1.50\n{},RECURRING,0,{}\n",
        a[0],
        b[0],
        money(recurring)
    );
    if had_discount {
        expected += &format!("{},DISCOUNT,0,{}\n", b[0], money(-recurring / 10));
    }
    assert_eq!(adjustments, expected);

    let replayed = lake.ok(&["replay-period", "2026-04"]);
    assert!(replayed.contains("identical: 2026-04"), "{replayed}");
    let lines = lake
        .csv("SELECT count(*) AS n FROM gold.issued_invoice_line WHERE billing_period = '2026-04'");
    lake.ok(&[
        "query",
        "DELETE FROM gold.issued_invoice_line WHERE billing_period = '2026-04'",
    ]);
    let replayed = cdrlake(lake.cwd(), &["replay-period", "2026-04"], &[]);
    assert_clean_error(
        &replayed,
        &[&format!(
            "2026-04 replayed differs from what was issued: {} row(s)",
            lines.lines().nth(1).unwrap()
        )],
    );
    assert!(
        common::stdout(&replayed)
            .contains("replayed only line: INV-202604-0000001 line 1 RECURRING"),
        "{}",
        common::stdout(&replayed)
    );
}

//! The analytics layer (analytics.md) on generated data through the real binary and the shipped
//! `sql/` project: fraud alerts against the generator's injected cases, SCD2 joins, no raw PII
//! anywhere in gold, KPI ranges, and the run's quality gates.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::Lake;

fn project() -> String {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("sql")
        .display()
        .to_string()
}

fn rows(lake: &Lake, sql: &str) -> Vec<Vec<String>> {
    lake.csv(sql)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn number(lake: &Lake, sql: &str) -> u64 {
    rows(lake, sql)[0][0].parse().unwrap()
}

/// One lakehouse for all checks: generating and building it is most of the cost.
fn built() -> Lake {
    let lake = Lake::new();
    // 4,000 subscribers give two injected cases per fraud rule; 3 days keep it small.
    lake.ok(&[
        "generate",
        "--customers",
        "4000",
        "--days",
        "3",
        "--seed",
        "7",
        "--truth",
        "truth.json",
    ]);
    let run = lake.ok(&["run", "--project", &project()]);
    assert!(
        run.contains("gold.fraud_alert (incremental) OK")
            && run.contains("gold.agg_cell_hourly (incremental) OK"),
        "{run}"
    );
    assert!(
        !run.contains("FAIL ") && !run.contains("ERROR"),
        "every gate passes on generated data: {run}"
    );
    // The newest local day holds the hour its delivery reaches into it: no warning for that.
    assert!(
        run.contains("PASS tests/daily_cdr_volume_holds_up"),
        "{run}"
    );
    lake
}

#[test]
fn analytics_layer_on_generated_data() {
    let lake = built();
    fraud_alerts_are_exactly_the_injected_cases(&lake);
    scd2_versions_join_facts_at_their_time(&lake);
    no_gold_column_holds_raw_pii(&lake);
    kpis_stay_in_range(&lake);
    gates_were_recorded(&lake);
    a_short_day_warns(&lake);
}

/// A delivery lost on the way (its bronze batches deleted, as if never received) and the next
/// one delivered: the daily run that follows warns. The day the lost delivery held is short, and
/// no CDR rated in that run starts in it: the run also checks from what the builds before its
/// last pass rated, where that day was the newest and not checked.
#[test]
fn a_lost_delivery_warns_in_the_daily_run() {
    let lake = Lake::new();
    lake.ok(&[
        "generate",
        "--customers",
        "300",
        "--start",
        "2026-04-20",
        "--days",
        "1",
        "--span",
        "5",
        "--seed",
        "5",
    ]);
    for _ in 0..2 {
        lake.ok(&["generate", "--append"]);
        let run = lake.ok(&["run", "--project", &project()]);
        assert!(
            run.contains("PASS tests/daily_cdr_volume_holds_up"),
            "{run}"
        );
    }
    // Two deliveries arrive; the first of them is lost (after the second: the generator keeps
    // its state in the newest commit).
    lake.ok(&["generate", "--append"]);
    lake.ok(&["generate", "--append"]);
    for table in ["voice_cdr", "sms_cdr", "data_cdr"] {
        let batches = rows(
            &lake,
            &format!(
                "SELECT _batch_id FROM bronze.{table} GROUP BY _batch_id ORDER BY max(_ingested_at) DESC LIMIT 2"
            ),
        );
        assert_eq!(batches.len(), 2, "a batch a delivery: {batches:?}");
        lake.ok(&[
            "query",
            &format!(
                "DELETE FROM bronze.{table} WHERE _batch_id = '{}'",
                batches[1][0]
            ),
        ]);
    }
    let run = lake.ok(&["run", "--project", &project()]);
    assert!(
        run.contains("WARN tests/daily_cdr_volume_holds_up (1 failing rows)"),
        "{run}"
    );
}

/// Last: it deletes rated CDRs. A day before the newest one that lost most of its CDRs is below
/// half the days before it: a full refresh and `cdrlake test` check every day and warn; a run
/// checks only the days of the CDRs rated since the test last passed, and none were. A day with
/// no CDR left warns too.
fn a_short_day_warns(lake: &Lake) {
    let days = rows(
        lake,
        "SELECT CAST(day AS VARCHAR) FROM gold.service_usage_daily GROUP BY 1 ORDER BY 1",
    );
    assert!(days.len() >= 3, "{days:?}");
    let short = &days[days.len() - 2][0];
    // A full refresh checks every day.
    let refresh_warns = || {
        let refresh = lake.ok(&[
            "run",
            "--project",
            &project(),
            "--full-refresh",
            "--select",
            "gold.service_usage_daily",
        ]);
        assert!(
            refresh.contains("WARN tests/daily_cdr_volume_holds_up (1 failing rows)"),
            "{refresh}"
        );
    };
    lake.ok(&[
        "query",
        &format!(
            "DELETE FROM gold.rated_cdr WHERE local_date(start_time) = DATE '{short}' AND cdr_id NOT LIKE '%0'"
        ),
    ]);
    refresh_warns();
    // Other checks may fail on the deleted rows; this one only warns.
    let out = common::cdrlake(lake.cwd(), &["test", "--project", &project()], &[]);
    let text = common::stdout(&out);
    assert!(
        text.contains("WARN tests/daily_cdr_volume_holds_up (1 failing rows)"),
        "{text}"
    );
    // Nothing was rated since the test last passed: an incremental run checks no day.
    let run = lake.ok(&["run", "--project", &project()]);
    assert!(
        run.contains("PASS tests/daily_cdr_volume_holds_up"),
        "{run}"
    );
    // A day that lost every CDR (a whole delivery) has no row to count: it counts as 0 and warns.
    lake.ok(&[
        "query",
        &format!("DELETE FROM gold.rated_cdr WHERE local_date(start_time) = DATE '{short}'"),
    ]);
    refresh_warns();
}

fn fraud_alerts_are_exactly_the_injected_cases(lake: &Lake) {
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lake.cwd().join("truth.json")).unwrap())
            .unwrap();
    let cases = truth["fraud"].as_array().unwrap();
    let rules: BTreeSet<&str> = cases.iter().map(|c| c["rule"].as_str().unwrap()).collect();
    assert_eq!(rules.len(), 3, "every rule is injected: {rules:?}");

    let alerts = rows(
        lake,
        "SELECT rule, customer_id, detected_cdr_id, first_cdr_id, severity FROM gold.fraud_alert ORDER BY alert_id",
    );
    // Extra alerts explained by real (not injected) data would be listed here; there are none.
    assert_eq!(
        alerts.len(),
        cases.len(),
        "one alert per injected case: {alerts:?}"
    );
    for case in cases {
        let rule = case["rule"].as_str().unwrap();
        let customer = case["customer_id"].as_str().unwrap();
        let ids: Vec<&str> = case["cdr_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let found: Vec<&Vec<String>> = alerts
            .iter()
            .filter(|a| a[0] == rule && a[1] == customer)
            .collect();
        assert_eq!(found.len(), 1, "{rule} for {customer}: {alerts:?}");
        let alert = found[0];
        assert!(
            ids.contains(&alert[2].as_str()),
            "{rule}: completed by one of the injected calls {ids:?}: {alert:?}"
        );
        let severity = if rule == "VELOCITY" { "MEDIUM" } else { "HIGH" };
        assert_eq!(alert[4], severity);
        match rule {
            // The pair: the real call at home, then the clone far away.
            "IMPOSSIBLE_TRAVEL" => {
                assert_eq!((alert[3].as_str(), alert[2].as_str()), (ids[0], ids[1]))
            }
            // More than 25 calls: the 26th call of the burst at the latest completes it.
            "VELOCITY" => assert!(ids[..26].contains(&alert[2].as_str()), "{alert:?}"),
            // The fifth high-risk call completes it.
            _ => assert_eq!(alert[2], ids[4]),
        }
    }
}

fn scd2_versions_join_facts_at_their_time(lake: &Lake) {
    assert_eq!(
        number(lake, "SELECT count(*) FROM gold.dim_customer"),
        number(
            lake,
            "SELECT count(*) FROM silver.subscriber WHERE valid_to IS NULL OR valid_to > valid_from"
        )
    );
    // Plan changes during the period give customers with two versions, and their CDRs on both.
    let both = number(
        lake,
        "SELECT count(*) FROM (SELECT f.customer_id FROM gold.fact_cdr f JOIN gold.dim_customer d ON d.customer_key = f.customer_key \
         GROUP BY f.customer_id HAVING count(DISTINCT d.plan_id) > 1)",
    );
    assert!(
        both > 0,
        "some customers change plan and have facts under both versions"
    );
    let misjoined = number(
        lake,
        "SELECT count(*) FROM gold.fact_cdr f LEFT JOIN gold.dim_customer d ON d.customer_key = f.customer_key \
         WHERE f.customer_id IS NOT NULL AND (d.customer_key IS NULL OR d.customer_id <> f.customer_id \
           OR f.start_time < d.valid_from OR (d.valid_to IS NOT NULL AND f.start_time >= d.valid_to))",
    );
    assert_eq!(
        misjoined, 0,
        "every fact joins the version valid at its start"
    );
    assert_eq!(
        number(lake, "SELECT count(*) FROM gold.fact_cdr"),
        number(lake, "SELECT count(*) FROM gold.rated_cdr")
    );
    assert_eq!(
        number(
            lake,
            "SELECT count(*) FROM gold.dim_customer WHERE is_current"
        ),
        number(
            lake,
            "SELECT count(DISTINCT customer_id) FROM gold.dim_customer"
        )
    );
    let tokens = rows(
        lake,
        "SELECT name_token, msisdn_masked FROM gold.dim_customer LIMIT 5",
    );
    for t in tokens {
        assert!(
            t[0].len() == 16 && t[0].chars().all(|c| c.is_ascii_hexdigit()),
            "{t:?}"
        );
        assert!(t[1].starts_with("+2126") && t[1].contains("****"), "{t:?}");
    }
}

/// Every text value of every gold table, checked against the subscribers' MSISDNs, IMSIs,
/// national ids and names, and against anything shaped like a Moroccan MSISDN or an IMSI.
fn no_gold_column_holds_raw_pii(lake: &Lake) {
    let columns = rows(
        lake,
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'gold' \
         AND data_type IN ('Utf8', 'Utf8View', 'LargeUtf8') ORDER BY table_name, column_name",
    );
    let tables: BTreeSet<&str> = columns.iter().map(|c| c[0].as_str()).collect();
    assert!(
        tables.len() >= 15,
        "all gold tables are scanned: {tables:?}"
    );
    let pii = "SELECT DISTINCT p FROM (SELECT msisdn AS p FROM silver.subscriber UNION ALL SELECT imsi FROM silver.subscriber \
               UNION ALL SELECT national_id FROM silver.subscriber UNION ALL SELECT first_name FROM silver.subscriber \
               UNION ALL SELECT last_name FROM silver.subscriber UNION ALL SELECT first_name || ' ' || last_name FROM silver.subscriber) all_pii";
    let mut checked = 0;
    for table in &tables {
        let cols: Vec<&str> = columns
            .iter()
            .filter(|c| c[0] == *table)
            .map(|c| c[1].as_str())
            .collect();
        let values = cols
            .iter()
            .map(|c| format!("SELECT CAST(\"{c}\" AS VARCHAR) AS val FROM gold.\"{table}\""))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let sql = format!(
            "WITH vals AS ({values}), pii AS ({pii}) SELECT count(*) FROM vals LEFT JOIN pii ON pii.p = vals.val \
             WHERE pii.p IS NOT NULL OR {}",
            shaped_like_pii("vals.val")
        );
        assert_eq!(
            number(lake, &sql),
            0,
            "gold.{table} ({cols:?}) holds raw PII"
        );
        checked += cols.len();
    }
    assert!(checked > 50, "{checked} text columns scanned");
    // The scan would catch one: silver has the raw values it looks for.
    assert!(
        number(
            lake,
            &format!(
                "SELECT count(*) FROM silver.cdr WHERE {}",
                shaped_like_pii("served_msisdn")
            )
        ) > 0
    );
    // A token whose hex digits happen to spell a number is not one (about one lake in a thousand
    // has such a name token); a number beside a token still is.
    let shaped = |text: &str| {
        rows(
            lake,
            &format!(
                "SELECT {} FROM (VALUES ('{text}')) t(v)",
                shaped_like_pii("v")
            ),
        )[0][0]
            .clone()
    };
    assert_eq!(shaped("a2126123456789b0"), "false");
    assert_eq!(shaped("a2126123456789b0 +212612345678"), "true");
    assert_eq!(shaped("604011234567890"), "true");
}

/// A condition on the text `expr`: it holds something shaped like a Moroccan MSISDN or an IMSI,
/// outside the 16-hex-digit name tokens (`hmac_token`).
fn shaped_like_pii(expr: &str) -> String {
    let outside_tokens = format!("regexp_replace({expr}, '\\b[0-9a-f]{{16}}\\b', '', 'g')");
    format!(
        "(regexp_like({outside_tokens}, '(\\+|00)?212[5-7][0-9]{{8}}') OR regexp_like({outside_tokens}, '60401[0-9]{{10}}'))"
    )
}

fn kpis_stay_in_range(lake: &Lake) {
    let r = &rows(
        lake,
        "SELECT count(*) FILTER (WHERE utilization_pct < 0 OR utilization_pct > 100), max(utilization_pct) > 0, sum(voice_calls), \
         count(*) FILTER (WHERE p95_latency_ms IS NOT NULL), count(*) FILTER (WHERE dropped_call_rate < 0 OR dropped_call_rate > 1) FROM gold.agg_cell_hourly",
    )[0];
    assert_eq!(r[0], "0", "utilization_pct within [0, 100]");
    assert_eq!(r[1], "true");
    assert_eq!(r[4], "0");
    let home_voice = number(
        lake,
        "SELECT count(*) FROM silver.cdr c JOIN gold.dim_cell d ON d.cell_id = c.first_cell_id WHERE service = 'VOICE' AND NOT roaming",
    );
    assert_eq!(
        r[2].parse::<u64>().unwrap(),
        home_voice,
        "every home call counted once, at its first cell"
    );
    assert!(r[3].parse::<u64>().unwrap() > 0, "probes joined");
    // Erlangs: every answered second is spread over the hours, none lost or doubled.
    let seconds = rows(
        lake,
        "SELECT round(sum(erlangs) * 3600) FROM gold.agg_cell_hourly \
         UNION ALL SELECT CAST(sum(CAST(end_time AS BIGINT) - CAST(start_time AS BIGINT)) / 1e6 AS DOUBLE) FROM silver.cdr c \
         JOIN gold.dim_cell d ON d.cell_id = c.first_cell_id WHERE service = 'VOICE' AND answered AND NOT roaming",
    );
    let (a, b): (f64, f64) = (
        seconds[0][0].parse().unwrap(),
        seconds[1][0].parse().unwrap(),
    );
    assert!(
        (a - b).abs() < 1.0,
        "erlang seconds {a} vs call seconds {b}"
    );
    let months = rows(
        lake,
        "SELECT sum(total_charge) FROM gold.agg_customer_monthly UNION ALL SELECT sum(charge) FROM gold.rated_cdr WHERE customer_id IS NOT NULL",
    );
    assert_eq!(
        months[0], months[1],
        "monthly aggregates add up to the rated charges"
    );
    let days = rows(
        lake,
        "SELECT count(*), min(day_of_week), max(day_of_week), count(*) FILTER (WHERE is_weekend) FROM gold.dim_date",
    );
    assert_eq!(
        days[0],
        vec!["30", "1", "7", "8"],
        "April 2026 (from Wednesday the 1st): 30 days, 8 of them Saturdays or Sundays"
    );
}

fn gates_were_recorded(lake: &Lake) {
    let statuses = rows(
        lake,
        "SELECT DISTINCT status FROM system.test_results ORDER BY status",
    );
    let statuses: Vec<&str> = statuses.iter().map(|r| r[0].as_str()).collect();
    assert!(
        statuses.iter().all(|s| *s == "pass" || *s == "warn"),
        "{statuses:?}"
    );
    for gate in [
        "gold.fact_cdr relationships(customer_key, gold.dim_customer.customer_key)",
        "gold.agg_cell_hourly expression(utilization_pct >= 0 AND utilization_pct <= 100)",
        "gold.rated_cdr expression(charge >= 0)",
        "tests/invoice_net_equals_its_lines",
        "tests/mediation_accounts_for_every_bronze_row",
        "gold.fact_cdr unique(cdr_id)",
        "silver.cdr unique(cdr_id)",
    ] {
        assert_eq!(
            number(
                lake,
                &format!(
                    "SELECT count(*) FROM system.test_results WHERE test = '{gate}' AND status = 'pass'"
                )
            ),
            1,
            "{gate}"
        );
    }
}

//! The server on its own with generated deliveries: files landing with an injected fraud pattern
//! and a bad file, runs after new files and on a cron schedule, fraud alerts signed out to a
//! webhook that fails at first, freshness and metrics: no command after `serve`.

mod common;

use std::collections::BTreeSet;

use common::Lake;
use common::server::{Server, free_port, http_get, wait_for};
use common::webhook::Receiver;

const SECRET: &str = "a shared secret for the test receiver";
/// Landing tables and the generated files delivered to them.
const DELIVERED: [&str; 5] = [
    "crm_customer",
    "voice_cdr",
    "sms_cdr",
    "data_cdr",
    "network_probe",
];

#[test]
fn generated_deliveries_reach_gold_alerts_and_freshness_by_themselves() {
    // Two days of generated traffic (one case of each fraud rule is injected), as switches and
    // the CRM would deliver them: one contract CSV per table.
    let source = Lake::new();
    source.ok(&[
        "generate",
        "--customers",
        "40",
        "--days",
        "2",
        "--seed",
        "11",
    ]);
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(source.cwd().join("ground-truth.json")).unwrap(),
    )
    .unwrap();
    let lake = Lake::new();
    let project = project_with_cells(&source, &lake);
    lake.ok(&["init"]);

    let receiver = Receiver::start(4);
    let metrics = free_port();
    let hook = format!(
        "http://{}/hooks/cdrlake?token=kept-out-of-logs",
        receiver.addr
    );
    let server = Server::start_with_env(
        lake.cwd(),
        &[
            "serve",
            "--project",
            &project,
            "--watch",
            "landing",
            "--poll-seconds",
            "1",
            "--settle-seconds",
            "0",
            "--refresh-after-seconds",
            "2",
            "--schedule",
            "*/30 * * * * *",
            "--alert-webhook",
            &hook,
            "--metrics-listen",
            &metrics,
        ],
        &[("CDRLAKE_WEBHOOK_SECRET", SECRET)],
    );

    let mut delivered_rows = Vec::new();
    for (n, table) in DELIVERED.iter().enumerate() {
        let columns = cdrlake::contract::bronze_event_columns(table)
            .unwrap()
            .join(", ");
        let staged = source.cwd().join(format!("{table}.csv"));
        source.ok(&[
            "query",
            &format!("SELECT {columns} FROM bronze.{table}"),
            "--format",
            "csv",
            "--output",
            staged.to_str().unwrap(),
        ]);
        let rows = std::fs::read_to_string(&staged).unwrap().lines().count() - 1;
        delivered_rows.push((*table, rows));
        // Renamed into place, complete, as a switch's transfer would.
        let target = lake.cwd().join(format!(
            "landing/{table}/{}_{:06}.csv",
            table.to_uppercase(),
            n + 1
        ));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::rename(&staged, &target).unwrap();
    }
    lake.file(
        "landing/voice_cdr/BROKEN_000001.csv",
        "caller,callee\n1,2\n",
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let alerts = runtime.block_on(async {
        // The deliveries reach silver and gold, every bronze row accounted for.
        wait_for(
            &server,
            "SELECT count(DISTINCT service) FROM gold.fact_cdr",
            |r| r == ["3"],
        )
        .await;
        let gate = wait_for(
            &server,
            "SELECT DISTINCT status FROM system.test_results WHERE test = 'tests/mediation_accounts_for_every_bronze_row'",
            |r| !r.is_empty(),
        )
        .await;
        assert_eq!(gate, vec!["pass"]);
        // Every injected fraud case is an alert, delivered.
        wait_for(
            &server,
            "SELECT count(*) FROM system.alerts a JOIN system.alert_deliveries d ON d.event_id = a.event_id \
             WHERE a.kind = 'fraud_alert'",
            |r| r.first().is_some_and(|n| n.parse::<usize>().unwrap() >= 3),
        )
        .await;
        wait_for(
            &server,
            "SELECT a.event_id FROM system.alerts a WHERE NOT EXISTS \
             (SELECT 1 FROM system.alert_deliveries d WHERE d.event_id = a.event_id)",
            |r| r.is_empty(),
        )
        .await;
        wait_for(&server, "SELECT event_id, kind FROM system.alerts ORDER BY event_id", |_| true)
            .await
    });

    // The webhook got every event (after refusing the first four POSTs), signed, masked.
    let received = receiver.received();
    assert_eq!(received.iter().filter(|r| r.status == 500).count(), 4);
    let taken: BTreeSet<&str> = received
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.header("x-cdrlake-event-id"))
        .collect();
    // (Query rows show run ids as <run>: fraud alert ids compare whole, the rest by number.)
    let raised: BTreeSet<&str> = alerts
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let fraud_ids = |ids: &BTreeSet<&str>| -> BTreeSet<String> {
        ids.iter()
            .filter(|i| i.starts_with("fraud_alert:"))
            .map(|i| i.to_string())
            .collect()
    };
    assert_eq!(
        fraud_ids(&taken),
        fraud_ids(&raised),
        "every fraud alert reached the receiver"
    );
    assert_eq!(
        taken.len(),
        alerts.len(),
        "every raised event reached the receiver"
    );
    for r in &received {
        let timestamp = r.header("x-cdrlake-timestamp");
        assert_eq!(
            r.header("x-cdrlake-signature"),
            format!(
                "sha256={}",
                cdrlake::alerts::webhook::signature(SECRET, timestamp, &r.body)
            ),
            "signed: {r:?}"
        );
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["event_id"], r.header("x-cdrlake-event-id"));
    }
    let msisdns = source.csv("SELECT DISTINCT msisdn FROM bronze.crm_customer");
    let bodies: Vec<&str> = received.iter().map(|r| r.body.as_str()).collect();
    for msisdn in msisdns.lines().skip(1) {
        assert!(
            !bodies.iter().any(|b| b.contains(msisdn)),
            "{msisdn} unmasked in a webhook body"
        );
    }
    for case in truth["fraud"].as_array().unwrap() {
        let (rule, customer) = (
            case["rule"].as_str().unwrap(),
            case["customer_id"].as_str().unwrap(),
        );
        assert!(
            bodies.iter().any(|b| {
                let body: serde_json::Value = serde_json::from_str(b).unwrap();
                body["kind"] == "fraud_alert"
                    && body["rule"] == rule
                    && body["customer_id"] == customer
                    && body["served_msisdn"].as_str().unwrap().contains('*')
            }),
            "injected {rule} of {customer} not delivered: {bodies:#?}"
        );
    }
    assert!(
        server.printed("alert fraud_alert: HIGH"),
        "the server log has the alert"
    );

    // The bad file is set aside with its reason; the good ones are done.
    let reason = std::fs::read_to_string(
        lake.cwd()
            .join("landing/_rejected/voice_cdr/BROKEN_000001.csv.reason"),
    )
    .unwrap();
    assert!(
        reason.contains("missing column(s) of bronze.voice_cdr"),
        "{reason}"
    );
    assert!(
        lake.cwd()
            .join("landing/_done/voice_cdr/VOICE_CDR_000002.csv")
            .exists()
    );

    runtime.block_on(async {
        // Freshness: gold is as new as its sources, however old the generated days are.
        let fresh = wait_for(
            &server,
            "SELECT table_name, event_column, lag_sources_s, lag_wall_clock_s > 86400 FROM system.freshness \
             WHERE table_name IN ('bronze.voice_cdr', 'silver.cdr', 'gold.fact_cdr') ORDER BY table_name",
            |r| r.len() == 3 && r.iter().all(|l| !l.contains(",,")),
        )
        .await;
        let lag = |row: &str| -> i64 { row.split(',').nth(2).unwrap().parse().unwrap() };
        assert!(fresh[0].starts_with("bronze.voice_cdr,release_time,"), "{fresh:?}");
        assert!(fresh[1].starts_with("gold.fact_cdr,start_time,"), "{fresh:?}");
        assert!(fresh[2].starts_with("silver.cdr,start_time,"), "{fresh:?}");
        // Gold is as fresh as silver, and both within the hour of the newest delivered event
        // (April is months behind the wall clock).
        assert_eq!(lag(&fresh[1]), lag(&fresh[2]), "{fresh:?}");
        assert!(lag(&fresh[1]) < 3600, "{fresh:?}");
        assert!(fresh.iter().all(|r| r.ends_with(",true")), "{fresh:?}");
        let gate = wait_for(
            &server,
            "SELECT DISTINCT status FROM system.test_results \
             WHERE test = 'gold.fact_cdr freshness(start_time, ''6 hours'', silver.cdr.start_time)'",
            |r| !r.is_empty(),
        )
        .await;
        assert_eq!(gate, vec!["pass"]);
        // The schedule runs the models without new files.
        wait_for(
            &server,
            "SELECT count(DISTINCT run_id) FROM system.model_runs",
            |r| r.first().is_some_and(|n| n.parse::<u32>().unwrap() >= 2),
        )
        .await;
    });
    assert!(server.printed("scheduled refresh"));
    assert!(
        !server.printed("kept-out-of-logs"),
        "the webhook's token stays out of the log"
    );

    // `cdrlake status` measures the same by hand.
    let status = lake.ok(&["status", "--format", "csv"]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("gold.fact_cdr,") && l.contains(",start_time,")),
        "{status}"
    );

    // Metrics count all of it.
    let scraped = http_get(&metrics, "/metrics");
    let fraud = alerts
        .iter()
        .filter(|l| l.ends_with(",fraud_alert"))
        .count();
    for line in [
        format!("cdrlake_alerts_raised_total{{kind=\"fraud_alert\"}} {fraud}"),
        format!("cdrlake_alerts_delivered_total {}", alerts.len()),
        "cdrlake_alert_delivery_failures_total 1".to_string(),
        "cdrlake_landed_files_total{status=\"rejected\"} 1".to_string(),
        "cdrlake_landed_files_total{status=\"loaded\"} 5".to_string(),
        format!(
            "cdrlake_rows_ingested_total{{table=\"voice_cdr\"}} {}",
            delivered_rows[1].1
        ),
    ] {
        assert!(
            scraped.lines().any(|l| l == line),
            "{line} not in:\n{scraped}"
        );
    }
    assert!(
        scraped.lines().any(|l| l.starts_with(
            "cdrlake_freshness_lag_seconds{against=\"sources\",table=\"gold.fact_cdr\"} "
        )),
        "{scraped}"
    );
}

/// The shipped project with the generator's cells as the `bronze.cell` seed (cells are
/// reference data, not a landing table).
fn project_with_cells(source: &Lake, lake: &Lake) -> String {
    let dir = lake.cwd().join("project");
    common::copy_dir(
        &std::path::PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
        )
        .join("sql"),
        &dir,
    );
    let cells = source.csv(
        "SELECT cell_id, lac, site_name, city, region, latitude, longitude, technology, capacity_erlang \
         FROM bronze.cell ORDER BY cell_id",
    );
    std::fs::write(
        dir.join("seeds/bronze.cell.csv"),
        format!("# latitude: float\n# longitude: float\n# capacity_erlang: float\n{cells}"),
    )
    .unwrap();
    dir.display().to_string()
}

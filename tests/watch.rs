//! `cdrlake serve --watch`: files dropped in a landing directory reach silver and gold with no
//! other command; bad files are set aside with their reason; one process at a time takes files,
//! and another takes over when it is gone.

mod common;

use std::time::{Duration, Instant};

use common::server::{Server, free_port, http_get, wait_for};
use common::worked::{customer, project, sms, worked_files};
use common::{Lake, contract_csv};

const INVOICE: &str =
    "SELECT invoice_number, net_amount, total_amount FROM gold.invoice ORDER BY billing_period";

#[test]
fn landed_files_reach_gold_without_a_command() {
    let lake = Lake::new();
    let project = project(&lake);
    lake.ok(&["init"]);
    let watch = |lake: &Lake| {
        let metrics = free_port();
        let server = Server::start(
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
                "1",
                "--metrics-listen",
                &metrics,
            ],
        );
        (server, metrics)
    };
    let (first, first_metrics) = watch(&lake);
    let (second, second_metrics) = watch(&lake);
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // The worked example as a switch would deliver it, plus what goes wrong in real deliveries.
    let landing = lake.cwd().join("landing");
    for (file, csv) in worked_files() {
        let table = match file {
            "crm.csv" => "crm_customer",
            "voice.csv" => "voice_cdr",
            "sms.csv" => "sms_cdr",
            _ => "data_cdr",
        };
        let name = format!("{}_000001.csv", table.to_uppercase());
        lake.file(&format!("landing/{table}/{name}"), csv);
    }
    let no_rows: &[Vec<(&str, String)>] = &[];
    lake.file(
        "landing/network_probe/PROBE_000001.csv",
        contract_csv("network_probe", no_rows),
    );
    lake.file("landing/voice_cdr/VOICE_CDR_000003.csv", "a,b\n1,2\n");
    lake.file("landing/stray.csv", "a\n1\n");
    lake.file(
        "landing/voice_cdr/VOICE_CDR_000004.csv.part",
        "still being written",
    );

    runtime.block_on(async {
        let issued = wait_for(&first, INVOICE, |r| !r.is_empty()).await;
        assert_eq!(issued, vec!["PRV-202604-C0000001,87.95,105.54"]);
    });
    let reason =
        std::fs::read_to_string(landing.join("_rejected/voice_cdr/VOICE_CDR_000003.csv.reason"))
            .unwrap();
    assert!(
        reason.starts_with("missing column(s) of bronze.voice_cdr: record_type, recording_entity"),
        "{reason}"
    );
    assert!(
        std::fs::read_to_string(landing.join("_rejected/_unsorted/stray.csv.reason"))
            .unwrap()
            .contains("is not a landing table"),
    );
    assert!(landing.join("voice_cdr/VOICE_CDR_000004.csv.part").exists());
    assert!(landing.join("_done/sms_cdr/SMS_CDR_000001.csv").exists());
    assert!(
        first.printed("watching landing for new files")
            != second.printed("watching landing for new files"),
        "exactly one process takes files"
    );
    let ((active, metrics), standby) = if first.printed("watching landing") {
        ((first, first_metrics), second)
    } else {
        ((second, second_metrics), first)
    };
    // The operator's endpoints: what the active server did, counted.
    assert!(http_get(&metrics, "/health").starts_with("HTTP/1.1 200"));
    assert!(http_get(&metrics, "/ready").starts_with("HTTP/1.1 200"));
    // The run is counted as it ends, a little after gold.invoice was built.
    let deadline = Instant::now() + Duration::from_secs(60);
    let scraped = loop {
        let scraped = http_get(&metrics, "/metrics");
        if scraped.contains("cdrlake_runs_total") || Instant::now() > deadline {
            break scraped;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    for line in [
        "cdrlake_rows_ingested_total{table=\"voice_cdr\"} 4",
        "cdrlake_rows_ingested_total{table=\"crm_customer\"} 2",
        "cdrlake_landed_files_total{status=\"rejected\"} 2",
        "cdrlake_landed_files_total{status=\"loaded\"} 5",
        "cdrlake_runs_total{status=\"ok\"} 1",
        "cdrlake_model_builds_total{status=\"ok\"} 39",
        "cdrlake_gate_failures_total 0",
        "cdrlake_open_sessions 1",
    ] {
        assert!(
            scraped.lines().any(|l| l == line),
            "{line} not in:\n{scraped}"
        );
    }
    assert!(
        scraped
            .lines()
            .any(|l| l.starts_with("cdrlake_queries_total{status=\"ok\"} ")),
        "{scraped}"
    );

    // A re-delivered file is recognized; a gap in a switch's sequence is reported.
    lake.file(
        "landing/crm_customer/CRM_AGAIN.csv",
        contract_csv(
            "crm_customer",
            &[
                customer("P_BASIC", "2023-06-15"),
                customer("P_PLUS", "2026-04-21"),
            ],
        ),
    );
    lake.file(
        "landing/sms_cdr/SMS_CDR_000004.csv",
        contract_csv(
            "sms_cdr",
            &[sms("S7", "2026-04-12T10:00:00+01:00", "0612000001")],
        ),
    );
    let log = "SELECT file, table_name, status, rows, reason FROM system.landing_log ORDER BY at, file, status";
    runtime.block_on(async {
        let logged = wait_for(&active, log, |r| r.iter().any(|l| l.starts_with("SMS_CDR_000004.csv,sms_cdr,loaded"))).await;
        for expected in [
            "CRM_CUSTOMER_000001.csv,crm_customer,loaded,2,",
            "VOICE_CDR_000001.csv,voice_cdr,loaded,4,",
            "VOICE_CDR_000003.csv,voice_cdr,rejected,,missing column(s) of bronze.voice_cdr",
            "stray.csv,,rejected,,'' is not a landing table",
            "CRM_AGAIN.csv,crm_customer,duplicate,,already ingested into bronze.crm_customer",
            "SMS_CDR_000004.csv,sms_cdr,gap,,2 file(s) missing before SMS_CDR_000004.csv: SMS_CDR_000002 to SMS_CDR_000003",
        ] {
            assert!(logged.iter().any(|l| l.starts_with(expected)), "{expected} not in {logged:#?}");
        }
    });
    assert!(
        !standby.printed("landed "),
        "the standby process took no file"
    );

    // The active process goes away: the standby takes the landing over and goes on.
    drop(active);
    lake.file(
        "landing/sms_cdr/SMS_CDR_000005.csv",
        contract_csv(
            "sms_cdr",
            &[sms("S8", "2026-04-13T10:00:00+01:00", "+34 612 345 678")],
        ),
    );
    runtime.block_on(async {
        // S8, international: 1.50 more on the invoice (S7 is within the allowance).
        let issued = wait_for(&standby, INVOICE, |r| r.first().is_some_and(|l| l.contains(",89.45,"))).await;
        assert_eq!(issued, vec!["PRV-202604-C0000001,89.45,107.34"]);
        // Each run is logged when it ends, after gold.invoice was built.
        let runs = wait_for(
            &standby,
            "SELECT run_id, CAST(min(started_at) AS BIGINT) AS s, CAST(max(finished_at) AS BIGINT) AS f \
             FROM system.model_runs GROUP BY run_id ORDER BY s",
            |r| r.len() >= 2,
        )
        .await;
        // Runs by either process, one after the other: never two at once.
        let spans: Vec<(i64, i64)> = runs
            .iter()
            .map(|r| {
                let cells: Vec<&str> = r.split(',').collect();
                (cells[1].parse().unwrap(), cells[2].parse().unwrap())
            })
            .collect();
        for pair in spans.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "runs overlap: {runs:#?}");
        }
    });
    assert!(standby.printed("watching landing for new files"));
}

#[test]
fn an_s3_landing_prefix_is_watched_like_a_directory() {
    let s3 = common::TestS3::start();
    let env = s3.env();
    let lake = Lake::new();
    let project = project(&lake);
    let lakehouse = "s3://watched/house";
    let init = common::cdrlake(lake.cwd(), &["--lakehouse", lakehouse, "init"], &env);
    assert!(init.status.success(), "{}", common::stderr(&init));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_with_env(
        lake.cwd(),
        &[
            "--lakehouse",
            lakehouse,
            "serve",
            "--project",
            &project,
            "--watch",
            "s3://watched/landing",
            "--poll-seconds",
            "1",
            "--settle-seconds",
            "0",
            "--refresh-after-seconds",
            "600",
        ],
        &env,
    );
    // Objects put in the bucket (s3s-fs serves this directory as the S3 endpoint).
    let landing = s3.root.path().join("watched/landing");
    let (_, crm) = worked_files().into_iter().next().unwrap();
    std::fs::create_dir_all(landing.join("crm_customer")).unwrap();
    std::fs::create_dir_all(landing.join("voice_cdr")).unwrap();
    std::fs::write(landing.join("crm_customer/CRM_000001.csv"), crm).unwrap();
    std::fs::write(landing.join("voice_cdr/VOICE_000001.csv"), "a,b\n1,2\n").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let logged = runtime.block_on(wait_for(
        &server,
        "SELECT file, status, rows, moved_to FROM system.landing_log ORDER BY file",
        |r| r.len() == 2,
    ));
    assert_eq!(
        logged,
        vec![
            "CRM_000001.csv,loaded,2,s3://watched/landing/_done/crm_customer/CRM_000001.csv",
            "VOICE_000001.csv,rejected,,s3://watched/landing/_rejected/voice_cdr/VOICE_000001.csv",
        ]
    );
    assert!(landing.join("_done/crm_customer/CRM_000001.csv").exists());
    assert!(!landing.join("crm_customer/CRM_000001.csv").exists());
    let reason =
        std::fs::read_to_string(landing.join("_rejected/voice_cdr/VOICE_000001.csv.reason"))
            .unwrap();
    assert!(
        reason.starts_with("missing column(s) of bronze.voice_cdr"),
        "{reason}"
    );
    let source = runtime.block_on(wait_for(
        &server,
        "SELECT DISTINCT _source FROM bronze.crm_customer",
        |r| !r.is_empty(),
    ));
    assert_eq!(
        source,
        vec!["s3://watched/landing/crm_customer/CRM_000001.csv"]
    );
}

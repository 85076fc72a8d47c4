//! Daily operation: data delivered a day at a time (late records, CRM changes, a tariff change),
//! `cdrlake run` after each delivery, must leave gold exactly as a full refresh builds it.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{cdrlake, stderr, stdout};

fn ok(cwd: &Path, args: &[&str]) -> String {
    let o = cdrlake(cwd, args, &[]);
    assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

fn csv(cwd: &Path, sql: &str) -> String {
    ok(
        cwd,
        &["--lakehouse", "./lake", "query", "--format", "csv", sql],
    )
}

fn run(cwd: &Path, extra: &[&str]) -> String {
    let args = [
        &["--lakehouse", "./lake", "run", "--project", "./sql"][..],
        extra,
    ]
    .concat();
    ok(cwd, &args)
}

/// Every gold table and view, all columns but metadata (`_rated_at`: when, not what), sorted;
/// doubles rounded to 9 digits (their sums depend on the order rows are added in).
fn gold(cwd: &Path) -> Vec<(String, String)> {
    let tables = csv(
        cwd,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'gold' ORDER BY 1",
    );
    let mut dumps = Vec::new();
    // Fraud alerts are append-only: compared on their own below.
    for table in tables.lines().skip(1).filter(|t| *t != "fraud_alert") {
        let columns = csv(
            cwd,
            &format!(
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = 'gold' AND table_name = '{table}' ORDER BY ordinal_position"
            ),
        );
        let list: Vec<String> = columns
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with('_'))
            .map(|l| {
                let (name, kind) = l.split_once(',').expect("name,type");
                if kind.starts_with("Float") {
                    format!("round(\"{name}\", 9) AS \"{name}\"")
                } else {
                    format!("\"{name}\"")
                }
            })
            .collect();
        let order: Vec<String> = (1..=list.len()).map(|i| i.to_string()).collect();
        let rows = csv(
            cwd,
            &format!(
                "SELECT {} FROM gold.\"{table}\" ORDER BY {}",
                list.join(", "),
                order.join(", ")
            ),
        );
        dumps.push((table.to_string(), rows));
    }
    dumps
}

fn assert_same(daily: &[(String, String)], full: &[(String, String)]) {
    assert_eq!(
        daily.iter().map(|(t, _)| t).collect::<Vec<_>>(),
        full.iter().map(|(t, _)| t).collect::<Vec<_>>()
    );
    for ((table, a), (_, b)) in daily.iter().zip(full) {
        if a != b {
            let first = a.lines().zip(b.lines()).find(|(x, y)| x != y);
            panic!(
                "gold.{table}: day by day {} lines, full refresh {} lines; first difference: {first:?}",
                a.lines().count(),
                b.lines().count()
            );
        }
    }
}

/// Delta version of every model table in silver and gold.
fn versions(cwd: &Path) -> Vec<(String, u64)> {
    let mut all = Vec::new();
    for schema in ["silver", "gold"] {
        for entry in std::fs::read_dir(cwd.join("lake").join(schema)).expect("schema dir") {
            let path = entry.expect("entry").path();
            let log = path.join("_delta_log");
            if !log.exists() {
                continue;
            }
            let version = std::fs::read_dir(&log)
                .expect("log")
                .filter_map(|e| {
                    let name = e.ok()?.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".json")?.parse::<u64>().ok()
                })
                .max()
                .expect("a commit");
            all.push((
                format!(
                    "{schema}.{}",
                    path.file_name().expect("name").to_string_lossy()
                ),
                version,
            ));
        }
    }
    all.sort();
    all
}

#[test]
fn day_by_day_runs_equal_a_full_refresh() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    common::copy_dir(
        &std::path::PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
        )
        .join("sql"),
        &cwd.join("sql"),
    );
    ok(
        cwd,
        &[
            "--lakehouse",
            "./lake",
            "generate",
            "--customers",
            "200",
            "--start",
            "2026-04-28",
            "--days",
            "1",
            "--span",
            "7",
            "--late-rate",
            "0.05",
            "--late-days",
            "2",
            "--seed",
            "11",
        ],
    );
    run(cwd, &[]);
    // Nothing new: no model table gets a new version.
    let before = versions(cwd);
    let out = run(cwd, &[]);
    assert_eq!(versions(cwd), before, "{out}");

    let mut last_run = Duration::from_secs(5);
    for day in 2..=6 {
        ok(cwd, &["--lakehouse", "./lake", "generate", "--append"]);
        if day == 4 {
            // A tariff correction arrives with day 4: every on-net minute costs a little more.
            let seed = cwd.join("sql/seeds/bronze.tariff_rate.csv");
            let text = std::fs::read_to_string(&seed).expect("seed");
            let changed: Vec<String> = text
                .lines()
                .map(|l| {
                    if l == "MA_ONNET,VOICE,PEAK,0,0.50,60,1,0" {
                        "MA_ONNET,VOICE,PEAK,0,0.55,60,1,0".to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            assert_ne!(
                changed.join("\n") + "\n",
                text,
                "the tariff line to change is in the seed"
            );
            std::fs::write(&seed, changed.join("\n") + "\n").expect("write seed");
        }
        if day == 3 {
            // A run that stops after gold.rated_cdr, before the running totals it reads next time
            // are kept, and one more day: the next run re-rates what those totals do not cover.
            run(cwd, &["--select", "+gold.rated_cdr"]);
            ok(cwd, &["--lakehouse", "./lake", "generate", "--append"]);
        }
        if day == 5 {
            // A run killed part way leaves every table at a committed version; the next completes.
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cdrlake"))
                .current_dir(cwd)
                .args(["--lakehouse", "./lake", "run", "--project", "./sql"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn");
            std::thread::sleep(last_run / 2);
            let _ = child.kill();
            let _ = child.wait();
            for (table, _) in versions(cwd) {
                csv(cwd, &format!("SELECT count(*) FROM {table}"));
            }
        }
        let started = Instant::now();
        let out = run(cwd, &[]);
        last_run = started.elapsed();
        if day == 3 {
            // April closes with the data through May 1: the late April records of the next days
            // are owed as adjustments, which the daily runs compute for the closed period alone.
            ok(
                cwd,
                &[
                    "--lakehouse",
                    "./lake",
                    "close-period",
                    "2026-04",
                    "--grace-days",
                    "0",
                    "--project",
                    "./sql",
                ],
            );
        }
        if day == 6 {
            // A day after the tariff change re-rates from the earliest late record, not the month.
            let line = out
                .lines()
                .find(|l| l.contains("model gold.rated_cdr "))
                .unwrap_or_else(|| panic!("no gold.rated_cdr line in {out}"));
            assert!(line.contains("recent rows replaced"), "{line}");
            let rerated: u64 = line
                .split(", ")
                .find_map(|part| part.strip_suffix(" rows")?.parse().ok())
                .unwrap_or_else(|| panic!("no row count in {line}"));
            let stored: u64 = csv(cwd, "SELECT count(*) FROM gold.rated_cdr")
                .lines()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .expect("count");
            assert!(
                rerated > 0 && rerated * 2 < stored,
                "{rerated} of {stored}: {line}"
            );
        }
    }
    // Nothing new after a close and adjustments: still no new version anywhere.
    let before = versions(cwd);
    let out = run(cwd, &[]);
    assert_eq!(versions(cwd), before, "{out}");
    let adjusted = csv(
        cwd,
        "SELECT count(*) FROM gold.invoice_line WHERE line_type = 'ADJUSTMENT' AND adjusts_period = '2026-04'",
    );
    assert_ne!(
        adjusted.lines().nth(1),
        Some("0"),
        "late April records after the close are owed as adjustments: {adjusted}"
    );
    let daily = gold(cwd);
    let occurrences =
        "SELECT DISTINCT rule, customer_id, served_msisdn FROM gold.fraud_alert ORDER BY 1, 2, 3";
    let daily_alerts = (
        csv(cwd, occurrences),
        csv(cwd, "SELECT alert_id FROM gold.fraud_alert ORDER BY 1"),
    );
    assert!(
        daily_alerts.0.lines().count() > 1,
        "the generated fraud is found: {}",
        daily_alerts.0
    );
    let late: u64 = csv(
        cwd,
        "SELECT count(*) FROM bronze.voice_cdr WHERE date_part('epoch', _ingested_at) - date_part('epoch', parse_timestamp_utc(seizure_time)) > 86400",
    )
    .lines()
    .nth(1)
    .expect("count")
    .parse()
    .expect("number");
    assert!(late > 0, "late records were delivered");
    let may = csv(
        cwd,
        "SELECT count(DISTINCT billing_period) FROM gold.rated_cdr",
    );
    assert_eq!(
        may.lines().nth(1),
        Some("2"),
        "the days cross a month end: {may}"
    );

    run(cwd, &["--full-refresh"]);
    assert_same(&daily, &gold(cwd));
    // The same occurrences; a late CDR may have added an alert under a new id, never removed one.
    assert_eq!(daily_alerts.0, csv(cwd, occurrences));
    let full_ids = csv(cwd, "SELECT alert_id FROM gold.fraud_alert ORDER BY 1");
    assert!(
        daily_alerts.1.lines().count() >= full_ids.lines().count(),
        "{}\n{full_ids}",
        daily_alerts.1
    );
}

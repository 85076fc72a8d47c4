//! Continuous ingest: `cargo bench --bench stream` (release profile).
//!
//! Starts `cdrlake serve --watch` on a fresh lakehouse (one generated day of every table, its
//! cells as the seed, built once), then
//! feeds voice CDR files into its landing directory for CDRLAKE_BENCH_SECONDS (default 120) at
//! CDRLAKE_BENCH_RATE CDRs a second (default 50,000; one file a second, written aside and renamed
//! in), every 10th file with an IRSF pattern (5 calls to a satellite range). Then waits until every
//! file is in gold and prints: the sustained ingest rate (rows in bronze over the time from the
//! first file landing to the last one loaded), the latency from a file landing to its CDRs being
//! rated in `gold.rated_cdr` (the end of the first successful rating after they were mediated;
//! P50/P95 over files) and to its fraud alert being raised in
//! `system.alerts` (P50/P95 over patterns). The seeds ask for 50K events/s with P95 under 30 s.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use common::cdrlake;

const ENTITY: &str = "MSC-BENCH";
const CUSTOMERS: &str = "2000";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

struct Subscriber {
    msisdn: String,
    imsi: String,
}

fn main() -> Result<()> {
    let seconds = env_or("CDRLAKE_BENCH_SECONDS", 120);
    let rate = env_or("CDRLAKE_BENCH_RATE", 50_000);
    let root = tempfile::tempdir()?;
    let (source, lake) = (root.path().join("source"), root.path().join("lake"));

    // A world to call from: its subscribers (delivered as a CRM file) and cells (the seed).
    cdrlake(
        &source,
        &[
            "generate",
            "--customers",
            CUSTOMERS,
            "--days",
            "1",
            "--dirt-rate",
            "0",
        ],
    )?;
    let crm_columns = "customer_id, msisdn, imsi, first_name, last_name, national_id, city, region, segment, plan_id, status, effective_from";
    let crm = cdrlake(
        &source,
        &[
            "query",
            "--format",
            "csv",
            &format!("SELECT {crm_columns} FROM bronze.crm_customer"),
        ],
    )?;
    let subscribers: Vec<Subscriber> = cdrlake(
        &source,
        &[
            "query",
            "--format",
            "csv",
            "SELECT DISTINCT msisdn, imsi FROM bronze.crm_customer WHERE status = 'active'",
        ],
    )?
    .lines()
    .skip(1)
    .filter_map(|l| l.split_once(','))
    .map(|(m, i)| Subscriber {
        msisdn: m.into(),
        imsi: i.into(),
    })
    .collect();
    let cells: Vec<(String, String)> = cdrlake(
        &source,
        &[
            "query",
            "--format",
            "csv",
            "SELECT cell_id, lac FROM bronze.cell ORDER BY cell_id",
        ],
    )?
    .lines()
    .skip(1)
    .filter_map(|l| l.split_once(','))
    .map(|(c, l)| (c.into(), l.into()))
    .collect();
    let project = root.path().join("project");
    copy_dir(
        &std::path::PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
        )
        .join("sql"),
        &project,
    )?;
    let cell_seed = cdrlake(
        &source,
        &[
            "query",
            "--format",
            "csv",
            "SELECT cell_id, lac, site_name, city, region, latitude, longitude, technology, capacity_erlang FROM bronze.cell",
        ],
    )?;
    std::fs::write(
        project.join("seeds/bronze.cell.csv"),
        format!("# latitude: float\n# longitude: float\n# capacity_erlang: float\n{cell_seed}"),
    )?;

    cdrlake(&lake, &["init"])?;
    let landing = lake.join("landing");
    std::fs::create_dir_all(landing.join("crm_customer"))?;
    std::fs::write(landing.join("crm_customer/CRM_000001.csv"), crm)?;
    // The generated day of every other table first: the models need each of their inputs.
    for table in ["voice_cdr", "sms_cdr", "data_cdr", "network_probe"] {
        let columns = cdrlake::contract::bronze_event_columns(table)
            .context("a landing table")?
            .join(", ");
        std::fs::create_dir_all(landing.join(table))?;
        let day = cdrlake(
            &source,
            &[
                "query",
                "--format",
                "csv",
                &format!("SELECT {columns} FROM bronze.{table}"),
            ],
        )?;
        std::fs::write(landing.join(format!("{table}/DAY_000001.csv")), day)?;
    }
    let log = root.path().join("serve.log");
    let mut server = serve(&lake, &project, &log)?;
    // The CRM file loads and the first run builds everything before traffic starts.
    wait(
        &lake,
        "SELECT count(*) FROM gold.fact_cdr",
        |v| v != "0",
        900,
    )?;
    println!("server up, a generated day loaded and built; feeding {rate} CDRs/s for {seconds} s");

    let mut dropped = BTreeMap::new();
    let mut patterns = BTreeMap::new();
    let started = Instant::now();
    for file in 0..seconds {
        let due = started + Duration::from_secs(file);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let (csv, pattern) = voice_file(file, rate, &subscribers, &cells);
        let name = format!("{ENTITY}_{:06}.csv", file + 1);
        let part = landing.join(format!("voice_cdr/{name}.part"));
        std::fs::File::create(&part)?.write_all(csv.as_bytes())?;
        std::fs::rename(&part, landing.join(format!("voice_cdr/{name}")))?;
        dropped.insert(file, now_s());
        if let Some(alert) = pattern {
            patterns.insert(alert, now_s());
        }
    }
    let fed = started.elapsed().as_secs_f64();
    println!("fed {seconds} files in {fed:.1} s; waiting for gold");

    // A wait that runs out is reported with the figures so far, not as a failure of the bench.
    let expected = seconds * rate + 5 * patterns.len() as u64;
    if let Err(e) = wait(
        &lake,
        &format!("SELECT count(*) FROM gold.rated_cdr WHERE cdr_id LIKE 'V:{ENTITY}:%'"),
        |v| v.parse::<u64>().unwrap_or(0) >= expected,
        1800,
    ) {
        println!("not every CDR reached gold: {e}");
    }
    if let Err(e) = wait(
        &lake,
        &format!(
            "SELECT count(*) FROM system.alerts WHERE kind = 'fraud_alert' AND event_id LIKE '%{ENTITY}%'"
        ),
        |v| v.parse::<usize>().unwrap_or(0) >= patterns.len(),
        600,
    ) {
        println!("not every fraud alert was raised: {e}");
    }
    let _ = server.kill();
    report_runs(&lake, &log)?;

    // Ingest rate: rows over the time from the first file's landing to the last one loaded.
    let loaded = cdrlake(
        &lake,
        &[
            "query",
            "--format",
            "csv",
            "SELECT sum(rows), CAST(max(at) AS BIGINT) FROM system.landing_log WHERE table_name = 'voice_cdr' AND status = 'loaded' AND file LIKE 'MSC-BENCH%'",
        ],
    )?;
    let (rows, last_us) = loaded
        .lines()
        .nth(1)
        .and_then(|l| l.split_once(','))
        .context("landing log")?;
    let span = last_us.parse::<f64>()? / 1e6 - dropped[&0];
    let rows: f64 = rows.parse()?;
    println!(
        "ingest: {rows} rows in {span:.1} s from the first file landing to the last loaded: {:.0} rows/s (fed at {rate}/s)",
        rows / span
    );

    // A file is in gold once the run that mediated it has rated: the first successful
    // gold.rated_cdr to finish after the file's rows were mediated (silver.voice_record keeps its
    // mediated_at; rated_cdr re-rates the open month on every run, so its own stamps move).
    let rated = cdrlake(
        &lake,
        &[
            "query",
            "--format",
            "csv",
            &format!(
                "WITH files AS ( \
                   SELECT l.file, min(v.mediated_at) AS mediated FROM system.landing_log l \
                   JOIN silver.voice_record v ON v._batch_id = l.batch_id \
                   WHERE l.file LIKE '%{ENTITY}_%' AND l.status = 'loaded' GROUP BY l.file), \
                 rated AS (SELECT finished_at FROM system.model_runs WHERE model = 'gold.rated_cdr' AND status = 'success') \
                 SELECT CAST(substr(f.file, strpos(f.file, '{ENTITY}_') + {}, 6) AS BIGINT) - 1, CAST(min(r.finished_at) AS BIGINT) \
                 FROM files f JOIN rated r ON r.finished_at >= f.mediated GROUP BY f.file",
                ENTITY.len() + 1
            ),
        ],
    )?;
    let mut gold: Vec<f64> = rated
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .filter_map(|(f, t)| {
            Some(t.parse::<f64>().ok()? / 1e6 - dropped.get(&f.parse::<u64>().ok()?)?)
        })
        .collect();
    let raised = cdrlake(
        &lake,
        &[
            "query",
            "--format",
            "csv",
            "SELECT event_id, CAST(raised_at AS BIGINT) FROM system.alerts WHERE kind = 'fraud_alert'",
        ],
    )?;
    let mut alerts: Vec<f64> = raised
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .filter_map(|(id, t)| Some(t.parse::<f64>().ok()? / 1e6 - patterns.get(id)?))
        .collect();
    println!(
        "landing -> gold.rated_cdr, {} files: P50 {:.1} s, P95 {:.1} s, max {:.1} s",
        gold.len(),
        percentile(&mut gold, 0.5),
        percentile(&mut gold, 0.95),
        percentile(&mut gold, 1.0)
    );
    println!(
        "landing -> fraud alert raised, {} of {} patterns: P50 {:.1} s, P95 {:.1} s, max {:.1} s",
        alerts.len(),
        patterns.len(),
        percentile(&mut alerts, 0.5),
        percentile(&mut alerts, 0.95),
        percentile(&mut alerts, 1.0)
    );
    Ok(())
}

fn serve(lake: &Path, project: &Path, log: &Path) -> Result<Child> {
    let out = std::fs::File::create(log)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    Ok(Command::new(env!("CARGO_BIN_EXE_cdrlake"))
        .current_dir(lake.parent().unwrap())
        .arg("--lakehouse")
        .arg(lake)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--project",
        ])
        .arg(project)
        .arg("--watch")
        .arg(lake.join("landing"))
        .args([
            "--poll-seconds",
            "1",
            "--settle-seconds",
            "0",
            "--refresh-after-seconds",
            "2",
            "--refresh-max-wait-seconds",
            "10",
        ])
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .spawn()?)
}

/// Polls `sql` (one value) with `cdrlake query` until `done` holds.
fn wait(lake: &Path, sql: &str, done: impl Fn(&str) -> bool, limit_s: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(limit_s);
    loop {
        if let Ok(out) = cdrlake(lake, &["query", "--format", "csv", sql])
            && out.lines().nth(1).is_some_and(&done)
        {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {sql}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// One second of traffic: `rate` answered national calls (each file an hour of simulated time from
/// 2026-04-10), and in every 10th file an IRSF pattern; its alert's event id.
fn voice_file(
    file: u64,
    rate: u64,
    subscribers: &[Subscriber],
    cells: &[(String, String)],
) -> (String, Option<String>) {
    let base = chrono::DateTime::parse_from_rfc3339("2026-04-10T00:00:00+00:00").unwrap();
    let mut csv = String::from(
        "record_type,recording_entity,call_reference,sequence_number,served_imsi,served_imei,served_msisdn,other_party,other_party_ton,seizure_time,answer_time,release_time,duration_s,cause_for_term,lac,cell_id,visited_mccmnc\n",
    );
    // Each subscriber stays on one cell (no impossible travel) and makes about 25 calls an hour
    // of simulated time (no velocity alerts): only the injected patterns are fraud.
    let mut row = |n: u64,
                   who: usize,
                   to: &str,
                   ton: &str,
                   start: chrono::DateTime<chrono::FixedOffset>,
                   secs: i64| {
        let (cell, lac) = &cells[who % cells.len()];
        let who = &subscribers[who];
        let end = start + chrono::Duration::seconds(secs);
        let t = |d: chrono::DateTime<chrono::FixedOffset>| {
            d.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
        };
        csv.push_str(&format!(
            "MOC,{ENTITY},{file:06}{n:06},,{},35000000000000{},{},{to},{ton},{},{},{},{secs},0,{lac},{cell},60401\n",
            who.imsi,
            n % 10,
            who.msisdn,
            t(start),
            t(start),
            t(end)
        ));
    };
    for n in 0..rate {
        let who = (n as usize) % subscribers.len();
        let start =
            base + chrono::Duration::milliseconds((file * 3_600_000 + n * 3_600_000 / rate) as i64);
        row(
            n,
            who,
            &format!("06{:08}", (file * rate + n) % 100_000_000),
            "national",
            start,
            30 + (n % 300) as i64,
        );
    }
    if !file.is_multiple_of(10) {
        return (csv, None);
    }
    let who = (file as usize * 13) % subscribers.len();
    let start = base + chrono::Duration::seconds(file as i64 * 3600);
    for k in 0..5 {
        row(
            rate + k,
            who,
            &format!("+8821{:07}", file * 10 + k),
            "international",
            start + chrono::Duration::minutes(k as i64 * 30),
            120,
        );
    }
    let alert = format!("fraud_alert:IRSF:V:{ENTITY}:{file:06}{rate:06}:MOC");
    (csv, Some(alert))
}

/// What the server did: runs per model (the slowest first) and the end of its log.
fn report_runs(lake: &Path, log: &Path) -> Result<()> {
    let runs = cdrlake(
        lake,
        &[
            "query",
            "--format",
            "csv",
            "SELECT model, status, count(*) AS runs, sum(rows) AS rows, \
             round(sum(CAST(finished_at AS BIGINT) - CAST(started_at AS BIGINT)) / 1e6, 1) AS seconds \
             FROM system.model_runs GROUP BY model, status ORDER BY seconds DESC LIMIT 12",
        ],
    )?;
    println!("model runs (slowest first):\n{runs}");
    let alerts = cdrlake(
        lake,
        &[
            "query",
            "--format",
            "csv",
            "SELECT kind, count(*) FROM system.alerts GROUP BY kind",
        ],
    )?;
    println!("system.alerts by kind:\n{alerts}");
    // What failed, in the failing model's and test's own words.
    let failures = cdrlake(
        lake,
        &[
            "query",
            "--format",
            "csv",
            "SELECT summary FROM system.alerts WHERE kind <> 'fraud_alert' ORDER BY raised_at",
        ],
    )?;
    println!("failed runs and gates:\n{failures}");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    println!("server log, last lines:");
    for line in tail.iter().rev() {
        println!("  {line}");
    }
    Ok(())
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let i = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[i]
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

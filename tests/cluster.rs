//! `cdrlake scheduler` and two `cdrlake executor`s as child processes on loopback: queries over
//! lakehouse tables sent with `--engine ballista://...` (the CLI and the Flight SQL server) run
//! on the executors and return the rows a local run returns.

#![cfg(feature = "ballista")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{Server, free_port, rows};
use common::{Lake, assert_clean_error, cdrlake, stderr, stdout};

/// A node process, killed on drop; its log goes to a file.
struct Node {
    process: Child,
    log: PathBuf,
}

impl Node {
    fn start(cwd: &Path, name: &str, args: &[&str]) -> Self {
        let log = cwd.join(format!("{name}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_cdrlake"));
        command
            .current_dir(cwd)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k.starts_with("CDRLAKE_") {
                command.env_remove(k);
            }
        }
        // Ballista's executor logs each task it ran, with its metrics, at debug level; cdrlake's
        // writer each file it wrote.
        command.env(
            "CDRLAKE_LOG",
            "warn,ballista_executor=debug,cdrlake::cluster=info",
        );
        command.env("NO_COLOR", "1");
        Self {
            process: command.spawn().unwrap(),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.log().contains(text) {
            if let Ok(Some(status)) = self.process.try_wait() {
                panic!("node exited ({status}):\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "no {text:?} in:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Tasks this executor ran, from Ballista's per-task metrics records.
    fn tasks(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("Physical plan with metrics"))
            .count()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn port(addr: &str) -> &str {
    addr.rsplit_once(':').unwrap().1
}

/// `sql`'s rows as sorted CSV lines (header first), with or without the cluster.
fn csv(lake: &Lake, sql: &str, engine: Option<&str>) -> Vec<String> {
    let mut args = vec!["query", "--format", "csv", sql];
    if let Some(url) = engine {
        args.extend(["--engine", url]);
    }
    // Several partitions per scan, so that a stage has tasks for both executors.
    let o = cdrlake(
        lake.cwd(),
        &args,
        &[("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "4".into())],
    );
    assert!(o.status.success(), "{sql} ({engine:?}): {}", stderr(&o));
    let text = stdout(&o);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // An empty result prints nothing, not even a header.
    if lines.len() > 1 {
        lines[1..].sort();
    }
    lines
}

/// The files the newest commit of `schema.table` added.
fn added_files(lake: &Lake, schema: &str, table: &str) -> Vec<String> {
    let log = lake
        .cwd()
        .join("lakehouse")
        .join(schema)
        .join(table)
        .join("_delta_log");
    let newest = std::fs::read_dir(&log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .max()
        .unwrap();
    std::fs::read_to_string(newest)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            action["add"]["path"].as_str().map(str::to_string)
        })
        .collect()
}

/// Every gold table's rows as sorted CSV, without the columns saying when a row was rated.
fn snapshot_gold(lake: &Lake) -> Vec<(String, Vec<String>)> {
    let columns = lake.csv(
        "SELECT c.table_name, string_agg(c.column_name, ', ' ORDER BY c.ordinal_position) \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = 'gold' AND t.table_type = 'BASE TABLE' \
           AND c.column_name NOT IN ('_rated_at', '_rated_through') \
         GROUP BY 1 ORDER BY 1",
    );
    columns
        .lines()
        .skip(1)
        .map(|line| {
            let (table, list) = line.split_once(',').unwrap();
            let list = list.trim_matches('"');
            let rows = csv(lake, &format!("SELECT {list} FROM gold.{table}"), None);
            (table.to_string(), rows)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn models_and_queries_run_on_two_executors_and_match_the_local_rows() {
    let lake = Lake::new();
    lake.ok(&["generate", "--customers", "200"]);
    lake.ok(&[
        "run",
        "--project",
        concat!(env!("CARGO_MANIFEST_DIR"), "/sql"),
    ]);

    let scheduler_addr = free_port();
    let mut scheduler = Node::start(
        lake.cwd(),
        "scheduler",
        &["scheduler", "--bind", &scheduler_addr],
    );
    scheduler.wait_for("listening on");
    let mut executors: Vec<Node> = (0..2)
        .map(|i| {
            let (flight, grpc) = (free_port(), free_port());
            Node::start(
                lake.cwd(),
                &format!("executor{i}"),
                &[
                    "executor",
                    "--scheduler",
                    &scheduler_addr,
                    "--port",
                    port(&flight),
                    "--grpc-port",
                    port(&grpc),
                    "--concurrent-tasks",
                    "2",
                ],
            )
        })
        .collect();
    for executor in &mut executors {
        executor.wait_for("Executor registration succeed");
    }
    let url = format!("ballista://{scheduler_addr}");

    // Every gold table whole (every column type, partition columns included), a join with an
    // aggregate, and destination_zone with the prefix table the client loaded.
    let tables = lake.csv(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'gold' AND table_type = 'BASE TABLE' ORDER BY 1",
    );
    let mut queries: Vec<String> = tables
        .lines()
        .skip(1)
        .map(|t| format!("SELECT * FROM gold.{t}"))
        .collect();
    assert!(queries.len() > 20, "{tables}");
    queries.push(
        "SELECT c.segment, r.zone, count(*) AS n, sum(r.charge) AS charge, count(DISTINCT r.customer_id) AS customers \
         FROM gold.rated_cdr r JOIN gold.dim_customer c ON r.customer_id = c.customer_id AND c.is_current \
         WHERE r.service <> 'SMS' GROUP BY 1, 2"
            .into(),
    );
    queries.push(
        "SELECT destination_zone(other_party) AS zone, count(*) AS n FROM silver.cdr GROUP BY 1"
            .into(),
    );
    for sql in &queries {
        let local = csv(&lake, sql, None);
        let remote = csv(&lake, sql, Some(&url));
        assert_eq!(remote, local, "{sql}");
    }
    let rated = csv(&lake, "SELECT count(*) FROM gold.rated_cdr", Some(&url));
    assert_ne!(rated[1], "0", "the lakehouse has rated CDRs");
    for (i, executor) in executors.iter().enumerate() {
        assert!(
            executor.tasks() > 0,
            "executor {i} ran no task:\n{}",
            executor.log()
        );
    }

    // The Flight SQL server sends its clients' queries to the same cluster.
    let before: usize = executors.iter().map(Node::tasks).sum();
    let server = Server::start(lake.cwd(), &["serve", "--engine", &url]);
    let mut client = server.anonymous().await;
    let sql = "SELECT billing_period, count(*), sum(total_amount) FROM gold.invoice GROUP BY 1 ORDER BY 1";
    let through_cluster = rows(&mut client, sql).await;
    let local = csv(&lake, sql, None);
    assert_eq!(through_cluster.len(), local.len() - 1);
    assert_eq!(
        through_cluster
            .iter()
            .map(|r| r.replace(' ', ""))
            .collect::<Vec<_>>(),
        local[1..].to_vec()
    );
    let after: usize = executors.iter().map(Node::tasks).sum();
    assert!(
        after > before,
        "the server's query ran no task on the cluster"
    );

    // The whole model project built through the cluster from scratch: every gold table holds
    // the rows the local build made (but for when each row was rated).
    let before = snapshot_gold(&lake);
    // With and without `@stage` CTEs (staged on the cluster as system tables). Not silver.cdr:
    // it reads a view (silver.cdr_record), and queries over views run in the runner.
    let rebuilt = [
        "gold.rated_cdr",
        "gold.fact_cdr",
        "gold.customer_usage_to_date",
        "gold.fraud_alert",
        "gold.agg_cell_hourly",
    ];
    let versions_before: Vec<String> = rebuilt.iter().map(|t| lake.version(t)).collect();
    let tasks_before: usize = executors.iter().map(Node::tasks).sum();
    lake.ok(&[
        "run",
        "--project",
        concat!(env!("CARGO_MANIFEST_DIR"), "/sql"),
        "--full-refresh",
        "--engine",
        &url,
    ]);
    let tasks_after: usize = executors.iter().map(Node::tasks).sum();
    assert!(
        tasks_after > tasks_before + 100,
        "the models' queries ran {} tasks on the cluster",
        tasks_after - tasks_before
    );
    let after = snapshot_gold(&lake);
    assert_eq!(after.len(), before.len());
    for ((table, local), (_, remote)) in before.iter().zip(&after) {
        assert_eq!(remote, local, "gold.{table} built on the cluster");
    }
    // The executors wrote the files of the rebuilt tables; the runner made one commit each.
    let written: String = executors.iter().map(Node::log).collect();
    let staged = "system.stage__gold__fraud_alert__stage_changed";
    for (table, before) in rebuilt.iter().zip(&versions_before) {
        let version = lake.version(table);
        assert_eq!(
            version.parse::<u64>().unwrap(),
            before.parse::<u64>().unwrap() + 1,
            "{table}: one commit"
        );
    }
    for table in rebuilt.iter().chain([&staged]) {
        let (schema, name) = table.split_once('.').unwrap();
        let added = added_files(&lake, schema, name);
        assert!(!added.is_empty(), "{table} has files");
        for path in &added {
            assert!(
                written.contains(&format!("wrote {path} ")),
                "{table}: no executor says it wrote {path}"
            );
        }
    }
    // Their commits carry what the next run reads: with nothing new, it commits nothing.
    let versions: Vec<String> = rebuilt.iter().map(|t| lake.version(t)).collect();
    lake.ok(&[
        "run",
        "--project",
        concat!(env!("CARGO_MANIFEST_DIR"), "/sql"),
        "--engine",
        &url,
    ]);
    for (table, version) in rebuilt.iter().zip(&versions) {
        assert_eq!(
            &lake.version(table),
            version,
            "{table} was committed again by a run with nothing new"
        );
    }
    assert_eq!(snapshot_gold(&lake), after);

    // A client of another lakehouse is refused by name, and the cluster keeps serving.
    let other = Lake::new();
    other.ok(&["init"]);
    other.ok(&["query", "CREATE TABLE bronze.t AS SELECT 1 AS a"]);
    let refused = cdrlake(
        other.cwd(),
        &["query", "SELECT a FROM bronze.t", "--engine", &url],
        &[],
    );
    assert_clean_error(&refused, &["this process serves", "--lakehouse"]);
    assert_eq!(
        csv(&lake, "SELECT count(*) FROM gold.rated_cdr", Some(&url)),
        rated
    );

    // A scheduler that is not there is named, not a transport error.
    let nowhere = format!("ballista://{}", free_port());
    let unreachable = cdrlake(
        lake.cwd(),
        &[
            "query",
            "SELECT count(*) FROM gold.rated_cdr",
            "--engine",
            &nowhere,
        ],
        &[],
    );
    assert_clean_error(
        &unreachable,
        &["cannot reach the Ballista scheduler", "cdrlake scheduler"],
    );
}

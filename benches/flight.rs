//! Flight SQL server figures: `cargo bench --bench flight` (release profile).
//! - fetch: one 10,000,000-row result (CDRLAKE_BENCH_ROWS) streamed to the client, in MB/s of Arrow data;
//! - point queries: P50/P95 latency of 1,000 prepared single-row lookups on that table, idle;
//! - the same lookups while another client's queries keep hitting their time limit, and then
//!   their memory limit (each client has its own session; the server shares one pool).
//!
//! Server and client run in this process and talk gRPC over 127.0.0.1.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use arrow_flight::sql::client::FlightSqlServiceClient;
use cdrlake::engine::Engine;
use cdrlake::server::{Auth, QueryLimits, ServeOptions, serve};
use cdrlake_catalog::{Lakehouse, LakehouseConfig, WriteMode};
use futures::TryStreamExt;

fn main() -> anyhow::Result<()> {
    let rows: u64 = std::env::var("CDRLAKE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (lakehouse, _) = Lakehouse::init(LakehouseConfig::local(dir.path().join("lake").to_string_lossy())).await?;
        let lakehouse = Arc::new(lakehouse);
        let engine = Engine::new(lakehouse.clone()).await?;
        // A CDR-shaped table: id, MSISDN, duration, charge (decimal), start time.
        let data = engine
            .sql(&format!(
                "SELECT value AS id, concat('+21261', lpad(CAST(value % 10000000 AS VARCHAR), 7, '0')) AS served_msisdn, \
                 value % 3600 AS duration_s, CAST(value % 10000 AS DECIMAL(18, 4)) / 100 AS charge, \
                 to_timestamp_micros(1775433600000000 + value * 1000000) AS start_time FROM generate_series(1, {rows})"
            ))
            .await?;
        let data = data.iter().map(cdrlake::output::plain_types).collect::<anyhow::Result<Vec<_>>>()?;
        lakehouse.write_batches("gold", "bench", data, WriteMode::Overwrite).await?;
        // Laid out by its lookup key, as a keyed table should be (`cdrlake optimize --zorder id`).
        lakehouse.optimize("gold", "bench", &["id".to_string()]).await?;
        let engine = Arc::new(Engine::new(lakehouse.clone()).await?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        // The serve defaults, with a short time limit and a small per-query memory limit so the
        // heavy client's queries hit them within the measurement.
        let options = ServeOptions {
            limits: QueryLimits {
                timeout: Some(std::time::Duration::from_secs(3)),
                query_memory: Some(64 << 20),
                ..QueryLimits::default()
            },
            ..ServeOptions::default()
        };
        tokio::spawn(serve(engine, Auth::new(vec![])?, options, listener, std::future::pending()));
        let url = format!("http://{addr}");
        let channel = tonic::transport::Endpoint::from_shared(url.clone())?.connect().await?;
        let mut client = FlightSqlServiceClient::new(channel);

        let started = Instant::now();
        let info = client.execute("SELECT * FROM gold.bench".into(), None).await?;
        let mut bytes = 0usize;
        let mut fetched = 0usize;
        for endpoint in info.endpoint {
            let batches: Vec<RecordBatch> = client.do_get(endpoint.ticket.expect("ticket")).await?.try_collect().await?;
            fetched += batches.iter().map(|b| b.num_rows()).sum::<usize>();
            // The bytes the values take (get_array_memory_size would count whole IPC message buffers).
            bytes += batches.iter().flat_map(|b| b.columns()).map(|c| c.to_data().get_slice_memory_size().unwrap_or(0)).sum::<usize>();
        }
        let secs = started.elapsed().as_secs_f64();
        println!("fetch: {fetched} rows, {:.0} MB of Arrow data in {secs:.2}s = {:.0} MB/s ({:.0} rows/s)", bytes as f64 / 1e6, bytes as f64 / 1e6 / secs, fetched as f64 / secs);

        let mut prepared = client.prepare("SELECT * FROM gold.bench WHERE id = $1".into(), None).await?;
        let idle = lookups(&mut client, &mut prepared, rows).await?;
        report("idle", rows, &idle);
        for (name, heavy) in [
            ("another client's queries hitting their 3 s time limit", "SELECT count(*) FROM generate_series(1, 100000000000)"),
            (
                "another client's queries hitting their 64 MiB memory limit",
                "SELECT count(*) FROM generate_series(1, 20000000) a JOIN generate_series(1, 20000000) b ON a.value = b.value",
            ),
        ] {
            // The heavy client has its own connection, hence its own session.
            let other = tonic::transport::Endpoint::from_shared(url.clone())?.connect().await?;
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let load = tokio::spawn(heavy_loop(FlightSqlServiceClient::new(other), heavy, stop.clone(), hits.clone()));
            // Let the first heavy query start before measuring.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let loaded = lookups(&mut client, &mut prepared, rows).await?;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            load.await??;
            report(name, rows, &loaded);
            println!(
                "  heavy queries that hit their limit meanwhile: {}; P95 {:.2}x idle",
                hits.load(std::sync::atomic::Ordering::Relaxed),
                loaded[950] / idle[950]
            );
        }
        anyhow::Ok(())
    })
}

async fn lookups(
    client: &mut FlightSqlServiceClient<tonic::transport::Channel>,
    prepared: &mut arrow_flight::sql::client::PreparedStatement<tonic::transport::Channel>,
    rows: u64,
) -> anyhow::Result<Vec<f64>> {
    let mut latencies = Vec::with_capacity(1000);
    for i in 0..1000u64 {
        let id = 1 + (i * 7_919) % rows;
        let params = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("$1", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![id as i64]))],
        )?;
        let t = Instant::now();
        prepared.set_parameters(params)?;
        let info = prepared.execute().await?;
        let mut n = 0;
        for endpoint in info.endpoint {
            let batches: Vec<RecordBatch> = client
                .do_get(endpoint.ticket.expect("ticket"))
                .await?
                .try_collect()
                .await?;
            n += batches.iter().map(|b| b.num_rows()).sum::<usize>();
        }
        anyhow::ensure!(n == 1, "lookup of {id} returned {n} rows");
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    Ok(latencies)
}

fn report(what: &str, rows: u64, latencies: &[f64]) {
    println!(
        "point queries, {what}: 1000 prepared lookups on {rows} rows: P50 {:.1} ms, P95 {:.1} ms, max {:.1} ms",
        latencies[500], latencies[950], latencies[999]
    );
}

/// Runs `sql` again and again until `stop`, counting the runs that ended on a limit.
async fn heavy_loop(
    mut client: FlightSqlServiceClient<tonic::transport::Channel>,
    sql: &'static str,
    stop: Arc<std::sync::atomic::AtomicBool>,
    hits: Arc<std::sync::atomic::AtomicUsize>,
) -> anyhow::Result<()> {
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let info = client.execute(sql.into(), None).await?;
        for endpoint in info.endpoint {
            let result = match client.do_get(endpoint.ticket.expect("ticket")).await {
                Ok(stream) => stream.try_collect::<Vec<RecordBatch>>().await.map(|_| ()),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.to_string().contains("limit") => {
                    hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => anyhow::bail!("heavy query failed otherwise: {e}"),
                Ok(()) => anyhow::bail!("heavy query finished within its limits: make it heavier"),
            }
        }
    }
    Ok(())
}

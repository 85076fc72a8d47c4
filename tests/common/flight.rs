//! The Flight SQL server in-process on a free loopback port, and a reader for its answers.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow_flight::FlightInfo;
use arrow_flight::sql::client::FlightSqlServiceClient;
use cdrlake::engine::Engine;
use cdrlake::server::auth::hash_password;
use cdrlake::server::{Auth, Role, UserConfig};
use cdrlake_catalog::{Lakehouse, LakehouseConfig, WriteMode};
use futures::TryStreamExt;
use tonic::transport::Channel;

/// A server over bronze.calls and gold.usage (the same rows), with `users` (none: demo mode).
pub async fn start_with_options(
    users: Vec<UserConfig>,
    options: cdrlake::server::ServeOptions,
) -> (FlightSqlServiceClient<Channel>, tempfile::TempDir, Channel) {
    let dir = tempfile::tempdir().unwrap();
    let (lakehouse, _) = Lakehouse::init(LakehouseConfig::local(
        dir.path().join("lake").to_str().unwrap(),
    ))
    .await
    .unwrap();
    lakehouse
        .write_batches(
            "bronze",
            "calls",
            vec![super::calls(0..4)],
            WriteMode::Append,
        )
        .await
        .unwrap();
    lakehouse
        .write_batches("gold", "usage", vec![super::calls(0..4)], WriteMode::Append)
        .await
        .unwrap();
    let engine = Arc::new(Engine::new(Arc::new(lakehouse)).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let auth = Auth::new(users).unwrap();
    let options = cdrlake::server::ServeOptions {
        query_log_flush: std::time::Duration::from_millis(100),
        ..options
    };
    tokio::spawn(cdrlake::server::serve(
        engine,
        auth,
        options,
        listener,
        std::future::pending(),
    ));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    (FlightSqlServiceClient::new(channel.clone()), dir, channel)
}

pub async fn fetch(
    client: &mut FlightSqlServiceClient<Channel>,
    info: FlightInfo,
) -> Vec<RecordBatch> {
    let announced = info.clone().try_decode_schema().unwrap();
    let mut batches = Vec::new();
    for endpoint in info.endpoint {
        assert!(
            endpoint.location.is_empty(),
            "no locations: clients reuse their connection"
        );
        let stream = client.do_get(endpoint.ticket.unwrap()).await.unwrap();
        let got: Vec<RecordBatch> = stream.try_collect().await.unwrap();
        for b in &got {
            assert_eq!(
                b.schema().as_ref(),
                &announced,
                "DoGet schema equals GetFlightInfo schema"
            );
        }
        batches.extend(got);
    }
    batches
}

/// Analyst `ana` (password ana-pw) and engineer `eng` (eng-pw).
pub fn ana_and_eng() -> Vec<UserConfig> {
    vec![
        UserConfig {
            name: "ana".into(),
            password_hash: hash_password("ana-pw").unwrap(),
            role: Role::Analyst,
        },
        UserConfig {
            name: "eng".into(),
            password_hash: hash_password("eng-pw").unwrap(),
            role: Role::Engineer,
        },
    ]
}

/// A query's batches through its first endpoint, or the error as text.
pub async fn try_query(
    client: &mut FlightSqlServiceClient<Channel>,
    sql: &str,
) -> Result<Vec<RecordBatch>, String> {
    let info = client
        .execute(sql.into(), None)
        .await
        .map_err(|e| e.to_string())?;
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let stream = client.do_get(ticket).await.map_err(|e| e.to_string())?;
    stream.try_collect().await.map_err(|e| e.to_string())
}

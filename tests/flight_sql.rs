//! The Flight SQL server over real gRPC, through arrow-flight's Flight SQL client.

mod common;

use common::flight::{ana_and_eng, fetch, start_with_options};

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{
    CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetTables, CommandGetXdbcTypeInfo, SqlInfo,
};
use cdrlake::server::auth::hash_password;
use cdrlake::server::{Role, UserConfig};
use futures::TryStreamExt;
use tonic::transport::Channel;

async fn start() -> (FlightSqlServiceClient<Channel>, tempfile::TempDir) {
    let (client, dir, _) = start_with(vec![]).await;
    (client, dir)
}

async fn start_with(
    users: Vec<UserConfig>,
) -> (FlightSqlServiceClient<Channel>, tempfile::TempDir, Channel) {
    start_with_timeout(users, None).await
}

async fn start_with_timeout(
    users: Vec<UserConfig>,
    timeout: Option<std::time::Duration>,
) -> (FlightSqlServiceClient<Channel>, tempfile::TempDir, Channel) {
    let limits = cdrlake::server::QueryLimits {
        timeout,
        ..Default::default()
    };
    start_with_limits(users, limits).await
}

async fn start_with_limits(
    users: Vec<UserConfig>,
    limits: cdrlake::server::QueryLimits,
) -> (FlightSqlServiceClient<Channel>, tempfile::TempDir, Channel) {
    let options = cdrlake::server::ServeOptions {
        limits,
        ..Default::default()
    };
    start_with_options(users, options).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_prepared_statements_and_metadata() {
    let (mut client, _dir) = start().await;

    let info = client
        .execute(
            "SELECT call_id, served_msisdn, charge FROM bronze.calls ORDER BY call_id".into(),
            None,
        )
        .await
        .unwrap();
    let schema = info.clone().try_decode_schema().unwrap();
    assert_eq!(
        schema.field(1).data_type(),
        &DataType::Utf8,
        "view types are sent as Utf8"
    );
    assert_eq!(schema.field(2).data_type(), &DataType::Decimal128(18, 4));
    let batches = fetch(&mut client, info).await;
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 4);
    assert_eq!(
        batches[0].column(1).as_string::<i32>().value(3),
        "+212610000003"
    );

    let mut prepared = client
        .prepare(
            "SELECT count(*) AS n FROM bronze.calls WHERE duration_s > $1".into(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(prepared.parameter_schema().unwrap().fields().len(), 1);
    assert_eq!(prepared.dataset_schema().unwrap().field(0).name(), "n");
    let params = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("$1", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![61]))],
    )
    .unwrap();
    prepared.set_parameters(params).unwrap();
    let info = prepared.execute().await.unwrap();
    let batches = fetch(&mut client, info).await;
    assert_eq!(
        batches[0].column(0).as_primitive::<Int64Type>().value(0),
        2,
        "durations 62 and 63"
    );
    // Re-bound, the handle runs with the new value: the plan GetFlightInfo kept is not reused.
    let params = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("$1", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![62]))],
    )
    .unwrap();
    prepared.set_parameters(params).unwrap();
    let info = prepared.execute().await.unwrap();
    let batches = fetch(&mut client, info).await;
    assert_eq!(
        batches[0].column(0).as_primitive::<Int64Type>().value(0),
        1,
        "duration 63 only"
    );
    prepared.close().await.unwrap();

    let info = client
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::SqlIdentifierQuoteChar,
        ])
        .await
        .unwrap();
    assert_eq!(fetch(&mut client, info).await[0].num_rows(), 2);

    let info = client.get_catalogs().await.unwrap();
    assert_eq!(
        fetch(&mut client, info).await[0]
            .column(0)
            .as_string::<i32>()
            .value(0),
        "cdrlake"
    );
    let info = client
        .get_db_schemas(CommandGetDbSchemas {
            catalog: None,
            db_schema_filter_pattern: None,
        })
        .await
        .unwrap();
    assert_eq!(fetch(&mut client, info).await[0].num_rows(), 4);
    let tables = CommandGetTables {
        catalog: None,
        db_schema_filter_pattern: Some("bron%".into()),
        table_name_filter_pattern: None,
        table_types: vec![],
        include_schema: true,
    };
    let info = client.get_tables(tables).await.unwrap();
    let batch = &fetch(&mut client, info).await[0];
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(
        batch
            .column_by_name("table_name")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "calls"
    );
    assert!(batch.column_by_name("table_schema").is_some());
    let info = client.get_table_types().await.unwrap();
    assert_eq!(fetch(&mut client, info).await[0].num_rows(), 2);
    let info = client
        .get_xdbc_type_info(CommandGetXdbcTypeInfo { data_type: None })
        .await
        .unwrap();
    let types = &fetch(&mut client, info).await[0];
    let names: Vec<&str> = (0..types.num_rows())
        .map(|i| types.column(0).as_string::<i32>().value(i))
        .collect();
    assert!(
        names.contains(&"DECIMAL") && names.contains(&"TIMESTAMP") && names.contains(&"VARCHAR"),
        "{names:?}"
    );
    let keys = CommandGetPrimaryKeys {
        catalog: None,
        db_schema: Some("bronze".into()),
        table: "calls".into(),
    };
    let info = client.get_primary_keys(keys).await.unwrap();
    assert_eq!(
        fetch(&mut client, info)
            .await
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        0,
        "Delta tables declare no keys"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_status_codes_and_the_server_keeps_serving() {
    let (mut client, _dir) = start().await;
    // The client renders gRPC codes by their description.
    let err = client
        .execute("SELEC 1".into(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Client specified an invalid argument") && err.contains("SELEC"),
        "{err}"
    );
    let err = client
        .execute("SELECT * FROM bronze.nope".into(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Some requested entity was not found") && err.contains("nope"),
        "{err}"
    );
    let err = client
        .execute("SELECT * FROM platinum.x".into(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Client specified an invalid argument")
            && err.contains("unknown schema 'platinum'"),
        "{err}"
    );
    let info = client
        .execute("SELECT count(*) FROM bronze.calls".into(), None)
        .await
        .unwrap();
    assert_eq!(
        fetch(&mut client, info).await[0]
            .column(0)
            .as_primitive::<Int64Type>()
            .value(0),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_login_bearer_tokens_and_roles() {
    let (mut client, _dir, channel) = start_with(ana_and_eng()).await;
    let unauthenticated = "The request does not have valid authentication credentials";
    let err = client
        .execute("SELECT 1".into(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(unauthenticated) && err.contains("no credentials"),
        "{err}"
    );
    let err = client
        .handshake("ana", "wrong")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(unauthenticated) && err.contains("wrong user name or password"),
        "{err}"
    );

    client.handshake("ana", "ana-pw").await.unwrap();
    let info = client
        .execute("SELECT count(*) FROM gold.usage".into(), None)
        .await
        .unwrap();
    assert_eq!(
        fetch(&mut client, info).await[0]
            .column(0)
            .as_primitive::<Int64Type>()
            .value(0),
        4
    );
    let err = client
        .execute(
            "SELECT * FROM gold.usage u JOIN bronze.calls c ON u.call_id = c.call_id".into(),
            None,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("The caller does not have permission")
            && err.contains("may not read bronze.calls"),
        "{err}"
    );
    let err = client
        .prepare("SELECT * FROM bronze.calls".into(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("may not read bronze.calls"), "{err}");
    let info = client
        .get_db_schemas(CommandGetDbSchemas {
            catalog: None,
            db_schema_filter_pattern: None,
        })
        .await
        .unwrap();
    let schemas = &fetch(&mut client, info).await[0];
    let names: Vec<&str> = (0..schemas.num_rows())
        .map(|i| schemas.column(1).as_string::<i32>().value(i))
        .collect();
    assert_eq!(
        names,
        vec!["gold", "system"],
        "analysts see only what they may read"
    );

    // Another client on the same connection, logged in as an engineer.
    let mut client = FlightSqlServiceClient::new(channel);
    client.handshake("eng", "eng-pw").await.unwrap();
    let info = client
        .execute("SELECT count(*) FROM bronze.calls".into(), None)
        .await
        .unwrap();
    assert_eq!(
        fetch(&mut client, info).await[0]
            .column(0)
            .as_primitive::<Int64Type>()
            .value(0),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_are_recorded_in_the_query_log() {
    let (mut client, _dir) = start().await;
    let info = client
        .execute(
            "SELECT call_id FROM bronze.calls WHERE call_id < 3".into(),
            None,
        )
        .await
        .unwrap();
    fetch(&mut client, info).await;
    assert!(
        client
            .execute("SELECT nope FROM bronze.calls".into(), None)
            .await
            .is_err()
    );
    // The log is flushed every 100 ms here; poll a bounded number of times.
    let mut rows = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let Ok(info) = client
            .execute(
                "SELECT status, rows, sql, error FROM system.query_log ORDER BY started_at".into(),
                None,
            )
            .await
        else {
            continue;
        };
        let batches = fetch(&mut client, info).await;
        rows = batches
            .iter()
            .flat_map(|b| {
                (0..b.num_rows()).map(move |i| {
                    let status = b.column(0).as_string::<i32>().value(i).to_string();
                    let sql = b.column(2).as_string::<i32>().value(i).to_string();
                    let count = if b.column(1).is_null(i) {
                        -1
                    } else {
                        b.column(1).as_primitive::<Int64Type>().value(i)
                    };
                    (status, sql, count)
                })
            })
            .collect::<Vec<_>>();
        if rows.len() >= 2 {
            break;
        }
    }
    assert!(
        rows.contains(&(
            "ok".into(),
            "SELECT call_id FROM bronze.calls WHERE call_id < 3".into(),
            3
        )),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|(status, sql, _)| status == "error" && sql.contains("nope")),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_memory_limit_fails_alone() {
    let (mut client, _dir, _) = start_with_limits(
        vec![],
        cdrlake::server::QueryLimits {
            query_memory: Some(4 << 20),
            ..Default::default()
        },
    )
    .await;
    // A hash join's build side of 3M rows needs far more than 4 MiB and cannot spill: the query
    // fails with RESOURCE_EXHAUSTED, naming the limit.
    let info = client
        .execute(
            "SELECT count(*) FROM generate_series(1, 3000000) a JOIN generate_series(1, 3000000) b ON a.value = b.value"
                .into(),
            None,
        )
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let err = match client.do_get(ticket).await {
        Ok(stream) => stream
            .try_collect::<Vec<RecordBatch>>()
            .await
            .unwrap_err()
            .to_string(),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("memory limit of 4 MiB"), "{err}");
    let info = client.execute("SELECT 1".into(), None).await.unwrap();
    assert_eq!(
        fetch(&mut client, info).await[0].num_rows(),
        1,
        "the server keeps serving"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_time_limit_is_cancelled() {
    let (mut client, _dir, _) =
        start_with_timeout(vec![], Some(std::time::Duration::from_secs(1))).await;
    let started = std::time::Instant::now();
    let info = client
        .execute(
            "SELECT count(*) FROM generate_series(1, 100000000000)".into(),
            None,
        )
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let result: Result<Vec<RecordBatch>, _> =
        client.do_get(ticket).await.unwrap().try_collect().await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("query cancelled: it ran longer than the 1s limit"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "cancelled promptly"
    );
    let info = client.execute("SELECT 1".into(), None).await.unwrap();
    assert_eq!(
        fetch(&mut client, info).await[0].num_rows(),
        1,
        "and the server keeps serving"
    );
}

fn ana() -> Vec<UserConfig> {
    vec![UserConfig {
        name: "ana".into(),
        password_hash: hash_password("ana-pw").unwrap(),
        role: Role::Analyst,
    }]
}

async fn one(client: &mut FlightSqlServiceClient<Channel>) -> Result<usize, String> {
    let info = client
        .execute("SELECT 1".into(), None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(fetch(client, info).await[0].num_rows())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_capped_per_user_and_end_when_idle() {
    let options = cdrlake::server::ServeOptions {
        sessions: cdrlake::server::SessionLimits {
            idle: std::time::Duration::from_secs(2),
            per_user: 2,
            ..Default::default()
        },
        ..Default::default()
    };
    let (first, _dir, channel) = start_with_options(ana(), options).await;
    let mut logins = vec![first, FlightSqlServiceClient::new(channel.clone())];
    logins.push(FlightSqlServiceClient::new(channel.clone()));
    for client in &mut logins {
        client.handshake("ana", "ana-pw").await.unwrap();
    }
    // The third login ended the least recently used session: the first.
    let err = one(&mut logins[0]).await.unwrap_err();
    assert!(err.contains("invalid or expired token"), "{err}");
    assert_eq!(one(&mut logins[1]).await, Ok(1));
    assert_eq!(one(&mut logins[2]).await, Ok(1));
    // A session unused for longer than the idle limit ends; one in use goes on.
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(one(&mut logins[2]).await, Ok(1));
    }
    let err = one(&mut logins[1]).await.unwrap_err();
    assert!(err.contains("invalid or expired token"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_cap_are_refused() {
    let limits = cdrlake::server::QueryLimits {
        max_upload: 64 << 10,
        ..Default::default()
    };
    let (mut client, _dir, _) = start_with_limits(vec![], limits).await;
    let mut prepared = client
        .prepare("SELECT length($1) AS n".into(), None)
        .await
        .unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("$1", DataType::Utf8, false)]));
    let small = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(vec!["x".repeat(1000)]))],
    )
    .unwrap();
    prepared.set_parameters(small).unwrap();
    assert!(prepared.execute().await.is_ok());
    let big = RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(vec!["x".repeat(200_000)]))],
    )
    .unwrap();
    prepared.set_parameters(big).unwrap();
    let err = prepared.execute().await.unwrap_err().to_string();
    assert!(
        err.contains("upload larger than the server's limit"),
        "{err}"
    );
    assert_eq!(one(&mut client).await, Ok(1), "the server keeps serving");
}

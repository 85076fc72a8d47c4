//! The calls the Flight SQL JDBC driver (DBeaver, DataGrip) makes, at the protocol level: the
//! driver itself cannot be downloaded on these machines. See ArrowDatabaseMetadata and
//! ArrowFlightSqlClientHandler in apache/arrow-java for what it sends and how it reads answers.
//! The session actions as JDBC sends them are in tests/python/test_security.py.

mod common;

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch, UnionArray};
use arrow::datatypes::{DataType, UInt32Type};
use arrow_flight::Action;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{
    ActionBeginTransactionRequest, ProstMessageExt, SqlInfo, SqlSupportsConvert,
};
use common::flight::{ana_and_eng, fetch, start_with_options, try_query};
use futures::TryStreamExt;
use prost::Message;
use tonic::transport::Channel;

/// The value kinds of GetSqlInfo's dense union, by type id (Flight SQL's schema order).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Text = 0,
    Bool = 1,
    Long = 2,
    Int = 3,
    List = 4,
    Map = 5,
}

/// Every key ArrowDatabaseMetadata reads, with the Java class it casts the value to.
fn jdbc_keys() -> Vec<(SqlInfo, Kind)> {
    use Kind::*;
    use SqlInfo as S;
    let mut keys = vec![
        (S::FlightSqlServerName, Text),
        (S::FlightSqlServerVersion, Text),
        (S::FlightSqlServerReadOnly, Bool),
        (S::SqlIdentifierQuoteChar, Text),
        (S::SqlSearchStringEscape, Text),
        (S::SqlExtraNameCharacters, Text),
        (S::SqlSchemaTerm, Text),
        (S::SqlProcedureTerm, Text),
        (S::SqlCatalogTerm, Text),
        (S::SqlKeywords, List),
        (S::SqlNumericFunctions, List),
        (S::SqlStringFunctions, List),
        (S::SqlSystemFunctions, List),
        (S::SqlDatetimeFunctions, List),
        (S::SqlSupportsConvert, Map),
        (S::SqlDefaultTransactionIsolation, Long),
    ];
    for key in [
        S::SqlNullPlusNullIsNull,
        S::SqlSupportsColumnAliasing,
        S::SqlSupportsTableCorrelationNames,
        S::SqlSupportsDifferentTableCorrelationNames,
        S::SqlSupportsExpressionsInOrderBy,
        S::SqlSupportsOrderByUnrelated,
        S::SqlSupportsLikeEscapeClause,
        S::SqlSupportsNonNullableColumns,
        S::SqlSupportsIntegrityEnhancementFacility,
        S::SqlCatalogAtStart,
        S::SqlSelectForUpdateSupported,
        S::SqlStoredProceduresSupported,
        S::SqlCorrelatedSubqueriesSupported,
        S::SqlMaxRowSizeIncludesBlobs,
        S::SqlTransactionsSupported,
        S::SqlDataDefinitionCausesTransactionCommit,
        S::SqlDataDefinitionsInTransactionsIgnored,
        S::SqlBatchUpdatesSupported,
        S::SqlSavepointsSupported,
        S::SqlNamedParametersSupported,
        S::SqlLocatorsUpdateCopy,
        S::SqlStoredFunctionsUsingCallSyntaxSupported,
    ] {
        keys.push((key, Bool));
    }
    for key in [
        S::SqlSupportedGroupBy,
        S::SqlSupportedGrammar,
        S::SqlAnsi92SupportedLevel,
        S::SqlOuterJoinsSupportLevel,
        S::SqlSchemasSupportedActions,
        S::SqlCatalogsSupportedActions,
        S::SqlSupportedPositionedCommands,
        S::SqlSupportedSubqueries,
        S::SqlSupportedUnions,
        S::SqlSupportedTransactionsIsolationLevels,
        S::SqlSupportedResultSetTypes,
    ] {
        keys.push((key, Int));
    }
    for key in [
        S::SqlMaxBinaryLiteralLength,
        S::SqlMaxCharLiteralLength,
        S::SqlMaxColumnNameLength,
        S::SqlMaxColumnsInGroupBy,
        S::SqlMaxColumnsInIndex,
        S::SqlMaxColumnsInOrderBy,
        S::SqlMaxColumnsInSelect,
        S::SqlMaxColumnsInTable,
        S::SqlMaxConnections,
        S::SqlMaxCursorNameLength,
        S::SqlMaxIndexLength,
        S::SqlDbSchemaNameLength,
        S::SqlMaxProcedureNameLength,
        S::SqlMaxCatalogNameLength,
        S::SqlMaxRowSize,
        S::SqlMaxStatementLength,
        S::SqlMaxStatements,
        S::SqlMaxTableNameLength,
        S::SqlMaxTablesInSelect,
        S::SqlMaxUsernameLength,
    ] {
        keys.push((key, Long));
    }
    keys
}

/// One answered key: its union type id and the row holding it.
struct Answers {
    batch: RecordBatch,
    rows: BTreeMap<u32, usize>,
}

impl Answers {
    async fn all(client: &mut FlightSqlServiceClient<Channel>) -> Self {
        let info = client.get_sql_info(vec![]).await.unwrap();
        let batches = fetch(client, info).await;
        let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let names = batch.column(0).as_primitive::<UInt32Type>();
        let rows = (0..batch.num_rows()).map(|i| (names.value(i), i)).collect();
        Self { batch, rows }
    }

    fn union(&self) -> &UnionArray {
        self.batch.column(1).as_any().downcast_ref().unwrap()
    }

    fn kind(&self, key: SqlInfo) -> Option<i8> {
        self.rows
            .get(&(key as u32))
            .map(|&row| self.union().type_id(row))
    }

    fn value(&self, key: SqlInfo) -> std::sync::Arc<dyn Array> {
        let row = self.rows[&(key as u32)];
        let union = self.union();
        union
            .child(union.type_id(row))
            .slice(union.value_offset(row), 1)
    }

    fn bool(&self, key: SqlInfo) -> bool {
        self.value(key).as_boolean().value(0)
    }

    fn strings(&self, key: SqlInfo) -> Vec<String> {
        let list = self.value(key);
        let values = list.as_list::<i32>().value(0);
        let values = values.as_string::<i32>();
        (0..values.len())
            .map(|i| values.value(i).to_string())
            .collect()
    }

    fn convert_map(&self) -> BTreeMap<i32, Vec<i32>> {
        let map = self.value(SqlInfo::SqlSupportsConvert);
        let entries = map.as_map().value(0);
        let from = entries
            .column(0)
            .as_primitive::<arrow::datatypes::Int32Type>();
        let to = entries.column(1).as_list::<i32>();
        (0..entries.len())
            .map(|i| {
                let targets = to.value(i);
                let targets = targets.as_primitive::<arrow::datatypes::Int32Type>();
                (from.value(i), targets.values().to_vec())
            })
            .collect()
    }
}

async fn demo() -> (FlightSqlServiceClient<Channel>, tempfile::TempDir) {
    let (client, dir, _) = start_with_options(vec![], Default::default()).await;
    (client, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_sql_info_answers_every_key_the_jdbc_driver_reads_with_the_type_it_casts_to() {
    let (mut client, _dir) = demo().await;
    let answers = Answers::all(&mut client).await;
    let keys = jdbc_keys();
    assert_eq!(keys.len(), 69, "ArrowDatabaseMetadata reads 69 keys");
    let wrong: Vec<String> = keys
        .iter()
        .filter(|(key, kind)| answers.kind(*key) != Some(*kind as i8))
        .map(|(key, kind)| {
            format!(
                "{key:?}: want {kind:?}, got type id {:?}",
                answers.kind(*key)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");

    // What DBeaver shows and relies on.
    assert!(
        answers.bool(SqlInfo::FlightSqlServerCancel),
        "Cancel is supported"
    );
    assert!(!answers.bool(SqlInfo::SqlTransactionsSupported));
    assert!(
        answers
            .strings(SqlInfo::SqlSystemFunctions)
            .contains(&"version".to_string())
    );
    let unions = answers.value(SqlInfo::SqlSupportedUnions);
    assert_eq!(
        unions
            .as_primitive::<arrow::datatypes::Int32Type>()
            .value(0),
        0b11,
        "UNION and UNION ALL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listed_function_exists_on_the_server() {
    let (mut client, _dir) = demo().await;
    let answers = Answers::all(&mut client).await;
    let batches = try_query(
        &mut client,
        "SELECT DISTINCT lower(routine_name) FROM information_schema.routines",
    )
    .await
    .unwrap();
    let mut known = std::collections::HashSet::new();
    for b in &batches {
        let names = arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        let names = names.as_string::<i32>();
        known.extend((0..names.len()).map(|i| names.value(i).to_string()));
    }
    let mut missing = vec![];
    for key in [
        SqlInfo::SqlNumericFunctions,
        SqlInfo::SqlStringFunctions,
        SqlInfo::SqlDatetimeFunctions,
        SqlInfo::SqlSystemFunctions,
    ] {
        let listed = answers.strings(key);
        assert!(listed.len() >= 5, "{key:?}: {listed:?}");
        missing.extend(listed.into_iter().filter(|f| !known.contains(f)));
    }
    assert!(
        missing.is_empty(),
        "listed but unknown to the server: {missing:?}"
    );
}

/// SQL for a value of each JDBC convert type, and the type's name in a CAST.
fn sample(of: SqlSupportsConvert, for_target: SqlSupportsConvert) -> (String, &'static str) {
    use SqlSupportsConvert as C;
    let text = match for_target {
        C::SqlConvertBit => "'true'",
        C::SqlConvertDate => "'2026-04-08'",
        C::SqlConvertTime => "'13:47:29'",
        C::SqlConvertTimestamp => "'2026-04-08T13:47:29'",
        C::SqlConvertChar | C::SqlConvertVarchar | C::SqlConvertLongvarchar => "'x'",
        C::SqlConvertBinary | C::SqlConvertVarbinary | C::SqlConvertLongvarbinary => "'x'",
        _ => "'1'",
    };
    let (value, name) = match of {
        C::SqlConvertBigint => ("1", "BIGINT"),
        C::SqlConvertBinary => ("'x'", "BINARY"),
        C::SqlConvertBit => ("true", "BOOLEAN"),
        C::SqlConvertChar => (text, "CHAR"),
        C::SqlConvertDate => ("'2026-04-08'", "DATE"),
        C::SqlConvertDecimal => ("1", "DECIMAL(12, 2)"),
        C::SqlConvertFloat => ("1", "FLOAT"),
        C::SqlConvertInteger => ("1", "INTEGER"),
        C::SqlConvertLongvarbinary => ("'x'", "BYTEA"),
        C::SqlConvertLongvarchar => (text, "TEXT"),
        C::SqlConvertNumeric => ("1", "NUMERIC(12, 2)"),
        C::SqlConvertReal => ("1", "REAL"),
        C::SqlConvertSmallint => ("1", "SMALLINT"),
        C::SqlConvertTime => ("'13:47:29'", "TIME"),
        C::SqlConvertTimestamp => ("'2026-04-08T13:47:29'", "TIMESTAMP"),
        C::SqlConvertTinyint => ("1", "TINYINT"),
        C::SqlConvertVarbinary => ("'x'", "VARBINARY"),
        C::SqlConvertVarchar => (text, "VARCHAR"),
        other => panic!("no sample for {other:?}"),
    };
    (format!("CAST({value} AS {name})"), name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_conversion_reported_in_supports_convert_runs_on_the_server() {
    let (mut client, _dir) = demo().await;
    let map = Answers::all(&mut client).await.convert_map();
    assert!(map.len() >= 15, "{map:?}");
    let mut failed = vec![];
    let mut pairs = 0;
    for (from, targets) in &map {
        let from = SqlSupportsConvert::try_from(*from).unwrap();
        for to in targets {
            let to = SqlSupportsConvert::try_from(*to).unwrap();
            let (value, _) = sample(from, to);
            let (_, target) = sample(to, to);
            let sql = format!("SELECT CAST({value} AS {target})");
            pairs += 1;
            if let Err(e) = try_query(&mut client, &sql).await {
                failed.push(format!("{from:?} -> {to:?}: {sql}: {e}"));
            }
        }
    }
    assert!(pairs > 100, "{pairs}");
    assert!(failed.is_empty(), "{failed:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_and_dictionaries_reach_jdbc_as_plain_types_at_every_depth() {
    let (mut client, _dir) = demo().await;
    let sql = "SELECT arrow_cast('2026-04', 'Dictionary(Int32, Utf8)') AS period, \
               arrow_cast('x', 'Utf8View') AS name, \
               make_array(arrow_cast('VOICE', 'Utf8View')) AS services, \
               named_struct('p', arrow_cast('x', 'Dictionary(Int32, Utf8View)')) AS billing, \
               map([arrow_cast('cell', 'Utf8View')], [arrow_cast('CAS0001', 'Utf8View')]) AS evidence";
    let info = client.execute(sql.into(), None).await.unwrap();
    let announced = info.clone().try_decode_schema().unwrap();
    let batches = fetch(&mut client, info).await;
    for f in announced
        .fields()
        .iter()
        .chain(batches[0].schema().fields().iter())
    {
        assert!(
            cdrlake::output::is_plain(f.data_type()),
            "{} is served as {}",
            f.name(),
            f.data_type()
        );
    }
    let period = arrow::compute::cast(batches[0].column(0), &DataType::Utf8).unwrap();
    assert_eq!(period.as_string::<i32>().value(0), "2026-04");

    // The same through a prepared statement, which JDBC uses for every query.
    let prepared = client.prepare(sql.into(), None).await.unwrap();
    for f in prepared.dataset_schema().unwrap().fields() {
        assert!(
            cdrlake::output::is_plain(f.data_type()),
            "{} is prepared as {}",
            f.name(),
            f.data_type()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_updates_have_an_empty_dataset_schema_and_run_through_do_put() {
    let (mut client, _dir, _) = start_with_options(ana_and_eng(), Default::default()).await;
    client.handshake("eng", "eng-pw").await.unwrap();

    // JDBC's executeUpdate path: an empty dataset schema, then DoPut with the update command.
    let mut insert = client
        .prepare(
            "INSERT INTO bronze.calls SELECT * FROM bronze.calls LIMIT 1".into(),
            None,
        )
        .await
        .unwrap();
    assert!(insert.dataset_schema().unwrap().fields().is_empty());
    assert_eq!(insert.execute_update().await.unwrap(), 1);
    let mut set = client
        .prepare("SET datafusion.execution.batch_size = 1024".into(), None)
        .await
        .unwrap();
    assert!(set.dataset_schema().unwrap().fields().is_empty());
    set.execute_update().await.unwrap();

    // An analyst may not prepare the write, and the table stays as it was.
    let (mut ana, _dir2, _) = start_with_options(ana_and_eng(), Default::default()).await;
    ana.handshake("ana", "ana-pw").await.unwrap();
    let refused = ana
        .prepare(
            "INSERT INTO bronze.calls SELECT * FROM bronze.calls".into(),
            None,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("ermission"), "{refused}");

    // Queries keep their result schema.
    let select = client
        .prepare("SELECT COUNT(*) AS n FROM bronze.calls".into(), None)
        .await
        .unwrap();
    assert_eq!(select.dataset_schema().unwrap().field(0).name(), "n");
    let rows = try_query(&mut client, "SELECT COUNT(*) FROM bronze.calls")
        .await
        .unwrap();
    assert_eq!(
        rows[0]
            .column(0)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(0),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_refused_with_a_clear_error_and_the_session_goes_on() {
    let (mut client, _dir, channel) = start_with_options(ana_and_eng(), Default::default()).await;
    let begin = Action {
        r#type: "BeginTransaction".into(),
        body: ActionBeginTransactionRequest {}
            .as_any()
            .encode_to_vec()
            .into(),
    };
    // Without a login the caller is turned away first.
    let mut anonymous = FlightSqlServiceClient::new(channel);
    let refused = anonymous
        .do_action(begin.clone())
        .await
        .err()
        .map(|e| e.to_string());
    assert!(refused.is_some_and(|e| e.contains("no credentials")));
    client.handshake("ana", "ana-pw").await.unwrap();
    let err = match client.do_action(begin).await {
        Ok(stream) => stream
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err()
            .to_string(),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("no transactions") && err.contains("auto-commit"),
        "{err}"
    );
    assert!(
        try_query(&mut client, "SELECT 1").await.is_ok(),
        "the session still serves"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_credentials_is_told_to_send_them() {
    let (client, _dir, channel) = start_with_options(ana_and_eng(), Default::default()).await;
    drop(client);
    // flightsql-dbapi with a URI that has no user name sends "Bearer None".
    for header in ["Bearer None", "Bearer ", ""] {
        let mut client = FlightSqlServiceClient::new(channel.clone());
        if !header.is_empty() {
            client.set_header("authorization", header);
        }
        let err = try_query(&mut client, "SELECT 1").await.unwrap_err();
        assert!(
            err.contains("no credentials") && err.contains("USER:PASSWORD"),
            "{header}: {err}"
        );
    }
}

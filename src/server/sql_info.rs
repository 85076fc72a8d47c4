//! What GetSqlInfo answers: the facts the Flight SQL JDBC driver and ADBC read on connect.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    Nullable, Searchable, SqlInfo, SqlNullOrdering, SqlOuterJoinsSupportLevel,
    SqlSupportedCaseSensitivity, SqlSupportedGroupBy, SqlSupportedResultSetType,
    SqlSupportedSubqueries, SqlSupportedTransaction, SqlSupportedUnions, SqlSupportsConvert,
    SqlTransactionIsolationLevel, SupportedSqlGrammar, XdbcDataType,
};

/// Every key the Flight SQL JDBC driver's DatabaseMetaData reads (69, see ArrowDatabaseMetadata in
/// arrow-java), each with the value type it casts to: drivers before 19.0 throw a
/// NullPointerException on a missing key. Bitmask keys are int32, lengths and limits int64
/// (0: no limit), function lists string lists.
pub static SQL_INFO: LazyLock<SqlInfoData> = LazyLock::new(|| {
    let mut b = SqlInfoDataBuilder::new();
    server(&mut b);
    identifiers(&mut b);
    grammar(&mut b);
    functions(&mut b);
    limits(&mut b);
    transactions(&mut b);
    b.append(SqlInfo::SqlSupportsConvert, supports_convert());
    b.build().expect("valid SqlInfo")
});

/// A bitmask with bit `o` set for each option `o` (how Flight SQL encodes option sets).
fn bits(options: &[i32]) -> i32 {
    options.iter().fold(0, |mask, o| mask | (1 << o))
}

fn server(b: &mut SqlInfoDataBuilder) {
    b.append(SqlInfo::FlightSqlServerName, "cdrlake");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    b.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
    // Engineers write (ingest, models); analysts are refused per statement.
    b.append(SqlInfo::FlightSqlServerReadOnly, false);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    b.append(SqlInfo::FlightSqlServerCancel, true);
    b.append(SqlInfo::FlightSqlServerStatementTimeout, 0i32);
    b.append(SqlInfo::FlightSqlServerTransactionTimeout, 0i32);
}

fn identifiers(b: &mut SqlInfoDataBuilder) {
    b.append(
        SqlInfo::SqlIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityLowercase as i32,
    );
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(
        SqlInfo::SqlQuotedIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityCaseInsensitive as i32,
    );
    b.append(SqlInfo::SqlAllTablesAreSelectable, true);
    b.append(
        SqlInfo::SqlNullOrdering,
        SqlNullOrdering::SqlNullsSortedHigh as i32,
    );
    b.append(SqlInfo::SqlSearchStringEscape, "\\");
    b.append(SqlInfo::SqlExtraNameCharacters, "");
    b.append(SqlInfo::SqlSchemaTerm, "schema");
    b.append(SqlInfo::SqlCatalogTerm, "catalog");
    b.append(SqlInfo::SqlProcedureTerm, "procedure");
    b.append(SqlInfo::SqlCatalogAtStart, true);
    // Catalog and schema names qualify tables in queries only: no procedures, indexes or grants.
    b.append(SqlInfo::SqlSchemasSupportedActions, 0i32);
    b.append(SqlInfo::SqlCatalogsSupportedActions, 0i32);
}

fn grammar(b: &mut SqlInfoDataBuilder) {
    b.append(SqlInfo::SqlSupportsColumnAliasing, true);
    b.append(SqlInfo::SqlNullPlusNullIsNull, true);
    b.append(SqlInfo::SqlSupportsTableCorrelationNames, true);
    b.append(SqlInfo::SqlSupportsDifferentTableCorrelationNames, false);
    b.append(SqlInfo::SqlSupportsExpressionsInOrderBy, true);
    b.append(SqlInfo::SqlSupportsOrderByUnrelated, true);
    b.append(
        SqlInfo::SqlSupportedGroupBy,
        bits(&[
            SqlSupportedGroupBy::SqlGroupByUnrelated as i32,
            SqlSupportedGroupBy::SqlGroupByBeyondSelect as i32,
        ]),
    );
    b.append(SqlInfo::SqlSupportsLikeEscapeClause, true);
    b.append(SqlInfo::SqlSupportsNonNullableColumns, true);
    b.append(
        SqlInfo::SqlSupportedGrammar,
        bits(&[
            SupportedSqlGrammar::SqlMinimumGrammar as i32,
            SupportedSqlGrammar::SqlCoreGrammar as i32,
        ]),
    );
    // SupportedAnsi92SqlGrammarLevel.ANSI92_ENTRY_SQL (0); arrow-flight does not export the enum.
    b.append(SqlInfo::SqlAnsi92SupportedLevel, bits(&[0]));
    b.append(SqlInfo::SqlSupportsIntegrityEnhancementFacility, false);
    // The JDBC driver reads this key as a bitmask of levels, not as one level.
    b.append(
        SqlInfo::SqlOuterJoinsSupportLevel,
        bits(&[
            SqlOuterJoinsSupportLevel::SqlLimitedOuterJoins as i32,
            SqlOuterJoinsSupportLevel::SqlFullOuterJoins as i32,
        ]),
    );
    b.append(SqlInfo::SqlSupportedPositionedCommands, 0i32);
    b.append(SqlInfo::SqlSelectForUpdateSupported, false);
    b.append(SqlInfo::SqlStoredProceduresSupported, false);
    b.append(SqlInfo::SqlStoredFunctionsUsingCallSyntaxSupported, false);
    b.append(
        SqlInfo::SqlSupportedSubqueries,
        bits(&[
            SqlSupportedSubqueries::SqlSubqueriesInComparisons as i32,
            SqlSupportedSubqueries::SqlSubqueriesInExists as i32,
            SqlSupportedSubqueries::SqlSubqueriesInIns as i32,
        ]),
    );
    b.append(SqlInfo::SqlCorrelatedSubqueriesSupported, true);
    b.append(
        SqlInfo::SqlSupportedUnions,
        bits(&[
            SqlSupportedUnions::SqlUnion as i32,
            SqlSupportedUnions::SqlUnionAll as i32,
        ]),
    );
    b.append(
        SqlInfo::SqlSupportedResultSetTypes,
        bits(&[SqlSupportedResultSetType::SqlResultSetTypeForwardOnly as i32]),
    );
    b.append(SqlInfo::SqlBatchUpdatesSupported, false);
    b.append(SqlInfo::SqlSavepointsSupported, false);
    b.append(SqlInfo::SqlNamedParametersSupported, false);
    b.append(SqlInfo::SqlLocatorsUpdateCopy, false);
    b.append(
        SqlInfo::SqlKeywords,
        &[
            "ABSENT", "ARRAY", "EXPLAIN", "FILTER", "QUALIFY", "UNNEST", "WINDOW",
        ][..],
    );
}

/// Function names as JDBC's get*Functions list them; each exists on the server (tests/jdbc.rs
/// checks them against information_schema.routines).
fn functions(b: &mut SqlInfoDataBuilder) {
    b.append(
        SqlInfo::SqlNumericFunctions,
        &[
            "abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "degrees", "exp", "floor", "ln",
            "log", "log10", "log2", "pi", "power", "radians", "random", "round", "signum", "sin",
            "sqrt", "tan", "trunc",
        ][..],
    );
    b.append(
        SqlInfo::SqlStringFunctions,
        &[
            "ascii",
            "btrim",
            "char_length",
            "chr",
            "concat",
            "concat_ws",
            "initcap",
            "left",
            "length",
            "lower",
            "lpad",
            "ltrim",
            "octet_length",
            "regexp_like",
            "regexp_replace",
            "repeat",
            "replace",
            "reverse",
            "right",
            "rpad",
            "rtrim",
            "split_part",
            "starts_with",
            "strpos",
            "substr",
            "translate",
            "upper",
        ][..],
    );
    b.append(
        SqlInfo::SqlDatetimeFunctions,
        &[
            "current_date",
            "current_time",
            "date_bin",
            "date_part",
            "date_trunc",
            "from_unixtime",
            "make_date",
            "now",
            "to_char",
            "to_date",
            "to_timestamp",
            "to_timestamp_millis",
            "to_unixtime",
        ][..],
    );
    b.append(
        SqlInfo::SqlSystemFunctions,
        &["arrow_typeof", "coalesce", "nullif", "nvl", "version"][..],
    );
}

fn limits(b: &mut SqlInfoDataBuilder) {
    // 0: no fixed limit (JDBC's convention for "unknown or none").
    for key in [
        SqlInfo::SqlMaxBinaryLiteralLength,
        SqlInfo::SqlMaxCharLiteralLength,
        SqlInfo::SqlMaxColumnNameLength,
        SqlInfo::SqlMaxColumnsInGroupBy,
        SqlInfo::SqlMaxColumnsInIndex,
        SqlInfo::SqlMaxColumnsInOrderBy,
        SqlInfo::SqlMaxColumnsInSelect,
        SqlInfo::SqlMaxColumnsInTable,
        SqlInfo::SqlMaxConnections,
        SqlInfo::SqlMaxCursorNameLength,
        SqlInfo::SqlMaxIndexLength,
        SqlInfo::SqlDbSchemaNameLength,
        SqlInfo::SqlMaxProcedureNameLength,
        SqlInfo::SqlMaxCatalogNameLength,
        SqlInfo::SqlMaxRowSize,
        SqlInfo::SqlMaxStatementLength,
        SqlInfo::SqlMaxStatements,
        SqlInfo::SqlMaxTableNameLength,
        SqlInfo::SqlMaxTablesInSelect,
        SqlInfo::SqlMaxUsernameLength,
    ] {
        b.append(key, 0i64);
    }
    b.append(SqlInfo::SqlMaxRowSizeIncludesBlobs, false);
}

fn transactions(b: &mut SqlInfoDataBuilder) {
    // Every statement is its own Delta commit: no transactions, so no isolation levels.
    b.append(SqlInfo::SqlTransactionsSupported, false);
    b.append(
        SqlInfo::SqlDefaultTransactionIsolation,
        SqlTransactionIsolationLevel::SqlTransactionNone as i64,
    );
    b.append(
        SqlInfo::SqlSupportedTransactionsIsolationLevels,
        bits(&[SqlTransactionIsolationLevel::SqlTransactionNone as i32]),
    );
    b.append(SqlInfo::SqlDataDefinitionCausesTransactionCommit, false);
    b.append(SqlInfo::SqlDataDefinitionsInTransactionsIgnored, false);
}

/// Which CASTs work (JDBC `supportsConvert(from, to)`): from each type to the types DataFusion
/// casts it to. tests/jdbc.rs runs every pair on the server. BINARY and VARBINARY are not SQL type
/// names here (BYTEA is), and booleans and decimals do not cast to each other.
fn supports_convert() -> BTreeMap<i32, Vec<i32>> {
    use SqlSupportsConvert as C;
    let integers = [
        C::SqlConvertBigint,
        C::SqlConvertFloat,
        C::SqlConvertInteger,
        C::SqlConvertReal,
        C::SqlConvertSmallint,
        C::SqlConvertTinyint,
    ];
    let decimals = [C::SqlConvertDecimal, C::SqlConvertNumeric];
    let text = [
        C::SqlConvertChar,
        C::SqlConvertVarchar,
        C::SqlConvertLongvarchar,
    ];
    let binary = [C::SqlConvertLongvarbinary];
    let bit = [C::SqlConvertBit];
    let date = [C::SqlConvertDate];
    let time = [C::SqlConvertTime];
    let timestamp = [C::SqlConvertTimestamp];
    let ids = |groups: &[&[C]]| -> Vec<i32> {
        let mut v: Vec<i32> = groups
            .iter()
            .flat_map(|g| g.iter().map(|c| *c as i32))
            .collect();
        v.sort_unstable();
        v
    };
    let mut map = BTreeMap::new();
    for from in integers {
        map.insert(from as i32, ids(&[&integers, &decimals, &text, &bit]));
    }
    map.insert(C::SqlConvertBit as i32, ids(&[&integers, &text, &bit]));
    for from in decimals {
        map.insert(from as i32, ids(&[&integers, &decimals, &text]));
    }
    for from in text {
        map.insert(
            from as i32,
            ids(&[
                &integers, &decimals, &text, &bit, &date, &time, &timestamp, &binary,
            ]),
        );
    }
    for from in binary {
        map.insert(from as i32, ids(&[&binary, &text]));
    }
    map.insert(C::SqlConvertDate as i32, ids(&[&date, &timestamp, &text]));
    map.insert(C::SqlConvertTime as i32, ids(&[&time, &text]));
    map.insert(
        C::SqlConvertTimestamp as i32,
        ids(&[&timestamp, &date, &time, &text]),
    );
    map
}

/// The SQL types cdrlake columns have, for GetXdbcTypeInfo (JDBC `getTypeInfo`).
pub static XDBC_TYPES: LazyLock<XdbcTypeInfoData> = LazyLock::new(|| {
    let mut b = XdbcTypeInfoDataBuilder::new();
    let types: [(&str, XdbcDataType, Option<i32>, Option<&str>); 9] = [
        ("BOOLEAN", XdbcDataType::XdbcBit, Some(1), None),
        ("INTEGER", XdbcDataType::XdbcInteger, Some(32), None),
        ("BIGINT", XdbcDataType::XdbcBigint, Some(64), None),
        ("DOUBLE", XdbcDataType::XdbcDouble, Some(53), None),
        (
            "DECIMAL",
            XdbcDataType::XdbcDecimal,
            Some(38),
            Some("precision,scale"),
        ),
        ("VARCHAR", XdbcDataType::XdbcVarchar, None, None),
        ("DATE", XdbcDataType::XdbcDate, Some(10), None),
        ("TIMESTAMP", XdbcDataType::XdbcTimestamp, Some(26), None),
        ("VARBINARY", XdbcDataType::XdbcVarbinary, None, None),
    ];
    for (name, data_type, size, params) in types {
        let text = matches!(
            data_type,
            XdbcDataType::XdbcVarchar | XdbcDataType::XdbcDate | XdbcDataType::XdbcTimestamp
        );
        let numeric = matches!(
            data_type,
            XdbcDataType::XdbcInteger
                | XdbcDataType::XdbcBigint
                | XdbcDataType::XdbcDouble
                | XdbcDataType::XdbcDecimal
        );
        b.append(XdbcTypeInfo {
            type_name: name.into(),
            data_type,
            column_size: size,
            literal_prefix: text.then(|| "'".into()),
            literal_suffix: text.then(|| "'".into()),
            create_params: params.map(|p| p.split(',').map(String::from).collect()),
            nullable: Nullable::NullabilityNullable,
            case_sensitive: data_type == XdbcDataType::XdbcVarchar,
            searchable: Searchable::Full,
            unsigned_attribute: numeric.then_some(false),
            fixed_prec_scale: data_type == XdbcDataType::XdbcDecimal,
            auto_increment: numeric.then_some(false),
            local_type_name: Some(name.into()),
            minimum_scale: (data_type == XdbcDataType::XdbcDecimal).then_some(0),
            maximum_scale: (data_type == XdbcDataType::XdbcDecimal).then_some(38),
            sql_data_type: data_type,
            datetime_subcode: None,
            num_prec_radix: numeric.then_some(10),
            interval_precision: None,
        });
    }
    b.build().expect("valid XDBC type info")
});

//! What GetSqlInfo answers: the facts the Flight SQL JDBC driver and ADBC read on connect.

use std::sync::LazyLock;

use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    Nullable, Searchable, SqlInfo, SqlNullOrdering, SqlSupportedCaseSensitivity,
    SqlSupportedTransaction, XdbcDataType,
};

pub static SQL_INFO: LazyLock<SqlInfoData> = LazyLock::new(|| {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "cdrlake");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    b.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
    b.append(SqlInfo::FlightSqlServerReadOnly, false);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    b.append(SqlInfo::FlightSqlServerCancel, false);
    b.append(SqlInfo::FlightSqlServerStatementTimeout, 0i32);
    b.append(SqlInfo::FlightSqlServerTransactionTimeout, 0i32);
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
    b.append(
        SqlInfo::SqlKeywords,
        &[
            "ABSENT", "ARRAY", "EXPLAIN", "FILTER", "QUALIFY", "UNNEST", "WINDOW",
        ][..],
    );
    b.append(
        SqlInfo::SqlNumericFunctions,
        &[
            "abs", "ceil", "floor", "round", "power", "sqrt", "ln", "log10", "exp",
        ][..],
    );
    b.append(
        SqlInfo::SqlStringFunctions,
        &[
            "concat",
            "lower",
            "upper",
            "substr",
            "trim",
            "length",
            "replace",
            "starts_with",
        ][..],
    );
    b.append(
        SqlInfo::SqlDatetimeFunctions,
        &["now", "date_trunc", "date_part", "to_timestamp", "extract"][..],
    );
    b.append(SqlInfo::SqlSearchStringEscape, "\\");
    b.append(SqlInfo::SqlExtraNameCharacters, "");
    b.append(SqlInfo::SqlSupportsColumnAliasing, true);
    b.append(SqlInfo::SqlNullPlusNullIsNull, true);
    b.append(SqlInfo::SqlSupportsTableCorrelationNames, true);
    b.append(SqlInfo::SqlSupportsExpressionsInOrderBy, true);
    b.append(SqlInfo::SqlSupportsOrderByUnrelated, true);
    b.append(SqlInfo::SqlSupportsLikeEscapeClause, true);
    b.append(SqlInfo::SqlSupportsNonNullableColumns, true);
    b.append(SqlInfo::SqlSchemaTerm, "schema");
    b.append(SqlInfo::SqlCatalogTerm, "catalog");
    b.append(SqlInfo::SqlProcedureTerm, "procedure");
    b.append(SqlInfo::SqlCatalogAtStart, true);
    b.append(SqlInfo::SqlTransactionsSupported, false);
    b.append(SqlInfo::SqlMaxColumnNameLength, 0i64);
    b.build().expect("valid SqlInfo")
});

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

//! A column's largest value without reading the whole column: the Delta log's file statistics
//! give a floor just under it, and only the files whose maximum reaches the floor are read for
//! the exact value. `@changed_since` marks, watermarks and freshness tests use it, so their cost
//! does not grow with the table.

use std::collections::HashMap;

use anyhow::Result;
use cdrlake_catalog::{DeltaProvider, max_from_statistics};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ParamValues, ScalarValue, TableReference};

use super::materialize::quote;
use crate::engine::Engine;

/// The largest value of `schema.table.column` as this session reads it (a typed null for none),
/// reading only the files the Delta log says may hold it.
pub async fn largest(
    engine: &Engine,
    schema: &str,
    table: &str,
    column: &str,
) -> Result<ScalarValue> {
    let (c, t) = (quote(column), format!("{}.{}", quote(schema), quote(table)));
    let scan = engine
        .dataframe(&format!("SELECT max({c}) FROM {t}"))
        .await?;
    let kind = scan.schema().field(0).data_type().clone();
    let df = match floor(engine, schema, table, column, &kind).await? {
        Some(floor) => engine
            .dataframe(&format!("SELECT max({c}) FROM {t} WHERE {c} >= $floor"))
            .await?
            .with_param_values(ParamValues::Map(HashMap::from([(
                "floor".to_string(),
                floor.into(),
            )])))?,
        None => scan,
    };
    let batches = df.collect().await?;
    Ok(ScalarValue::try_from_array(batches[0].column(0), 0)?)
}

/// A value at most the largest of `schema.table.column` as this session reads it, from the Delta
/// log; `None` when the log cannot tell (no statistics for the column, staged rows of a gated
/// build, a type whose statistics are truncated). Timestamps in the log are kept to the
/// millisecond and rounded up by delta-rs: the floor is a millisecond below.
async fn floor(
    engine: &Engine,
    schema: &str,
    table: &str,
    column: &str,
    kind: &DataType,
) -> Result<Option<ScalarValue>> {
    let provider = engine
        .ctx()
        .table_provider(TableReference::partial(schema, table))
        .await?;
    let Some(newest) = provider
        .downcast_ref::<DeltaProvider>()
        .and_then(|p| max_from_statistics(p.delta_table(), column, kind))
    else {
        return Ok(None);
    };
    Ok(match newest {
        ScalarValue::TimestampMicrosecond(Some(v), tz) => {
            Some(ScalarValue::TimestampMicrosecond(Some(v - 1_000), tz))
        }
        v @ (ScalarValue::Int64(Some(_))
        | ScalarValue::Int32(Some(_))
        | ScalarValue::Date32(Some(_))) => Some(v),
        _ => None,
    })
}

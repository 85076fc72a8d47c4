//! A column's largest value without reading the whole column: the Delta log's file statistics
//! give a floor just under it, and only the files whose maximum reaches the floor are read for
//! the exact value. Watermarks and freshness tests use it, so their cost does not grow with the
//! table.

use anyhow::Result;
use cdrlake_catalog::{DeltaProvider, max_from_statistics};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, TableReference};

use crate::engine::Engine;

/// A value at most the largest of `schema.table.column` as this session reads it, from the Delta
/// log; `None` when the log cannot tell (no statistics for the column, staged rows of a gated
/// build, a type whose statistics are truncated). Timestamps in the log are kept to the
/// millisecond and rounded up by delta-rs: the floor is a millisecond below.
pub async fn floor(
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

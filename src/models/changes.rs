//! `@changed_since`: what an input gained since a model last committed.
//!
//! Each incremental commit records, per `@changed_since` parameter, the largest value of the
//! input's column at the time it was read (commit info `cdrlake.changed_since`). The next run
//! binds the parameter to that value, so `WHERE _mediated_at > $cdr_since` reads only rows added
//! or rewritten since. Unlike `@watermark` (a column of the model's own rows), each input keeps its
//! own clock: bronze's simulated `_ingested_at` and silver's `_mediated_at` are not comparable.
//! A run that commits nothing records nothing, so the next run looks at the same rows again.

use anyhow::{Context, Result};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use serde_json::{Map, Value};

use super::materialize::beginning_of_time;
use super::project::Model;
use crate::engine::Engine;

pub const COMMIT_KEY: &str = "cdrlake.changed_since";
/// Commit-info key of the `@rebuild_on_change` inputs' Delta versions.
pub const VERSIONS_KEY: &str = "cdrlake.input_versions";

/// Commits searched for the last record (maintenance commits carry none).
pub const SEARCHED_COMMITS: usize = 50;

/// The values to bind now, and the record to commit with this build.
#[derive(Debug, Default)]
pub struct Marks {
    pub bind: Vec<(String, ScalarValue)>,
    pub record: Map<String, Value>,
}

/// The `@rebuild_on_change` inputs' Delta versions now, and whether any differs from `recorded`
/// (what the model's last commit recorded under [`VERSIONS_KEY`]; also when nothing was).
pub async fn reference_versions(
    engine: &Engine,
    model: &Model,
    recorded: Option<&Value>,
) -> Result<(Map<String, Value>, bool)> {
    let mut now = Map::new();
    if model.header.rebuild_on_change.is_empty() {
        return Ok((now, false));
    }
    for name in &model.header.rebuild_on_change {
        let (schema, table) = name.split_once('.').context("schema.table")?;
        let version = engine
            .lakehouse()
            .open_table(schema, table, None)
            .await
            .with_context(|| format!("{}: @rebuild_on_change {name}", model.name))?
            .version();
        now.insert(name.clone(), Value::from(version));
    }
    let changed = recorded.and_then(Value::as_object) != Some(&now);
    Ok((now, changed))
}

/// `recorded`: what the model's last commit recorded under [`COMMIT_KEY`]; none for a first build
/// or full refresh, which reads everything.
pub async fn marks(engine: &Engine, model: &Model, recorded: Option<&Value>) -> Result<Marks> {
    let mut marks = Marks::default();
    if model.header.changed_since.is_empty() {
        return Ok(marks);
    }
    for input in &model.header.changed_since {
        let now = super::maxima::largest(engine, &input.schema, &input.table, &input.column)
            .await
            .with_context(|| format!("{}: @changed_since {}", model.name, input.param))?;
        let kind = now.data_type();
        let last = recorded
            .and_then(|r| r.get(&input.param))
            .and_then(Value::as_str)
            .map(|s| ScalarValue::try_from_string(s.to_string(), &kind))
            .transpose()?
            .filter(|v| !v.is_null());
        let bind = match last {
            Some(v) => v,
            None => beginning_of_time(&kind)?,
        };
        if !now.is_null() {
            marks
                .record
                .insert(input.param.clone(), Value::from(as_text(&now)?));
        }
        marks.bind.push((input.param.clone(), bind));
    }
    Ok(marks)
}

/// The value as text that casts back to the same value (a timestamp as ISO 8601 with its
/// microseconds, not `ScalarValue`'s display of the raw integer).
fn as_text(value: &ScalarValue) -> Result<String> {
    let text = cast(&value.to_array()?, &DataType::Utf8)?;
    Ok(ScalarValue::try_from_array(&text, 0)?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_read_back_exactly() {
        let values = [
            ScalarValue::TimestampMicrosecond(Some(1_796_414_905_841_551), Some("UTC".into())),
            ScalarValue::TimestampMicrosecond(Some(-1), None),
            ScalarValue::Int64(Some(-42)),
            ScalarValue::Date32(Some(20_000)),
            ScalarValue::Utf8(Some("2026-04-01|x".into())),
        ];
        for v in values {
            let text = as_text(&v).unwrap();
            let back = ScalarValue::try_from_string(text.clone(), &v.data_type()).unwrap();
            assert_eq!(back, v, "{text}");
        }
    }
}

//! Alerts out of the lakehouse (docs/operations.md): new fraud alerts, failed gates and failed runs
//! become events in `system.alerts` (an outbox: each event once, under a stable id), each with a
//! line in the server log; [`webhook`] delivers them and records each delivery in
//! `system.alert_deliveries`. An event is recorded as sent only after the receiver took it, so a
//! crash or a receiver that is down means it is sent again: at least once, never lost.

pub mod webhook;

use std::sync::Arc;

use anyhow::Result;
use arrow::array::{RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cdrlake_catalog::{Lakehouse, WriteMode};
use serde_json::{Map, Value};

use crate::engine::Engine;

pub const EVENTS: (&str, &str) = ("system", "alerts");

/// One thing to tell the outside: its payload holds masked numbers only.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Stable: the same fraud alert, failed test or failed model always gives the same id, so an
    /// event is raised once and receivers can drop a re-delivery.
    pub id: String,
    /// fraud_alert, gate_failed or run_failed.
    pub kind: String,
    pub summary: String,
    pub payload: Map<String, Value>,
}

/// Where events come from: the table, and a query giving `event_id`, `kind`, `summary` and the
/// payload's fields.
const SOURCES: [(&str, &str, &str); 3] = [
    (
        "gold",
        "fraud_alert",
        "SELECT concat('fraud_alert:', alert_id) AS event_id, 'fraud_alert' AS kind,
                concat(severity, ' ', rule, ' customer ', customer_id, ' (', served_msisdn, ') at ',
                       CAST(detected_at AS VARCHAR)) AS summary,
                alert_id, rule, severity, customer_id, served_msisdn,
                CAST(detected_at AS VARCHAR) AS detected_at, evidence
         FROM gold.fraud_alert",
    ),
    (
        "system",
        "test_results",
        "SELECT concat('gate_failed:', run_id, ':', test) AS event_id, 'gate_failed' AS kind,
                concat('data test ', test, ' ', status, 'ed',
                       CASE WHEN failing_rows IS NULL THEN '' ELSE concat(': ', CAST(failing_rows AS VARCHAR), ' failing row(s)') END,
                       CASE WHEN message IS NULL THEN '' ELSE concat(': ', message) END) AS summary,
                run_id, test, model, status, failing_rows, CAST(checked_at AS VARCHAR) AS checked_at, message
         FROM system.test_results WHERE severity = 'error' AND status IN ('fail', 'error')",
    ),
    (
        "system",
        "model_runs",
        "SELECT concat('run_failed:', run_id, ':', model) AS event_id, 'run_failed' AS kind,
                concat('model ', model, ' failed in run ', run_id, ': ', coalesce(error, '')) AS summary,
                run_id, model, CAST(finished_at AS VARCHAR) AS finished_at, error
         FROM system.model_runs WHERE status = 'error'",
    ),
];

pub fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new(
            "raised_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("summary", DataType::Utf8, false),
        // The JSON a receiver gets.
        Field::new("payload", DataType::Utf8, false),
    ]))
}

/// Raises the events the lakehouse holds that were not raised yet; returns how many.
pub async fn collect(engine: &Engine) -> Result<usize> {
    let lakehouse = engine.lakehouse();
    lakehouse
        .ensure_table(EVENTS.0, EVENTS.1, events_schema())
        .await?;
    let mut found = Vec::new();
    for (schema, table, sql) in SOURCES {
        if !lakehouse.has_table(schema, table).await? {
            continue;
        }
        let batches = engine
            .sql(&format!(
                "SELECT * FROM ({sql}) s WHERE NOT EXISTS \
                 (SELECT 1 FROM system.alerts a WHERE a.event_id = s.event_id)"
            ))
            .await?;
        found.extend(events_of(&batches)?);
    }
    raise(lakehouse, &found).await?;
    Ok(found.len())
}

/// Records `events` in the outbox and logs each: for events no table holds (a run that timed out).
pub async fn raise(lakehouse: &Lakehouse, events: &[Event]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp_micros();
    let text = |f: &dyn Fn(&Event) -> String| {
        Arc::new(StringArray::from_iter_values(events.iter().map(f))) as _
    };
    let batch = RecordBatch::try_new(
        events_schema(),
        vec![
            text(&|e| e.id.clone()),
            text(&|e| e.kind.clone()),
            Arc::new(TimestampMicrosecondArray::from(vec![now; events.len()]).with_timezone("UTC")),
            text(&|e| e.summary.clone()),
            text(&|e| body(e).to_string()),
        ],
    )?;
    lakehouse
        .write_batches(EVENTS.0, EVENTS.1, vec![batch], WriteMode::Append)
        .await?;
    for e in events {
        tracing::warn!("alert {}: {}", e.kind, e.summary);
        crate::metrics::metrics()
            .alerts_raised
            .with_label_values(&[&e.kind])
            .inc();
    }
    Ok(())
}

/// The JSON a receiver gets for `event`.
fn body(event: &Event) -> Value {
    let mut body = Map::new();
    body.insert("event_id".into(), event.id.clone().into());
    body.insert("kind".into(), event.kind.clone().into());
    body.insert("summary".into(), event.summary.clone().into());
    body.extend(event.payload.clone());
    Value::Object(body)
}

/// Events from query rows: `event_id`, `kind` and `summary`, the other columns as the payload,
/// every text masked of phone numbers.
fn events_of(batches: &[RecordBatch]) -> Result<Vec<Event>> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for b in batches {
        writer.write(b)?;
    }
    writer.finish()?;
    let rows: Vec<Map<String, Value>> = if batches.iter().all(|b| b.num_rows() == 0) {
        Vec::new()
    } else {
        serde_json::from_slice(&writer.into_inner())?
    };
    let mask = cdrlake_udfs::analytics::mask_msisdn::mask_numbers;
    Ok(rows
        .into_iter()
        .map(|mut row| {
            let mut take = |k: &str| match row.remove(k) {
                Some(Value::String(s)) => s,
                _ => String::new(),
            };
            // The id stays as the source gives it: it is what says an event was raised already.
            let (id, kind, summary) = (take("event_id"), take("kind"), mask(&take("summary")));
            for value in row.values_mut() {
                if let Value::String(s) = value {
                    *s = mask(s);
                }
            }
            Event {
                id,
                kind,
                summary,
                payload: row,
            }
        })
        .collect())
}

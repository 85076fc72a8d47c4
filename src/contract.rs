//! The bronze part of the data contract (`docs/data-contract.md` in the spec): event tables keep
//! every field as text, plus the ingest metadata columns.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, TimeUnit};
use cdrlake_catalog::WriteOptions;

/// Ingest metadata carried by every bronze event row.
pub const METADATA_COLUMNS: [&str; 4] = ["_batch_id", "_source", "_row_number", "_ingested_at"];

/// Bronze event tables and their fields, in contract order.
pub const BRONZE_EVENT_TABLES: [(&str, &[&str]); 5] = [
    (
        "voice_cdr",
        &[
            "record_type",
            "recording_entity",
            "call_reference",
            "sequence_number",
            "served_imsi",
            "served_imei",
            "served_msisdn",
            "other_party",
            "other_party_ton",
            "seizure_time",
            "answer_time",
            "release_time",
            "duration_s",
            "cause_for_term",
            "lac",
            "cell_id",
            "visited_mccmnc",
        ],
    ),
    (
        "sms_cdr",
        &[
            "record_type",
            "recording_entity",
            "message_reference",
            "served_imsi",
            "served_msisdn",
            "other_party",
            "other_party_ton",
            "event_time",
            "sms_result",
            "lac",
            "cell_id",
            "visited_mccmnc",
        ],
    ),
    (
        "data_cdr",
        &[
            "pgw_address",
            "charging_id",
            "record_sequence_number",
            "served_imsi",
            "served_msisdn",
            "served_imei",
            "apn",
            "rat_type",
            "record_opening_time",
            "duration_s",
            "cause_for_rec_closing",
            "uplink_bytes",
            "downlink_bytes",
            "lac",
            "cell_id",
            "visited_mccmnc",
        ],
    ),
    (
        "network_probe",
        &[
            "cell_id",
            "probe_time",
            "prb_utilization_pct",
            "active_users",
            "throughput_mbps",
            "latency_ms",
            "packet_loss_pct",
        ],
    ),
    (
        "crm_customer",
        &[
            "customer_id",
            "msisdn",
            "imsi",
            "first_name",
            "last_name",
            "national_id",
            "city",
            "region",
            "segment",
            "plan_id",
            "status",
            "effective_from",
        ],
    ),
];

/// Bronze columns whose values are nearly all distinct (references, timestamps, counters): they
/// are written without a Parquet dictionary, which for them only costs encoding time.
pub const BRONZE_PLAIN_COLUMNS: [&str; 15] = [
    "call_reference",
    "message_reference",
    "charging_id",
    "other_party",
    "seizure_time",
    "answer_time",
    "release_time",
    "event_time",
    "record_opening_time",
    "probe_time",
    "uplink_bytes",
    "downlink_bytes",
    "throughput_mbps",
    "_row_number",
    "_ingested_at",
];

/// The plain (dictionary-less) columns of bronze `table`'s event columns and metadata.
fn bronze_plain_columns(table: &str) -> Vec<String> {
    let columns = bronze_event_columns(table).unwrap_or(&[]);
    BRONZE_PLAIN_COLUMNS
        .iter()
        .filter(|c| c.starts_with('_') || columns.contains(c))
        .map(|c| c.to_string())
        .collect()
}

/// How bronze `table` is written: dictionaries off for mostly unique columns, and no min/max
/// statistics for the raw text of the contract columns (nothing filters on text as received;
/// comparing every value to the running min and max was a fifth of the Parquet encoding time).
/// The ingest metadata keeps its statistics: incremental models skip files by `_ingested_at`.
pub fn bronze_write_options(table: &str) -> WriteOptions {
    let unindexed = bronze_event_columns(table)
        .unwrap_or(&[])
        .iter()
        .map(|c| c.to_string())
        .collect();
    WriteOptions {
        plain_columns: bronze_plain_columns(table),
        unindexed_columns: unindexed,
        ..Default::default()
    }
}

/// Typed bronze tables that come from seeds or the generator, never from raw files.
pub const BRONZE_REFERENCE_TABLES: [&str; 4] =
    ["plan", "tariff_destination", "tariff_rate", "cell"];

pub fn bronze_event_columns(table: &str) -> Option<&'static [&'static str]> {
    BRONZE_EVENT_TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, c)| *c)
}

/// The ingest metadata columns for `ingested_at.len()` rows of one batch, numbered from
/// `rows_before + 1`.
pub fn metadata_columns(
    batch_id: &str,
    source: &str,
    rows_before: i64,
    ingested_at: Vec<i64>,
) -> Vec<(Field, ArrayRef)> {
    let n = ingested_at.len();
    vec![
        (
            Field::new("_batch_id", DataType::Utf8, true),
            Arc::new(StringArray::from(vec![batch_id; n])) as ArrayRef,
        ),
        (
            Field::new("_source", DataType::Utf8, true),
            Arc::new(StringArray::from(vec![source; n])),
        ),
        (
            Field::new("_row_number", DataType::Int64, true),
            Arc::new(Int64Array::from_iter_values(
                rows_before + 1..=rows_before + n as i64,
            )),
        ),
        (
            Field::new(
                "_ingested_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Arc::new(TimestampMicrosecondArray::from(ingested_at).with_timezone("UTC")),
        ),
    ]
}

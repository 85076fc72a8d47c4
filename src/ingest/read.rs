//! Reading one file (CSV, newline-delimited JSON or Parquet) into a single batch of text
//! columns: bronze keeps every field as received. Errors name the line where one exists.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Csv,
    /// Newline-delimited JSON: one object per line.
    Json,
    Parquet,
}

impl FileFormat {
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "json" | "ndjson" | "jsonl" => Some(Self::Json),
            "parquet" | "pq" => Some(Self::Parquet),
            _ => None,
        }
    }
}

/// The file's rows as Utf8 columns, in the file's column order.
pub fn read_text_batch(bytes: Bytes, format: FileFormat) -> Result<RecordBatch> {
    match format {
        FileFormat::Csv => read_csv(bytes),
        FileFormat::Json => read_json(&bytes),
        FileFormat::Parquet => read_parquet(bytes),
    }
}

fn text_schema(names: Vec<String>) -> Arc<Schema> {
    Arc::new(Schema::new(
        names
            .into_iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

fn check_unique(names: &[String]) -> Result<()> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            bail!("column '{n}' appears twice");
        }
    }
    Ok(())
}

fn read_csv(bytes: Bytes) -> Result<RecordBatch> {
    if let Err(e) = std::str::from_utf8(&bytes) {
        bail!("line {}: invalid UTF-8", line_of(&bytes, e.valid_up_to()));
    }
    let mut header = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(Cursor::new(&bytes));
    let names: Vec<String> = header
        .headers()
        .map_err(|e| anyhow!("line 1: not readable as CSV: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if names.is_empty() || names.iter().all(|n| n.is_empty()) {
        bail!("line 1: no header row");
    }
    check_unique(&names)?;
    let schema = text_schema(names);
    let reader = arrow::csv::ReaderBuilder::new(schema.clone())
        .with_header(true)
        .build(Cursor::new(bytes))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{}", csv_message(e)))?;
    Ok(concat_batches(&schema, &batches)?)
}

/// Arrow says "incorrect number of fields for line N, expected .."; N is the file line.
fn csv_message(e: arrow::error::ArrowError) -> String {
    let text = e.to_string();
    let text = text
        .strip_prefix("Csv error: ")
        .unwrap_or(&text)
        .to_string();
    match text.split_once("for line ").and_then(|(_, rest)| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits
            .parse::<usize>()
            .ok()
            .map(|n| (n, digits.len(), rest))
    }) {
        Some((n, len, rest)) => format!(
            "line {n}: incorrect number of fields, {}",
            rest[len..].trim_start_matches([',', ' '])
        )
        .replace("  ", " "),
        None => text,
    }
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1
}

fn read_json(bytes: &[u8]) -> Result<RecordBatch> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| anyhow!("line {}: invalid UTF-8", line_of(bytes, e.valid_up_to())))?;
    let mut names: Vec<String> = Vec::new();
    let mut rows: Vec<BTreeMap<String, Option<String>>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| anyhow!("line {}: not JSON: {e}", i + 1))?;
        let serde_json::Value::Object(object) = value else {
            bail!("line {}: expected a JSON object per line", i + 1);
        };
        let mut row = BTreeMap::new();
        for (k, v) in object {
            if !names.contains(&k) {
                names.push(k.clone());
            }
            let text = match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s),
                other => Some(other.to_string()),
            };
            row.insert(k, text);
        }
        rows.push(row);
    }
    if rows.is_empty() {
        bail!("no JSON object found");
    }
    let columns: Vec<ArrayRef> = names
        .iter()
        .map(|n| {
            Arc::new(
                rows.iter()
                    .map(|r| r.get(n).cloned().flatten())
                    .collect::<StringArray>(),
            ) as ArrayRef
        })
        .collect();
    Ok(RecordBatch::try_new(text_schema(names), columns)?)
}

fn read_parquet(bytes: Bytes) -> Result<RecordBatch> {
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| anyhow!("not a readable Parquet file: {e}"))?;
    let source_schema = builder.schema().clone();
    let batches = builder.build()?.collect::<Result<Vec<_>, _>>()?;
    as_text(&concat_batches(&source_schema, &batches)?)
}

/// Every column as text (Utf8), as bronze keeps it: numbers, dates and timestamps in their
/// canonical text form.
pub fn as_text(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    check_unique(&names)?;
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            cast(c.as_ref(), &DataType::Utf8)
                .with_context(|| format!("column '{}' cannot be read as text", f.name()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(text_schema(names), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;

    #[test]
    fn csv_keeps_text_and_names_bad_lines() {
        let b = read_text_batch(Bytes::from("a,b\n 1 ,x\n2,\n"), FileFormat::Csv).unwrap();
        assert_eq!(
            b.column(0).as_string::<i32>().value(0),
            " 1 ",
            "fields are kept as sent"
        );
        assert!(b.column(1).is_null(1), "an empty field is null");
        let err = read_text_batch(Bytes::from("a,b\n1,2\n3\n"), FileFormat::Csv)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "line 3: incorrect number of fields, expected 2 got 1");
        let err = read_text_batch(Bytes::from("a,b\n1,2,3\n"), FileFormat::Csv)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "line 2: incorrect number of fields, expected 2 got 3");
        let err = read_text_batch(Bytes::from(b"a,b\n1,2\n3,\xff\n".to_vec()), FileFormat::Csv)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "line 3: invalid UTF-8");
    }

    #[test]
    fn json_lines() {
        let b = read_text_batch(
            Bytes::from("{\"a\":\"x\",\"b\":5}\n\n{\"b\":null,\"c\":true}\n"),
            FileFormat::Json,
        )
        .unwrap();
        assert_eq!(
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>(),
            vec!["a", "b", "c"]
        );
        assert_eq!(b.column(1).as_string::<i32>().value(0), "5");
        assert!(b.column(0).is_null(1));
        let err = read_text_batch(Bytes::from("{\"a\":1}\n{oops\n"), FileFormat::Json)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 2: not JSON"), "{err}");
        assert!(
            read_text_batch(Bytes::from("a,b\n1,2\n"), FileFormat::Json)
                .unwrap_err()
                .to_string()
                .starts_with("line 1")
        );
    }

    #[test]
    fn parquet_garbage_is_named() {
        let err = read_text_batch(Bytes::from("a,b\n"), FileFormat::Parquet)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a readable Parquet file"), "{err}");
    }
}

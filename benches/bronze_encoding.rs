//! Parquet encoding of a bronze table, alone: `cargo bench --bench bronze_encoding -- LAKE/bronze/voice_cdr`
//! (release profile; the table's directory in a local lakehouse, e.g. one `cdrlake generate` wrote).
//!
//! Reads about a million rows of the table, then encodes them on one thread into memory with the
//! properties bronze is written with and with variants of them, five times each, and prints the
//! best time and the encoded size. End-to-end runs drift with the VM by 10-20%; this does not.
//! `CDRLAKE_BENCH_PER_COLUMN=1` times each column alone with bronze's properties instead. Any
//! table's directory works (e.g. LAKE/silver/voice_record); a table outside bronze starts from
//! delta-rs's default properties.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use cdrlake_catalog::column_properties;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

const ROWS: usize = 1_000_000;

fn main() -> Result<()> {
    let Some(dir) = std::env::args().skip(1).find(|a| !a.starts_with("--")) else {
        bail!("usage: cargo bench --bench bronze_encoding -- LAKE/bronze/TABLE");
    };
    let table = dir
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let batches = read_rows(&dir)?;
    let schema = batches[0].schema();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let layout = cdrlake::contract::bronze_write_options(&table);
    let bronze =
        || column_properties(&layout.plain_columns, &layout.unindexed_columns).into_builder();
    println!(
        "bronze.{table}: {rows} rows, {} columns",
        schema.fields().len()
    );
    if std::env::var("CDRLAKE_BENCH_PER_COLUMN").is_ok() {
        for (i, field) in schema.fields().iter().enumerate() {
            let one = Arc::new(Schema::new(vec![field.as_ref().clone()]));
            let columns: Vec<RecordBatch> = batches
                .iter()
                .map(|b| RecordBatch::try_new(one.clone(), vec![b.column(i).clone()]))
                .collect::<Result<_, _>>()?;
            let (ms, bytes) = best_of_five(&columns, bronze().build())?;
            println!(
                "  {:<24} {ms:7.1} ms {:7.2} MB",
                field.name(),
                bytes as f64 / 1e6
            );
        }
        return Ok(());
    }
    let variants = [
        ("as bronze is written", bronze().build()),
        (
            "with min/max statistics",
            column_properties(&layout.plain_columns, &[]),
        ),
        (
            "statistics per chunk only",
            bronze()
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .build(),
        ),
        (
            "no dictionaries",
            bronze().set_dictionary_enabled(false).build(),
        ),
        (
            "uncompressed",
            bronze().set_compression(Compression::UNCOMPRESSED).build(),
        ),
        (
            "LZ4 instead of Snappy",
            bronze().set_compression(Compression::LZ4_RAW).build(),
        ),
        (
            "no statistics at all",
            bronze()
                .set_statistics_enabled(EnabledStatistics::None)
                .build(),
        ),
        (
            "no statistics, uncompressed",
            bronze()
                .set_statistics_enabled(EnabledStatistics::None)
                .set_compression(Compression::UNCOMPRESSED)
                .build(),
        ),
    ];
    for (name, properties) in variants {
        let (ms, bytes) = best_of_five(&batches, properties)?;
        println!("  {name:<28} {ms:7.1} ms {:7.1} MB", bytes as f64 / 1e6);
    }
    Ok(())
}

/// The table's first files, up to about [`ROWS`] rows.
fn read_rows(dir: &str) -> Result<Vec<RecordBatch>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {dir}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    let mut batches = Vec::new();
    let mut rows = 0;
    for file in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file)?)?
            .with_batch_size(64 * 1024)
            .build()?;
        for batch in reader {
            let batch = batch?;
            rows += batch.num_rows();
            batches.push(batch);
        }
        if rows >= ROWS {
            break;
        }
    }
    if batches.is_empty() {
        bail!("no Parquet files in {dir}");
    }
    Ok(batches)
}

/// The best of five encodings into memory: milliseconds and encoded bytes.
fn best_of_five(batches: &[RecordBatch], properties: WriterProperties) -> Result<(f64, usize)> {
    let (mut best, mut bytes) = (f64::MAX, 0);
    for _ in 0..5 {
        let started = Instant::now();
        let mut out = Vec::with_capacity(64 << 20);
        let mut writer =
            ArrowWriter::try_new(&mut out, batches[0].schema(), Some(properties.clone()))?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.close()?;
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        bytes = out.len();
    }
    Ok((best, bytes))
}

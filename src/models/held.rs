//! Rows a build holds in memory (staged CTEs, a gated table, a merge's changed rows) are
//! compacted first. As scanned, a text value is a view into its whole decoded Parquet page, and a
//! filtered or joined batch keeps every page it saw alive: `silver.cdr`'s 909K changed rows of a
//! day held 2-3 GB of pages during its merge. Copying out the referenced bytes keeps only them.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use datafusion::prelude::DataFrame;
use futures::{StreamExt, TryStreamExt};

/// `batch` with every string and binary view column copied into buffers of its own.
pub fn compact(batch: &RecordBatch) -> Result<RecordBatch> {
    if !batch.columns().iter().any(|c| is_view(c.data_type())) {
        return Ok(batch.clone());
    }
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| -> ArrayRef {
            match c.data_type() {
                DataType::Utf8View => Arc::new(c.as_string_view().gc()),
                DataType::BinaryView => Arc::new(c.as_binary_view().gc()),
                _ => c.clone(),
            }
        })
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// `df.collect()`, each batch compacted as it arrives (so the pages it saw are freed as it goes).
pub async fn collect(df: DataFrame) -> Result<Vec<RecordBatch>> {
    df.execute_stream()
        .await?
        .map(|b| b.and_then(|b| compact(&b)))
        .try_collect()
        .await
}

/// `df.collect_partitioned()`, each batch compacted as it arrives; the partitions are read
/// together, as DataFusion does (one may wait for another's progress).
pub async fn collect_partitioned(df: DataFrame) -> Result<Vec<Vec<RecordBatch>>> {
    let streams = df.execute_stream_partitioned().await?;
    futures::future::try_join_all(streams.into_iter().map(|s| {
        s.map(|b| b.and_then(|b| compact(&b)))
            .try_collect::<Vec<_>>()
    }))
    .await
}

fn is_view(t: &DataType) -> bool {
    matches!(t, DataType::Utf8View | DataType::BinaryView)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, StringViewArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    #[test]
    fn a_slice_of_views_keeps_only_its_bytes() {
        let long: Vec<String> = (0..10_000)
            .map(|i| format!("a value longer than twelve {i}"))
            .collect();
        let all = StringViewArray::from_iter_values(long.iter());
        let schema = Arc::new(Schema::new(vec![Field::new(
            "v",
            DataType::Utf8View,
            false,
        )]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(all)]).unwrap();
        let one = batch.slice(5, 1);
        let before = one.get_array_memory_size();
        let compacted = compact(&one).unwrap();
        assert!(compacted.get_array_memory_size() * 100 < before, "{before}");
        let v = compacted.column(0).as_string_view();
        assert_eq!((v.len(), v.value(0)), (1, long[5].as_str()));
    }
}

//! Column builders for the generated bronze tables: text fields in contract order, then the
//! ingest metadata.

use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};

use crate::contract::metadata_columns;

pub struct TextTable {
    pub name: &'static str,
    columns: &'static [&'static str],
    builders: Vec<StringBuilder>,
    ingested_at: Vec<i64>,
}

impl TextTable {
    pub fn new(name: &'static str, columns: &'static [&'static str]) -> Self {
        Self {
            name,
            columns,
            builders: columns.iter().map(|_| StringBuilder::new()).collect(),
            ingested_at: vec![],
        }
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| *c == name)
    }

    pub fn len(&self) -> usize {
        self.ingested_at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ingested_at.is_empty()
    }

    /// One row: a value (or null) per contract column, and its simulated delivery time.
    pub fn push(&mut self, values: &[Option<&str>], ingested_at_us: i64) {
        debug_assert_eq!(values.len(), self.columns.len(), "{}", self.name);
        for (b, v) in self.builders.iter_mut().zip(values) {
            b.append_option(*v);
        }
        self.ingested_at.push(ingested_at_us);
    }

    /// The rows so far as one batch with metadata, numbered from `rows_before + 1`; the builder
    /// starts over, sized for a batch like this one (growing a buffer copies it).
    pub fn finish(
        &mut self,
        batch_id: &str,
        source: &str,
        rows_before: i64,
    ) -> Result<RecordBatch> {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect();
        // Headroom for a busier day: a weekday after a weekend has a quarter more traffic.
        let rows = self.len() + self.len() / 2;
        let mut arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| {
                let bytes = b.values_slice().len();
                std::mem::replace(b, StringBuilder::with_capacity(rows, bytes + bytes / 2)).finish()
            })
            .map(|a| Arc::new(a) as ArrayRef)
            .collect();
        for (field, array) in metadata_columns(
            batch_id,
            source,
            rows_before,
            std::mem::replace(&mut self.ingested_at, Vec::with_capacity(rows)),
        ) {
            fields.push(field);
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}

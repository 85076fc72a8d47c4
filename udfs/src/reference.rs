//! Reference data UDFs read from lakehouse tables, declared here so that the engine loads it
//! without knowing what it means: the engine reads the named columns of the named table and
//! hands the rows over whenever the table has a new Delta version.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;

use crate::rating::destination_zone::{PrefixTable, PrefixTableHandle};

/// A table some UDFs read, and how their state is replaced with its rows.
pub trait ReferenceData: Send + Sync + std::fmt::Debug {
    /// The lakehouse table, as (schema, table).
    fn table(&self) -> (&'static str, &'static str);
    /// The columns to read.
    fn columns(&self) -> &'static [&'static str];
    /// Replaces the UDFs' state with `batches` (the columns above, every row of the table).
    fn load(&self, batches: &[RecordBatch]) -> Result<()>;
    /// Leaves the UDFs without data: they fail when called, saying the table is missing.
    fn unload(&self);
}

/// Every reference table of the registered UDFs.
pub type References = Vec<Arc<dyn ReferenceData>>;

/// `destination_zone`'s prefix table, from the tariff's destinations (rating.md).
#[derive(Debug)]
pub struct TariffDestinations(pub PrefixTableHandle);

impl ReferenceData for TariffDestinations {
    fn table(&self) -> (&'static str, &'static str) {
        ("bronze", "tariff_destination")
    }

    fn columns(&self) -> &'static [&'static str] {
        &["prefix", "zone"]
    }

    fn load(&self, batches: &[RecordBatch]) -> Result<()> {
        let mut rows = Vec::new();
        for batch in batches {
            let (prefixes, zones) = (
                cast(batch.column(0), &DataType::Utf8)?,
                cast(batch.column(1), &DataType::Utf8)?,
            );
            let (prefixes, zones) = (prefixes.as_string::<i32>(), zones.as_string::<i32>());
            for i in 0..batch.num_rows() {
                if prefixes.is_valid(i) && zones.is_valid(i) {
                    rows.push((prefixes.value(i).to_string(), zones.value(i).to_string()));
                }
            }
        }
        let table = Arc::new(PrefixTable::new(rows));
        // A poisoned lock held only a table being replaced: replace it all the same.
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(table);
        Ok(())
    }

    fn unload(&self) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;

    use super::*;
    use crate::rating::destination_zone::DestinationZone;

    #[test]
    fn loading_the_tariff_destinations_replaces_the_prefix_table() {
        let zone = DestinationZone::new();
        let reference = TariffDestinations(zone.loader());
        let batch = |rows: &[(&str, &str)]| {
            RecordBatch::try_from_iter(vec![
                (
                    "prefix",
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as _,
                ),
                (
                    "zone",
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))) as _,
                ),
            ])
            .unwrap()
        };
        reference
            .load(&[batch(&[("+2126", "MA_MOBILE"), ("+212", "MA_FIXED")])])
            .unwrap();
        let table = zone.loader().read().unwrap().clone().unwrap();
        assert_eq!(table.zone("+212612345678"), Some("MA_MOBILE"));
        reference.load(&[batch(&[("+212", "MA_FIXED")])]).unwrap();
        let table = zone.loader().read().unwrap().clone().unwrap();
        assert_eq!(table.zone("+212612345678"), Some("MA_FIXED"));
    }
}

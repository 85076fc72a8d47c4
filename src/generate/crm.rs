//! The CRM extract (one row per subscription version) and the cell reference table.

use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use chrono::NaiveDate;

use super::tables::TextTable;
use super::world::{CITIES, World};
use crate::contract::bronze_event_columns;

/// The CRM rows delivered on day `day` (0-based) in the morning: on the first day every version
/// in force by then, later the versions taking effect that day.
pub fn customer_table(world: &World, start: NaiveDate, day: u32) -> TextTable {
    let mut t = TextTable::new(
        "crm_customer",
        bronze_event_columns("crm_customer").expect("contract table"),
    );
    let date = start + chrono::Days::new(u64::from(day));
    let delivered = date
        .and_hms_opt(6, 0, 0)
        .expect("valid")
        .and_utc()
        .timestamp_micros();
    for s in &world.subscribers {
        let city = &CITIES[s.city];
        let due = |v: &&super::world::Version| {
            v.effective_from == date || (day == 0 && v.effective_from < date)
        };
        for v in s.versions.iter().filter(due) {
            let from = v.effective_from.to_string();
            t.push(
                &[
                    Some(&s.customer_id),
                    Some(&s.msisdn),
                    Some(&s.imsi),
                    Some(s.first_name),
                    Some(s.last_name),
                    Some(&s.national_id),
                    Some(city.name),
                    Some(city.region),
                    Some(s.segment),
                    Some(v.plan.id()),
                    Some(if v.active { "active" } else { "terminated" }),
                    Some(&from),
                ],
                delivered,
            );
        }
    }
    t
}

pub fn cell_batch(world: &World) -> Result<RecordBatch> {
    let text = |f: fn(&super::world::Cell) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(world.cells.iter().map(f)))
    };
    let float = |f: fn(&super::world::Cell) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(world.cells.iter().map(f)))
    };
    Ok(RecordBatch::try_from_iter(vec![
        ("cell_id", text(|c| c.cell_id.clone())),
        ("lac", text(|c| c.lac.clone())),
        ("site_name", text(|c| c.site_name.clone())),
        ("city", text(|c| CITIES[c.city].name.to_string())),
        ("region", text(|c| CITIES[c.city].region.to_string())),
        ("latitude", float(|c| c.latitude)),
        ("longitude", float(|c| c.longitude)),
        ("technology", text(|c| c.technology.to_string())),
        ("capacity_erlang", float(|c| c.capacity_erlang)),
    ])?)
}

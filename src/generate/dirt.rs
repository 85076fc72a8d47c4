//! Dirt: the defects real network feeds have, injected at the dirt rate, one kind per dirty row,
//! and counted so tests can check that mediation catches exactly them.
//!
//! Row-level defects that reject a row are only put on single-record events (whole calls, SMS,
//! one-record data sessions): a rejected partial would also break its set, and each defect
//! should have exactly one expected outcome. Partial sets get their own defects (a missing
//! record, records sent out of order).

use std::collections::BTreeMap;

use rand::RngExt;
use serde::Serialize;

use super::rng::{Stream, weighted};
use super::tables::TextTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The same record delivered again later (also on a later day): E005.
    Duplicate,
    /// A Moroccan number written as `0661 23-45-67`, `00212...`: normalized, not rejected.
    ReformattedNumber,
    /// `other_party` that is no phone number: E003.
    UnparseableNumber,
    /// `served_msisdn` empty, `served_imsi` valid: recovered from the subscriber, not rejected.
    MsisdnFromImsi,
    /// A timestamp that does not parse, or a required one missing: E002.
    BadTimestamp,
    /// Release before answer (before seizure when unanswered): E002.
    ReleaseBeforeAnswer,
    /// A timestamp days after the delivery time: E002.
    FutureTimestamp,
    /// A negative duration or volume: E008.
    NegativeMeasure,
    /// A RAT code nobody maps (data): kept with `rat = 'UNKNOWN'`, W003.
    UnknownRat,
}

impl Kind {
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Self::Duplicate => Some("E005"),
            Self::UnparseableNumber => Some("E003"),
            Self::BadTimestamp | Self::ReleaseBeforeAnswer | Self::FutureTimestamp => Some("E002"),
            Self::NegativeMeasure => Some("E008"),
            Self::ReformattedNumber | Self::MsisdnFromImsi | Self::UnknownRat => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Voice,
    Sms,
    Data,
}

/// Counts per dirt kind and table, and per partial-set defect.
#[derive(Debug, Default, Serialize)]
pub struct DirtCounts {
    pub rows: BTreeMap<&'static str, BTreeMap<Kind, u64>>,
    /// Partial sets with a record left out (each set is W002 after stitching).
    pub partial_sets_missing_record: BTreeMap<&'static str, u64>,
    /// Partial sets sent in reverse order (no effect on the result).
    pub partial_sets_out_of_order: BTreeMap<&'static str, u64>,
}

pub struct Dirt {
    pub rate: f64,
    pub counts: DirtCounts,
}

fn col(table: &TextTable, name: &str) -> usize {
    table
        .column_index(name)
        .unwrap_or_else(|| panic!("{} has no column {name}", table.name))
}

/// A messy but valid way to write a `+212` number.
fn reformat(rng: &mut Stream, e164: &str) -> Option<String> {
    let national = e164.strip_prefix("+212")?;
    Some(match rng.random_range(0..4) {
        0 => format!("00212{national}"),
        1 => format!(
            "0{} {} {} {} {}",
            &national[..1],
            &national[1..3],
            &national[3..5],
            &national[5..7],
            &national[7..]
        ),
        2 => format!(
            "0{}-{}-{}-{}",
            &national[..3],
            &national[3..5],
            &national[5..7],
            &national[7..]
        ),
        _ => format!(
            "(+212) {}.{}.{}",
            &national[..3],
            &national[3..6],
            &national[6..]
        ),
    })
}

impl DirtCounts {
    pub fn merge(&mut self, other: DirtCounts) {
        for (table, kinds) in other.rows {
            let mine = self.rows.entry(table).or_default();
            for (kind, n) in kinds {
                *mine.entry(kind).or_default() += n;
            }
        }
        for (table, n) in other.partial_sets_missing_record {
            *self.partial_sets_missing_record.entry(table).or_default() += n;
        }
        for (table, n) in other.partial_sets_out_of_order {
            *self.partial_sets_out_of_order.entry(table).or_default() += n;
        }
    }
}

impl Dirt {
    pub fn new(rate: f64) -> Self {
        Self {
            rate,
            counts: DirtCounts::default(),
        }
    }

    fn count(&mut self, table: &'static str, kind: Kind) {
        *self
            .counts
            .rows
            .entry(table)
            .or_default()
            .entry(kind)
            .or_default() += 1;
    }

    /// Whether a partial set should lose a record, or be sent in reverse order.
    pub fn partial_defect(
        &mut self,
        rng: &mut Stream,
        table: &'static str,
        parts: u64,
    ) -> (bool, bool) {
        if parts < 2 || rng.random::<f64>() >= self.rate * 5.0 {
            return (false, false);
        }
        if rng.random::<bool>() {
            *self
                .counts
                .partial_sets_missing_record
                .entry(table)
                .or_default() += 1;
            (true, false)
        } else {
            *self
                .counts
                .partial_sets_out_of_order
                .entry(table)
                .or_default() += 1;
            (false, true)
        }
    }

    /// Pushes a record, maybe dirtied or duplicated. `single` says it is a whole event.
    pub fn push(
        &mut self,
        rng: &mut Stream,
        table: &mut TextTable,
        service: Service,
        single: bool,
        values: &[Option<&str>],
        ingested_at: i64,
    ) {
        if self.rate <= 0.0 || rng.random::<f64>() >= self.rate {
            table.push(values, ingested_at);
            return;
        }
        let kinds: &[(Kind, f64)] = match (service, single) {
            (_, false) => &[(Kind::Duplicate, 1.0)],
            (Service::Voice, true) => &[
                (Kind::Duplicate, 3.0),
                (Kind::ReformattedNumber, 3.0),
                (Kind::UnparseableNumber, 1.0),
                (Kind::MsisdnFromImsi, 1.0),
                (Kind::BadTimestamp, 1.0),
                (Kind::ReleaseBeforeAnswer, 1.0),
                (Kind::FutureTimestamp, 1.0),
                (Kind::NegativeMeasure, 1.0),
            ],
            (Service::Sms, true) => &[
                (Kind::Duplicate, 3.0),
                (Kind::ReformattedNumber, 3.0),
                (Kind::UnparseableNumber, 1.0),
                (Kind::MsisdnFromImsi, 1.0),
                (Kind::BadTimestamp, 1.0),
                (Kind::FutureTimestamp, 1.0),
            ],
            (Service::Data, true) => &[
                (Kind::Duplicate, 3.0),
                (Kind::MsisdnFromImsi, 1.0),
                (Kind::BadTimestamp, 1.0),
                (Kind::FutureTimestamp, 1.0),
                (Kind::NegativeMeasure, 1.0),
                (Kind::UnknownRat, 2.0),
            ],
        };
        let weights: Vec<f64> = kinds.iter().map(|(_, w)| *w).collect();
        let mut kind = kinds[weighted(rng, &weights)].0;
        let mut row: Vec<Option<String>> = values.iter().map(|v| v.map(str::to_string)).collect();
        let hour = 3_600_000_000i64;
        match kind {
            Kind::Duplicate => {
                table.push(values, ingested_at);
                // Re-sent one hour to a day later.
                let later = ingested_at + hour * rng.random_range(1..25);
                self.count(table.name, kind);
                table.push(values, later);
                return;
            }
            Kind::ReformattedNumber => {
                let i = col(table, "other_party");
                match row[i].as_deref().and_then(|n| reformat(rng, n)) {
                    Some(messy) => {
                        // A switch writing the national form says so in the type of number
                        // (with `international`, rule 3 of normalization would make it `+0...`).
                        if messy.starts_with('0') && !messy.starts_with("00") {
                            row[col(table, "other_party_ton")] = Some("national".to_string());
                        }
                        row[i] = Some(messy);
                    }
                    None => kind = Kind::Duplicate,
                }
            }
            Kind::UnparseableNumber => {
                let bad =
                    ["12AB34", "+212", "UNKNOWN", "+0012", "06-12-AB"][rng.random_range(0..5)];
                row[col(table, "other_party")] = Some(bad.to_string());
            }
            Kind::MsisdnFromImsi => row[col(table, "served_msisdn")] = None,
            Kind::BadTimestamp => {
                let field = match service {
                    Service::Voice => "release_time",
                    Service::Sms => "event_time",
                    Service::Data => "record_opening_time",
                };
                let bad = [
                    "",
                    "2026-13-45T99:99:00+01:00",
                    "06/04/2026 11:15",
                    "2026-04-06T11:15:00",
                ][rng.random_range(0..4)];
                row[col(table, field)] = (!bad.is_empty()).then(|| bad.to_string());
            }
            Kind::ReleaseBeforeAnswer => {
                let start = row[col(table, "answer_time")]
                    .clone()
                    .or_else(|| row[col(table, "seizure_time")].clone());
                let shifted = start
                    .as_deref()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| {
                        (t - chrono::Duration::seconds(rng.random_range(30..600)))
                            .format("%Y-%m-%dT%H:%M:%S%:z")
                            .to_string()
                    });
                row[col(table, "release_time")] = shifted;
            }
            Kind::FutureTimestamp => {
                let field = match service {
                    Service::Voice => "release_time",
                    Service::Sms => "event_time",
                    Service::Data => "record_opening_time",
                };
                let i = col(table, field);
                let shifted = row[i]
                    .as_deref()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| {
                        (t + chrono::Duration::days(rng.random_range(2..30)))
                            .format("%Y-%m-%dT%H:%M:%S%:z")
                            .to_string()
                    });
                row[i] = shifted;
            }
            Kind::NegativeMeasure => {
                let field = if service == Service::Voice {
                    "duration_s"
                } else {
                    "uplink_bytes"
                };
                row[col(table, field)] = Some(format!("-{}", rng.random_range(1..5000)));
            }
            Kind::UnknownRat => {
                row[col(table, "rat_type")] =
                    Some(["LTE-A", "99", "WLAN", "unknown"][rng.random_range(0..4)].to_string());
            }
        }
        if kind == Kind::Duplicate {
            // No messy form for this number: deliver it twice instead.
            self.count(table.name, kind);
            table.push(values, ingested_at);
            table.push(values, ingested_at + hour);
            return;
        }
        self.count(table.name, kind);
        let refs: Vec<Option<&str>> = row.iter().map(|v| v.as_deref()).collect();
        table.push(&refs, ingested_at);
    }
}

//! Fraud patterns injected on top of normal traffic, each listed in the ground truth:
//! cloned SIMs (one MSISDN in two distant cities minutes apart), velocity bursts (more than 25
//! calls in 30 minutes) and IRSF (calls to high-risk prefixes).
//!
//! Injected calls are whole, answered, clean records (never dirtied), so they all reach silver.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Africa::Casablanca;
use rand::RngExt;
use serde::Serialize;

use super::rng::{Stream, stream};
use super::text::iso;
use super::traffic::{Counters, DayTables, VoiceRow, delivery};
use super::world::{CITIES, World};

const PURPOSE_FRAUD: u64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rule {
    ImpossibleTravel,
    Velocity,
    Irsf,
}

#[derive(Debug, Clone, Serialize)]
pub struct FraudCase {
    pub rule: Rule,
    pub customer_id: String,
    pub served_msisdn: String,
    /// 0-based day of the period.
    pub day: u32,
    /// `cdr_id`s of the injected calls, in time order.
    pub cdr_ids: Vec<String>,
    /// Start of the first injected call (UTC, RFC 3339).
    pub first_start: String,
    #[serde(skip)]
    subscriber: usize,
    #[serde(skip)]
    local_start: u32,
}

/// Picks distinct subscribers for each pattern: about one case per 2,000 subscribers, at least one.
pub fn plan(world: &World, seed: u64, start: NaiveDate, days: u32) -> Vec<FraudCase> {
    let per_rule = (world.subscribers.len() / 2000).max(1);
    let mut rng = stream(seed, PURPOSE_FRAUD, 0);
    let mut used = std::collections::BTreeSet::new();
    let mut cases = Vec::new();
    for rule in [Rule::ImpossibleTravel, Rule::Velocity, Rule::Irsf] {
        let mut placed = 0;
        for _attempt in 0..per_rule * 50 {
            if placed == per_rule {
                break;
            }
            let s = rng.random_range(0..world.subscribers.len());
            let day = rng.random_range(0..days);
            let date = start + Duration::days(i64::from(day));
            let sub = &world.subscribers[s];
            let roaming = sub
                .roaming
                .is_some_and(|(from, to, _)| (from..=to).contains(&day));
            if used.contains(&s) || roaming || !sub.active_on(date) {
                continue;
            }
            used.insert(s);
            placed += 1;
            cases.push(FraudCase {
                rule,
                customer_id: sub.customer_id.clone(),
                served_msisdn: sub.msisdn.clone(),
                day,
                cdr_ids: vec![],
                first_start: String::new(),
                subscriber: s,
                // Between 10:00 and 16:00 local, so a burst stays inside the day.
                local_start: rng.random_range(10 * 3600..16 * 3600),
            });
        }
    }
    cases
}

/// A city at least 150 km from `home` (any two of our cities that far apart exceed 50 km).
fn distant_city(rng: &mut Stream, home: usize) -> usize {
    let far: Vec<usize> = (0..CITIES.len())
        .filter(|&c| km(&CITIES[home], &CITIES[c]) > 150.0)
        .collect();
    far[rng.random_range(0..far.len())]
}

fn km(a: &super::world::City, b: &super::world::City) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// Emits the calls of every case planned for `day` and fills in their ids.
pub fn inject_day(
    world: &World,
    seed: u64,
    start: NaiveDate,
    day: u32,
    cases: &mut [FraudCase],
    counters: &mut Counters,
    out: &mut DayTables,
) {
    let date = start + Duration::days(i64::from(day));
    for (i, case) in cases.iter_mut().enumerate().filter(|(_, c)| c.day == day) {
        let mut rng = stream(seed, PURPOSE_FRAUD, 1 + (u64::from(day) << 16) + i as u64);
        let naive = date.and_time(
            NaiveTime::from_num_seconds_from_midnight_opt(case.local_start, 0).expect("in range"),
        );
        let t0 = Casablanca
            .from_local_datetime(&naive)
            .earliest()
            .expect("daytime exists")
            .with_timezone(&Utc);
        let sub = &world.subscribers[case.subscriber];
        let home_cell = sub.home_cell;
        let calls: Vec<(DateTime<Utc>, u64, String, usize)> = match case.rule {
            // A real call at home, then the clone calls from a distant city 3 minutes after it ends.
            Rule::ImpossibleTravel => {
                let far = &world.city_cells[distant_city(&mut rng, sub.city)];
                let clone_cell = far[rng.random_range(0..far.len())];
                let first = (t0, 120, "+212522000000".to_string(), home_cell);
                let second = (
                    t0 + Duration::seconds(120 + 180),
                    90,
                    "+212522000001".to_string(),
                    clone_cell,
                );
                vec![first, second]
            }
            // 30 to 40 short calls within 25 minutes.
            Rule::Velocity => {
                let n = rng.random_range(30..41);
                (0..n)
                    .map(|k| {
                        (
                            t0 + Duration::seconds(k * 1500 / n),
                            rng.random_range(5..30),
                            format!("+2126{:08}", rng.random_range(0..100_000_000)),
                            home_cell,
                        )
                    })
                    .collect()
            }
            // 5 to 8 calls to high-risk satellite and premium ranges within 6 hours.
            Rule::Irsf => {
                let n = rng.random_range(5..9);
                (0..n)
                    .map(|k| {
                        let prefix = ["+8821", "+8816", "+447045"][rng.random_range(0..3)];
                        (
                            t0 + Duration::minutes(k * 45),
                            rng.random_range(60..600),
                            format!("{prefix}{:07}", rng.random_range(0..10_000_000)),
                            home_cell,
                        )
                    })
                    .collect()
            }
        };
        let msc = format!("MSC-{}", CITIES[sub.city].code);
        for (k, (answer, duration, other, cell)) in calls.into_iter().enumerate() {
            counters.call_reference += 1;
            let reference = format!("{:010X}", counters.call_reference);
            let cell = &world.cells[cell];
            let release = answer + Duration::seconds(duration as i64);
            let (seizure_s, answer_s, release_s, duration_s) = (
                iso(answer - Duration::seconds(3)),
                iso(answer),
                iso(release),
                duration.to_string(),
            );
            let row = VoiceRow {
                record_type: "MOC",
                entity: &msc,
                reference: &reference,
                sequence: None,
                imsi: &sub.imsi,
                imei: &sub.imei,
                served: &sub.msisdn,
                other_party: &other,
                ton: "international",
                seizure: &seizure_s,
                answer: Some(&answer_s),
                release: &release_s,
                duration: &duration_s,
                cause: "0",
                lac: &cell.lac,
                cell: &cell.cell_id,
                visited: "60401",
            };
            out.voice
                .push(&row.values(), delivery(&mut rng, release.timestamp()));
            case.cdr_ids.push(format!("V:{msc}:{reference}:MOC"));
            if k == 0 {
                case.first_start = answer.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            }
        }
    }
}

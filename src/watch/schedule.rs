//! `serve --schedule CRON`: model runs at fixed times (UTC), besides the runs new files trigger.

use std::str::FromStr;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

/// A cron schedule in UTC: the usual five fields (`minute hour day-of-month month day-of-week`,
/// e.g. `*/15 * * * *` or `30 2 * * *`), or six with seconds first.
#[derive(Debug, Clone)]
pub struct Schedule(cron::Schedule);

impl FromStr for Schedule {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        let fields = text.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {text}"),
            6 | 7 => text.to_string(),
            n => anyhow::bail!(
                "--schedule '{text}': expected 5 cron fields (minute hour day-of-month month day-of-week), got {n}"
            ),
        };
        let schedule = cron::Schedule::from_str(&full)
            .with_context(|| format!("--schedule '{text}' is not a cron expression"))?;
        Ok(Self(schedule))
    }
}

impl Schedule {
    /// The first time the schedule fires after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.after(&t).next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn five_fields_fire_on_the_minute() {
        let every_quarter: Schedule = "*/15 * * * *".parse().unwrap();
        assert_eq!(
            every_quarter.next_after(at("2026-12-05T10:07:30Z")),
            Some(at("2026-12-05T10:15:00Z"))
        );
        let nightly: Schedule = "30 2 * * *".parse().unwrap();
        assert_eq!(
            nightly.next_after(at("2026-12-05T10:07:30Z")),
            Some(at("2026-12-06T02:30:00Z"))
        );
    }

    #[test]
    fn six_fields_have_seconds() {
        let s: Schedule = "*/10 * * * * *".parse().unwrap();
        assert_eq!(
            s.next_after(at("2026-12-05T10:07:31Z")),
            Some(at("2026-12-05T10:07:40Z"))
        );
    }

    #[test]
    fn bad_expressions_say_why() {
        let e = "* * *".parse::<Schedule>().unwrap_err().to_string();
        assert!(e.contains("expected 5 cron fields"), "{e}");
        let e = "99 * * * *".parse::<Schedule>().unwrap_err().to_string();
        assert!(e.contains("is not a cron expression"), "{e}");
    }
}

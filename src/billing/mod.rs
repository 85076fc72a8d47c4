//! Billing periods after the models: closing a period issues its invoices for good
//! (`cdrlake close-period`), and the tables that keep what was issued and how.

pub mod close;
pub mod documents;
pub mod replay;
pub mod store;

use anyhow::{Result, bail};

/// A billing period, `YYYY-MM` (a calendar month in local time), checked before it is ever put
/// into SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    pub year: i32,
    pub month: u32,
}

impl Period {
    pub fn parse(text: &str) -> Result<Self> {
        let parsed = text.split_once('-').and_then(|(y, m)| {
            let well_formed = y.len() == 4
                && m.len() == 2
                && y.bytes().all(|b| b.is_ascii_digit())
                && m.bytes().all(|b| b.is_ascii_digit());
            well_formed.then(|| (y.parse().ok(), m.parse().ok()))
        });
        match parsed {
            Some((Some(year), Some(month))) if (1..=12).contains(&month) => {
                Ok(Self { year, month })
            }
            _ => bail!("'{text}' is not a billing period: write it as YYYY-MM, e.g. 2026-04"),
        }
    }

    /// The first local day, as a SQL date literal's text.
    pub fn first_day(&self) -> String {
        format!("{:04}-{:02}-01", self.year, self.month)
    }
}

impl Period {
    /// The local day from which the period may close: the day after its last, plus the grace.
    pub fn closable_from(&self, grace_days: u32) -> chrono::NaiveDate {
        let (year, month) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        chrono::NaiveDate::from_ymd_opt(year, month, 1).expect("a valid month")
            + chrono::Days::new(u64::from(grace_days))
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::Period;

    #[test]
    fn periods_are_year_dash_month_and_nothing_else() {
        let p = Period::parse("2026-04").unwrap();
        assert_eq!((p.year, p.month), (2026, 4));
        assert_eq!(p.to_string(), "2026-04");
        assert_eq!(p.first_day(), "2026-04-01");
        assert_eq!(p.closable_from(2).to_string(), "2026-05-03");
        assert_eq!(
            Period::parse("2026-12")
                .unwrap()
                .closable_from(0)
                .to_string(),
            "2027-01-01"
        );
        for bad in [
            "2026-4",
            "2026-13",
            "2026-00",
            "26-04",
            "2026-04'; DROP",
            "",
            "2026/04",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }
}

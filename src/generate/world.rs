//! The simulated network and customer base: cities, cells around them, subscribers with their
//! CRM versions (activation, plan changes, terminations, new activations in the period).

use chrono::{Days, NaiveDate};
use rand::RngExt;

use super::rng::{normal, stream, weighted};

pub struct City {
    pub code: &'static str,
    pub name: &'static str,
    pub region: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Population in thousands: the weight for subscribers and cells.
    pub population: f64,
}

/// Moroccan cities with real coordinates, weighted by population.
pub const CITIES: [City; 15] = [
    City {
        code: "CAS",
        name: "Casablanca",
        region: "Casablanca-Settat",
        lat: 33.5731,
        lon: -7.5898,
        population: 3750.0,
    },
    City {
        code: "RBA",
        name: "Rabat",
        region: "Rabat-Sale-Kenitra",
        lat: 34.0209,
        lon: -6.8416,
        population: 580.0,
    },
    City {
        code: "SLE",
        name: "Sale",
        region: "Rabat-Sale-Kenitra",
        lat: 34.0531,
        lon: -6.7985,
        population: 980.0,
    },
    City {
        code: "KEN",
        name: "Kenitra",
        region: "Rabat-Sale-Kenitra",
        lat: 34.2610,
        lon: -6.5802,
        population: 430.0,
    },
    City {
        code: "RAK",
        name: "Marrakech",
        region: "Marrakech-Safi",
        lat: 31.6295,
        lon: -7.9811,
        population: 930.0,
    },
    City {
        code: "SAF",
        name: "Safi",
        region: "Marrakech-Safi",
        lat: 32.2994,
        lon: -9.2372,
        population: 310.0,
    },
    City {
        code: "FEZ",
        name: "Fes",
        region: "Fes-Meknes",
        lat: 34.0181,
        lon: -5.0078,
        population: 1150.0,
    },
    City {
        code: "MEK",
        name: "Meknes",
        region: "Fes-Meknes",
        lat: 33.8935,
        lon: -5.5473,
        population: 630.0,
    },
    City {
        code: "TNG",
        name: "Tanger",
        region: "Tanger-Tetouan-Al Hoceima",
        lat: 35.7595,
        lon: -5.8340,
        population: 950.0,
    },
    City {
        code: "TET",
        name: "Tetouan",
        region: "Tanger-Tetouan-Al Hoceima",
        lat: 35.5785,
        lon: -5.3684,
        population: 380.0,
    },
    City {
        code: "AGA",
        name: "Agadir",
        region: "Souss-Massa",
        lat: 30.4278,
        lon: -9.5981,
        population: 420.0,
    },
    City {
        code: "OUJ",
        name: "Oujda",
        region: "Oriental",
        lat: 34.6814,
        lon: -1.9086,
        population: 490.0,
    },
    City {
        code: "NDR",
        name: "Nador",
        region: "Oriental",
        lat: 35.1681,
        lon: -2.9335,
        population: 160.0,
    },
    City {
        code: "BML",
        name: "Beni Mellal",
        region: "Beni Mellal-Khenifra",
        lat: 32.3373,
        lon: -6.3498,
        population: 190.0,
    },
    City {
        code: "LAA",
        name: "Laayoune",
        region: "Laayoune-Sakia El Hamra",
        lat: 27.1253,
        lon: -13.1625,
        population: 220.0,
    },
];

pub struct Cell {
    pub cell_id: String,
    pub lac: String,
    pub site_name: String,
    pub city: usize,
    pub latitude: f64,
    pub longitude: f64,
    pub technology: &'static str,
    pub capacity_erlang: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Plan {
    Basic,
    Plus,
    Max,
}

impl Plan {
    pub fn id(self) -> &'static str {
        match self {
            Self::Basic => "P_BASIC",
            Self::Plus => "P_PLUS",
            Self::Max => "P_MAX",
        }
    }
}

/// One CRM row: a version of a subscription from `effective_from` (local date).
#[derive(Clone, Debug)]
pub struct Version {
    pub effective_from: NaiveDate,
    pub plan: Plan,
    pub active: bool,
}

pub struct Subscriber {
    pub customer_id: String,
    pub msisdn: String,
    pub imsi: String,
    pub imei: String,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub national_id: String,
    pub city: usize,
    pub segment: &'static str,
    pub home_cell: usize,
    /// Usage multiplier: heavy-tailed, a few heavy users.
    pub activity: f64,
    pub versions: Vec<Version>,
    /// Days of the period (0-based) spent roaming, with the visited network.
    pub roaming: Option<(u32, u32, &'static str)>,
}

impl Subscriber {
    /// Whether the subscription is active on local `date`.
    pub fn active_on(&self, date: NaiveDate) -> bool {
        self.versions
            .iter()
            .rev()
            .find(|v| v.effective_from <= date)
            .is_some_and(|v| v.active)
    }
}

const FIRST_NAMES: [&str; 16] = [
    "Mohamed", "Fatima", "Youssef", "Khadija", "Ahmed", "Aicha", "Omar", "Salma", "Hamza", "Imane",
    "Karim", "Nadia", "Mehdi", "Zineb", "Rachid", "Hajar",
];
const LAST_NAMES: [&str; 16] = [
    "Alaoui",
    "Benali",
    "El Idrissi",
    "Bennani",
    "Tazi",
    "Chraibi",
    "Berrada",
    "El Amrani",
    "Fassi",
    "Ouazzani",
    "Lahlou",
    "Sebti",
    "Kettani",
    "Bouzid",
    "Naciri",
    "Zahraoui",
];

const PURPOSE_CELLS: u64 = 1;
const PURPOSE_SUBSCRIBERS: u64 = 2;

pub struct World {
    pub cells: Vec<Cell>,
    /// Cell indices per city.
    pub city_cells: Vec<Vec<usize>>,
    pub subscribers: Vec<Subscriber>,
}

pub fn build(seed: u64, customers: usize, start: NaiveDate, days: u32) -> World {
    let weights: Vec<f64> = CITIES.iter().map(|c| c.population).collect();
    let total_pop: f64 = weights.iter().sum();
    let total_cells = (customers / 25).clamp(40, 5000);
    let mut cells = Vec::new();
    let mut city_cells = vec![Vec::new(); CITIES.len()];
    for (ci, city) in CITIES.iter().enumerate() {
        let n = ((total_cells as f64 * city.population / total_pop).round() as usize).max(2);
        let mut rng = stream(seed, PURPOSE_CELLS, ci as u64);
        let spread = 0.02 + 0.03 * (city.population / 4000.0).sqrt(); // degrees, larger for big cities
        for k in 0..n {
            let technology =
                ["2G", "3G", "4G", "5G"][weighted(&mut rng, &[0.10, 0.20, 0.55, 0.15])];
            let capacity = match technology {
                "2G" => 20.0,
                "3G" => 40.0,
                "4G" => 60.0,
                _ => 90.0,
            } * (0.8 + 0.4 * rng.random::<f64>());
            city_cells[ci].push(cells.len());
            cells.push(Cell {
                cell_id: format!("{}{:04}", city.code, k + 1),
                lac: format!("{}", 1000 + ci * 20 + k / 50),
                site_name: format!("{} site {}", city.name, k / 3 + 1),
                city: ci,
                latitude: city.lat + spread * normal(&mut rng),
                longitude: city.lon + spread * normal(&mut rng),
                technology,
                capacity_erlang: (capacity * 10.0).round() / 10.0,
            });
        }
    }

    let mut subscribers = Vec::with_capacity(customers);
    for i in 0..customers {
        let mut rng = stream(seed, PURPOSE_SUBSCRIBERS, i as u64);
        let city = weighted(&mut rng, &weights);
        let plan = [Plan::Basic, Plan::Plus, Plan::Max][weighted(&mut rng, &[0.6, 0.3, 0.1])];
        // 7 digits after the prefix; multiplying by a number coprime with 10^7 keeps them unique.
        let number = (i as u64 * 7_919 + 1_234_567) % 10_000_000;
        let prefix = if i % 2 == 0 { "61" } else { "66" };
        let roll: f64 = rng.random();
        let new_in_period = roll < 0.02;
        let activation = if new_in_period {
            start + Days::new(rng.random_range(0..u64::from(days.max(1))))
        } else {
            start - Days::new(rng.random_range(1..5 * 365))
        };
        let mut versions = vec![Version {
            effective_from: activation,
            plan,
            active: true,
        }];
        let change: f64 = rng.random();
        if !new_in_period && days > 1 {
            let day = start + Days::new(rng.random_range(1..u64::from(days)));
            if change < 0.03 {
                let other = if plan == Plan::Basic {
                    Plan::Plus
                } else {
                    Plan::Basic
                };
                versions.push(Version {
                    effective_from: day,
                    plan: other,
                    active: true,
                });
            } else if change < 0.04 {
                versions.push(Version {
                    effective_from: day,
                    plan,
                    active: false,
                });
            }
        }
        let home_cells = &city_cells[city];
        let home_cell = home_cells[rng.random_range(0..home_cells.len())];
        let activity = super::rng::lognormal(&mut rng, 1.0, 0.8).min(25.0);
        let roaming = (rng.random::<f64>() < 0.02 && days >= 3).then(|| {
            let first = rng.random_range(0..days - 2);
            let network = if rng.random::<bool>() {
                "20801"
            } else {
                "21407"
            };
            (
                first,
                (first + rng.random_range(2..5)).min(days - 1),
                network,
            )
        });
        subscribers.push(Subscriber {
            customer_id: format!("C{:07}", i + 1),
            msisdn: format!("+212{prefix}{number:07}"),
            imsi: format!("60401{:010}", (i as u64 * 104_729 + 77) % 10_000_000_000),
            imei: format!(
                "35{:013}",
                (i as u64 * 15_485_863 + 12_345) % 10_000_000_000_000
            ),
            first_name: FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
            last_name: LAST_NAMES[rng.random_range(0..LAST_NAMES.len())],
            national_id: format!(
                "{}{:06}",
                ["BK", "AB", "EE", "JC", "G"][rng.random_range(0..5)],
                rng.random_range(0..1_000_000)
            ),
            city,
            segment: if rng.random::<f64>() < 0.85 {
                "consumer"
            } else {
                "business"
            },
            home_cell,
            activity,
            versions,
            roaming,
        });
    }
    World {
        cells,
        city_cells,
        subscribers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_base_matches_the_spec_mix() {
        let start = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        let w = build(7, 20_000, start, 30);
        let n = w.subscribers.len() as f64;
        let share = |f: &dyn Fn(&Subscriber) -> bool| {
            w.subscribers.iter().filter(|s| f(s)).count() as f64 / n
        };
        let basic = share(&|s| s.versions[0].plan == Plan::Basic);
        let new = share(&|s| s.versions[0].effective_from >= start);
        let changed = share(&|s| s.versions.len() == 2 && s.versions[1].active);
        let terminated = share(&|s| s.versions.iter().any(|v| !v.active));
        let roaming = share(&|s| s.roaming.is_some());
        assert!((0.58..0.62).contains(&basic), "P_BASIC {basic}");
        assert!((0.015..0.025).contains(&new), "new {new}");
        assert!((0.025..0.035).contains(&changed), "plan changes {changed}");
        assert!(
            (0.007..0.013).contains(&terminated),
            "terminations {terminated}"
        );
        assert!((0.015..0.025).contains(&roaming), "roaming {roaming}");
        let msisdns: std::collections::HashSet<_> =
            w.subscribers.iter().map(|s| &s.msisdn).collect();
        assert_eq!(msisdns.len(), w.subscribers.len(), "MSISDNs are unique");
        assert!(w.subscribers.iter().all(|s| s.msisdn.len() == 13
            && (s.msisdn.starts_with("+21261") || s.msisdn.starts_with("+21266"))));
        assert!(
            w.subscribers
                .iter()
                .all(|s| s.imsi.len() == 15 && s.imsi.starts_with("60401"))
        );
        let casablanca = share(&|s| s.city == 0);
        assert!(
            (0.28..0.36).contains(&casablanca),
            "Casablanca holds about a third: {casablanca}"
        );
    }
}

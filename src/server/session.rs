//! Client sessions: one DataFusion session per authenticated client, so that a client's settings
//! and prepared statements are its own and end with it.
//!
//! A session is keyed by the client's bearer token (users configured), or in demo mode by the
//! `arrow_flight_session_id` cookie, else by the client's connection. Sessions end when idle
//! for longer than the idle limit, when their token's lifetime is over, on CloseSession, or when
//! their user opens more than the per-user cap (the least recently used one ends).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use datafusion::common::ScalarValue;
use datafusion::config::ConfigOptions;
use datafusion::prelude::DataFrame;
use tonic::Status;

use super::auth::Role;
use super::client_catalog::ClientCatalog;
use crate::engine::Engine;

/// The session options a client may set (`SET`, `RESET`, SetSessionOptions); anything else is
/// refused by name. None of them reaches past the client's own session or its role.
pub const SETTABLE: [&str; 11] = [
    "catalog",
    "schema",
    "datafusion.catalog.default_schema",
    "datafusion.execution.time_zone",
    "datafusion.execution.batch_size",
    "datafusion.explain.logical_plan_only",
    "datafusion.explain.physical_plan_only",
    "datafusion.explain.show_statistics",
    "datafusion.explain.show_sizes",
    "datafusion.explain.show_schema",
    "datafusion.explain.format",
];

/// Largest batch a client may ask for: bigger ones only cost the server memory.
const MAX_BATCH_SIZE: usize = 65_536;

#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session (and its bearer token) ends this long after login, used or not.
    pub lifetime: Duration,
    /// Sessions one user may hold at once.
    pub per_user: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(3600),
            lifetime: Duration::from_secs(8 * 3600),
            per_user: 16,
        }
    }
}

/// A prepared statement: its SQL, bound parameters, and the plan GetFlightInfo made for the
/// next DoGet (one planning per execution, not two).
pub struct Prepared {
    pub sql: String,
    pub params: Option<Vec<ScalarValue>>,
    pub planned: Option<DataFrame>,
}

pub struct ClientSession {
    pub user: String,
    pub role: Role,
    pub engine: Engine,
    created: Instant,
    last_used: Mutex<Instant>,
    defaults: ConfigOptions,
    prepared: Mutex<HashMap<String, Prepared>>,
}

/// Why a session option was not set: the SetSessionOptions error kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionError {
    InvalidName(String),
    InvalidValue(String),
}

impl OptionError {
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidName(m) | Self::InvalidValue(m) => m,
        }
    }
}

impl ClientSession {
    fn new(server: &Engine, user: &str, role: Role) -> anyhow::Result<Self> {
        let catalog = Arc::new(ClientCatalog::new(server.catalog().clone(), role, user));
        let engine = server.for_client(catalog)?;
        let defaults = engine.ctx().state().config().options().as_ref().clone();
        Ok(Self {
            user: user.to_string(),
            role,
            engine,
            created: Instant::now(),
            last_used: Mutex::new(Instant::now()),
            defaults,
            prepared: Mutex::default(),
        })
    }

    fn last_used(&self) -> Instant {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn expired(&self, limits: &SessionLimits) -> bool {
        self.created.elapsed() >= limits.lifetime || self.last_used().elapsed() >= limits.idle
    }

    pub fn prepared(&self) -> MutexGuard<'_, HashMap<String, Prepared>> {
        // A panic while holding the map leaves plain data: keep using it.
        self.prepared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets one option of [`SETTABLE`] for this session only.
    pub fn set_option(&self, key: &str, value: &str) -> Result<(), OptionError> {
        let key = key.trim().to_ascii_lowercase();
        let invalid = |why: String| OptionError::InvalidValue(format!("{key} = '{value}': {why}"));
        let (key, value) = match key.as_str() {
            "catalog" => {
                return if value.eq_ignore_ascii_case(cdrlake_catalog::CATALOG_NAME) {
                    Ok(())
                } else {
                    Err(invalid(format!(
                        "the only catalog is '{}'",
                        cdrlake_catalog::CATALOG_NAME
                    )))
                };
            }
            "schema" | "datafusion.catalog.default_schema" => {
                let schema = value.to_ascii_lowercase();
                if !cdrlake_catalog::SCHEMAS.contains(&schema.as_str()) {
                    return Err(invalid("no such schema".into()));
                }
                if !self.role.may_read(&schema) {
                    return Err(invalid(format!("{:?}s do not read {schema}", self.role)));
                }
                ("datafusion.catalog.default_schema", schema)
            }
            "datafusion.execution.time_zone" => {
                value
                    .parse::<arrow::array::timezone::Tz>()
                    .map_err(|e| invalid(e.to_string()))?;
                ("datafusion.execution.time_zone", value.to_string())
            }
            "datafusion.execution.batch_size" => {
                match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_BATCH_SIZE).contains(&n) => {}
                    _ => return Err(invalid(format!("a number from 1 to {MAX_BATCH_SIZE}"))),
                }
                ("datafusion.execution.batch_size", value.to_string())
            }
            k if SETTABLE.contains(&k) => (k, value.to_string()),
            _ => {
                return Err(OptionError::InvalidName(format!(
                    "'{key}' cannot be set by a client (settable: {})",
                    SETTABLE.join(", ")
                )));
            }
        };
        let state = self.engine.ctx().state_ref();
        let mut state = state.write();
        state
            .config_mut()
            .options_mut()
            .set(key, &value)
            .map_err(|e| invalid(e.strip_backtrace()))
    }

    /// `RESET key`: the option back to the server's default.
    pub fn reset_option(&self, key: &str) -> Result<(), OptionError> {
        let key = key.trim().to_ascii_lowercase();
        let key = match key.as_str() {
            "catalog" => return Ok(()),
            "schema" => "datafusion.catalog.default_schema",
            k if SETTABLE.contains(&k) => k,
            _ => {
                return Err(OptionError::InvalidName(format!(
                    "'{key}' cannot be reset by a client (settable: {})",
                    SETTABLE.join(", ")
                )));
            }
        };
        let default = self
            .defaults
            .entries()
            .into_iter()
            .find(|e| e.key == key)
            .and_then(|e| e.value);
        let state = self.engine.ctx().state_ref();
        let mut state = state.write();
        let options = state.config_mut().options_mut();
        match default {
            Some(v) => options.set(key, &v),
            // An option without a default (the time zone) is cleared by its empty value.
            None => options.set(key, ""),
        }
        .map_err(|e| OptionError::InvalidValue(format!("{key}: {}", e.strip_backtrace())))
    }

    /// The session's options as clients see them: `catalog`, `schema` and every settable one.
    pub fn options(&self) -> Vec<(String, String)> {
        let state = self.engine.ctx().state();
        let entries = state.config().options().entries();
        let value = |k: &str| {
            entries
                .iter()
                .find(|e| e.key == k)
                .and_then(|e| e.value.clone())
                .unwrap_or_default()
        };
        let mut out = vec![
            (
                "catalog".to_string(),
                cdrlake_catalog::CATALOG_NAME.to_string(),
            ),
            (
                "schema".to_string(),
                value("datafusion.catalog.default_schema"),
            ),
        ];
        for key in SETTABLE.iter().filter(|k| k.starts_with("datafusion.")) {
            out.push((key.to_string(), value(key)));
        }
        out
    }
}

/// Every live session of the server.
pub struct Sessions {
    server: Arc<Engine>,
    limits: SessionLimits,
    live: Mutex<HashMap<String, Arc<ClientSession>>>,
}

impl Sessions {
    pub fn new(server: Arc<Engine>, limits: SessionLimits) -> Self {
        Self {
            server,
            limits,
            live: Mutex::default(),
        }
    }

    fn live(&self) -> MutexGuard<'_, HashMap<String, Arc<ClientSession>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session under `key` for `user`, ending that user's least recently used session
    /// when they are at the cap.
    pub fn open(&self, key: &str, user: &str, role: Role) -> Result<Arc<ClientSession>, Status> {
        let session = Arc::new(
            ClientSession::new(&self.server, user, role)
                .map_err(|e| Status::internal(format!("cannot open a session: {e}")))?,
        );
        let mut live = self.live();
        live.retain(|_, s| !s.expired(&self.limits));
        let mut own: Vec<(Instant, String)> = live
            .iter()
            .filter(|(_, s)| s.user == user)
            .map(|(k, s)| (s.last_used(), k.clone()))
            .collect();
        own.sort();
        let excess = (own.len() + 1).saturating_sub(self.limits.per_user.max(1));
        for (_, k) in own.into_iter().take(excess) {
            tracing::info!(
                "user {user}: session cap of {} reached, the least recently used session ends",
                self.limits.per_user
            );
            live.remove(&k);
        }
        live.insert(key.to_string(), session.clone());
        Ok(session)
    }

    /// The live session under `key`, marked as used; `None` if there is none or it expired.
    pub fn get(&self, key: &str) -> Option<Arc<ClientSession>> {
        let mut live = self.live();
        let session = live.get(key)?.clone();
        if session.expired(&self.limits) {
            live.remove(key);
            return None;
        }
        session.touch();
        Some(session)
    }

    /// Demo mode: the session under `key`, opened for `user` if there is none.
    pub fn get_or_open(
        &self,
        key: &str,
        user: &str,
        role: Role,
    ) -> Result<Arc<ClientSession>, Status> {
        match self.get(key) {
            Some(s) => Ok(s),
            None => self.open(key, user, role),
        }
    }

    /// Ends the session under `key`; whether there was one.
    pub fn close(&self, key: &str) -> bool {
        self.live().remove(key).is_some()
    }

    pub fn count(&self) -> usize {
        let mut live = self.live();
        live.retain(|_, s| !s.expired(&self.limits));
        live.len()
    }
}

//! Authentication and roles for the Flight SQL server.
//!
//! Clients log in with a Handshake carrying HTTP Basic credentials; the server answers with a
//! bearer token for later calls, which names the client's session (`session.rs`). Basic
//! credentials are accepted on the Handshake only; every other call needs a valid token, checked
//! by the `middleware` before any handler runs. Passwords are stored as argon2 hashes (`cdrlake
//! hash-password`). With no users configured the server runs in the local demo mode: no
//! authentication, every caller an engineer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use serde::Deserialize;
use tonic::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads `gold` and `system` only.
    Analyst,
    /// Reads and writes everything.
    Engineer,
}

impl Role {
    pub fn may_read(self, schema: &str) -> bool {
        match self {
            Self::Engineer => true,
            Self::Analyst => matches!(schema, "gold" | "system" | "information_schema"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// An argon2 PHC string from `cdrlake hash-password`.
    pub password_hash: String,
    pub role: Role,
}

/// Who a logged-in client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub role: Role,
}

/// Failed logins of one user name or one client address, for slowing down guessing.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failures are forgotten after this long without another.
const FAILURES_FORGOTTEN_AFTER: Duration = Duration::from_secs(15 * 60);
/// Failures answered at full speed; each one after waits twice as long as the one before.
const FREE_FAILURES: u32 = 3;
const MAX_LOGIN_DELAY: Duration = Duration::from_secs(8);

pub struct Auth {
    users: Vec<UserConfig>,
    /// Checked when the user name is unknown, so that takes as long as a wrong password.
    decoy_hash: String,
    failures: Mutex<HashMap<String, Failures>>,
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    // A random salt is generated for each hash.
    Ok(Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string())
}

impl Auth {
    pub fn new(users: Vec<UserConfig>) -> anyhow::Result<Arc<Self>> {
        for u in &users {
            PasswordHash::new(&u.password_hash).map_err(|e| {
                anyhow::anyhow!(
                    "user '{}': password_hash is not an argon2 hash ({e}); use `cdrlake hash-password`",
                    u.name
                )
            })?;
        }
        let decoy_hash = if users.is_empty() {
            String::new()
        } else {
            hash_password(&uuid::Uuid::new_v4().to_string())?
        };
        Ok(Arc::new(Self {
            users,
            decoy_hash,
            failures: Mutex::default(),
        }))
    }

    pub fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// Checks `Basic base64(user:password)`. Slowed down after repeated failures for the same
    /// user name or client address; the password check runs off the async threads and takes
    /// as long for an unknown user as for a wrong password.
    pub async fn login(
        &self,
        authorization: Option<&str>,
        client: &str,
    ) -> Result<Identity, Status> {
        let denied = || Status::unauthenticated("wrong user name or password");
        let encoded = authorization
            .and_then(|h| h.strip_prefix("Basic "))
            .ok_or_else(|| {
                Status::unauthenticated(
                    "log in with a user name and password (HTTP Basic in the handshake)",
                )
            })?;
        // Some clients (Go's, under ADBC) leave out the base64 padding.
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(encoded.trim().trim_end_matches('='))
            .map_err(|_| denied())?;
        let text = String::from_utf8(decoded).map_err(|_| denied())?;
        let (name, password) = text.split_once(':').ok_or_else(denied)?;
        let keys = [format!("user:{name}"), format!("client:{client}")];
        let delay = keys.iter().map(|k| self.delay(k)).max().unwrap_or_default();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let user = self.users.iter().find(|u| u.name == name).cloned();
        let hash = user
            .as_ref()
            .map_or(self.decoy_hash.clone(), |u| u.password_hash.clone());
        let password = password.to_string();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
        })
        .await
        .map_err(|_| Status::internal("password check failed"))?;
        match user {
            Some(u) if matches => {
                self.forget_failures(&keys);
                Ok(Identity {
                    user: u.name,
                    role: u.role,
                })
            }
            _ => {
                self.record_failure(&keys);
                tracing::warn!("failed login for user '{name}' from {client}");
                Err(denied())
            }
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn delay(&self, key: &str) -> Duration {
        let failures = self.failures();
        match failures.get(key) {
            Some(f) if f.count >= FREE_FAILURES && f.last.elapsed() < FAILURES_FORGOTTEN_AFTER => {
                let doublings = (f.count - FREE_FAILURES).min(8);
                (Duration::from_millis(250) * 2u32.pow(doublings)).min(MAX_LOGIN_DELAY)
            }
            _ => Duration::ZERO,
        }
    }

    fn record_failure(&self, keys: &[String]) {
        let mut failures = self.failures();
        failures.retain(|_, f| f.last.elapsed() < FAILURES_FORGOTTEN_AFTER);
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: Instant::now(),
            });
            entry.count += 1;
            entry.last = Instant::now();
        }
    }

    fn forget_failures(&self, keys: &[String]) {
        let mut failures = self.failures();
        for key in keys {
            failures.remove(key);
        }
    }
}

/// A new bearer token: 256 random bits.
pub fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    fn basic_unpadded(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{user}:{password}"))
        )
    }

    fn auth() -> Arc<Auth> {
        Auth::new(vec![UserConfig {
            name: "ana".into(),
            password_hash: hash_password("s3cret").unwrap(),
            role: Role::Analyst,
        }])
        .unwrap()
    }

    #[tokio::test]
    async fn logins() {
        let auth = auth();
        assert!(auth.login(Some(&basic("ana", "wrong")), "a").await.is_err());
        assert!(
            auth.login(Some(&basic("bob", "s3cret")), "a")
                .await
                .is_err()
        );
        assert!(auth.login(None, "a").await.is_err());
        assert!(auth.login(Some("Bearer x"), "a").await.is_err());
        let unpadded = auth
            .login(Some(&basic_unpadded("ana", "s3cret")), "b")
            .await;
        assert_eq!(
            unpadded.unwrap().role,
            Role::Analyst,
            "unpadded base64 is accepted"
        );
        assert!(
            Role::Analyst.may_read("gold")
                && !Role::Analyst.may_read("bronze")
                && Role::Engineer.may_read("bronze")
        );
        assert!(
            Auth::new(vec![UserConfig {
                name: "x".into(),
                password_hash: "plain".into(),
                role: Role::Engineer
            }])
            .is_err()
        );
    }

    #[tokio::test]
    async fn repeated_failures_are_slowed_down_and_a_success_resets_them() {
        let auth = auth();
        for _ in 0..FREE_FAILURES {
            assert!(auth.login(Some(&basic("ana", "x")), "c").await.is_err());
        }
        assert_eq!(auth.delay("user:ana"), Duration::from_millis(250));
        assert_eq!(auth.delay("client:c"), Duration::from_millis(250));
        assert!(auth.login(Some(&basic("ana", "x")), "c").await.is_err());
        assert_eq!(auth.delay("user:ana"), Duration::from_millis(500));
        // Another address is slowed too: the user name is being guessed.
        let started = std::time::Instant::now();
        assert!(auth.login(Some(&basic("ana", "s3cret")), "d").await.is_ok());
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert_eq!(auth.delay("user:ana"), Duration::ZERO);
        assert_eq!(auth.delay("unknown"), Duration::ZERO);
    }
}

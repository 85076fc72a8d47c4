//! Authentication and roles for the Flight SQL server.
//!
//! Clients log in with a Handshake carrying HTTP Basic credentials; the server answers with a
//! bearer token for later calls. An interceptor validates the token and puts the session into
//! the request's extensions; handlers read it from there to authorize. Passwords are stored as
//! argon2 hashes (`cdrlake hash-password`). With no users configured the server runs in the
//! local demo mode: no authentication, every caller an engineer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use serde::Deserialize;
use tonic::{Request, Status};

const TOKEN_LIFETIME: Duration = Duration::from_secs(8 * 3600);

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub role: Role,
}

#[derive(Default)]
pub struct Auth {
    users: Vec<UserConfig>,
    tokens: Mutex<HashMap<String, (Session, Instant)>>,
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
            PasswordHash::new(&u.password_hash).map_err(|e| anyhow::anyhow!("user '{}': password_hash is not an argon2 hash ({e}); use `cdrlake hash-password`", u.name))?;
        }
        Ok(Arc::new(Self {
            users,
            tokens: Mutex::default(),
        }))
    }

    pub fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// Checks `Basic base64(user:password)` and returns a new bearer token.
    pub fn login(&self, authorization: Option<&str>) -> Result<(String, Session), Status> {
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
        let user = self
            .users
            .iter()
            .find(|u| u.name == name)
            .ok_or_else(denied)?;
        let hash = PasswordHash::new(&user.password_hash).map_err(|_| denied())?;
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .map_err(|_| denied())?;
        let session = Session {
            user: user.name.clone(),
            role: user.role,
        };
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.tokens
            .lock()
            .map_err(|_| Status::internal("sessions unavailable"))?
            .insert(token.clone(), (session.clone(), Instant::now()));
        Ok((token, session))
    }

    fn session_for(&self, token: &str) -> Option<Session> {
        let mut tokens = self.tokens.lock().ok()?;
        tokens.retain(|_, (_, at)| at.elapsed() < TOKEN_LIFETIME);
        tokens.get(token).map(|(s, _)| s.clone())
    }

    /// The interceptor: a valid bearer token becomes a `Session` extension; Basic credentials pass
    /// through to the handshake; anything else is refused.
    pub fn intercept(&self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if !self.enabled() {
            return Ok(request);
        }
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match header.as_deref() {
            Some(h) if h.starts_with("Basic ") => Ok(request),
            Some(h) if h.starts_with("Bearer ") => {
                let session = self
                    .session_for(h["Bearer ".len()..].trim())
                    .ok_or_else(|| {
                        Status::unauthenticated("invalid or expired token: log in again")
                    })?;
                request.extensions_mut().insert(session);
                Ok(request)
            }
            _ => Err(Status::unauthenticated(
                "no credentials: log in with a user name and password",
            )),
        }
    }

    /// Who is calling: the session the interceptor found, or the demo engineer without auth.
    pub fn session<T>(&self, request: &Request<T>) -> Result<Session, Status> {
        if !self.enabled() {
            return Ok(Session {
                user: "demo".into(),
                role: Role::Engineer,
            });
        }
        request
            .extensions()
            .get::<Session>()
            .cloned()
            .ok_or_else(|| {
                Status::unauthenticated("no session: log in with a user name and password")
            })
    }
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

    #[test]
    fn login_and_tokens() {
        let auth = Auth::new(vec![UserConfig {
            name: "ana".into(),
            password_hash: hash_password("s3cret").unwrap(),
            role: Role::Analyst,
        }])
        .unwrap();
        assert!(auth.login(Some(&basic("ana", "wrong"))).is_err());
        assert!(auth.login(Some(&basic("bob", "s3cret"))).is_err());
        assert!(auth.login(None).is_err());
        assert!(
            auth.login(Some(&basic_unpadded("ana", "s3cret"))).is_ok(),
            "unpadded base64 is accepted"
        );
        let (token, session) = auth.login(Some(&basic("ana", "s3cret"))).unwrap();
        assert_eq!(session.role, Role::Analyst);
        let mut req = Request::new(());
        req.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let req = auth.intercept(req).unwrap();
        assert_eq!(auth.session(&req).unwrap().user, "ana");
        let mut forged = Request::new(());
        forged
            .metadata_mut()
            .insert("authorization", "Bearer nope".parse().unwrap());
        assert_eq!(
            auth.intercept(forged).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            auth.intercept(Request::new(())).unwrap_err().code(),
            tonic::Code::Unauthenticated
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
}

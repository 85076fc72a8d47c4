//! Every call authenticated before any handler runs: a tower service around the Flight service
//! that finds the caller's session and puts it into the request's extensions, or answers
//! UNAUTHENTICATED itself. Only the Handshake passes without a session (it is the login).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response};
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::server::TcpConnectInfo;

use super::auth::{Auth, Role};
use super::session::{ClientSession, Sessions};

pub const HANDSHAKE_PATH: &str = "/arrow.flight.protocol.FlightService/Handshake";
/// The cookie Flight SQL clients (the JDBC driver) use to name their session.
pub const SESSION_COOKIE: &str = "arrow_flight_session_id";

/// The caller's session and the key it lives under (for CloseSession).
#[derive(Clone)]
pub struct Caller {
    pub key: String,
    pub session: Arc<ClientSession>,
}

/// Where a call came from, for login throttling and logs.
#[derive(Clone, Debug)]
pub struct Peer(pub String);

#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    auth: Arc<Auth>,
    sessions: Arc<Sessions>,
}

impl<S> Authenticate<S> {
    pub fn new(inner: S, auth: Arc<Auth>, sessions: Arc<Sessions>) -> Self {
        Self {
            inner,
            auth,
            sessions,
        }
    }

    fn caller(&self, headers: &HeaderMap, peer: &str) -> Result<Caller, Status> {
        if !self.auth.enabled() {
            // Demo mode: one session per cookie, else per connection.
            let key = cookie(headers, SESSION_COOKIE)
                .map_or_else(|| format!("peer:{peer}"), |c| format!("cookie:{c}"));
            let session = self.sessions.get_or_open(&key, "demo", Role::Engineer)?;
            return Ok(Caller { key, session });
        }
        let header = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = match header.split_once(' ') {
            // flightsql-dbapi sends "Bearer None" when the URI has no user name.
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer")
                    && !matches!(token.trim(), "" | "None" | "null" | "undefined") =>
            {
                token.trim()
            }
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("basic") => {
                return Err(Status::unauthenticated(
                    "user name and password are accepted by the Handshake only: log in first, then send the bearer token",
                ));
            }
            _ => {
                return Err(Status::unauthenticated(
                    "no credentials: this server has users, so log in with a user name and \
                     password (in a URI: datafusion://USER:PASSWORD@HOST:PORT)",
                ));
            }
        };
        let session = self.sessions.get(token).ok_or_else(|| {
            Status::unauthenticated("invalid or expired token (or session closed): log in again")
        })?;
        Ok(Caller {
            key: token.to_string(),
            session,
        })
    }
}

/// The value of cookie `name` in the request's `cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v)
}

fn peer_of<B>(request: &Request<B>) -> String {
    let ext = request.extensions();
    let tcp = ext.get::<TcpConnectInfo>().cloned().or_else(|| {
        ext.get::<tonic::transport::server::TlsConnectInfo<TcpConnectInfo>>()
            .map(|t| t.get_ref().clone())
    });
    tcp.and_then(|t| t.remote_addr())
        .map_or_else(|| "unknown".to_string(), |a| a.to_string())
}

impl<S: NamedService> NamedService for Authenticate<S> {
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> tower::Service<Request<Body>> for Authenticate<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let peer = peer_of(&request);
        request.extensions_mut().insert(Peer(peer.clone()));
        if request.uri().path() != HANDSHAKE_PATH {
            match self.caller(request.headers(), &peer) {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                }
                Err(status) => return Box::pin(async move { Ok(status.into_http()) }),
            }
        }
        // The service that was polled ready serves this call; its clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "a=1; arrow_flight_session_id=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
        assert_eq!(cookie(&HeaderMap::new(), SESSION_COOKIE), None);
    }
}

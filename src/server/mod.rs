//! `cdrlake serve`: the Arrow Flight SQL server over the lakehouse.

pub mod auth;
mod cancel;
mod client_catalog;
mod flight_sql;
mod health;
mod middleware;
pub mod policy;
mod procedures;
pub mod query_log;
mod query_memory;
pub mod session;
mod session_actions;
mod sql_info;
mod statements;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use arrow_flight::flight_service_server::FlightServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::engine::Engine;
pub use auth::{Auth, Role, UserConfig};
pub use flight_sql::CdrlakeFlightSql;
use query_log::QueryLog;
pub use session::SessionLimits;
pub use statements::QueryLimits;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How often buffered `system.query_log` entries are committed.
    pub query_log_flush: Duration,
    /// Time, concurrency and upload limits of client queries.
    pub limits: QueryLimits,
    /// Idle time, lifetime and per-user cap of client sessions.
    pub sessions: SessionLimits,
    /// Serve over TLS with this identity.
    pub tls: Option<TlsFiles>,
    /// The model project `CALL close_period(...)` builds; without one the call is refused.
    pub project: Option<std::path::PathBuf>,
    /// Serve /metrics, /health and /ready over HTTP on this address.
    pub metrics_listen: Option<SocketAddr>,
}

/// A PEM certificate chain and its private key.
#[derive(Clone)]
pub struct TlsFiles {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsFiles { .. }")
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            query_log_flush: Duration::from_secs(5),
            limits: QueryLimits::default(),
            sessions: SessionLimits::default(),
            tls: None,
            project: None,
            metrics_listen: None,
        }
    }
}

/// Serves Flight SQL on `listener` until `shutdown` completes, then writes the last query log
/// entries.
pub async fn serve(
    engine: Arc<Engine>,
    auth: Arc<Auth>,
    options: ServeOptions,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let log = QueryLog::new(engine.lakehouse().clone());
    log.spawn_flusher(options.query_log_flush);
    let sessions = Arc::new(session::Sessions::new(engine.clone(), options.sessions));
    let health = match options.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?;
            println!("{}", health::health_help(listener.local_addr()?));
            if !addr.ip().is_loopback() {
                tracing::warn!("metrics served on {addr}, which is not loopback");
            }
            Some(tokio::spawn(health::serve_health(
                listener,
                engine.clone(),
                sessions.clone(),
            )))
        }
        None => None,
    };
    let service = FlightServiceServer::new(CdrlakeFlightSql::new(
        engine,
        auth.clone(),
        sessions.clone(),
        log.clone(),
        options.limits,
        options.project.clone(),
    ))
    .max_decoding_message_size(256 * 1024 * 1024);
    let service = middleware::Authenticate::new(service, auth, sessions);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &options.tls {
        // rustls cannot choose between the two providers the dependency tree enables.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let identity = tonic::transport::Identity::from_pem(&tls.cert, &tls.key);
        builder = builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .map_err(|e| anyhow::anyhow!("TLS certificate or key not usable: {e}"))?;
    }
    builder
        .add_service(service)
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await?;
    if let Some(health) = health {
        health.abort();
    }
    log.flush().await?;
    Ok(())
}

/// Accepted connections with TCP_NODELAY: Flight calls are small request/response exchanges, and
/// Nagle's algorithm with delayed ACKs would add tens of milliseconds to each.
fn incoming(
    listener: TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::StreamExt;
    TcpListenerStream::new(listener).map(|conn| {
        if let Ok(stream) = &conn
            && let Err(e) = stream.set_nodelay(true)
        {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
        conn
    })
}

/// How clients reach a server on `addr`.
pub fn connection_help(addr: SocketAddr, tls: bool) -> String {
    if tls {
        return format!(
            "Flight SQL on {addr} (TLS)\n  ADBC:      grpc+tls://{addr}\n  JDBC:      jdbc:arrow-flight-sql://{addr}?useEncryption=true\n  SQLAlchemy (Superset): datafusion://{addr}"
        );
    }
    format!(
        "Flight SQL on {addr}\n  ADBC:      grpc://{addr}\n  JDBC:      jdbc:arrow-flight-sql://{addr}?useEncryption=false\n  SQLAlchemy (Superset): datafusion://{addr}?insecure=true"
    )
}

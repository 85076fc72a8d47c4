//! `cdrlake serve`: the Arrow Flight SQL server over the lakehouse.

pub mod auth;
mod cancel;
mod flight_sql;
pub mod query_log;
mod sql_info;

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

#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How often buffered `system.query_log` entries are committed.
    pub query_log_flush: Duration,
    /// A query still running after this long is cancelled.
    pub query_timeout: Option<Duration>,
    /// Serve over TLS with this identity.
    pub tls: Option<TlsFiles>,
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
            query_timeout: None,
            tls: None,
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
    let service = FlightServiceServer::new(CdrlakeFlightSql::new(
        engine,
        auth.clone(),
        log.clone(),
        options.query_timeout,
    ))
    .max_decoding_message_size(256 * 1024 * 1024);
    let service = tonic::service::interceptor::InterceptedService::new(service, move |req| {
        auth.intercept(req)
    });
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

//! `cdrlake serve`: the Arrow Flight SQL server over the lakehouse.

pub mod auth;
mod flight_sql;
mod sql_info;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use arrow_flight::flight_service_server::FlightServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::engine::Engine;
pub use auth::{Auth, Role, UserConfig};
pub use flight_sql::CdrlakeFlightSql;

/// Serves Flight SQL on `listener` until `shutdown` completes.
pub async fn serve(engine: Arc<Engine>, auth: Arc<Auth>, listener: TcpListener, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
    let service = FlightServiceServer::new(CdrlakeFlightSql::new(engine, auth.clone())).max_decoding_message_size(256 * 1024 * 1024);
    let service = tonic::service::interceptor::InterceptedService::new(service, move |req| auth.intercept(req));
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

/// How clients reach a server on `addr`.
pub fn connection_help(addr: SocketAddr) -> String {
    format!(
        "Flight SQL on {addr}\n  ADBC:      grpc://{addr}\n  JDBC:      jdbc:arrow-flight-sql://{addr}?useEncryption=false\n  SQLAlchemy (Superset): datafusion://{addr}?insecure=true"
    )
}

//! The operator's HTTP port (`serve --metrics-listen 127.0.0.1:9464`, off by default):
//! `/metrics` in Prometheus's text format, `/health` (the process answers) and `/ready` (the
//! lakehouse answers too, so queries can be served).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::net::TcpListener;

use super::session::Sessions;
use crate::engine::Engine;
use crate::metrics::metrics;

/// Serves the operator's endpoints on `listener` until the task is dropped.
pub async fn serve_health(listener: TcpListener, engine: Arc<Engine>, sessions: Arc<Sessions>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let (engine, sessions) = (engine.clone(), sessions.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let (engine, sessions) = (engine.clone(), sessions.clone());
                async move { Ok::<_, Infallible>(answer(&request, &engine, &sessions).await) }
            });
            let _ = ConnBuilder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}

async fn answer(
    request: &Request<Incoming>,
    engine: &Engine,
    sessions: &Sessions,
) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    if request.method() != http::Method::GET {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match request.uri().path() {
        "/metrics" => {
            metrics().open_sessions.set(sessions.count() as i64);
            reply(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                metrics().render(),
            )
        }
        "/health" => reply(StatusCode::OK, "text/plain", "ok\n".into()),
        "/ready" => match engine.lakehouse().list_tables("system").await {
            Ok(_) => reply(StatusCode::OK, "text/plain", "ready\n".into()),
            Err(e) => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("not ready: the lakehouse does not answer: {e}\n"),
            ),
        },
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics, /health or /ready\n".into(),
        ),
    }
}

/// How operators reach the endpoints on `addr`.
pub fn health_help(addr: SocketAddr) -> String {
    format!("metrics on http://{addr}/metrics (and /health, /ready)")
}

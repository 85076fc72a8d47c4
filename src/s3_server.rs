//! `cdrlake s3-server`: a real S3 HTTP endpoint over a local directory (s3s-fs), for tests and
//! for trying the S3 code path without MinIO. Bind it to loopback; it is not a production store.
//!
//! s3s-fs checks `If-None-Match` / `If-Match` and then writes, so two racing conditional PUTs can
//! both succeed. Delta commits depend on that check being atomic, so this server runs every
//! conditional PUT under one lock, from the check to the completed write.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures::future::BoxFuture;
use http::header::{IF_MATCH, IF_NONE_MATCH};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;

/// Access key and secret key clients must sign with.
#[derive(Debug, Clone)]
pub struct S3Credentials {
    pub access_key: String,
    pub secret_key: String,
}

/// Serves S3 on `listener` until the task is dropped. Buckets are directories under `root`.
pub async fn serve(listener: TcpListener, root: PathBuf, credentials: S3Credentials) -> Result<()> {
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let fs = s3s_fs::FileSystem::new(&root)
        .map_err(|e| anyhow::anyhow!("s3 root {}: {e:?}", root.display()))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(
        credentials.access_key,
        credentials.secret_key,
    ));
    let service = AtomicConditionalPuts {
        inner: builder.build(),
        lock: Arc::default(),
    };
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("s3-server: accept failed: {e}");
                continue;
            }
        };
        let conn = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("s3-server: connection ended: {e}");
            }
        });
    }
}

/// Serializes conditional PUTs so "object absent? then write" cannot interleave.
#[derive(Clone)]
struct AtomicConditionalPuts {
    inner: S3Service,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl hyper::service::Service<http::Request<Incoming>> for AtomicConditionalPuts {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let conditional = req.method() == http::Method::PUT
            && (req.headers().contains_key(IF_NONE_MATCH) || req.headers().contains_key(IF_MATCH));
        let inner = self.inner.clone();
        let lock = self.lock.clone();
        Box::pin(async move {
            let _guard = if conditional {
                Some(lock.lock_owned().await)
            } else {
                None
            };
            hyper::service::Service::call(&inner, req).await
        })
    }
}

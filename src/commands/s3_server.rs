use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::s3_server::{S3Credentials, serve};

#[derive(Debug, Args)]
pub struct S3ServerArgs {
    /// Directory holding the buckets (one sub-directory per bucket)
    #[arg(long, default_value = "./s3-data")]
    pub root: PathBuf,
    /// Address to listen on; keep it on loopback
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Access key clients sign with
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub access_key: String,
    /// Secret key clients sign with
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_key: String,
}

pub async fn run(args: &S3ServerArgs) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!("s3-server listens on {addr}, not loopback: it is meant for local use");
    }
    println!(
        "S3 endpoint http://{addr} serving {} (AWS_ENDPOINT_URL=http://{addr})",
        args.root.display()
    );
    let credentials = S3Credentials {
        access_key: args.access_key.clone(),
        secret_key: args.secret_key.clone(),
    };
    tokio::select! {
        r = serve(listener, args.root.clone(), credentials) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

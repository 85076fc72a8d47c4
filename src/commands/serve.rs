use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;

use crate::cli::GlobalArgs;
use crate::engine::Engine;
use crate::server::{connection_help, serve};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
}

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<()> {
    let engine = Arc::new(Engine::new(super::connect(global).await?).await?);
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("{}", connection_help(listener.local_addr()?));
    serve(engine, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

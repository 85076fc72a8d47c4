use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;

use crate::cli::GlobalArgs;
use crate::engine::Engine;
use crate::server::{connection_help, serve, Auth, UserConfig};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    server: ServerSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    #[serde(default)]
    users: Vec<UserConfig>,
}

/// The `[[server.users]]` of the configuration file; none means the local demo mode.
pub fn users(global: &GlobalArgs) -> Result<Vec<UserConfig>> {
    let Some(path) = global.config_file() else { return Ok(vec![]) };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let parsed: ConfigFile = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
    Ok(parsed.server.users)
}

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<()> {
    let auth = Auth::new(users(global)?)?;
    let engine = Arc::new(Engine::new(super::connect(global).await?).await?);
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("{}", connection_help(addr));
    if !auth.enabled() {
        println!("demo mode: no [[server.users]] configured, so no authentication");
        if !addr.ip().is_loopback() {
            tracing::warn!("serving without authentication on {addr}, which is not loopback");
        }
    }
    serve(engine, auth, Default::default(), listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

#[derive(Debug, Args)]
pub struct HashPasswordArgs {}

/// `cdrlake hash-password`: reads a password on stdin, prints its argon2 hash for cdrlake.toml.
pub fn hash_password() -> Result<()> {
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    let password = password.trim_end_matches(['\n', '\r']);
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    println!("{}", crate::server::auth::hash_password(password)?);
    Ok(())
}

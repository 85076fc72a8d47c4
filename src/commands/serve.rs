use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;

use crate::cli::GlobalArgs;
use cdrlake_catalog::Lakehouse;

use crate::engine::Engine;
use crate::server::{Auth, ServeOptions, TlsFiles, UserConfig, connection_help, serve};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Memory for all running queries together, e.g. 4G or 512M; beyond it queries spill to disk
    #[arg(long, value_parser = parse_size)]
    pub memory_limit: Option<usize>,
    /// Cancel a query still running after this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub query_timeout: Option<u64>,
    /// Serve over TLS with this certificate chain (PEM); needs --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM); needs --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl ServeArgs {
    pub fn options(&self) -> Result<ServeOptions> {
        let read = |p: &std::path::Path, what: &str| {
            std::fs::read(p).with_context(|| format!("cannot read the TLS {what} {}", p.display()))
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: read(cert, "certificate")?,
                key: read(key, "key")?,
            }),
            _ => None,
        };
        Ok(ServeOptions {
            query_timeout: self.query_timeout.map(Duration::from_secs),
            tls,
            ..Default::default()
        })
    }
}

/// `512M`, `4G`, `1048576`: bytes, with binary K/M/G suffixes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.trim_end_matches('B');
    let t = t.strip_suffix('I').unwrap_or(t);
    let (digits, factor) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1usize << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    digits
        .trim()
        .parse::<usize>()
        .map(|n| n * factor)
        .map_err(|_| format!("'{text}' is not a size such as 512M or 4G"))
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
    let Some(path) = global.config_file() else {
        return Ok(vec![]);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let parsed: ConfigFile = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
    Ok(parsed.server.users)
}

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<()> {
    serve_lakehouse(global, super::connect(global).await?, args).await
}

/// Serves `lakehouse` until Ctrl-C: users from the configuration, limits from `args`.
pub async fn serve_lakehouse(
    global: &GlobalArgs,
    lakehouse: Arc<Lakehouse>,
    args: &ServeArgs,
) -> Result<()> {
    let auth = Auth::new(users(global)?)?;
    let options = args.options()?;
    let engine = Arc::new(Engine::with_memory_limit(lakehouse, args.memory_limit).await?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("{}", connection_help(addr, options.tls.is_some()));
    if !auth.enabled() {
        println!("demo mode: no [[server.users]] configured, so no authentication");
        if !addr.ip().is_loopback() {
            tracing::warn!("serving without authentication on {addr}, which is not loopback");
        }
    }
    println!("press Ctrl-C to stop");
    serve(engine, auth, options, listener, async {
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

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("64kb"), Ok(64 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
    }
}

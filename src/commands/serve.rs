use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;

use crate::commands::args::GlobalArgs;
use cdrlake_catalog::Lakehouse;

use crate::engine::Engine;
use crate::server::{
    Auth, QueryLimits, ServeOptions, SessionLimits, TlsFiles, UserConfig, connection_help, serve,
};
use std::time::Duration;

/// `cdrlake serve`: the server's settings and the project its billing procedures build.
#[derive(Debug, Args)]
pub struct ServeCommandArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// The model project `CALL close_period(...)` builds (engineers over Flight SQL); without it
    /// that call is refused
    #[arg(long, value_name = "DIR")]
    pub project: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Ingest files as they land and refresh the models by itself (docs/operations.md).
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Watch this landing zone, a directory or s3://bucket/prefix (with the lakehouse's S3
    /// settings): files put in <it>/<bronze table>/ are ingested, then the models run (needs
    /// --project)
    #[arg(long, value_name = "DIR|S3_URL")]
    pub watch: Option<String>,
    /// How often the landing directory is listed
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub poll_seconds: u64,
    /// How long a file must stay unchanged before it is read (a writer may still be writing it)
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub settle_seconds: u64,
    /// Run the models once no new file has landed for this long (one run per burst of files)
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub refresh_after_seconds: u64,
    /// Run them anyway once the oldest file not built yet is this old (files that never pause)
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub refresh_max_wait_seconds: u64,
    /// Stop a model run still going after this long (it is tried again)
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub run_timeout_seconds: u64,
    /// Also run the models at these times, in UTC: cron's five fields, e.g. '*/15 * * * *' or
    /// '30 2 * * *' (needs --project)
    #[arg(long, value_name = "CRON")]
    pub schedule: Option<crate::watch::Schedule>,
    /// POST new fraud alerts, failed gates and failed runs here as signed JSON; the shared
    /// secret comes from the CDRLAKE_WEBHOOK_SECRET environment variable
    #[arg(long, value_name = "URL")]
    pub alert_webhook: Option<url::Url>,
}

impl WatchArgs {
    /// The watcher's options, if --watch was given; `project` is what its runs build.
    pub fn options(
        &self,
        project: Option<&std::path::Path>,
    ) -> Result<Option<crate::watch::WatchOptions>> {
        if self.watch.is_none() && self.schedule.is_none() && self.alert_webhook.is_none() {
            return Ok(None);
        }
        let Some(project) = project else {
            anyhow::bail!(
                "--watch, --schedule and --alert-webhook need --project DIR: the models the server runs"
            );
        };
        let webhook = match &self.alert_webhook {
            Some(url) => {
                let secret = std::env::var(crate::alerts::webhook::SECRET_ENV).map_err(|_| {
                    anyhow::anyhow!(
                        "--alert-webhook needs the shared secret its POSTs are signed with in {}",
                        crate::alerts::webhook::SECRET_ENV
                    )
                })?;
                Some(Arc::new(crate::alerts::webhook::Webhook::new(
                    url.clone(),
                    secret,
                )?))
            }
            None => None,
        };
        Ok(Some(crate::watch::WatchOptions {
            landing: self.watch.clone(),
            schedule: self.schedule.clone(),
            webhook,
            project: project.to_path_buf(),
            poll: Duration::from_secs(self.poll_seconds.max(1)),
            settle: Duration::from_secs(self.settle_seconds),
            refresh_after: Duration::from_secs(self.refresh_after_seconds),
            refresh_max_wait: Duration::from_secs(self.refresh_max_wait_seconds),
            run_timeout: Duration::from_secs(self.run_timeout_seconds.max(1)),
            retries: 3,
        }))
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Memory for all running queries together, e.g. 4G or 512M; beyond it queries spill to
    /// disk or fail [default: 60% of the machine's memory]
    #[arg(long, value_parser = parse_size)]
    pub memory_limit: Option<usize>,
    #[command(flatten)]
    pub engine: crate::commands::args::EngineArgs,
    /// Memory one client query may hold within that [default: a quarter of --memory-limit]
    #[arg(long, value_parser = parse_size)]
    pub query_memory_limit: Option<usize>,
    /// Cancel a client query still running after this many seconds (0: no limit)
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub query_timeout: u64,
    /// Client queries running at once, over all clients [default: twice the cores, at least 4]
    #[arg(long, value_name = "N")]
    pub max_concurrent_queries: Option<usize>,
    /// Largest upload (bulk ingest, parameters) one call may send, e.g. 512M
    #[arg(long, value_parser = parse_size, default_value = "512M")]
    pub max_upload: usize,
    /// A client session unused this long ends (its settings and prepared statements with it)
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub session_idle_timeout: u64,
    /// Sessions one user may hold at once; a new login ends their least recently used one
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub max_sessions_per_user: usize,
    /// Serve without users on an address other than loopback (anyone who reaches it is an
    /// engineer); without this flag, demo mode serves loopback only
    #[arg(long)]
    pub allow_anonymous: bool,
    /// Serve Prometheus metrics, /health and /ready over HTTP on this address (off by default;
    /// keep it on loopback or a private network), e.g. 127.0.0.1:9464
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
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
        let mut limits = QueryLimits {
            timeout: (self.query_timeout > 0).then(|| Duration::from_secs(self.query_timeout)),
            max_upload: self.max_upload,
            ..QueryLimits::default()
        };
        if let Some(n) = self.max_concurrent_queries {
            anyhow::ensure!(n > 0, "--max-concurrent-queries must be at least 1");
            limits.max_concurrent = n;
        }
        limits.query_memory = Some(
            self.query_memory_limit
                .unwrap_or(self.memory_pool() / 4)
                .min(self.memory_pool()),
        );
        Ok(ServeOptions {
            limits,
            sessions: SessionLimits {
                idle: Duration::from_secs(self.session_idle_timeout.max(1)),
                per_user: self.max_sessions_per_user.max(1),
                ..SessionLimits::default()
            },
            tls,
            metrics_listen: self.metrics_listen,
            ..Default::default()
        })
    }
}

impl ServeArgs {
    /// The server's memory pool: `--memory-limit`, else 60% of the machine's memory.
    pub fn memory_pool(&self) -> usize {
        self.memory_limit
            .unwrap_or_else(|| physical_memory().map_or(4 << 30, |m| m / 10 * 6))
    }
}

/// Total memory of this machine (Linux `/proc/meminfo`), if it can be read.
fn physical_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
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

pub async fn run(global: &GlobalArgs, args: &ServeCommandArgs) -> Result<()> {
    if let Some(project) = &args.project {
        // Checked now, not at the first close.
        crate::models::Project::load(project)?;
    }
    let watch = args.watch.options(args.project.as_deref())?;
    serve_lakehouse(
        global,
        super::connect(global).await?,
        &args.serve,
        args.project.clone(),
        watch,
    )
    .await
}

/// Serves `lakehouse` until Ctrl-C: users from the configuration, limits from `args`, billing
/// procedures building `project`, and the landing zone watched if `watch` says so.
pub async fn serve_lakehouse(
    global: &GlobalArgs,
    lakehouse: Arc<Lakehouse>,
    args: &ServeArgs,
    project: Option<std::path::PathBuf>,
    watch: Option<crate::watch::WatchOptions>,
) -> Result<()> {
    let auth = Auth::new(users(global)?)?;
    let options = ServeOptions {
        project,
        ..args.options()?
    };
    if !auth.enabled() && !args.listen.ip().is_loopback() && !args.allow_anonymous {
        anyhow::bail!(
            "no [[server.users]] configured: demo mode (no authentication, every client an engineer) serves loopback only. Configure users (docs/security.md), listen on 127.0.0.1, or pass --allow-anonymous to serve {} to anyone",
            args.listen
        );
    }
    let engine = Arc::new(
        Engine::with_memory_limit(lakehouse, Some(args.memory_pool()))
            .await?
            .with_engine(args.engine.engine.as_deref())?,
    );
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
    let watcher = watch.map(|w| tokio::spawn(crate::watch::watch(engine.clone(), w)));
    println!("press Ctrl-C to stop");
    let served = serve(engine, auth, options, listener, stop_signal()).await;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    served
}

/// Ctrl-C or SIGTERM (what `docker stop` and systemd send): either stops the server cleanly,
/// writing the last query log entries.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("SIGTERM not handled: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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

//! Command-line interface: parse arguments, run one command, turn any error into one line on
//! stderr and a non-zero exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use cdrlake_catalog::{LakehouseConfig, Overrides, S3Settings};
use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::output::Format;

#[derive(Debug, Parser)]
#[command(
    name = "cdrlake",
    version,
    about = "A SQL lakehouse for telecom call detail records"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the lakehouse is. Precedence: these flags > environment > cdrlake.toml > defaults.
#[derive(Debug, Args, Default, Clone)]
pub struct GlobalArgs {
    /// Lakehouse root: a local directory or s3://bucket/prefix [env: CDRLAKE_LAKEHOUSE] [default: ./lakehouse]
    #[arg(long, global = true, value_name = "URL")]
    pub lakehouse: Option<String>,
    /// Configuration file [env: CDRLAKE_CONFIG] [default: ./cdrlake.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// S3 endpoint URL, e.g. http://127.0.0.1:9000 for MinIO [env: AWS_ENDPOINT_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// S3 region [env: AWS_REGION] [default: us-east-1]
    #[arg(long, global = true)]
    pub s3_region: Option<String>,
    /// S3 access key id [env: AWS_ACCESS_KEY_ID]
    #[arg(long, global = true)]
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key (prefer the environment variable) [env: AWS_SECRET_ACCESS_KEY]
    #[arg(long, global = true)]
    pub s3_secret_access_key: Option<String>,
    /// Allow plain HTTP to the S3 endpoint [env: AWS_ALLOW_HTTP] [default: true for http:// endpoints]
    #[arg(long, global = true)]
    pub s3_allow_http: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job: prepare the lakehouse, build all models, report what it holds.
    Up(commands::up::UpArgs),
    /// Create the lakehouse root (and the S3 bucket if missing) with its schema folders.
    Init,
    /// List the Delta tables: schema, table, version, rows, size, last modified.
    Tables(commands::tables::TablesArgs),
    /// Run one SQL statement against the lakehouse.
    Query(commands::query::QueryArgs),
    /// Show the Delta commit log of a table.
    History(commands::history::HistoryArgs),
    /// Compact a table's files, or Z-order them by the columns queries filter on.
    Optimize(commands::optimize::OptimizeArgs),
    /// Delete the data files older commits replaced (kept for time travel until then).
    Vacuum(commands::vacuum::VacuumArgs),
    /// Generate a realistic, reproducible bronze dataset (subscribers, cells, CDRs, probes).
    Generate(commands::generate::GenerateArgs),
    /// Land CSV, JSON or Parquet files in a bronze table, one commit per file.
    Ingest(commands::ingest::IngestArgs),
    /// Build models and seeds in dependency order (views, Delta tables, incremental merges).
    Run(commands::models::RunArgs),
    /// Run the data tests of models (generic header tests and sql/tests/*.sql).
    Test(commands::models::TestArgs),
    /// Print the model lineage graph (Mermaid or Graphviz dot).
    Lineage(commands::models::LineageArgs),
    /// Show a model's resolved SQL, its inputs and its logical plan.
    Compile(commands::models::CompileArgs),
    /// Serve the lakehouse over Arrow Flight SQL (ADBC, JDBC, Superset, pyarrow).
    Serve(commands::serve::ServeArgs),
    /// Read a password on stdin and print its hash for [[server.users]] in cdrlake.toml.
    HashPassword(commands::serve::HashPasswordArgs),
    /// Serve a local directory as an S3 endpoint (for tests and trying S3 without MinIO).
    S3Server(commands::s3_server::S3ServerArgs),
}

impl GlobalArgs {
    /// `--config`, else `$CDRLAKE_CONFIG`, else `./cdrlake.toml` when it exists.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config
            .clone()
            .or_else(|| std::env::var_os("CDRLAKE_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("cdrlake.toml")).filter(|p| p.is_file()))
    }

    pub fn lakehouse_config(&self) -> Result<LakehouseConfig> {
        let file = self.config_file();
        let flags = Overrides {
            root: self.lakehouse.clone(),
            s3: S3Settings {
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key: self.s3_secret_access_key.clone(),
                session_token: None,
                allow_http: self.s3_allow_http,
            },
        };
        Ok(LakehouseConfig::resolve(
            file.as_deref(),
            |k| std::env::var(k).ok(),
            flags,
        )?)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    // Long-running servers give freed memory back; batch commands keep it (see `allocator`).
    crate::allocator::keep_freed_memory(!matches!(
        cli.command,
        Command::Serve(_) | Command::S3Server(_)
    ));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, without repeating a cause already in the message.
pub fn one_line(e: &anyhow::Error) -> String {
    if let Some(df) = e.downcast_ref::<datafusion::error::DataFusionError>() {
        return datafusion_message(df).replace('\n', " ");
    }
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !line.contains(&c) {
            line.push_str(": ");
            line.push_str(&c);
        }
    }
    line.replace('\n', " ")
}

/// DataFusion's message without its Debug-formatted wrappers.
fn datafusion_message(e: &datafusion::error::DataFusionError) -> String {
    use datafusion::error::DataFusionError;
    match e.find_root() {
        DataFusionError::SQL(parser, _) => format!("SQL error: {parser}"),
        root => root.strip_backtrace(),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CDRLAKE_LOG")
        // Library errors reach the user as our one-line error; their own logs would repeat them.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "error,cdrlake=warn,cdrlake_catalog=warn,buoyant_kernel=off",
            )
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Up(args) => commands::up::run(&cli.global, &args).await,
        Command::Init => commands::init::run(&cli.global).await,
        Command::Tables(args) => commands::tables::run(&cli.global, &args).await,
        Command::Query(args) => commands::query::run(&cli.global, &args).await,
        Command::History(args) => commands::history::run(&cli.global, &args).await,
        Command::Optimize(args) => commands::optimize::run(&cli.global, &args).await,
        Command::Vacuum(args) => commands::vacuum::run(&cli.global, &args).await,
        Command::Generate(args) => commands::generate::run(&cli.global, &args).await,
        Command::Ingest(args) => commands::ingest::run(&cli.global, &args).await,
        Command::Run(args) => commands::models::run(&cli.global, &args).await,
        Command::Test(args) => commands::models::test(&cli.global, &args).await,
        Command::Lineage(args) => commands::models::lineage(&args).await,
        Command::Compile(args) => commands::models::compile(&cli.global, &args).await,
        Command::Serve(args) => commands::serve::run(&cli.global, &args).await,
        Command::HashPassword(_) => commands::serve::hash_password(),
        Command::S3Server(args) => commands::s3_server::run(&args).await,
    }
}

/// Shared by commands that print results.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

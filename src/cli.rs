//! Command-line interface: parse arguments, run one command, turn any error into one line on
//! stderr and a non-zero exit code.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::commands;
pub use crate::commands::args::{GlobalArgs, OutputArgs};
use crate::error::one_line;

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
    /// How fresh each table is: version, commit time, newest event, last build, lag.
    Status(commands::status::StatusArgs),
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
    /// Close a billing period: build and gate everything, then issue its invoices for good.
    ClosePeriod(commands::periods::CloseArgs),
    /// Recompute a closed period from the versions its close recorded and compare with what was issued.
    ReplayPeriod(commands::periods::ReplayArgs),
    /// Let vacuum delete the files a closed period's replay needs (logged).
    ReleasePeriod(commands::periods::ReleaseArgs),
    /// Customer documents of a closed period's invoices (`invoices export 2026-04 --out DIR`).
    Invoices(commands::periods::InvoicesArgs),
    /// Run the data tests of models (generic header tests and sql/tests/*.sql).
    Test(commands::models::TestArgs),
    /// Print the model lineage graph (Mermaid or Graphviz dot).
    Lineage(commands::models::LineageArgs),
    /// Show a model's resolved SQL, its inputs and its logical plan.
    Compile(commands::models::CompileArgs),
    /// Serve the lakehouse over Arrow Flight SQL (ADBC, JDBC, Superset, pyarrow).
    Serve(commands::serve::ServeCommandArgs),
    /// Read a password on stdin and print its hash for [[server.users]] in cdrlake.toml.
    HashPassword(commands::serve::HashPasswordArgs),
    /// Serve a local directory as an S3 endpoint (for tests and trying S3 without MinIO).
    S3Server(commands::s3_server::S3ServerArgs),
    /// Run a Ballista scheduler for this lakehouse (queries with --engine ballista://HOST:PORT).
    Scheduler(commands::cluster::SchedulerArgs),
    /// Run a Ballista executor for this lakehouse, serving a scheduler.
    Executor(commands::cluster::ExecutorArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    // Long-running servers give freed memory back; batch commands keep it (see `allocator`).
    crate::allocator::keep_freed_memory(!matches!(
        cli.command,
        Command::Serve(_) | Command::S3Server(_) | Command::Scheduler(_) | Command::Executor(_)
    ));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The models' plans are deep: a scheduler decoding gold.rated_cdr's overflowed tokio's
        // 2 MiB default in a debug build. Unused stack costs only address space.
        .thread_stack_size(16 * 1024 * 1024)
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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CDRLAKE_LOG")
        // Library errors reach the user as our one-line error; their own logs would repeat them.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "error,cdrlake=warn,cdrlake_catalog=warn,buoyant_kernel=off,deltalake_core=off",
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
        Command::Status(args) => commands::status::run(&cli.global, &args).await,
        Command::Optimize(args) => commands::optimize::run(&cli.global, &args).await,
        Command::Vacuum(args) => commands::vacuum::run(&cli.global, &args).await,
        Command::Generate(args) => commands::generate::run(&cli.global, &args).await,
        Command::Ingest(args) => commands::ingest::run(&cli.global, &args).await,
        Command::Run(args) => commands::models::run(&cli.global, &args).await,
        Command::ClosePeriod(args) => commands::periods::close(&cli.global, &args).await,
        Command::ReplayPeriod(args) => commands::periods::replay(&cli.global, &args).await,
        Command::ReleasePeriod(args) => commands::periods::release(&cli.global, &args).await,
        Command::Invoices(args) => commands::periods::invoices(&cli.global, &args).await,
        Command::Test(args) => commands::models::test(&cli.global, &args).await,
        Command::Lineage(args) => commands::models::lineage(&args).await,
        Command::Compile(args) => commands::models::compile(&cli.global, &args).await,
        Command::Serve(args) => commands::serve::run(&cli.global, &args).await,
        Command::HashPassword(_) => commands::serve::hash_password(),
        Command::S3Server(args) => commands::s3_server::run(&args).await,
        Command::Scheduler(args) => commands::cluster::scheduler(&cli.global, &args).await,
        Command::Executor(args) => commands::cluster::executor(&cli.global, &args).await,
    }
}

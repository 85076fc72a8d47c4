//! `cdrlake scheduler` and `cdrlake executor`: the nodes of a Ballista cluster serving one
//! lakehouse (docs/scale-out.md). Every node is started with the same lakehouse settings as the
//! clients that use it.

use std::net::SocketAddr;

use anyhow::Result;
use clap::Args;

use crate::commands::args::GlobalArgs;

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on (clients use --engine ballista://HOST:PORT)
    #[arg(long, default_value = "127.0.0.1:50050")]
    pub bind: SocketAddr,
    /// Host name executors and clients reach this scheduler at
    #[arg(long, default_value = "localhost")]
    pub external_host: String,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to serve, HOST:PORT
    #[arg(long, default_value = "127.0.0.1:50050")]
    pub scheduler: String,
    /// Host to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_host: String,
    /// Host name the scheduler and other executors reach this one at [default: the bind host]
    #[arg(long)]
    pub external_host: Option<String>,
    /// Port for task results (Arrow Flight)
    #[arg(long, default_value_t = 50051)]
    pub port: u16,
    /// Port for the scheduler's task pushes (gRPC)
    #[arg(long, default_value_t = 50052)]
    pub grpc_port: u16,
    /// Tasks run at once [default: the machine's cores]
    #[arg(long, default_value_t = 0)]
    pub concurrent_tasks: usize,
    /// Directory for shuffle files [default: a temporary directory]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<String>,
    /// Memory for query operators before they spill, e.g. 4G [default: a share of the machine's]
    #[arg(long, value_parser = crate::commands::serve::parse_size, value_name = "SIZE")]
    pub memory_limit: Option<usize>,
}

#[cfg(feature = "ballista")]
pub async fn scheduler(global: &GlobalArgs, args: &SchedulerArgs) -> Result<()> {
    let lakehouse = super::connect(global).await?;
    crate::cluster::run_scheduler(
        lakehouse,
        crate::cluster::SchedulerOptions {
            bind: args.bind,
            external_host: args.external_host.clone(),
        },
    )
    .await
}

#[cfg(feature = "ballista")]
pub async fn executor(global: &GlobalArgs, args: &ExecutorArgs) -> Result<()> {
    use anyhow::Context;
    let (host, port) = args
        .scheduler
        .rsplit_once(':')
        .context("--scheduler: expected HOST:PORT")?;
    let scheduler_port = port
        .parse()
        .with_context(|| format!("--scheduler {}: the port is not a number", args.scheduler))?;
    let lakehouse = super::connect(global).await?;
    crate::cluster::run_executor(
        lakehouse,
        crate::cluster::ExecutorOptions {
            bind_host: args.bind_host.clone(),
            external_host: args.external_host.clone(),
            port: args.port,
            grpc_port: args.grpc_port,
            scheduler_host: host.to_string(),
            scheduler_port,
            concurrent_tasks: args.concurrent_tasks,
            work_dir: args.work_dir.clone(),
            memory_limit: args.memory_limit.map(|b| b as u64),
        },
    )
    .await
}

#[cfg(not(feature = "ballista"))]
pub async fn scheduler(_: &GlobalArgs, _: &SchedulerArgs) -> Result<()> {
    anyhow::bail!("this cdrlake was built without the `ballista` feature")
}

#[cfg(not(feature = "ballista"))]
pub async fn executor(_: &GlobalArgs, _: &ExecutorArgs) -> Result<()> {
    anyhow::bail!("this cdrlake was built without the `ballista` feature")
}

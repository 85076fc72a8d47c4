//! `cdrlake run | test | lineage | compile`: the model project commands.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use crate::commands::args::GlobalArgs;
use crate::engine::Engine;
use crate::models::{Dag, Project, RunOptions, datatests, lineage, runner};

#[derive(Debug, Args, Clone)]
pub struct ProjectArgs {
    /// The model project: a directory with <schema>/*.sql, seeds/ and tests/
    #[arg(long, default_value = "sql", value_name = "DIR")]
    pub project: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Nodes to build: name, +name (with ancestors), name+ (with descendants), schema.*
    #[arg(long, short, num_args = 1..)]
    pub select: Vec<String>,
    /// Rebuild incremental models from scratch
    #[arg(long)]
    pub full_refresh: bool,
    /// Memory for the run, e.g. 8G: its queries get 3/4 of it, beyond which sorts, joins and
    /// aggregates spill to disk (or fail, naming the model); the rest is for what the query
    /// engine does not count (Parquet encoding, Delta logs, the allocator) [default: no limit]
    #[arg(long, value_parser = super::serve::parse_size)]
    pub memory_limit: Option<usize>,
    #[command(flatten)]
    pub engine: super::args::EngineArgs,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Test only these nodes (same selectors as run)
    #[arg(long, short, num_args = 1..)]
    pub select: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LineageFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, Args)]
pub struct LineageArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[arg(long, value_enum, default_value_t = LineageFormat::Mermaid)]
    pub format: LineageFormat,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The model, as schema.name
    pub model: String,
}

pub async fn run(global: &GlobalArgs, args: &RunArgs) -> Result<()> {
    let project = Project::load(&args.project.project)?;
    let lakehouse = super::connect_or_init(global).await?;
    let report = crate::models::with_models_lease(&lakehouse, "run", |fence| async {
        let options = RunOptions {
            select: args.select.clone(),
            full_refresh: args.full_refresh,
            fence,
            progress: super::progress::cli(),
        };
        crate::billing::store::ensure_tables(&lakehouse).await?;
        // Headroom for what the pool does not count; at 30M CDRs that was 2-4 GB (performance.md).
        let pool = args.memory_limit.map(|bytes| bytes / 4 * 3);
        if pool.is_some() {
            // A limit is about the process's memory: freed pages go back to the kernel, at the
            // CPU cost of zeroing them again (`allocator`).
            crate::allocator::keep_freed_memory(false);
        }
        let engine = Engine::with_memory_limit(lakehouse.clone(), pool)
            .await?
            .with_engine(args.engine.engine.as_deref())?;
        runner::run(&engine, &project, &options).await
    })
    .await?;
    if report.failed() > 0 {
        bail!(
            "{} model(s) failed, {} skipped (see above and system.model_runs, run {})",
            report.failed(),
            report.skipped(),
            report.run_id
        );
    }
    Ok(())
}

pub async fn test(global: &GlobalArgs, args: &TestArgs) -> Result<()> {
    let project = Project::load(&args.project.project)?;
    let dag = Dag::build(&project)?;
    let tests = datatests::collect(&project, &dag, &args.select)?;
    let engine = Engine::new(super::connect(global).await?).await?;
    let (run_id, results, failures) =
        datatests::run_tests(&engine, &tests, &super::progress::cli()).await?;
    let passed = results.iter().filter(|r| r.status == "pass").count();
    let warned = results.iter().filter(|r| r.status == "warn").count();
    println!(
        "{passed} passed, {failures} failed, {warned} warned (system.test_results, run {run_id})"
    );
    if failures > 0 {
        bail!("{failures} data test(s) failed");
    }
    Ok(())
}

pub async fn lineage(args: &LineageArgs) -> Result<()> {
    let project = Project::load(&args.project.project)?;
    let dag = Dag::build(&project)?;
    let text = match args.format {
        LineageFormat::Mermaid => lineage::mermaid(&project, &dag),
        LineageFormat::Dot => lineage::dot(&project, &dag),
    };
    print!("{text}");
    Ok(())
}

pub async fn compile(global: &GlobalArgs, args: &CompileArgs) -> Result<()> {
    let project = Project::load(&args.project.project)?;
    let dag = Dag::build(&project)?;
    let Some(model) = project.models.get(&args.model) else {
        bail!(
            "no model {} in {}",
            args.model,
            args.project.project.display()
        );
    };
    let engine = Engine::new(super::connect(global).await?).await?;
    runner::check_sources(&engine, &project, &dag, std::slice::from_ref(&model.name)).await?;
    println!(
        "-- {} ({}) from {}",
        model.name,
        model.header.materialized,
        model.path.display()
    );
    let reads: Vec<&str> = model.deps.iter().map(|d| d.name.as_str()).collect();
    println!(
        "-- reads: {}",
        if reads.is_empty() {
            "nothing".to_string()
        } else {
            reads.join(", ")
        }
    );
    println!("{}\n", model.sql.trim_end());
    let df = engine.dataframe(&model.sql).await?;
    println!("-- logical plan\n{}", df.logical_plan().display_indent());
    let optimized = df.into_optimized_plan()?;
    println!("\n-- optimized plan\n{}", optimized.display_indent());
    Ok(())
}

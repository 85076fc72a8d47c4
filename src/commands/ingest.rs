use anyhow::{Result, bail};
use cdrlake_catalog::parse_table_name;
use clap::Args;

use crate::commands::args::GlobalArgs;
use crate::ingest::read::FileFormat;
use crate::ingest::{FileOutcome, IngestOptions, expand, ingest_file};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files, directories or glob patterns ("landing/*.csv")
    #[arg(required = true)]
    pub files: Vec<String>,
    /// Target table, e.g. bronze.voice_cdr
    #[arg(long)]
    pub into: String,
    /// File format [default: from the file extension]
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    /// Add columns the table does not have yet instead of refusing the file
    #[arg(long)]
    pub allow_new_columns: bool,
    /// Ingest a file again even if the same content was ingested before
    #[arg(long)]
    pub force: bool,
    /// After a bad file, go on with the others (each file is still all or nothing)
    #[arg(long)]
    pub keep_going: bool,
}

pub async fn run(global: &GlobalArgs, args: &IngestArgs) -> Result<()> {
    let (schema, table) = parse_table_name(&args.into)?;
    if schema != "bronze" {
        bail!("files land in bronze, not {schema}: use --into bronze.<table>");
    }
    let files = expand(&args.files)?;
    let lakehouse = super::connect_or_init(global).await?;
    let options = IngestOptions {
        table,
        format: args.format,
        allow_new_columns: args.allow_new_columns,
        force: args.force,
    };
    let mut outcomes: Vec<FileOutcome> = Vec::new();
    let started = std::time::Instant::now();
    for (i, path) in files.iter().enumerate() {
        let result = ingest_file(&lakehouse, path, &options).await;
        match &result {
            Ok(done) => println!(
                "[{}/{}] {}: {} rows into {} (batch {}, version {})",
                i + 1,
                files.len(),
                path.display(),
                done.rows,
                args.into,
                done.batch_id,
                done.version
            ),
            Err(e) => println!(
                "[{}/{}] {}: FAILED, nothing committed: {}",
                i + 1,
                files.len(),
                path.display(),
                crate::error::one_line(e)
            ),
        }
        let failed = result.is_err();
        outcomes.push(FileOutcome {
            path: path.clone(),
            result,
        });
        if failed && !args.keep_going {
            break;
        }
    }
    let ok: Vec<_> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .collect();
    let rows: usize = ok.iter().map(|o| o.rows).sum();
    let failed: Vec<&FileOutcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    println!(
        "{} file(s) ingested, {rows} rows ({:.0} rows/s); {} failed",
        ok.len(),
        rows as f64 / secs,
        failed.len()
    );
    match failed.as_slice() {
        [] => Ok(()),
        [one] => match &one.result {
            Err(e) => bail!("{}: {}", one.path.display(), crate::error::one_line(e)),
            Ok(_) => Ok(()),
        },
        many => bail!(
            "{} files failed: {}",
            many.len(),
            many.iter()
                .map(|o| o.path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

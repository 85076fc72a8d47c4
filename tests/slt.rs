//! SQL behaviour tested as data: every `tests/slt/**/*.slt` file runs against a fresh lakehouse
//! through the model runner's engine (every cdrlake UDF registered), with the sqllogictest format
//! (`statement ok`, `query TT`, `query error <text>`). Set-up data lives inside each file.
//! `RUN MODELS <selector>...` (a statement of this runner, not SQL) builds models of the shipped
//! project (`sql/`) with the model runner, so model behaviour reads as set-up, run, query.
//!
//! `cargo test --test slt` runs them all; `cargo test --test slt -- FILTER` those whose path
//! contains FILTER; `cargo test --test slt -- --complete [FILTER]` rewrites the expected results
//! from what the engine returns now (review the diff before committing it).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use cdrlake::engine::Engine;
use cdrlake::sql_write::WriteStatement;
use cdrlake_catalog::{Lakehouse, LakehouseConfig};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};

#[derive(Debug)]
struct Failure(String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

struct Db {
    engine: Engine,
}

fn rows_of(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, Failure> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure(e.to_string()))?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| {
                        let text = f.value(row).to_string();
                        // An empty string would vanish in the file's whitespace.
                        if text.is_empty() {
                            "(empty)".into()
                        } else {
                            text
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

#[async_trait::async_trait]
impl AsyncDB for Db {
    type Error = Failure;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Failure> {
        if let Some(select) = models_to_run(sql) {
            return run_models(&self.engine, select).await;
        }
        // Writes go through the Delta write path, as `cdrlake query` runs them.
        if let Some(write) = WriteStatement::parse(sql).map_err(|e| Failure(e.to_string()))? {
            let rows = write
                .execute(&self.engine)
                .await
                .map_err(|e| Failure(cdrlake::error::one_line(&e)))?;
            return Ok(DBOutput::StatementComplete(rows));
        }
        let df = self
            .engine
            .dataframe(sql)
            .await
            .map_err(|e| Failure(cdrlake::error::one_line(&e)))?;
        let columns = df.schema().fields().len();
        let batches = df
            .collect()
            .await
            .map_err(|e| Failure(cdrlake::error::one_line(&e.into())))?;
        if columns == 0 {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; columns],
            rows: rows_of(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "cdrlake"
    }
}

/// The selectors of a `RUN MODELS a b ...` statement.
fn models_to_run(sql: &str) -> Option<Vec<String>> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    match words.as_slice() {
        [run, models, selectors @ ..]
            if run.eq_ignore_ascii_case("run") && models.eq_ignore_ascii_case("models") =>
        {
            Some(selectors.iter().map(|s| s.to_string()).collect())
        }
        _ => None,
    }
}

/// Builds the selected models of `sql/`; a failed node fails the statement with its error.
async fn run_models(
    engine: &Engine,
    select: Vec<String>,
) -> Result<DBOutput<DefaultColumnType>, Failure> {
    use cdrlake::models::progress::{Progress, Quiet};
    use cdrlake::models::{Project, RunOptions, runner};
    let project = Project::load(&manifest_dir().join("sql")).map_err(|e| Failure(e.to_string()))?;
    let options = RunOptions {
        select,
        progress: Progress::new(Quiet),
        ..RunOptions::default()
    };
    let report = runner::run(engine, &project, &options)
        .await
        .map_err(|e| Failure(cdrlake::error::one_line(&e)))?;
    if let Some(failed) = report.runs.iter().find(|r| r.error.is_some()) {
        return Err(Failure(format!(
            "{}: {}",
            failed.model,
            failed.error.clone().unwrap_or_default()
        )));
    }
    Ok(DBOutput::StatementComplete(report.runs.len() as u64))
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
}

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            slt_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "slt") {
            out.push(path);
        }
    }
}

async fn run_file(path: &Path, complete: bool) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("lake");
    let (lakehouse, _) = Lakehouse::init(LakehouseConfig::local(root.to_string_lossy()))
        .await
        .map_err(|e| e.to_string())?;
    let lakehouse = Arc::new(lakehouse);
    let mut runner = Runner::new(move || {
        let lakehouse = lakehouse.clone();
        async move {
            Engine::new(lakehouse)
                .await
                .map(|engine| Db { engine })
                .map_err(|e| Failure(e.to_string()))
        }
    });
    if complete {
        runner
            .update_test_file(
                path,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::default_column_validator,
            )
            .await
            .map_err(|e| e.to_string())
    } else {
        runner
            .run_file_async(path)
            .await
            .map_err(|e| e.display(true).to_string())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let complete = args.iter().any(|a| a == "--complete");
    let filter: Option<&String> = args.iter().find(|a| !a.starts_with('-'));
    let mut files = Vec::new();
    slt_files(&manifest_dir().join("tests/slt"), &mut files);
    files.sort();
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| filter.is_none_or(|x| f.to_string_lossy().contains(x.as_str())))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let name = file.strip_prefix(manifest_dir()).unwrap_or(file).display();
        match runtime.block_on(run_file(file, complete)) {
            Ok(()) => {
                passed += 1;
                println!("ok     {name}");
            }
            Err(e) => {
                failed += 1;
                println!("FAILED {name}\n{e}");
            }
        }
    }
    // Every UDF has a file of its own cases (or shares one named for its family).
    if filter.is_none() {
        let text: String = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        let names: Vec<String> = cdrlake_udfs::all()
            .iter()
            .map(|u| u.name().to_string())
            .chain(["destination_zone".to_string()])
            .collect();
        for name in names {
            if !text.contains(&format!("{name}(")) {
                failed += 1;
                println!("FAILED no .slt file calls {name}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 || files.is_empty() {
        std::process::exit(1);
    }
}

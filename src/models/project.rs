//! A model project on disk: `sql/<schema>/<name>.sql` models, `sql/seeds/<schema>.<table>.csv`
//! seeds, `sql/tests/<name>.sql` singular tests and `sql/macros/*.sql` Jinja macros they import.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cdrlake_catalog::SCHEMAS;
use cdrlake_catalog::location::is_identifier;

use super::deps::{Reference, dependencies};
use super::header::{self, Bind, Header, Severity};
use super::seeds::{SeedColumn, seed_columns};
use super::template::render;

#[derive(Debug, Clone)]
pub struct Model {
    /// `schema.table`
    pub name: String,
    pub schema: String,
    pub table: String,
    pub path: PathBuf,
    /// The SQL of an incremental build (`is_incremental` true: what a run adds to the table).
    pub sql: String,
    /// The SQL of a first build or full refresh (`is_incremental` false); the same text unless
    /// the file tests `is_incremental`.
    pub full_sql: String,
    pub header: Header,
    /// The tables `sql` reads.
    pub deps: Vec<Reference>,
    /// The tables `full_sql` reads: what the rest of `deps` adds is read inside
    /// `{% if is_incremental %}` only (`Dag::build` tells inputs from last-run reads).
    pub full_deps: Vec<Reference>,
}

impl Model {
    /// This model as its first build or a full refresh runs it.
    pub fn full_build(&self) -> Model {
        Model {
            sql: self.full_sql.clone(),
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Seed {
    pub name: String,
    pub schema: String,
    pub table: String,
    pub path: PathBuf,
    pub columns: Vec<SeedColumn>,
}

#[derive(Debug, Clone)]
pub struct SingularTest {
    /// `tests/<file stem>`
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
    pub deps: Vec<Reference>,
    pub severity: Severity,
    /// `@bind` parameters, computed before it runs.
    pub binds: Vec<Bind>,
}

#[derive(Debug, Clone, Default)]
pub struct Project {
    pub root: PathBuf,
    pub models: BTreeMap<String, Model>,
    pub seeds: BTreeMap<String, Seed>,
    pub tests: Vec<SingularTest>,
}

fn sql_files(dir: &Path) -> Result<Vec<PathBuf>> {
    files_with_extension(dir, "sql")
}

fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    Ok(files)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Project {
    pub fn load(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            bail!(
                "model project {} does not exist (use --project DIR)",
                root.display()
            );
        }
        let mut project = Project {
            root: root.to_path_buf(),
            ..Default::default()
        };
        for schema in SCHEMAS {
            for path in sql_files(&root.join(schema))? {
                let model = load_model(root, schema, &path)?;
                project.models.insert(model.name.clone(), model);
            }
        }
        for path in files_with_extension(&root.join("seeds"), "csv")? {
            let seed = load_seed(&path)?;
            if project.models.contains_key(&seed.name) {
                bail!(
                    "{}: seed {} has the name of a model",
                    path.display(),
                    seed.name
                );
            }
            project.seeds.insert(seed.name.clone(), seed);
        }
        for path in sql_files(&root.join("tests"))? {
            let sql = render(root, &path, &read(&path)?, false)?;
            let header = header::parse_test(&sql).with_context(|| path.display().to_string())?;
            let deps = dependencies(&sql).with_context(|| path.display().to_string())?;
            project.tests.push(SingularTest {
                name: format!("tests/{}", stem(&path)),
                path,
                sql,
                deps,
                severity: header.severity.unwrap_or(Severity::Error),
                binds: header.binds,
            });
        }
        Ok(project)
    }

    pub fn is_node(&self, name: &str) -> bool {
        self.models.contains_key(name) || self.seeds.contains_key(name)
    }
}

fn load_model(root: &Path, schema: &str, path: &Path) -> Result<Model> {
    let table = stem(path);
    if !is_identifier(&table) {
        bail!(
            "{}: a model file name must be a table name (letters, digits, '_')",
            path.display()
        );
    }
    let text = read(path)?;
    let sql = render(root, path, &text, true)?;
    let full_sql = match text.contains("is_incremental") {
        true => render(root, path, &text, false)?,
        false => sql.clone(),
    };
    let at = || path.display().to_string();
    let header = header::parse(&sql).with_context(at)?;
    let name = format!("{schema}.{table}");
    let mut deps = dependencies(&sql).with_context(at)?;
    for read in header_reads(&sql, &header).with_context(at)? {
        if read.name != name && !deps.iter().any(|d| d.name == read.name) {
            deps.push(read);
        }
    }
    let full_deps = match full_sql == sql {
        true => deps.clone(),
        false => dependencies(&full_sql).with_context(at)?,
    };
    if let Some(own) = full_deps.iter().find(|d| d.name == name) {
        bail!(
            "{}:{}: {name} reads its own table outside {{% if is_incremental %}}: its first build has no table to read",
            path.display(),
            own.line
        );
    }
    let model = Model {
        name,
        schema: schema.into(),
        table,
        path: path.into(),
        sql,
        full_sql,
        header,
        deps,
        full_deps,
    };
    super::stage::check(&model).with_context(at)?;
    Ok(model)
}

/// The tables a model's header reads: its `@bind` queries (written after the model's `WITH`) and
/// its `@changed_since` marks. They run before the model's query, so they order the DAG as well.
fn header_reads(sql: &str, header: &header::Header) -> Result<Vec<Reference>> {
    let mut reads = Vec::new();
    for (bind, query) in super::binds::queries(sql, &header.binds)? {
        reads.extend(dependencies(&query).with_context(|| format!("@bind {}", bind.param))?);
    }
    reads.extend(header.changed_since.iter().map(|mark| Reference {
        name: format!("{}.{}", mark.schema, mark.table),
        line: 0,
        column: 0,
    }));
    Ok(reads)
}

fn load_seed(path: &Path) -> Result<Seed> {
    let file = stem(path);
    let (schema, table) = file
        .split_once('.')
        .filter(|(s, t)| SCHEMAS.contains(s) && is_identifier(t))
        .with_context(|| format!("{}: a seed is named <schema>.<table>.csv", path.display()))?;
    let columns = seed_columns(&read(path)?).with_context(|| path.display().to_string())?;
    Ok(Seed {
        name: file.clone(),
        schema: schema.into(),
        table: table.into(),
        path: path.into(),
        columns,
    })
}

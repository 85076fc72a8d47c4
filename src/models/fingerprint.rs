//! Skipping work that would change nothing. A table model's or seed's rows depend only on its
//! definition (SQL and header, or CSV and column types), the tests that gate it, the cdrlake
//! build (its UDFs), and the Delta versions of the tables it reads, through any views. Their
//! hash is the node's fingerprint, stamped on the commit that writes the table; a later run that
//! computes the same fingerprint while the table is still at that commit skips the build (its
//! tests still run on the table as it is, since a test may read tables the node does not): a
//! daily run with nothing new writes no new version of any model table.
//!
//! Not skipped, ever: views and incremental models (their own mechanisms), models whose SQL
//! calls a volatile function (`now()`, `random()`, ...), and `--full-refresh` runs.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::dag::Dag;
use super::datatests::DataTest;
use super::header::Materialization;
use super::project::Project;
use crate::engine::Engine;

/// The commit-info key the fingerprint is stored under.
pub const COMMIT_KEY: &str = "cdrlake.fingerprint";

/// Functions whose result changes from one run to the next with the same inputs.
const VOLATILE: [&str; 6] = [
    "now(",
    "random(",
    "current_date",
    "current_time",
    "uuid(",
    "to_unixtime()",
];

/// Whether a node may be skipped when its fingerprint is unchanged.
pub fn skippable(project: &Project, node: &str) -> bool {
    match project.models.get(node) {
        Some(model) => {
            let sql = model.sql.to_ascii_lowercase();
            model.header.materialized == Materialization::Table
                && !VOLATILE.iter().any(|f| sql.contains(f))
        }
        None => project.seeds.contains_key(node),
    }
}

/// The fingerprint of `node` as the lakehouse stands now.
pub async fn fingerprint(
    engine: &Engine,
    project: &Project,
    dag: &Dag,
    node: &str,
    tests: &[DataTest],
) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(concat!("cdrlake ", env!("CARGO_PKG_VERSION"), "\n"));
    match project.models.get(node) {
        Some(model) => hasher.update(model.sql.as_bytes()),
        None => {
            let seed = &project.seeds[node];
            hasher.update(std::fs::read(&seed.path)?);
            hasher.update(format!("{:?}", seed.columns));
        }
    }
    for test in tests {
        hasher.update(format!(
            "\ntest {} {:?}\n{}",
            test.name, test.severity, test.sql
        ));
    }
    let mut inputs = BTreeMap::new();
    collect_inputs(engine, project, dag, node, &mut inputs).await?;
    for (name, state) in &inputs {
        hasher.update(format!("\ninput {name} {state}"));
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Every table `node` reads, directly or through views, with its Delta version; each view with
/// its SQL. A table that does not exist counts as `absent`.
async fn collect_inputs(
    engine: &Engine,
    project: &Project,
    dag: &Dag,
    node: &str,
    out: &mut BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let reads: Vec<String> = dag
        .parents(node)
        .iter()
        .chain(dag.sources(node))
        .cloned()
        .collect();
    for name in reads {
        if out.contains_key(&name) {
            continue;
        }
        let view = project
            .models
            .get(&name)
            .filter(|m| m.header.materialized == Materialization::View);
        if let Some(view) = view {
            let sql_hash = format!("{:x}", Sha256::digest(view.sql.as_bytes()));
            out.insert(name.clone(), format!("view {sql_hash}"));
            Box::pin(collect_inputs(engine, project, dag, &name, out)).await?;
            continue;
        }
        let (schema, table) = name.split_once('.').unwrap_or(("", &name));
        let state = match engine.lakehouse().open_table(schema, table, None).await {
            Ok(t) => format!("version {}", t.version().unwrap_or_default()),
            Err(cdrlake_catalog::CatalogError::UnknownTable { .. }) => "absent".to_string(),
            Err(e) => return Err(e.into()),
        };
        out.insert(name, state);
    }
    Ok(())
}

/// Whether `schema.table` is still at the commit that stamped `fingerprint`.
pub async fn up_to_date(
    engine: &Engine,
    name: &str,
    fingerprint: &str,
) -> anyhow::Result<Option<u64>> {
    let (schema, table) = name.split_once('.').unwrap_or(("", name));
    Ok(
        match engine
            .lakehouse()
            .last_commit_entry(schema, table, COMMIT_KEY)
            .await?
        {
            Some((version, Some(stamped))) if stamped.as_str() == Some(fingerprint) => {
                Some(version)
            }
            _ => None,
        },
    )
}

//! The dependency graph of a project: models and seeds are nodes; tables they read that are
//! neither are sources (they must exist in the lakehouse).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};

use super::project::Project;

#[derive(Debug, Default)]
pub struct Dag {
    /// Node -> the nodes it reads.
    parents: BTreeMap<String, BTreeSet<String>>,
    /// Node -> the nodes that read it.
    children: BTreeMap<String, BTreeSet<String>>,
    /// Node -> the sources (non-project tables) it reads.
    sources: BTreeMap<String, BTreeSet<String>>,
}

impl Dag {
    pub fn build(project: &Project) -> Result<Self> {
        let mut dag = Dag::default();
        for name in project.models.keys().chain(project.seeds.keys()) {
            dag.parents.entry(name.clone()).or_default();
            dag.children.entry(name.clone()).or_default();
            dag.sources.entry(name.clone()).or_default();
        }
        for model in project.models.values() {
            // Its own table (read inside `is_incremental` only, `project.rs`) is no edge.
            for dep in model.full_deps.iter().filter(|d| d.name != model.name) {
                dag.read(project, &model.name, &dep.name);
            }
            // A relationships test is a gate on the table it refers to: that one is built first.
            for target in model
                .header
                .tests
                .iter()
                .filter_map(|t| super::datatests::referenced_table(&t.text))
            {
                if target != model.name && project.is_node(&target) {
                    dag.read(project, &model.name, &target);
                }
            }
        }
        // Inside `{% if is_incremental %}` a model may read its own table or one built from it
        // (gold.rated_cdr reads the allowance balances gold.customer_usage_to_date keeps): it
        // reads what the last run committed, so no edge. Any other table read there only is an
        // input like the rest.
        for model in project.models.values() {
            for dep in model.deps.iter().filter(|d| d.name != model.name) {
                let built_from_it = project.is_node(&dep.name)
                    && dag.closure(&dep.name, &dag.parents).contains(&model.name);
                if !built_from_it {
                    dag.read(project, &model.name, &dep.name);
                }
            }
        }
        if let Some(cycle) = dag.find_cycle() {
            bail!("dependency cycle: {}", cycle.join(" -> "));
        }
        Ok(dag)
    }

    /// `model` reads `table`: an edge from a node, else a source.
    fn read(&mut self, project: &Project, model: &str, table: &str) {
        if project.is_node(table) {
            self.parents
                .get_mut(model)
                .expect("node")
                .insert(table.into());
            self.children
                .get_mut(table)
                .expect("node")
                .insert(model.into());
        } else {
            self.sources
                .get_mut(model)
                .expect("node")
                .insert(table.into());
        }
    }

    pub fn nodes(&self) -> impl Iterator<Item = &String> {
        self.parents.keys()
    }

    pub fn parents(&self, node: &str) -> &BTreeSet<String> {
        &self.parents[node]
    }

    pub fn sources(&self, node: &str) -> &BTreeSet<String> {
        &self.sources[node]
    }

    fn find_cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        fn visit(
            dag: &Dag,
            n: &str,
            marks: &mut BTreeMap<String, Mark>,
            stack: &mut Vec<String>,
        ) -> Option<Vec<String>> {
            match marks.get(n) {
                Some(Mark::Done) => return None,
                Some(Mark::Visiting) => {
                    let start = stack.iter().position(|s| s == n).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(n.to_string());
                    return Some(cycle);
                }
                None => {}
            }
            marks.insert(n.to_string(), Mark::Visiting);
            stack.push(n.to_string());
            for p in &dag.parents[n] {
                if let Some(c) = visit(dag, p, marks, stack) {
                    return Some(c);
                }
            }
            stack.pop();
            marks.insert(n.to_string(), Mark::Done);
            None
        }
        let mut marks = BTreeMap::new();
        for n in self.parents.keys() {
            let mut stack = Vec::new();
            if let Some(mut c) = visit(self, n, &mut marks, &mut stack) {
                // The walk follows reads; show data flow instead: each model feeds the next.
                c.reverse();
                return Some(c);
            }
        }
        None
    }

    fn closure(&self, start: &str, edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.to_string()];
        while let Some(n) = todo.pop() {
            for next in &edges[&n] {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    }

    pub fn ancestors(&self, node: &str) -> BTreeSet<String> {
        self.closure(node, &self.parents)
    }

    pub fn descendants(&self, node: &str) -> BTreeSet<String> {
        self.closure(node, &self.children)
    }

    /// Nodes chosen by selectors (union): `name`, `+name` (with ancestors), `name+` (with
    /// descendants), `+name+`, `schema.*`. No selector means every node.
    pub fn select(&self, selectors: &[String]) -> Result<BTreeSet<String>> {
        if selectors.is_empty() {
            return Ok(self.parents.keys().cloned().collect());
        }
        let mut out = BTreeSet::new();
        for raw in selectors
            .iter()
            .flat_map(|s| s.split([',', ' ']))
            .filter(|s| !s.is_empty())
        {
            let up = raw.starts_with('+');
            let down = raw.ends_with('+') && raw.len() > 1;
            let core = raw.trim_start_matches('+').trim_end_matches('+');
            let matched: Vec<String> = match core.strip_suffix(".*") {
                Some(schema) => self
                    .parents
                    .keys()
                    .filter(|n| n.starts_with(&format!("{schema}.")))
                    .cloned()
                    .collect(),
                None if self.parents.contains_key(core) => vec![core.to_string()],
                None => vec![],
            };
            if matched.is_empty() {
                bail!("selector '{raw}' matches no model or seed");
            }
            for m in matched {
                if up {
                    out.extend(self.ancestors(&m));
                }
                if down {
                    out.extend(self.descendants(&m));
                }
                out.insert(m);
            }
        }
        Ok(out)
    }

    /// `selected` in dependency order; ties broken by name so runs are reproducible.
    pub fn order(&self, selected: &BTreeSet<String>) -> Vec<String> {
        let mut remaining: BTreeMap<&String, usize> =
            self.parents.iter().map(|(n, p)| (n, p.len())).collect();
        let mut ready: BTreeSet<&String> = remaining
            .iter()
            .filter(|(_, c)| **c == 0)
            .map(|(n, _)| *n)
            .collect();
        let mut out = Vec::new();
        while let Some(n) = ready.pop_first() {
            remaining.remove(n);
            if selected.contains(n) {
                out.push(n.clone());
            }
            for child in &self.children[n] {
                let count = remaining.get_mut(child).expect("acyclic");
                *count -= 1;
                if *count == 0 {
                    ready.insert(child);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::deps::Reference;
    use crate::models::header::Header;
    use crate::models::project::Model;

    fn project(edges: &[(&str, &[&str])]) -> Project {
        let mut p = Project::default();
        for (name, deps) in edges {
            let (schema, table) = name.split_once('.').unwrap();
            p.models.insert(
                name.to_string(),
                Model {
                    name: name.to_string(),
                    schema: schema.into(),
                    table: table.into(),
                    path: format!("sql/{schema}/{table}.sql").into(),
                    sql: String::new(),
                    full_sql: String::new(),
                    header: Header::default(),
                    deps: references(deps),
                    full_deps: references(deps),
                },
            );
        }
        p
    }

    fn references(names: &[&str]) -> Vec<Reference> {
        names
            .iter()
            .map(|d| Reference {
                name: d.to_string(),
                line: 1,
                column: 1,
            })
            .collect()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn order_and_selectors() {
        let p = project(&[
            ("silver.a", &["bronze.raw"]),
            ("silver.b", &["silver.a"]),
            ("gold.c", &["silver.b", "silver.a"]),
            ("gold.d", &["bronze.raw"]),
        ]);
        let dag = Dag::build(&p).unwrap();
        assert_eq!(dag.sources("silver.a"), &set(&["bronze.raw"]));
        let all = dag.select(&[]).unwrap();
        assert_eq!(
            dag.order(&all),
            vec!["gold.d", "silver.a", "silver.b", "gold.c"]
        );
        assert_eq!(
            dag.select(&["silver.b".into()]).unwrap(),
            set(&["silver.b"])
        );
        assert_eq!(
            dag.select(&["+silver.b".into()]).unwrap(),
            set(&["silver.a", "silver.b"])
        );
        assert_eq!(
            dag.select(&["silver.a+".into()]).unwrap(),
            set(&["silver.a", "silver.b", "gold.c"])
        );
        assert_eq!(
            dag.select(&["gold.*".into()]).unwrap(),
            set(&["gold.c", "gold.d"])
        );
        assert_eq!(
            dag.select(&["gold.d silver.b".into()]).unwrap(),
            set(&["gold.d", "silver.b"])
        );
        assert!(
            dag.select(&["gold.zzz".into()])
                .unwrap_err()
                .to_string()
                .contains("gold.zzz")
        );
    }

    #[test]
    fn a_referenced_table_is_built_first() {
        let mut p = project(&[
            ("gold.fact", &["bronze.raw"]),
            ("gold.dim", &["bronze.raw"]),
        ]);
        let spec = crate::models::header::TestSpec {
            text: "relationships(key, gold.dim.key)".into(),
            severity: crate::models::header::Severity::Error,
            line: 2,
        };
        p.models
            .get_mut("gold.fact")
            .unwrap()
            .header
            .tests
            .push(spec);
        let dag = Dag::build(&p).unwrap();
        assert_eq!(dag.parents("gold.fact"), &set(&["gold.dim"]));
        assert_eq!(
            dag.order(&dag.select(&[]).unwrap()),
            vec!["gold.dim", "gold.fact"]
        );
        assert_eq!(
            crate::models::datatests::referenced_table(
                "relationships(c, silver.subscriber.customer_id)"
            )
            .as_deref(),
            Some("silver.subscriber")
        );
        assert_eq!(
            crate::models::datatests::referenced_table(
                "freshness(start_time, '1 hour', silver.cdr.start_time)"
            )
            .as_deref(),
            Some("silver.cdr")
        );
        assert_eq!(
            crate::models::datatests::referenced_table("unique(c)"),
            None
        );
    }

    #[test]
    fn cycles_name_every_model_on_them() {
        let p = project(&[
            ("silver.a", &["silver.c"]),
            ("silver.b", &["silver.a"]),
            ("silver.c", &["silver.b"]),
            ("gold.x", &["silver.a"]),
        ]);
        let err = Dag::build(&p).unwrap_err().to_string();
        assert!(err.starts_with("dependency cycle: "), "{err}");
        for m in ["silver.a", "silver.b", "silver.c"] {
            assert!(err.contains(m), "{err}");
        }
        assert!(!err.contains("gold.x"), "{err}");
        // Reading its own table (as last committed) is no cycle.
        let itself = project(&[("silver.a", &["silver.a", "silver.b"]), ("silver.b", &[])]);
        let dag = Dag::build(&itself).unwrap();
        assert_eq!(
            dag.parents("silver.a").iter().collect::<Vec<_>>(),
            ["silver.b"]
        );
    }

    #[test]
    fn an_incremental_read_of_a_table_built_from_the_model_is_no_edge() {
        // gold.r reads gold.t (built from gold.r) inside `is_incremental` only, and gold.u
        // there too, which is not built from gold.r: an input like the rest.
        let mut p = project(&[
            ("gold.r", &["silver.c"]),
            ("gold.t", &["gold.r"]),
            ("gold.u", &["silver.c"]),
            ("silver.c", &[]),
        ]);
        let r = p.models.get_mut("gold.r").unwrap();
        r.deps = references(&["silver.c", "gold.t", "gold.u"]);
        let dag = Dag::build(&p).unwrap();
        assert_eq!(dag.parents("gold.r"), &set(&["silver.c", "gold.u"]));
        assert_eq!(dag.parents("gold.t"), &set(&["gold.r"]));
        // Read by its full build too, it is a cycle.
        p.models.get_mut("gold.r").unwrap().full_deps = references(&["gold.t"]);
        let err = Dag::build(&p).unwrap_err().to_string();
        assert!(err.contains("gold.r") && err.contains("gold.t"), "{err}");
    }
}

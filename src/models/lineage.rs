//! `cdrlake lineage`: the graph of sources, seeds and models as Mermaid or Graphviz dot.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::dag::Dag;
use super::project::Project;

fn id(name: &str) -> String {
    name.replace(['.', '-'], "_")
}

fn edges(project: &Project, dag: &Dag) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let mut edges = BTreeSet::new();
    let mut sources = BTreeSet::new();
    for node in dag.nodes() {
        for p in dag.parents(node) {
            edges.insert((p.clone(), node.clone()));
        }
        for s in dag.sources(node) {
            sources.insert(s.clone());
            edges.insert((s.clone(), node.clone()));
        }
    }
    let _ = project;
    (edges, sources)
}

pub fn mermaid(project: &Project, dag: &Dag) -> String {
    let (edges, sources) = edges(project, dag);
    let mut out = String::from("graph LR\n");
    for s in &sources {
        let _ = writeln!(out, "  {}[(\"{s}\")]", id(s));
    }
    for s in project.seeds.keys() {
        let _ = writeln!(out, "  {}[/\"{s}\"/]", id(s));
    }
    for (name, m) in &project.models {
        let _ = writeln!(
            out,
            "  {}[\"{name}<br/>{}\"]",
            id(name),
            m.header.materialized
        );
    }
    for (a, b) in &edges {
        let _ = writeln!(out, "  {} --> {}", id(a), id(b));
    }
    out
}

pub fn dot(project: &Project, dag: &Dag) -> String {
    let (edges, sources) = edges(project, dag);
    let mut out = String::from("digraph lineage {\n  rankdir=LR;\n");
    for s in &sources {
        let _ = writeln!(out, "  \"{s}\" [shape=cylinder];");
    }
    for s in project.seeds.keys() {
        let _ = writeln!(out, "  \"{s}\" [shape=note];");
    }
    for (name, m) in &project.models {
        let _ = writeln!(
            out,
            "  \"{name}\" [shape=box, label=\"{name}\\n{}\"];",
            m.header.materialized
        );
    }
    for (a, b) in &edges {
        let _ = writeln!(out, "  \"{a}\" -> \"{b}\";");
    }
    out.push_str("}\n");
    out
}

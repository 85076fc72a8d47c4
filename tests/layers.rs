//! The module structure a newcomer can rely on: `cli.rs` is the top and nothing imports it back,
//! the commands sit under it and nothing below imports them, and the top-level modules of the
//! crate import each other without a circle. Read from the `crate::` paths in the source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module of each file under src/, and the top-level modules its `crate::` paths name.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let targets = graph.entry(module.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            // `cdrlake_catalog::` and the like end in "crate" too only as part of a longer word.
            if text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &text[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                targets.insert(name);
            }
        }
    }
    graph
}

#[test]
fn nothing_below_the_cli_imports_it_or_the_commands() {
    let graph = imports();
    assert!(
        graph.contains_key("cli") && graph.contains_key("server"),
        "{graph:?}"
    );
    for (module, targets) in &graph {
        assert!(
            module == "cli" || !targets.contains("cli"),
            "{module} imports cli: lower layers must not depend on the command line"
        );
        assert!(
            module == "cli" || module == "commands" || !targets.contains("commands"),
            "{module} imports commands: only the CLI runs commands"
        );
    }
}

#[test]
fn the_top_level_modules_import_each_other_without_a_circle() {
    let graph = imports();
    // Kahn's algorithm: whatever cannot be ordered lies on or behind a circle.
    let mut remaining = graph.clone();
    loop {
        let leaves: Vec<String> = remaining
            .iter()
            .filter(|(_, targets)| targets.iter().all(|t| !remaining.contains_key(t)))
            .map(|(m, _)| m.clone())
            .collect();
        if leaves.is_empty() {
            break;
        }
        for leaf in leaves {
            remaining.remove(&leaf);
        }
    }
    assert!(
        remaining.is_empty(),
        "modules in an import circle (or depending on one): {remaining:?}"
    );
}

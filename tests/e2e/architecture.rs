//! The map stays true to the territory: every path ARCHITECTURE.md names exists, and the
//! server's modules import each other in one direction only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_owned()
}

/// Backticked words of ARCHITECTURE.md that look like paths (`server/src/jq/`, `tools/git.rs`).
fn named_paths(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| !w.contains(' ') && !w.contains("::") && !w.starts_with("--"))
        .filter(|w| w.ends_with(".rs") || w.ends_with('/') || w.ends_with(".md"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_path_architecture_md_names_exists() {
    let root = root();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let paths = named_paths(&text);
    assert!(paths.len() > 30, "found only {paths:?}");
    // Short paths are written relative to the crate they belong to.
    let bases = [
        "",
        "server/src",
        "forge/src",
        "harness/src",
        "server/src/tools",
    ];
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| !p.starts_with("../"))
        .filter(|p| !bases.iter().any(|b| root.join(b).join(p.as_str()).exists()))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names missing paths: {missing:?}"
    );
}

/// Top-level modules of `server/src` and the other top-level modules their non-test code
/// names through `crate::`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".rs") || name.contains("test") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            if top == "lib" || top == "main" {
                continue;
            }
            let code = std::fs::read_to_string(&path).unwrap();
            let code = code
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or_default();
            let deps = graph.entry(top.clone()).or_default();
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let dep: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !dep.is_empty() && dep != top {
                    deps.insert(dep);
                }
            }
        }
    }
    graph
}

/// Every cycle's edge `(a, b)` where `b` reaches back to `a`.
fn cyclic_edges(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<(String, String)> {
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(n) = todo.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                todo.extend(graph.get(&n).into_iter().flatten().cloned());
            }
        }
        false
    };
    let mut out = BTreeSet::new();
    for (a, deps) in graph {
        for b in deps {
            if graph.contains_key(b) && reaches(b, a) {
                out.insert((a.clone(), b.clone()));
            }
        }
    }
    out
}

#[test]
fn server_modules_import_in_one_direction() {
    let graph = module_graph(&root().join("server/src"));
    assert!(
        graph.contains_key("tools") && graph.contains_key("git"),
        "{graph:?}"
    );
    let cycles = cyclic_edges(&graph);
    assert!(
        cycles.is_empty(),
        "import cycles between server modules: {cycles:?}"
    );
}

#[test]
fn the_cycle_check_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    let edges = cyclic_edges(&graph);
    assert_eq!(edges.len(), 3, "{edges:?}");
    assert!(!edges.contains(&("d".to_owned(), "a".to_owned())));
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if !path.ends_with("target") && !path.ends_with("node_modules") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The workspace denies `unsafe` code; one module (two glibc calls that give freed memory back)
/// is allowed it. Any other file that allows it fails here, so a new exception is a decision
/// made in review, not a line slipped in.
#[test]
fn only_the_memory_module_allows_unsafe_code() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["server", "forge", "harness", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    let allowing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.contains("allow(unsafe_code)") && !f.ends_with("tests/e2e/architecture.rs")
        })
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert_eq!(allowing, ["server/src/memory.rs"]);
}

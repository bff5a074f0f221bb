//! Tests of the harness's own shape, read from its source: the top-level modules import each
//! other without a cycle, and no function outside tests is longer than [`MAX_FN_LINES`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest function allowed, in lines from `fn` to its closing brace.
const MAX_FN_LINES: usize = 80;

/// Every `.rs` file under `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A file's module path below the crate root (`run/attempt.rs` is `[run, attempt]`,
/// `run/mod.rs` is `[run]`); empty for the crate roots `lib.rs` and `main.rs`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts
}

/// Identifiers of the top-level modules a file's text names through the crate root:
/// `crate::X`, `crate::{X, Y::Z}`, and `super::` chains that climb out of the file's top-level
/// module (`super::super::X` in `a/b.rs`). A `super::` that stays inside the top-level module,
/// or that an inline `mod tests` uses for its own file, names no other module.
fn references(text: &str, depth: usize) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    let root = ["crate", "::"].concat();
    for (at, _) in text.match_indices(&root) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &text[at + root.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut level = 0usize;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => level += 1,
                    '}' if level == 0 => break,
                    '}' => level -= 1,
                    ',' if level == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && level == 0 => {
                        out.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    let up = ["super", "::"].concat();
    for (at, _) in text.match_indices(&up) {
        let mut rest = &text[at..];
        let mut climbs = 0;
        while let Some(r) = rest.strip_prefix(&up) {
            climbs += 1;
            rest = r;
        }
        // Count each chain once, from its first `super::`.
        if text[..at].ends_with(&up) {
            continue;
        }
        if depth >= 2 && climbs >= depth {
            out.insert(ident(rest));
        }
    }
    out
}

/// The graph of top-level modules: who names whom (self-references dropped).
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let files: Vec<(Vec<String>, String)> = sources(src)
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            (module_path(src, &f), text)
        })
        .collect();
    for (path, _) in &files {
        if let Some(top) = path.first() {
            graph.entry(top.clone()).or_default();
        }
    }
    let nodes: BTreeSet<String> = graph.keys().cloned().collect();
    for (path, text) in &files {
        let Some(top) = path.first() else { continue };
        let targets = references(text, path.len());
        let edges = graph.entry(top.clone()).or_default();
        edges.extend(
            targets
                .into_iter()
                .filter(|t| t != top && nodes.contains(t)),
        );
    }
    graph
}

/// A cycle of the graph, as the path `a -> b -> ... -> a`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut done, &mut Vec::new()))
}

/// The text with comments, string and character literals blanked (newlines kept), so braces
/// can be counted.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let raw_hashes = (c == 'r'
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_'))
        .then(|| {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
        })
        .flatten();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let end = (i + 2..chars.len())
                .find(|&j| chars[j] == '*' && chars.get(j + 1) == Some(&'/'))
                .map_or(chars.len(), |j| j + 2);
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if let Some(hashes) = raw_hashes {
            let body = i + 2 + hashes;
            let end = (body..chars.len())
                .find(|&j| {
                    chars[j] == '"'
                        && chars[j + 1..].iter().take(hashes).all(|&h| h == '#')
                        && j + hashes < chars.len()
                })
                .map_or(chars.len(), |j| j + 1 + hashes);
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(chars.len());
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\u{..}'); a lifetime has no closing quote.
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(chars.len());
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Functions longer than `max` lines outside `#[cfg(test)]` modules: (line, name, lines).
fn long_functions(text: &str, max: usize) -> Vec<(usize, String, usize)> {
    let code = code_only(text);
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    let mut skip_until = 0;
    for (i, line) in lines.iter().enumerate() {
        if i < skip_until {
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            // The test module (or test-only item) that follows, to its closing brace.
            skip_until = block_end(&lines, i + 1).map_or(i + 1, |e| e + 1);
            continue;
        }
        let Some(at) = find_fn(line) else { continue };
        let name: String = line[at + 3..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if let Some(end) = block_end(&lines, i) {
            let n = end - i + 1;
            if n > max {
                found.push((i + 1, name, n));
            }
        }
    }
    found
}

/// Where `fn ` starts a function in this line of code, if it does.
fn find_fn(line: &str) -> Option<usize> {
    line.match_indices("fn ").map(|(at, _)| at).find(|&at| {
        !line[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The line of the brace closing the first block that opens at or after line `from` (`None`
/// for an item without a body, which ends at `;` first).
fn block_end(lines: &[&str], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut opened = false;
    for (i, line) in lines.iter().enumerate().skip(from) {
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if opened && depth == 0 {
                        return Some(i);
                    }
                }
                ';' if !opened => return None,
                _ => {}
            }
        }
    }
    None
}

fn src_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let graph = module_graph(&src_dir());
    assert!(
        graph.contains_key("run") && graph.contains_key("meta"),
        "{graph:?}"
    );
    assert!(
        graph["run"].contains("meta"),
        "the graph misses run -> meta"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("module cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_cycle_check_sees_cycles_and_grouped_imports() {
    let text = format!(
        "use {c}::{{arm::Arm, config}};\nuse {c}::run::Config;\nfn f() {{ {s}{s}task::x(); }}\n",
        c = "crate",
        s = "super::"
    );
    let refs = references(&text, 2);
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["arm", "config", "run", "task"]
    );
    // A `super::` of an inline test module names its own file: no reference.
    assert!(references(&["use ", "super", "::*;"].concat(), 1).is_empty());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in [("meta", "config"), ("run", "meta"), ("run", "config")] {
        graph.entry(from.into()).or_default().insert(to.into());
        graph.entry(to.into()).or_default();
    }
    assert_eq!(find_cycle(&graph), None);
    if let Some(edges) = graph.get_mut("meta") {
        edges.insert("run".into());
    }
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["meta".into(), "run".into(), "meta".into()])
    );
}

#[test]
fn no_function_is_longer_than_80_lines() {
    let mut long = Vec::new();
    for file in sources(&src_dir()) {
        // Test-only files (`#[cfg(test)] mod tests;`) are tests.
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (line, name, n) in long_functions(&text, MAX_FN_LINES) {
            long.push(format!("{}:{line} {name} ({n} lines)", file.display()));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn function_lengths_are_counted_on_code_only() {
    let text = [
        "fn short() {\n",
        "    let s = \"}}}\"; let c = '}'; let r = r#\"{\"#; // }\n",
        "    let l: &'static str = s;\n",
        "}\n",
        "pub async fn long<'a>(x: &'a str) -> Option<()> {\n",
        &"    x.len();\n".repeat(3),
        "}\n",
        "#[cfg(test)]\nmod tests {\n    fn also_long() {\n\n\n\n\n    }\n}\n",
    ]
    .concat();
    assert_eq!(long_functions(&text, 4), [(5, "long".to_owned(), 5)]);
    assert!(long_functions(&text, 5).is_empty());
}

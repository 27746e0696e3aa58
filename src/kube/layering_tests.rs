//! Test: the imports among `src/kube/*` files form no cycle, and `discovery.rs` (pure mapping
//! from documents) never names the REST client that fetches them. Read from the source, so a
//! `use` that breaks the rule fails here instead of drifting.

use std::collections::{BTreeMap, BTreeSet};

/// The kube modules' source, read at test time from the checkout.
fn kube_sources() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/kube");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/kube is readable") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 file name")
                .to_string();
            let text = std::fs::read_to_string(&path).expect("source is UTF-8");
            files.push((stem, text));
        }
    }
    files.sort();
    files
}

/// The code of a file without its tests (by convention at the end, from the first
/// `#[cfg(test)]`) and without comments, where `super::` in prose is no import.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.find("//").map_or(line, |at| &line[..at]);
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The leading identifier of `s` and what follows it.
fn ident(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// The first path segment of every item a `super::`/`crate::kube::` path names: `x` for
/// `super::x::y`, and each of `a`, `b` for `super::{a::c, b}`.
fn named_after(rest: &str) -> Vec<&str> {
    let rest = rest.trim_start();
    let Some(group) = rest.strip_prefix('{') else {
        let (name, _) = ident(rest);
        return vec![name];
    };
    let mut depth = 0;
    let mut end = group.len();
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                end = i;
                break;
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    let mut names = Vec::new();
    let mut depth = 0;
    let mut item_start = 0;
    let body = &group[..end];
    for (i, c) in body.char_indices().chain([(body.len(), ',')]) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let (name, _) = ident(body[item_start..i].trim_start());
                if !name.is_empty() {
                    names.push(name);
                }
                item_start = i + 1;
            }
            _ => {}
        }
    }
    names
}

/// Module → modules its code names. Items re-exported by `mod.rs` (`pub use error::Error`)
/// count as their defining file; items `mod.rs` defines itself (`lock`) count as `mod`.
fn module_graph(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mod_code = files
        .iter()
        .find(|(stem, _)| stem == "mod")
        .map(|(_, text)| code_of(text))
        .unwrap_or_default();
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for line in mod_code.lines().map(str::trim) {
        let line = ["pub(crate) ", "pub "]
            .iter()
            .find_map(|p| line.strip_prefix(p))
            .unwrap_or(line);
        if let Some(name) = line.strip_prefix("mod ") {
            modules.insert(ident(name).0.to_string());
        } else if let Some(path) = line.strip_prefix("use ") {
            let (from, rest) = ident(path);
            if let Some(rest) = rest.strip_prefix("::") {
                for item in named_after(rest) {
                    reexports.insert(item.to_string(), from.to_string());
                }
            }
        }
    }
    let mut graph = BTreeMap::new();
    for (stem, text) in files {
        if stem != "mod" && !modules.contains(stem) {
            // Test-only files (`client_tests.rs`) are no module of their own.
            continue;
        }
        let code = code_of(text);
        let mut uses = BTreeSet::new();
        // In mod.rs, `use x::...` lines are the re-exports resolved above, not dependencies.
        let own_code: String = if stem == "mod" { String::new() } else { code };
        for prefix in ["super::", "crate::kube::"] {
            for (at, _) in own_code.match_indices(prefix) {
                for name in named_after(&own_code[at + prefix.len()..]) {
                    let target = if modules.contains(name) {
                        name.to_string()
                    } else if let Some(from) = reexports.get(name) {
                        from.clone()
                    } else {
                        "mod".to_string()
                    };
                    if &target != stem && name != "self" {
                        uses.insert(target);
                    }
                }
            }
        }
        graph.insert(stem.clone(), uses);
    }
    graph
}

/// A cycle as the modules along it (first repeated at the end), if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn kube_modules_import_each_other_without_a_cycle() {
    let graph = module_graph(&kube_sources());
    // The graph is real: the client uses discovery, config and the list reader.
    let client = &graph["client"];
    for needed in ["discovery", "config", "list", "auth", "mod", "error"] {
        assert!(client.contains(needed), "client uses {needed}: {client:?}");
    }
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle among src/kube files: {}", cycle.join(" → "));
    }
}

#[test]
fn discovery_never_names_the_client() {
    let graph = module_graph(&kube_sources());
    let uses = &graph["discovery"];
    assert!(
        !uses.contains("client"),
        "discovery.rs imports the client: {uses:?}"
    );
    let (_, text) = kube_sources()
        .into_iter()
        .find(|(stem, _)| stem == "discovery")
        .expect("discovery.rs");
    let code = code_of(&text);
    assert!(
        !code.contains("Client") && !code.contains("client::"),
        "discovery.rs names the client; it must build from documents it is given"
    );
}

#[test]
fn the_checks_catch_a_planted_cycle() {
    let file = |stem: &str, text: &str| (stem.to_string(), text.to_string());
    let files = vec![
        file(
            "mod",
            "pub mod client;\npub mod discovery;\nmod error;\npub use error::{Error, Status};\npub(crate) fn lock() {}\n",
        ),
        file(
            "client",
            "use super::discovery::{self, Discovery};\nuse super::Error;\n",
        ),
        file(
            "discovery",
            "// super::error in a comment is no import\nuse super::{Error, lock};\nfn f() { super::client::get(); }\n#[cfg(test)]\nuse super::nothing::Else;\n",
        ),
        file("error", "use super::{lock};\n"),
        file("client_tests", "use super::client::Client;\n"),
    ];
    let graph = module_graph(&files);
    assert_eq!(
        graph["client"],
        BTreeSet::from(["discovery".into(), "error".into()])
    );
    assert_eq!(
        graph["discovery"],
        BTreeSet::from(["client".into(), "error".into(), "mod".into()])
    );
    assert!(
        graph["mod"].is_empty(),
        "re-exports are not mod.rs's own imports"
    );
    assert!(!graph.contains_key("client_tests"));
    let cycle = find_cycle(&graph).expect("client → discovery → client");
    assert_eq!(cycle, ["client", "discovery", "client"]);
}

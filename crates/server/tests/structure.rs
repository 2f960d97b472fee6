//! The workspace's module structure: no module uses a module that uses it
//! back, in any crate (a circle is a design smell to remove, not to
//! explain). Read from the source: every `crate::…` and `super::…` path
//! outside test modules is an arrow from its file to the module it names;
//! paths through the crate root's re-exports are followed to the module
//! that defines the item.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A crate's modules: module path (`""` for the root, `a::b`) → source.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let has_lib = src.join("lib.rs").exists();
    let mut out = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        match parts.last().map(String::as_str) {
            // Beside a library, the binary is a crate of its own that uses
            // the library by name; alone, it is the root.
            Some("main") if parts.len() == 1 && has_lib => continue,
            Some("lib" | "main") if parts.len() == 1 => parts.clear(),
            Some("mod") => {
                parts.pop();
            }
            _ => {}
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Test modules may use anything.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        out.insert(parts.join("::"), code);
    }
    out
}

/// The paths a source names after `prefix` (`crate::` or `super::`),
/// with one level of `{…}` groups expanded.
fn paths(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let after = &rest[path.len()..];
        if path.ends_with("::") && after.starts_with('{') {
            let group = &after[1..after.find('}').unwrap_or(after.len())];
            for item in group.split(',') {
                let item: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                if !item.is_empty() {
                    out.push(format!("{path}{item}"));
                }
            }
        } else if after.starts_with('{') && path.is_empty() {
            let group = &after[1..after.find('}').unwrap_or(after.len())];
            out.extend(
                group
                    .split(',')
                    .map(|s| s.trim().split(' ').next().unwrap_or("").to_string())
                    .filter(|s| !s.is_empty()),
            );
        } else {
            out.push(path.trim_end_matches("::").to_string());
        }
    }
    out
}

/// Where the crate root re-exports each name from (`pub use a::b::{X, Y}`).
fn reexports(root: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let flat = root.replace('\n', " ");
    for statement in flat.split(';') {
        let Some(at) = statement.find("pub use ") else {
            continue;
        };
        let body = statement[at + 8..].trim();
        let (module, names) = match body.split_once("::{") {
            Some((m, rest)) => (m.to_string(), rest.trim_end_matches('}').to_string()),
            None => match body.rsplit_once("::") {
                Some((m, name)) => (m.to_string(), name.to_string()),
                None => continue,
            },
        };
        for name in names.split(',') {
            let name = name.trim();
            let exported = name.rsplit(" as ").next().unwrap_or(name).trim();
            let source = name.split(" as ").next().unwrap_or(name).trim();
            let inner = source.rsplit_once("::").map(|(m, _)| m);
            let module = match inner {
                Some(m) => format!("{module}::{m}"),
                None => module.clone(),
            };
            if !exported.is_empty() {
                out.insert(exported.to_string(), module);
            }
        }
    }
    out
}

/// The module a path lands in: the longest module prefix of it.
fn resolve(
    path: &str,
    modules: &BTreeMap<String, String>,
    reexports: &BTreeMap<String, String>,
) -> String {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    for n in (1..=parts.len()).rev() {
        let candidate = parts[..n].join("::");
        if modules.contains_key(&candidate) {
            return candidate;
        }
    }
    match parts.first().and_then(|first| reexports.get(*first)) {
        Some(module) if modules.contains_key(module) => module.clone(),
        _ => String::new(),
    }
}

/// Arrows between the modules of one crate.
fn arrows(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let reexports = reexports(modules.get("").map_or("", String::as_str));
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &modules {
        let targets = out.entry(module.clone()).or_default();
        // The root only declares modules and re-exports their items.
        let own_code = if module.is_empty() {
            String::new()
        } else {
            code.clone()
        };
        for path in paths(&own_code, "crate::") {
            targets.insert(resolve(&path, &modules, &reexports));
        }
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
        for path in paths(&own_code, "super::") {
            let full = if parent.is_empty() {
                path
            } else {
                format!("{parent}::{path}")
            };
            targets.insert(resolve(&full, &modules, &reexports));
        }
        targets.remove(module);
    }
    out
}

fn find_circle(arrows: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        arrows: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in arrows.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, arrows, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in arrows.keys() {
        if let Some(c) = visit(node, arrows, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_module_uses_a_module_that_uses_it() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for entry in std::fs::read_dir(&crates).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let arrows = arrows(&src);
        assert!(arrows.contains_key(""), "{} has a root", src.display());
        if let Some(circle) = find_circle(&arrows) {
            let shown: Vec<String> = circle
                .iter()
                .map(|m| {
                    if m.is_empty() {
                        "(root)".into()
                    } else {
                        m.clone()
                    }
                })
                .collect();
            panic!("{}: import circle {}", src.display(), shown.join(" -> "));
        }
        checked += 1;
    }
    assert!(checked >= 5, "found {checked} crates");
}

#[test]
fn the_checker_sees_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\npub use a::A;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    std::fs::write(
        src.join("b.rs"),
        "pub struct B;\nfn f() -> crate::A { crate::A }\n",
    )
    .unwrap();
    let arrows = arrows(src);
    assert_eq!(arrows["a"], BTreeSet::from(["b".to_string()]));
    assert_eq!(
        arrows["b"],
        BTreeSet::from(["a".to_string()]),
        "followed through the re-export"
    );
    assert!(find_circle(&arrows).is_some());
    std::fs::write(src.join("b.rs"), "pub struct B;\n").unwrap();
    assert!(find_circle(&self::arrows(src)).is_none());
}

//! The module graph stays a ladder: every `crate::` path in `src/` points at a lower layer,
//! and no submodule of a top-level module uses a sibling that uses it back (directly or round
//! a loop). Read from the source text (code only: comments and unit tests are skipped), so a
//! failure prints the arrows that break the order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, lowest first. A module may use modules of lower layers only (not
/// its own layer's).
const LAYERS: &[&[&str]] = &[
    &["format", "safe_text"],
    // Transports below the protocol.
    &["ssh", "libvirt"],
    &["qmp"],
    &["snapshot", "monitor"],
    // What the background tasks tell the app loop.
    &["news"],
    &["collect"],
    &["cli"],
    &["config"],
    &["app"],
    // `runtime` carries out the app's effects; `ui` draws its model.
    &["runtime", "ui"],
    &["tui", "batch", "exporter"],
    &["demo"],
];

/// Arrows that still break the order, each with the work that removes it (none left: an
/// entry no arrow needs is an error too).
const KNOWN_EXCEPTIONS: &[(&str, &str)] = &[];

/// A source file's module path (`src/app/vm.rs` is `["app", "vm"]`) and its text.
fn sources() -> Vec<(Vec<String>, String)> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&src).unwrap().with_extension("");
            let module = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may reach anywhere; and `super::` inside them means the file itself.
            let code = text.split("\n#[cfg(test)]\nmod tests").next().unwrap_or("");
            // Comments (doc links among them) are no arrows: only code is read.
            let code = code
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            (module, code)
        })
        .filter(|(module, _): &(Vec<String>, String)| !matches!(module[0].as_str(), "lib" | "main"))
        .collect()
}

/// The identifier at the start of `text`.
fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The module paths `text` (the file of `module`) names, made absolute: `crate::a::b`,
/// `super::b` and `super::{b, c}`, with the first two names of each.
fn named_paths(module: &[String], text: &str) -> BTreeSet<Vec<String>> {
    let mut paths = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        if text[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `qemu_dash_crate::` and the like
        }
        let mut rest = &text[at + "crate::".len()..];
        let mut path = Vec::new();
        while path.len() < 2 && !ident(rest).is_empty() {
            path.push(ident(rest).to_string());
            rest = &rest[ident(rest).len()..];
            rest = rest.strip_prefix("::").unwrap_or("");
        }
        paths.insert(path);
    }
    for (at, _) in text.match_indices("super::") {
        if text[..at].ends_with("super::") || text[..at].ends_with(|c: char| c.is_alphanumeric()) {
            continue; // counted from the first `super::` of a chain
        }
        let mut rest = &text[at..];
        let mut base = module.to_vec();
        while let Some(after) = rest.strip_prefix("super::") {
            base.pop();
            rest = after;
        }
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group
                .split('}')
                .next()
                .unwrap_or("")
                .split(',')
                .map(|item| ident(item.trim()))
                .collect(),
            None => vec![ident(rest)],
        };
        for name in names.into_iter().filter(|name| !name.is_empty()) {
            let mut path = base.clone();
            path.push(name.to_string());
            paths.insert(path);
        }
    }
    paths
}

/// Arrows between top-level modules, and between the direct submodules of each, with a file
/// that draws each arrow.
type Arrows = BTreeMap<(String, String), String>;

fn arrows() -> (Arrows, BTreeMap<String, Arrows>) {
    let sources = sources();
    let modules: BTreeSet<Vec<String>> = sources
        .iter()
        .flat_map(|(module, _)| (1..=module.len()).map(|len| module[..len].to_vec()))
        .collect();
    let mut top = Arrows::new();
    let mut inner: BTreeMap<String, Arrows> = BTreeMap::new();
    for (module, text) in &sources {
        let file = format!("src/{}.rs", module.join("/"));
        for path in named_paths(module, text) {
            let Some(first) = path.first() else { continue };
            if !modules.contains(&vec![first.clone()]) {
                continue;
            }
            if first != &module[0] {
                top.entry((module[0].clone(), first.clone()))
                    .or_insert_with(|| file.clone());
            } else if module.len() >= 2
                && path.len() >= 2
                && path[1] != module[1]
                && modules.contains(&path[..2])
            {
                inner
                    .entry(module[0].clone())
                    .or_default()
                    .entry((module[1].clone(), path[1].clone()))
                    .or_insert_with(|| file.clone());
            }
        }
    }
    (top, inner)
}

/// A loop among `arrows`, if there is one (as the modules on it, the first repeated last).
fn find_cycle(arrows: &Arrows) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        arrows: &Arrows,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for (_, to) in arrows.keys().filter(|(from, _)| from == node) {
            if let Some(cycle) = visit(to, arrows, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    arrows
        .keys()
        .find_map(|(from, _)| visit(from, arrows, &mut Vec::new(), &mut done))
}

/// `a -> b, c` lines, one per module.
fn listing(arrows: &Arrows) -> String {
    let mut by_module: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in arrows.keys() {
        by_module.entry(from).or_default().push(to);
    }
    by_module
        .iter()
        .map(|(from, to)| format!("{from} -> {}\n", to.join(", ")))
        .collect()
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn top_level_modules_only_use_lower_layers() {
    let (top, _) = arrows();
    let mut broken = Vec::new();
    for ((from, to), file) in &top {
        if KNOWN_EXCEPTIONS.contains(&(from.as_str(), to.as_str())) {
            continue;
        }
        match (layer_of(from), layer_of(to)) {
            (Some(high), Some(low)) if low < high => {}
            (None, _) => broken.push(format!("{from} is in no layer (add it to LAYERS)")),
            (_, None) => broken.push(format!("{to} is in no layer (add it to LAYERS)")),
            _ => broken.push(format!("{from} -> {to} (in {file}) points up or sideways")),
        }
    }
    for (from, to) in KNOWN_EXCEPTIONS {
        if !top.contains_key(&(from.to_string(), to.to_string())) {
            broken.push(format!(
                "{from} -> {to} is gone: take it off KNOWN_EXCEPTIONS"
            ));
        }
    }
    assert!(
        broken.is_empty() && find_cycle(&top).is_none(),
        "{}\ncycle: {:?}\nthe arrows now:\n{}",
        broken.join("\n"),
        find_cycle(&top),
        listing(&top)
    );
}

#[test]
fn submodules_do_not_use_each_other_in_a_loop() {
    let (_, inner) = arrows();
    let cycles: Vec<String> = inner
        .iter()
        .filter_map(|(parent, arrows)| {
            let cycle = find_cycle(arrows)?;
            let files: Vec<&String> = cycle
                .windows(2)
                .filter_map(|pair| arrows.get(&(pair[0].clone(), pair[1].clone())))
                .collect();
            Some(format!(
                "{parent}: {} (drawn in {files:?})",
                cycle.join(" -> ")
            ))
        })
        .collect();
    assert!(cycles.is_empty(), "{}", cycles.join("\n"));
}

#[test]
fn the_reader_sees_the_arrows_it_must_see() {
    // A check of the checker: it finds both kinds of path in a file's text.
    let module = ["collect".to_string(), "poller".to_string()];
    let paths = named_paths(
        &module,
        "use super::{host::HostReader, rates};\nuse crate::news::AppEvent;\nsuper::super::qmp::X",
    );
    let expected: BTreeSet<Vec<String>> = [
        vec!["collect", "host"],
        vec!["collect", "rates"],
        vec!["news", "AppEvent"],
        vec!["qmp"],
    ]
    .into_iter()
    .map(|path| path.into_iter().map(String::from).collect())
    .collect();
    assert_eq!(paths, expected);
    let mut arrows = Arrows::new();
    arrows.insert(("a".into(), "b".into()), String::new());
    arrows.insert(("b".into(), "a".into()), String::new());
    assert_eq!(
        find_cycle(&arrows),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}

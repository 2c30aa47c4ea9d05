//! What the README and the published manifests promise about setting up:
//! the dependency snippet names every crate the README's code uses, and
//! each published crate's metadata is where crates.io reads it.

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The fenced blocks of `language` (the info string's first word).
fn blocks<'a>(text: &'a str, language: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let line_end = after.find('\n').unwrap_or(after.len());
        let info = after[..line_end].trim();
        let body = &after[line_end..];
        let Some(end) = body.find("\n```") else { break };
        if info.split([',', ' ']).next() == Some(language) {
            found.push(&body[..end]);
        }
        rest = &body[end + 4..];
    }
    found
}

/// The crate names the Rust code refers to by path: the first segment of
/// `use` trees and of `name::` paths not reached through `.` or `::`.
fn crates_used(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_use_tree = false;
    for line in code.lines() {
        let line = line.trim_start().trim_start_matches("# ");
        if in_use_tree {
            in_use_tree = !line.contains('}');
            continue;
        }
        if let Some(tree) = line
            .strip_prefix("use ")
            .or_else(|| line.strip_prefix("pub use "))
        {
            if let Some((first, _)) = tree.split_once("::") {
                names.insert(first.trim().to_owned());
            }
            in_use_tree = tree.contains('{') && !tree.contains('}');
            continue;
        }
        let mut index = 0;
        while let Some(found) = line[index..].find("::") {
            let at = index + found;
            let start = line[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let word = &line[start..at];
            let reached = matches!(line[..start].chars().last(), Some('.' | ':' | '>'));
            if !word.is_empty()
                && !reached
                && word.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            {
                names.insert(word.to_owned());
            }
            index = at + 2;
        }
    }
    names
}

#[test]
fn the_dependency_snippet_names_every_crate_the_readme_uses() {
    let text = readme();
    let toml = blocks(&text, "toml");
    let snippet = toml
        .iter()
        .find(|block| block.contains("angzarr-client ="))
        .expect("a toml block adding angzarr-client");
    let declared: BTreeSet<String> = snippet
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .filter(|name| !name.is_empty() && !name.starts_with('[') && !name.starts_with('#'))
        .map(|name| name.replace('-', "_"))
        .collect();
    // Always there; and this repository's own example crate, which the
    // README says its snippets borrow their poker types from.
    let given: BTreeSet<String> = ["std", "core", "alloc", "crate", "self", "super", "examples"]
        .into_iter()
        .map(String::from)
        .collect();
    let mut missing = Vec::new();
    for code in blocks(&text, "rust") {
        for name in crates_used(code) {
            let module_of_a_crate = [
                "type_url",
                "identity",
                "time",
                "runtime",
                "settings",
                "cloudevents",
                "testing",
                "prelude",
                "proto",
            ];
            if !declared.contains(&name)
                && !given.contains(&name)
                && !module_of_a_crate.contains(&name.as_str())
            {
                missing.push(name);
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "the README's code uses crates its Cargo.toml snippet does not list: {missing:?}"
    );
}

#[test]
fn the_crate_finder_sees_paths_but_not_methods() {
    let used = crates_used(
        "use angzarr_client::{prelude::*, DomainClient};\nlet x = uuid::Uuid::new_v4();\nlet y = \"1\".parse::<u8>();\nDomainClient::connect(a);\nbook.events_of::<NoOp>();",
    );
    assert_eq!(
        used.into_iter().collect::<Vec<_>>(),
        ["angzarr_client", "uuid"]
    );
}

#[test]
fn published_crates_declare_their_categories_in_package() {
    for krate in [
        "angzarr-proto",
        "angzarr-macros",
        "angzarr-client",
        "angzarr-local",
    ] {
        let manifest = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).unwrap();
        let mut section = String::new();
        let mut found = None;
        for line in manifest.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.to_owned();
            } else if line.starts_with("categories") {
                found = Some(section.clone());
            }
        }
        assert_eq!(found.as_deref(), Some("[package]"), "{krate}: categories");
    }
}

#[test]
fn published_crates_package_only_what_builds_them() {
    for krate in [
        "angzarr-proto",
        "angzarr-macros",
        "angzarr-client",
        "angzarr-local",
    ] {
        let manifest = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).unwrap();
        let include = manifest
            .lines()
            .find_map(|line| line.trim().strip_prefix("include = "))
            .unwrap_or_else(|| panic!("{krate}: an include list"));
        let entries: Vec<&str> = include
            .trim_matches(['[', ']'])
            .split(',')
            .map(|entry| entry.trim().trim_matches('"'))
            .collect();
        for entry in entries {
            assert!(
                ["src/**", "proto/**", "build.rs"].contains(&entry),
                "{krate} packages {entry}: tests and benches need this repository"
            );
        }
    }
}

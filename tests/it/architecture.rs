//! The module boundaries of docs/decisions/0003-provider-boundary.md, checked on the source:
//! `spec` and `plan` are pure (no async runtime, no HTTP, no engine, provider, simulator or
//! renderer), the engine and the providers never reach the simulator, and libraries never
//! print.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Code lines of `module` (under `src/`) that mention any of `forbidden`, as `file:line: text`.
/// Comment lines are skipped: a doc comment may name the layer it must not import.
fn offenders(module: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(module);
    let mut files = Vec::new();
    if root.is_dir() {
        rust_files(&root, &mut files);
    } else {
        files.push(root.with_extension("rs"));
    }
    assert!(!files.is_empty(), "no source under {}", root.display());
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for f in forbidden {
                if mentions(code, f) {
                    out.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    out
}

/// True when `code` contains `word` not preceded by an identifier character (`sim::` is not
/// found in `strsim::levenshtein`).
fn mentions(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(i, _)| {
        !code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

const IMPURE: &[&str] = &[
    "tokio",
    "reqwest",
    "axum",
    "crate::engine",
    "crate::redfish",
    "crate::os",
    "crate::sim",
    "crate::render",
    "crate::ops",
    "crate::cli",
    "std::net",
    "std::process",
];

#[test]
fn spec_and_plan_import_no_runtime_network_provider_simulator_or_renderer() {
    for module in ["spec", "plan"] {
        let bad = offenders(module, IMPURE);
        assert!(
            bad.is_empty(),
            "src/{module} must stay pure:\n{}",
            bad.join("\n")
        );
    }
}

#[test]
fn the_boundary_check_sees_a_forbidden_import() {
    // The check itself can fail: the Redfish client does use tokio, and a word inside
    // another identifier is not a mention.
    assert!(!offenders("redfish", &["tokio"]).is_empty());
    assert!(mentions("use crate::sim::SimHandle;", "crate::sim"));
    assert!(!mentions("strsim::levenshtein(a, b)", "sim::"));
}

#[test]
fn only_the_cli_tests_and_benches_wire_in_the_simulator() {
    for module in ["engine", "redfish", "os", "ops", "plan", "spec", "render"] {
        let bad = offenders(module, &["crate::sim", "sim::"]);
        assert!(
            bad.is_empty(),
            "src/{module} must not import the simulator:\n{}",
            bad.join("\n")
        );
    }
}

#[test]
fn libraries_never_print() {
    for module in [
        "spec", "plan", "engine", "redfish", "os", "ops", "render", "sim",
    ] {
        let bad = offenders(
            module,
            &["println!", "eprintln!", "print!(", "eprint!(", "dbg!("],
        );
        assert!(
            bad.is_empty(),
            "src/{module} prints; return the text instead:\n{}",
            bad.join("\n")
        );
    }
}

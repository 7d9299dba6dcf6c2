//! Golden tests: one test per directory under `tests/golden/` holding a `cmd` file.
//!
//! A case directory holds:
//! - `cmd`: the `bmfleet` arguments on one line; `{fleet}` is replaced with the fleet root
//!   the case prepares (see below).
//! - the input fleet: a `fleet/` directory, or a `fleet-from` file naming a directory of
//!   this repo to copy (`examples/fleet`), or `commits/<n>-<message>/` snapshots committed
//!   in order to a fresh Git repo with a fixed author and date (so SHAs are stable).
//! - `expected/stdout`, `expected/stderr`, `expected/status`: what the run must print.
//!
//! Runs are deterministic: no colour (`NO_COLOR=1`), width 100, the fleet copied to a temp
//! directory outside any Git repo. `BMFLEET_BLESS=1 cargo test --test it golden` rewrites the
//! expected files; review the diff before committing. `BMFLEET_GOLDEN=substring` runs only the
//! cases whose directory name contains it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let ty = entry.file_type()?;
        if ty.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if ty.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn commit_snapshots(case: &Path, root: &Path) -> Result<bool, Box<dyn std::error::Error>> {
    let commits = case.join("commits");
    if !commits.is_dir() {
        return Ok(false);
    }
    let mut snaps: Vec<PathBuf> = std::fs::read_dir(&commits)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    snaps.sort();
    let repo = git2::Repository::init(root)?;
    let mut parent: Option<git2::Oid> = None;
    for (i, snap) in snaps.iter().enumerate() {
        // Replace the work tree with the snapshot.
        for entry in std::fs::read_dir(root)? {
            let entry = entry?;
            if entry.file_name() == ".git" {
                continue;
            }
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(entry.path())?;
            } else {
                std::fs::remove_file(entry.path())?;
            }
        }
        copy_dir(snap, root)?;
        let mut index = repo.index()?;
        index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
        index.update_all(["*"], None)?;
        index.write()?;
        let tree = repo.find_tree(index.write_tree()?)?;
        let time = git2::Time::new(1_767_225_600 + 3600 * i as i64, 0);
        let sig = git2::Signature::new("bmfleet tests", "tests@bmfleet.invalid", &time)?;
        let name = snap
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let message = name
            .split_once('-')
            .map_or(name.as_str(), |(_, m)| m)
            .replace('-', " ");
        let parents: Vec<git2::Commit> = parent
            .map(|p| repo.find_commit(p))
            .transpose()?
            .into_iter()
            .collect();
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        let oid = repo.commit(Some("HEAD"), &sig, &sig, &message, &tree, &refs)?;
        parent = Some(oid);
    }
    Ok(true)
}

fn run_case(cmd_path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let case = cmd_path
        .parent()
        .ok_or("cmd has no parent directory")?
        .to_path_buf();
    let repo_root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir()?;
    let fleet = tmp.path().join("fleet");
    if case.join("fleet").is_dir() {
        copy_dir(&case.join("fleet"), &fleet)?;
    } else if case.join("fleet-from").is_file() {
        let from = std::fs::read_to_string(case.join("fleet-from"))?;
        copy_dir(&repo_root.join(from.trim()), &fleet)?;
    } else {
        std::fs::create_dir_all(&fleet)?;
        commit_snapshots(&case, &fleet)?;
    }
    let line = std::fs::read_to_string(cmd_path)?;
    let fleet_str = fleet.to_string_lossy().into_owned();
    let args: Vec<String> = line
        .split_whitespace()
        .map(|a| a.replace("{fleet}", &fleet_str))
        .collect();
    let output = Command::new(env!("CARGO_BIN_EXE_bmfleet"))
        .args(&args)
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("BMFLEET_FLEET")
        .env_remove("RUST_LOG")
        .output()?;
    let redact = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .replace(&fleet_str, "[FLEET]")
            .replace(&tmp.path().to_string_lossy().into_owned(), "[TMP]")
    };
    let stdout = redact(&output.stdout);
    let stderr = redact(&output.stderr);
    let status = format!("{}\n", output.status.code().unwrap_or(-1));
    let expected = case.join("expected");
    let bless = std::env::var_os("BMFLEET_BLESS").is_some();
    let mut failures = Vec::new();
    for (name, actual) in [
        ("stdout", &stdout),
        ("stderr", &stderr),
        ("status", &status),
    ] {
        let path = expected.join(name);
        if bless {
            std::fs::create_dir_all(&expected)?;
            if actual.is_empty() && name != "status" {
                let _ = std::fs::remove_file(&path);
            } else {
                std::fs::write(&path, actual)?;
            }
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if &want != actual {
            let diff = similar::TextDiff::from_lines(want.as_str(), actual.as_str())
                .unified_diff()
                .header("expected", "actual")
                .to_string();
            failures.push(format!("{name} differs for {}:\n{diff}", case.display()));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n(run `BMFLEET_BLESS=1 cargo test --test it golden` to accept, then review the diff)",
            failures.join("\n")
        )
        .into())
    }
}

/// Every case directory under `tests/golden/` (those holding a `cmd` file), sorted.
fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let filter = std::env::var("BMFLEET_GOLDEN").unwrap_or_default();
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("cmd").is_file())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(&filter))
        })
        .collect();
    out.sort();
    out
}

/// Runs every case on as many threads as there are cores and reports all failures at once.
#[test]
fn golden_cases() {
    let cases = cases();
    assert!(
        std::env::var_os("BMFLEET_GOLDEN").is_some() || cases.len() >= 100,
        "expected at least 100 golden cases, found {}",
        cases.len()
    );
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = cases.len().div_ceil(threads).max(1);
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .filter_map(|case| {
                            run_case(&case.join("cmd"))
                                .err()
                                .map(|e| format!("golden case {}: {e}", case.display()))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

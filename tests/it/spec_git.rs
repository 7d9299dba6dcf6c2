//! Reading specs from Git: `--ref` reads a commit (HEAD~1, a branch, a SHA) without touching
//! the work tree; the work tree reports the commit it sits on and whether it is dirty; a
//! fleet may live in a subdirectory of the repository; every command names the commit read.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FLEET: &str = "apiVersion: bmfleet.dev/v1alpha1
kind: Fleet
metadata: {name: git}
spec:
  credentials:
    bmc: {}
  defaults:
    bmc: {credentialsRef: bmc}
";

fn hosts(mtu: u32) -> String {
    format!(
        "apiVersion: bmfleet.dev/v1alpha1
kind: Host
metadata: {{name: n1}}
spec:
  bmc: {{endpoint: https://10.0.0.1}}
  network:
    interfaces:
      - {{name: ens1f0, type: ethernet, mtu: {mtu}}}
"
    )
}

/// A Git repository in a temp dir, committed to with a fixed author.
struct Repo {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: git2::Repository,
    commits: usize,
}

impl Repo {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        let repo = git2::Repository::init(&root).unwrap();
        Self {
            _tmp: tmp,
            root,
            repo,
            commits: 0,
        }
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }

    /// Commits the whole work tree (additions, changes and deletions) on HEAD.
    fn commit(&mut self, message: &str) -> String {
        let mut index = self.repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let time = git2::Time::new(1_767_225_600 + 3600 * self.commits as i64, 0);
        let sig = git2::Signature::new("bmfleet tests", "tests@bmfleet.invalid", &time).unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let oid = self
            .repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap();
        self.commits += 1;
        oid.to_string()
    }

    fn branch(&self, name: &str, sha: &str) {
        let commit = self
            .repo
            .find_commit(git2::Oid::from_str(sha).unwrap())
            .unwrap();
        self.repo.branch(name, &commit, false).unwrap();
    }

    fn status(&self) -> Vec<(String, git2::Status)> {
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true);
        self.repo
            .statuses(Some(&mut opts))
            .unwrap()
            .iter()
            .map(|e| (e.path().unwrap_or_default().to_string(), e.status()))
            .collect()
    }
}

fn bmfleet(cwd: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_bmfleet"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("BMFLEET_FLEET")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "bmfleet {args:?} panicked:\n{stderr}"
    );
    out
}

/// `validate --format json` with extra arguments: (exit code, document).
fn validate_json(cwd: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["validate", "--format", "json"];
    args.extend_from_slice(extra);
    let out = bmfleet(cwd, &args);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "validate {extra:?}: not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

fn codes(doc: &Value) -> Vec<String> {
    doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

/// Two commits (valid, then an MTU out of range), a branch `stable` on the first, and an
/// uncommitted, differently broken work tree.
fn two_commits() -> (Repo, String, String) {
    let mut r = Repo::new();
    r.write("fleet.yaml", FLEET);
    r.write("hosts.yaml", &hosts(9000));
    let good = r.commit("valid fleet");
    r.write("hosts.yaml", &hosts(9600));
    let bad = r.commit("raise the MTU above the limit");
    r.branch("stable", &good);
    (r, good, bad)
}

#[test]
fn ref_reads_that_commit_not_the_work_tree() {
    let (r, good, bad) = two_commits();
    // Change the work tree after committing: --ref must not see this.
    let dirty_text = hosts(9000).replace("kind: Host", "kind: Hots");
    r.write("hosts.yaml", &dirty_text);
    r.write("new-host.yaml", &hosts(1500).replace("n1", "n2"));
    let status_before = r.status();
    let fleet = r.root.to_str().unwrap();

    let short = &good[..10];
    for rev in ["HEAD~1", "stable", good.as_str(), short, "HEAD^"] {
        let (code, doc) = validate_json(&r.root, &["--fleet", fleet, "--ref", rev]);
        assert_eq!(code, 0, "--ref {rev}: {doc:#}");
        assert_eq!(doc["source"]["commit"], good.as_str(), "--ref {rev}");
        assert_eq!(doc["source"]["revision"], rev);
        assert_eq!(doc["source"]["dirty"], false);
        assert_eq!(doc["hosts"], 1, "--ref {rev} must not see new-host.yaml");
    }
    let (code, doc) = validate_json(&r.root, &["--fleet", fleet, "--ref", "HEAD"]);
    assert_eq!(code, 1);
    assert_eq!(doc["source"]["commit"], bad.as_str());
    assert_eq!(codes(&doc), ["bmfleet::spec::mtu_range"]);

    // The work tree itself: the uncommitted content, reported dirty, on HEAD's commit.
    let (code, doc) = validate_json(&r.root, &["--fleet", fleet]);
    assert_eq!(code, 1);
    assert_eq!(doc["source"]["commit"], bad.as_str());
    assert_eq!(doc["source"]["revision"], "work tree");
    assert_eq!(doc["source"]["dirty"], true);
    assert!(codes(&doc).contains(&"bmfleet::spec::unknown_kind".to_string()));

    // Reading revisions touched neither the work tree nor the index.
    assert_eq!(r.read("hosts.yaml"), dirty_text);
    assert_eq!(r.status(), status_before);
    assert_eq!(
        r.repo
            .head()
            .unwrap()
            .peel_to_commit()
            .unwrap()
            .id()
            .to_string(),
        bad
    );
}

#[test]
fn every_command_reports_the_commit_it_read() {
    let (r, good, bad) = two_commits();
    let fleet = r.root.to_str().unwrap();
    let text = |out: Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["validate"], &bad[..12]),
        (vec!["validate", "--ref", "HEAD~1"], &good[..12]),
        (vec!["validate", "--format", "json"], bad.as_str()),
        (vec!["validate", "--format", "github"], &bad[..12]),
        (
            vec!["validate", "--format", "github", "--ref", "stable"],
            &good[..12],
        ),
        (vec!["show", "n1"], &bad[..12]),
        (vec!["show", "n1", "--ref", "stable"], &good[..12]),
        (
            vec!["explain", "n1", "network.interfaces[ens1f0].mtu"],
            &bad[..12],
        ),
        (
            vec![
                "explain",
                "n1",
                "network.interfaces[ens1f0].mtu",
                "--ref",
                &good,
            ],
            &good[..12],
        ),
    ];
    for (mut args, sha) in cases {
        args.extend(["--fleet", fleet]);
        let out = text(bmfleet(&r.root, &args));
        assert!(
            out.contains(sha),
            "bmfleet {args:?} does not name {sha}:\n{out}"
        );
    }
    let human = text(bmfleet(&r.root, &["validate", "--fleet", fleet]));
    assert!(
        human.starts_with(&format!("Reading commit {} (work tree)\n", &bad[..12])),
        "{human}"
    );
    let old = text(bmfleet(
        &r.root,
        &["validate", "--fleet", fleet, "--ref", "HEAD~1"],
    ));
    assert!(
        old.starts_with(&format!("Reading commit {} (HEAD~1)\n", &good[..12])),
        "{old}"
    );
    assert!(old.contains("Valid: 2 document(s)"), "{old}");
}

#[test]
fn the_work_tree_is_reported_dirty_only_for_changes_under_the_fleet_root() {
    let mut r = Repo::new();
    r.write("README.md", "infra repo\n");
    r.write("fleet/fleet.yaml", FLEET);
    r.write("fleet/hosts.yaml", &hosts(9000));
    r.commit("fleet in a subdirectory");
    let fleet = r.root.join("fleet");
    let fleet = fleet.to_str().unwrap();
    let dirty = |r: &Repo| validate_json(&r.root, &["--fleet", fleet]).1["source"]["dirty"].clone();

    assert_eq!(dirty(&r), false, "clean after commit");
    r.write("README.md", "changed outside the fleet\n");
    assert_eq!(dirty(&r), false, "a change outside the fleet root");
    r.write("fleet/hosts.yaml", &hosts(1500));
    assert_eq!(dirty(&r), true, "a modified spec");
    let human = bmfleet(&r.root, &["validate", "--fleet", fleet]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("(work tree, uncommitted changes)"),
        "{human}"
    );
    r.commit("commit it");
    assert_eq!(dirty(&r), false);
    r.write("fleet/profiles/new.yaml", "# not yet added\n");
    assert_eq!(dirty(&r), true, "an untracked file");
    std::fs::remove_file(r.root.join("fleet/profiles/new.yaml")).unwrap();
    std::fs::remove_file(r.root.join("fleet/hosts.yaml")).unwrap();
    assert_eq!(dirty(&r), true, "a deleted file");
}

#[test]
fn a_fleet_in_a_subdirectory_works_for_the_work_tree_and_refs() {
    let mut r = Repo::new();
    r.write("README.md", "infra repo\n");
    r.write("infra/fleet/fleet.yaml", FLEET);
    r.write("infra/fleet/hosts/rack1.yaml", &hosts(9000));
    let good = r.commit("fleet");
    r.write("infra/fleet/hosts/rack1.yaml", &hosts(9600));
    let bad = r.commit("break it");
    let cwd = r.root.parent().unwrap();

    for fleet in [
        "repo/infra/fleet",
        "repo/infra/fleet/",
        "./repo/infra/../infra/fleet",
    ] {
        let (code, doc) = validate_json(cwd, &["--fleet", fleet]);
        assert_eq!(code, 1, "{fleet}: {doc:#}");
        assert_eq!(doc["source"]["prefix"], "infra/fleet", "{fleet}");
        assert_eq!(doc["source"]["commit"], bad.as_str());
        assert_eq!(doc["hosts"], 1);
        assert_eq!(doc["diagnostics"][0]["file"], "hosts/rack1.yaml");

        let (code, doc) = validate_json(cwd, &["--fleet", fleet, "--ref", "HEAD~1"]);
        assert_eq!(code, 0, "{fleet} --ref HEAD~1: {doc:#}");
        assert_eq!(doc["source"]["prefix"], "infra/fleet");
        assert_eq!(doc["source"]["commit"], good.as_str());
        assert_eq!(doc["hosts"], 1);
    }

    // From inside the fleet directory, with the default `--fleet .`.
    let inside = r.root.join("infra/fleet");
    let (code, doc) = validate_json(&inside, &["--ref", "HEAD"]);
    assert_eq!(
        (code, doc["source"]["prefix"].as_str()),
        (1, Some("infra/fleet"))
    );

    // GitHub annotations name files relative to the repository root.
    let out = bmfleet(
        cwd,
        &[
            "validate",
            "--fleet",
            "repo/infra/fleet",
            "--ref",
            "HEAD",
            "--format",
            "github",
        ],
    );
    let gh = String::from_utf8_lossy(&out.stdout);
    assert!(
        gh.starts_with("::error file=infra/fleet/hosts/rack1.yaml,line=8,col=45,"),
        "{gh}"
    );

    // A revision where the fleet directory does not exist yet.
    let mut r2 = Repo::new();
    r2.write("README.md", "first\n");
    r2.commit("before the fleet");
    r2.write("infra/fleet/fleet.yaml", FLEET);
    r2.commit("add the fleet");
    let (code, doc) = validate_json(&r2.root.join("infra/fleet"), &["--ref", "HEAD~1"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&doc), ["bmfleet::spec::fleet_missing"]);
}

#[test]
fn bad_refs_are_clear_errors() {
    let (r, _, _) = two_commits();
    let fleet = r.root.to_str().unwrap();
    for rev in [
        "no-such-branch",
        "HEAD~5",
        "0123456789abcdef0123456789abcdef01234567",
        "HEAD:hosts.yaml",
        "",
    ] {
        let out = bmfleet(&r.root, &["validate", "--fleet", fleet, "--ref", rev]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "--ref {rev:?}: {stderr}");
        assert!(out.stdout.is_empty(), "--ref {rev:?}");
        assert!(
            stderr.contains("bmfleet::spec::bad_ref"),
            "--ref {rev:?}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("revision `{rev}` ")),
            "--ref {rev:?}: {stderr}"
        );
    }

    // Outside any repository.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("fleet.yaml"), FLEET).unwrap();
    let out = bmfleet(tmp.path(), &["validate", "--fleet", ".", "--ref", "HEAD"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bmfleet::spec::not_a_repo"), "{stderr}");
    assert!(
        stderr.contains("is not inside a Git repository"),
        "{stderr}"
    );
    // ... where the work tree is read and no commit is named.
    let (code, doc) = validate_json(tmp.path(), &["--fleet", "."]);
    assert_eq!(code, 0, "a fleet without hosts is valid: {doc:#}");
    assert_eq!(doc["source"]["commit"], Value::Null);

    // A repository without commits: the work tree reads, --ref HEAD does not resolve.
    let r = Repo::new();
    r.write("fleet.yaml", FLEET);
    r.write("hosts.yaml", &hosts(9000));
    let (code, doc) = validate_json(&r.root, &["--fleet", "."]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["source"]["commit"], Value::Null);
    let out = bmfleet(&r.root, &["validate", "--fleet", ".", "--ref", "HEAD"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bmfleet::spec::bad_ref"));
}

#[test]
fn symlinks_in_a_commit_never_read_outside_the_fleet() {
    let mut r = Repo::new();
    r.write("fleet/fleet.yaml", FLEET);
    r.write("fleet/hosts.yaml", &hosts(9000));
    r.write(
        "secret.yaml",
        "apiVersion: bmfleet.dev/v1alpha1\nkind: Hots\n",
    );
    std::os::unix::fs::symlink("../secret.yaml", r.root.join("fleet/escape.yaml")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", r.root.join("fleet/passwd.yaml")).unwrap();
    std::os::unix::fs::symlink("hosts.yaml", r.root.join("fleet/inside.yaml")).unwrap();
    r.commit("symlinks");
    let fleet = r.root.join("fleet");
    let fleet = fleet.to_str().unwrap();
    for extra in [&[][..], &["--ref", "HEAD"][..]] {
        let mut args = vec!["--fleet", fleet];
        args.extend_from_slice(extra);
        let (code, doc) = validate_json(&r.root, &args);
        assert_eq!(code, 1, "{extra:?}: {doc:#}");
        assert_eq!(
            codes(&doc),
            [
                "bmfleet::spec::symlink_escape",
                "bmfleet::spec::symlink_escape"
            ],
            "{extra:?}: {doc:#}"
        );
        assert_eq!(
            doc["hosts"], 1,
            "{extra:?}: the in-fleet symlink is not read twice"
        );
    }
}

//! The journal and the audit log of an `apply` run.
//!
//! The journal (`<state>/runs/<run-id>.jsonl`) is JSON lines, each written whole and
//! fsynced before the engine goes on:
//!
//! ```text
//! {"ts":…,"run":…,"event":"run-started","plan_digest":…,"spec_commit":…,"spec_dirty":…,"user":…,"hostname":…,"pid":…,"fleet":…}
//! {"ts":…,"run":…,"host":"r1-c01","index":0,"address":"host/r1-c01/bios","event":"started","ok":null,"detail":"stage 2 BIOS attributes …"}
//! {"ts":…,"run":…,"host":"r1-c01","index":0,"address":"host/r1-c01/bios","event":"finished","ok":true,"detail":"HTTP 200"}
//! {"ts":…,"run":…,"event":"run-resumed",…}            (once per `--resume`)
//! {"ts":…,"run":…,"event":"run-finished","outcome":"succeeded"|"failed","succeeded":…,"failed":…,"not_started":…}
//! ```
//!
//! The audit log (`<state>/audit.jsonl`) gets one line per finished step: time, run, user,
//! spec commit, host, step address, the plan's changes of that resource (setting, before,
//! after; a sensitive setting shows only `"sensitive": true`) and the result. Neither file
//! ever holds an op's values: secrets are in plans only as references, and the journal
//! records step descriptions, which name counts and keys, not values.
//!
//! [`Journal`] is a [`Reporter`] wrapped around the caller's, so the engine stays free of
//! file I/O.

use super::state::{StateDirs, create_dir, hostname, timestamp, user};
use crate::engine::execute::{ApplyReport, Resume};
use crate::engine::{Event, Reporter};
use crate::plan::Plan;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The largest journal read back (`--resume`), in bytes.
pub const MAX_JOURNAL_BYTES: u64 = 256 * 1024 * 1024;

/// Who and what a run is about, written to the journal's header.
#[derive(Debug, Clone)]
pub struct RunHeader {
    /// The run id.
    pub run: String,
    /// SHA-256 (hex) of the plan copy's bytes.
    pub plan_digest: String,
    /// The fleet's identity (see [`super::lock::fleet_identity`]).
    pub fleet: String,
}

/// Writes the journal and the audit log while passing every event on to `inner`.
pub struct Journal {
    inner: Arc<dyn Reporter>,
    run: String,
    user: String,
    commit: Option<String>,
    journal: Mutex<File>,
    audit: Mutex<Option<File>>,
    /// `host` -> `address` -> the plan's changes of that resource, as audit JSON.
    changes: BTreeMap<String, BTreeMap<String, Vec<Value>>>,
    path: PathBuf,
    error: Mutex<Option<String>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("run", &self.run)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Appends `line` and a newline in one write, then fsyncs the data.
fn append(file: &mut File, line: &Value) -> std::io::Result<()> {
    let mut text = line.to_string();
    text.push('\n');
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

fn io_error(path: &Path, e: &std::io::Error) -> miette::Report {
    miette::miette!(
        code = "bmfleet::apply::journal",
        help = "pass --state-dir with a directory you can write (or set BMFLEET_STATE_DIR)",
        "cannot write the apply journal {}: {e}; nothing was applied",
        path.display()
    )
}

/// The plan's changes as audit entries, by host and address. Sensitive values are left out.
fn audit_changes(plan: &Plan) -> BTreeMap<String, BTreeMap<String, Vec<Value>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    for ph in &plan.hosts {
        for c in &ph.changes {
            let entry = if c.sensitive {
                json!({"setting": c.setting, "action": c.action.as_str(), "sensitive": true})
            } else {
                json!({"setting": c.setting, "action": c.action.as_str(), "before": c.before, "after": c.after})
            };
            out.entry(ph.name.clone())
                .or_default()
                .entry(c.address.to_string())
                .or_default()
                .push(entry);
        }
    }
    out
}

impl Journal {
    /// Starts the records of a new run: creates `<state>/runs/`, writes the plan copy
    /// `plan_text` to `<run>.plan.json` and the journal `<run>.jsonl` with its header (both
    /// created with `O_EXCL`: an existing run is never overwritten), and opens the audit log
    /// for appending.
    ///
    /// # Errors
    /// A directory or file that cannot be created or written; nothing has been applied then.
    pub fn create(
        dirs: &StateDirs,
        header: &RunHeader,
        plan: &Plan,
        plan_text: &str,
        inner: Arc<dyn Reporter>,
    ) -> miette::Result<Self> {
        create_dir(&dirs.runs())?;
        let copy = dirs.plan_copy(&header.run);
        let mut f = new_file(&copy)?;
        f.write_all(plan_text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io_error(&copy, &e))?;
        let path = dirs.journal(&header.run);
        let file = new_file(&path)?;
        let j = Self::open(dirs, header, plan, file, path, inner)?;
        j.write(&j.header_line("run-started", header, plan));
        j.check()?;
        Ok(j)
    }

    /// Re-opens the journal of `header.run` for appending (`--resume`) and writes a
    /// `run-resumed` line.
    ///
    /// # Errors
    /// The journal cannot be opened or written.
    pub fn reopen(
        dirs: &StateDirs,
        header: &RunHeader,
        plan: &Plan,
        inner: Arc<dyn Reporter>,
    ) -> miette::Result<Self> {
        let path = dirs.journal(&header.run);
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| io_error(&path, &e))?;
        let j = Self::open(dirs, header, plan, file, path, inner)?;
        j.write(&j.header_line("run-resumed", header, plan));
        j.check()?;
        Ok(j)
    }

    fn open(
        dirs: &StateDirs,
        header: &RunHeader,
        plan: &Plan,
        file: File,
        path: PathBuf,
        inner: Arc<dyn Reporter>,
    ) -> miette::Result<Self> {
        let audit_path = dirs.audit();
        let audit = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&audit_path)
            .map_err(|e| io_error(&audit_path, &e))?;
        Ok(Self {
            inner,
            run: header.run.clone(),
            user: user(),
            commit: plan.source.commit.clone(),
            journal: Mutex::new(file),
            audit: Mutex::new(Some(audit)),
            changes: audit_changes(plan),
            path,
            error: Mutex::new(None),
        })
    }

    fn header_line(&self, event: &str, header: &RunHeader, plan: &Plan) -> Value {
        json!({
            "ts": timestamp(),
            "run": self.run,
            "event": event,
            "plan_digest": header.plan_digest,
            "spec_commit": plan.source.commit,
            "spec_dirty": plan.source.dirty,
            "user": self.user,
            "hostname": hostname(),
            "pid": std::process::id(),
            "fleet": header.fleet,
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the footer: the run's outcome.
    pub fn finish(&self, report: &ApplyReport) {
        let outcome = if report.failed() > 0 || report.not_started() > 0 {
            "failed"
        } else {
            "succeeded"
        };
        self.write(&json!({
            "ts": timestamp(),
            "run": self.run,
            "event": "run-finished",
            "outcome": outcome,
            "succeeded": report.succeeded(),
            "failed": report.failed(),
            "not_started": report.not_started(),
        }));
    }

    /// The first write error, if any (the run goes on without a complete record).
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    fn check(&self) -> miette::Result<()> {
        match self.error() {
            Some(e) => Err(miette::miette!(
                code = "bmfleet::apply::journal",
                help = "pass --state-dir with a directory you can write (or set BMFLEET_STATE_DIR)",
                "{e}; nothing was applied"
            )),
            None => Ok(()),
        }
    }

    fn fail(&self, what: String) {
        if let Ok(mut e) = self.error.lock()
            && e.is_none()
        {
            *e = Some(what);
        }
    }

    fn write(&self, line: &Value) {
        let result = match self.journal.lock() {
            Ok(mut f) => append(&mut f, line),
            Err(_) => Err(std::io::Error::other("journal lock poisoned")),
        };
        if let Err(e) = result {
            self.fail(format!(
                "cannot write the journal {}: {e}",
                self.path.display()
            ));
        }
    }

    fn audit(&self, host: &str, address: &str, ok: bool, detail: &str) {
        let changes = self
            .changes
            .get(host)
            .and_then(|a| a.get(address))
            .cloned()
            .unwrap_or_default();
        let line = json!({
            "ts": timestamp(),
            "run": self.run,
            "user": self.user,
            "spec_commit": self.commit,
            "host": host,
            "step": address,
            "changes": changes,
            "result": if ok { "ok" } else { "failed" },
            "detail": detail,
        });
        let result = match self.audit.lock() {
            Ok(mut f) => match f.as_mut() {
                Some(f) => append(f, &line),
                None => Ok(()),
            },
            Err(_) => Err(std::io::Error::other("audit lock poisoned")),
        };
        if let Err(e) = result {
            self.fail(format!("cannot write the audit log: {e}"));
        }
    }
}

impl Reporter for Journal {
    fn event(&self, event: &Event) {
        match event {
            Event::StepStarted {
                host,
                index,
                address,
                description,
            } => self.write(&json!({
                "ts": timestamp(),
                "run": self.run,
                "host": host,
                "index": index,
                "address": address,
                "event": "started",
                "ok": null,
                "detail": description,
            })),
            Event::StepFinished {
                host,
                index,
                address,
                ok,
                detail,
            } => {
                self.write(&json!({
                    "ts": timestamp(),
                    "run": self.run,
                    "host": host,
                    "index": index,
                    "address": address,
                    "event": "finished",
                    "ok": ok,
                    "detail": detail,
                }));
                self.audit(host, address, *ok, detail);
            }
            _ => {}
        }
        self.inner.event(event);
    }
}

fn new_file(path: &Path) -> miette::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_error(path, &e))
}

/// A journal read back for `--resume`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalRead {
    /// The `plan_digest` of its `run-started` line.
    pub plan_digest: String,
    /// What the steps did.
    pub resume: Resume,
    /// Step lines read.
    pub steps: usize,
    /// Host -> step index -> the address journaled for it (checked against the plan copy).
    pub addresses: BTreeMap<String, BTreeMap<usize, String>>,
    /// True when a `run-finished` line is last (the run ended; resuming only re-verifies).
    pub finished: bool,
}

/// Reads the journal at `path` (at most [`MAX_JOURNAL_BYTES`]). A last line cut short (the
/// process died while writing it) is ignored; any other malformed line is an error.
///
/// # Errors
/// The file cannot be read, is too large, has no `run-started` line, or has a malformed line
/// before its last.
pub fn read_journal(path: &Path) -> miette::Result<JournalRead> {
    let bad = |why: String| {
        miette::miette!(
            code = "bmfleet::apply::journal_read",
            help = "give the run id `bmfleet apply` printed; journals are in <state dir>/runs/",
            "cannot resume from {}: {why}",
            path.display()
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() || meta.len() > MAX_JOURNAL_BYTES {
        return Err(bad("not a regular file under 256 MiB".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = JournalRead::default();
    let mut digest = None;
    for (n, line) in lines.iter().enumerate() {
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) if n + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => return Err(bad(format!("line {}: {e}", n + 1))),
        };
        let event = v.get("event").and_then(Value::as_str).unwrap_or_default();
        out.finished = event == "run-finished";
        match event {
            "run-started" => {
                digest = v
                    .get("plan_digest")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            "started" | "finished" => {
                let host = v.get("host").and_then(Value::as_str);
                let index = v
                    .get("index")
                    .and_then(Value::as_u64)
                    .and_then(|i| usize::try_from(i).ok());
                let (Some(host), Some(index)) = (host, index) else {
                    return Err(bad(format!("line {}: a step without host or index", n + 1)));
                };
                out.steps += 1;
                let address = v.get("address").and_then(Value::as_str).unwrap_or_default();
                out.addresses
                    .entry(host.to_string())
                    .or_default()
                    .insert(index, address.to_string());
                let ok = v.get("ok").and_then(Value::as_bool) == Some(true);
                let finished = out.resume.finished.entry(host.to_string()).or_default();
                if event == "finished" && ok {
                    finished.insert(index);
                    if let Some(u) = out.resume.unfinished.get_mut(host) {
                        u.remove(&index);
                    }
                } else {
                    finished.remove(&index);
                    out.resume
                        .unfinished
                        .entry(host.to_string())
                        .or_default()
                        .insert(index);
                }
            }
            _ => {}
        }
    }
    out.plan_digest = digest.ok_or_else(|| bad("it has no run-started line".into()))?;
    Ok(out)
}

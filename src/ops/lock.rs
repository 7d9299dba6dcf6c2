//! The fleet lock: one `apply` per fleet at a time.
//!
//! A lock is a file `fleet-<key>.lock` in the lock directory (`<state>/locks`, or
//! `--lock-dir DIR`), created atomically with `O_EXCL` and holding JSON: user, hostname, pid,
//! start time, run id and the fleet's identity. The key is the SHA-256 of the fleet's
//! identity: its Git `origin` URL plus the fleet's path inside the repository when it has
//! one (so CI machines with different checkout paths share a lock through a shared
//! directory), else its canonical path.
//!
//! A lock whose pid no longer runs on this same host is *stale* (checked through
//! `/proc/<pid>`, so only on Linux); a lock held on another host cannot be checked and is
//! reported as held. [`FleetLock`] removes its file when dropped, on every exit path that
//! unwinds (a `kill -9` or a power cut leaves a stale lock: `bmfleet lock break`).

use super::state::{create_dir, hostname, sha256_hex, timestamp, user};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a lock file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Who holds it (`$USER`).
    pub user: String,
    /// On which machine.
    pub hostname: String,
    /// The holding process.
    pub pid: u32,
    /// When it was taken (RFC 3339 UTC).
    pub started: String,
    /// The run holding it (`bmfleet apply` run id).
    pub run: String,
    /// The fleet's identity (origin URL and path, or canonical path).
    pub fleet: String,
}

impl LockInfo {
    /// `alice on ci-07 (pid 4242, run 20261127T224800Z-3fa2, since 2026-11-27T22:48:00.000Z)`.
    pub fn describe(&self) -> String {
        format!(
            "{} on {} (pid {}, run {}, since {})",
            self.user, self.hostname, self.pid, self.run, self.started
        )
    }
}

/// The state of a fleet's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// No lock file.
    Free,
    /// Held by a live process, or by another host (which cannot be checked).
    Held(LockInfo),
    /// Held by a process that no longer runs on this host.
    Stale(LockInfo),
    /// A lock file that cannot be read or parsed (the message says why).
    Unreadable(String),
}

/// The lock of one fleet: where its file is and what identifies the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockPath {
    /// The lock file.
    pub file: PathBuf,
    /// The fleet's identity the key was made from.
    pub identity: String,
}

/// The identity of the fleet at `fleet_dir`: `git:<origin URL>#<path in the repo>` when it
/// is in a Git repository with an `origin` remote, else `path:<canonical path>`.
pub fn fleet_identity(fleet_dir: &Path) -> String {
    let canonical = std::fs::canonicalize(fleet_dir).unwrap_or_else(|_| fleet_dir.to_path_buf());
    if let Ok(repo) = git2::Repository::discover(&canonical) {
        let origin = repo
            .find_remote("origin")
            .ok()
            .and_then(|r| r.url().ok().map(str::to_string));
        if let (Some(url), Some(workdir)) = (origin, repo.workdir()) {
            let workdir = std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_path_buf());
            let rel = canonical
                .strip_prefix(&workdir)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            return format!("git:{url}#{rel}");
        }
    }
    format!("path:{}", canonical.display())
}

/// Where the lock of the fleet at `fleet_dir` lives in `lock_dir`.
pub fn lock_path(lock_dir: &Path, fleet_dir: &Path) -> LockPath {
    let identity = fleet_identity(fleet_dir);
    let key = sha256_hex(identity.as_bytes());
    LockPath {
        file: lock_dir.join(format!("fleet-{}.lock", key.get(..16).unwrap_or(&key))),
        identity,
    }
}

/// True when process `pid` runs on this machine; `None` when it cannot be told (no
/// `/proc`).
fn pid_alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(proc.join(pid.to_string()).exists())
}

/// Reads the lock at `path` and tells whether it is free, held, stale or unreadable.
pub fn status(path: &LockPath) -> LockState {
    let text = match std::fs::read_to_string(&path.file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return LockState::Free,
        Err(e) => return LockState::Unreadable(format!("{}: {e}", path.file.display())),
    };
    let info: LockInfo = match serde_json::from_str(&text) {
        Ok(i) => i,
        Err(e) => {
            return LockState::Unreadable(format!(
                "{}: not a bmfleet lock ({e})",
                path.file.display()
            ));
        }
    };
    if info.hostname == hostname() && pid_alive(info.pid) == Some(false) {
        LockState::Stale(info)
    } else {
        LockState::Held(info)
    }
}

/// A held fleet lock; its file is removed when this is dropped (if it still holds this
/// run's id: a lock broken and re-taken by another run is left alone).
#[derive(Debug)]
pub struct FleetLock {
    path: LockPath,
    info: LockInfo,
}

impl FleetLock {
    /// Takes the lock of the fleet at `fleet_dir` in `lock_dir` for `run`, creating the
    /// directory if needed.
    ///
    /// # Guarantees
    /// Atomic: the file is created with `O_EXCL` (`create_new`), so of two runs racing for
    /// it exactly one wins, also on a shared directory whose file system honours
    /// `O_EXCL` (local disks and NFSv3+ do).
    ///
    /// # Idempotency
    /// Not re-entrant: a second call for the same fleet fails while the first guard lives.
    ///
    /// # Errors
    /// The lock is held (naming user, host, pid, start time and run), stale (naming the dead
    /// pid and `bmfleet lock break`), unreadable, or the directory cannot be written.
    pub fn acquire(lock_dir: &Path, fleet_dir: &Path, run: &str) -> miette::Result<Self> {
        create_dir(lock_dir)?;
        let path = lock_path(lock_dir, fleet_dir);
        let info = LockInfo {
            user: user(),
            hostname: hostname(),
            pid: std::process::id(),
            started: timestamp(),
            run: run.to_string(),
            fleet: path.identity.clone(),
        };
        let mut text = serde_json::to_string_pretty(&info)
            .map_err(|e| miette::miette!("cannot write the lock: {e}"))?;
        text.push('\n');
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path.file)
        {
            Ok(mut f) => {
                let written = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&path.file);
                    return Err(miette::miette!(
                        code = "bmfleet::lock::io",
                        "cannot write the lock {}: {e}",
                        path.file.display()
                    ));
                }
                Ok(Self { path, info })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(refusal(&path)),
            Err(e) => Err(miette::miette!(
                code = "bmfleet::lock::io",
                help = "pass --lock-dir with a directory you can write",
                "cannot create the lock {}: {e}",
                path.file.display()
            )),
        }
    }

    /// What this lock holds.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// The lock file.
    pub fn file(&self) -> &Path {
        &self.path.file
    }
}

impl Drop for FleetLock {
    fn drop(&mut self) {
        if let LockState::Held(i) | LockState::Stale(i) = status(&self.path)
            && i.run == self.info.run
            && i.pid == self.info.pid
        {
            let _ = std::fs::remove_file(&self.path.file);
        }
    }
}

/// The error for a lock that is already there.
fn refusal(path: &LockPath) -> miette::Report {
    match status(path) {
        LockState::Held(i) => miette::miette!(
            code = "bmfleet::lock::held",
            help = "wait for that run to finish; if it is gone (a machine that died), `bmfleet lock break --force` removes the lock",
            "another apply holds the lock of this fleet: {}; nothing was applied (lock file {})",
            i.describe(),
            path.file.display()
        ),
        LockState::Stale(i) => miette::miette!(
            code = "bmfleet::lock::stale",
            help = "`bmfleet lock break` removes it; then `bmfleet apply --resume RUN_ID` continues the dead run",
            "the lock of this fleet is stale: {} no longer runs; nothing was applied (lock file {})",
            i.describe(),
            path.file.display()
        ),
        LockState::Unreadable(why) => miette::miette!(
            code = "bmfleet::lock::unreadable",
            help = "look at the file; `bmfleet lock break --force` removes it",
            "the lock of this fleet cannot be read: {why}; nothing was applied"
        ),
        // Released between our attempt and this read: let the user retry.
        LockState::Free => miette::miette!(
            code = "bmfleet::lock::held",
            help = "run the command again",
            "the lock of this fleet was taken and released while this run tried to take it; nothing was applied"
        ),
    }
}

/// What `break_lock` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// There was no lock.
    NoLock,
    /// The lock was removed; what it held (`None` when it could not be parsed).
    Removed(Option<LockInfo>),
}

/// Removes the lock of the fleet at `fleet_dir` in `lock_dir` when it is stale, or in any
/// state when `force`.
///
/// # Guarantees
/// A lock held by a live process on this host, by another host, or unreadable is removed
/// only with `force`.
///
/// # Idempotency
/// Idempotent: with no lock, reports [`Broken::NoLock`].
///
/// # Errors
/// A held or unreadable lock without `force` (naming the holder), or the file cannot be
/// removed.
pub fn break_lock(lock_dir: &Path, fleet_dir: &Path, force: bool) -> miette::Result<Broken> {
    let path = lock_path(lock_dir, fleet_dir);
    let info = match status(&path) {
        LockState::Free => return Ok(Broken::NoLock),
        LockState::Stale(i) => Some(i),
        LockState::Held(i) if force => Some(i),
        LockState::Unreadable(_) if force => None,
        LockState::Held(i) => {
            return Err(miette::miette!(
                code = "bmfleet::lock::held",
                help = "if that run is really gone (its machine died), pass --force",
                "the lock is held by {}, which is running or cannot be checked from here; it was left in place",
                i.describe()
            ));
        }
        LockState::Unreadable(why) => {
            return Err(miette::miette!(
                code = "bmfleet::lock::unreadable",
                help = "look at the file; pass --force to remove it",
                "the lock cannot be read: {why}; it was left in place"
            ));
        }
    };
    match std::fs::remove_file(&path.file) {
        Ok(()) => Ok(Broken::Removed(info)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Broken::NoLock),
        Err(e) => Err(miette::miette!(
            code = "bmfleet::lock::io",
            "cannot remove the lock {}: {e}",
            path.file.display()
        )),
    }
}

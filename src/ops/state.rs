//! Where `apply` keeps its records: the state directory (journals, plan copies, the audit
//! log, locks), run ids, UTC timestamps, and who ran it (user, hostname).
//!
//! Layout under the state directory (`$BMFLEET_STATE_DIR`, `--state-dir`, else
//! `$XDG_STATE_HOME/bmfleet`, else `~/.local/state/bmfleet`):
//!
//! ```text
//! runs/<run-id>.jsonl      the journal of one run (JSON lines, fsynced)
//! runs/<run-id>.plan.json  the plan that run applies (what `--resume` reloads)
//! audit.jsonl              one line per step of every run
//! locks/fleet-<key>.lock   the lock of one fleet (unless `--lock-dir` puts it elsewhere)
//! ```

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The directories a run writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDirs {
    /// The state directory: `runs/` and `audit.jsonl` live here.
    pub state: PathBuf,
    /// Where fleet locks are created (`<state>/locks` unless `--lock-dir`).
    pub locks: PathBuf,
}

impl StateDirs {
    /// Resolves the directories: `state_dir` (from `--state-dir` or `BMFLEET_STATE_DIR`),
    /// else `$XDG_STATE_HOME/bmfleet`, else `$HOME/.local/state/bmfleet`; locks in
    /// `lock_dir` (`--lock-dir`, for CI machines sharing a directory), else `<state>/locks`.
    /// Nothing is created here.
    ///
    /// # Errors
    /// When no state directory is given and neither `XDG_STATE_HOME` nor `HOME` is set.
    pub fn resolve(state_dir: Option<&Path>, lock_dir: Option<&Path>) -> miette::Result<Self> {
        let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let state = match state_dir {
            Some(d) => d.to_path_buf(),
            None => match (non_empty("XDG_STATE_HOME"), non_empty("HOME")) {
                (Some(x), _) => PathBuf::from(x).join("bmfleet"),
                (None, Some(h)) => PathBuf::from(h).join(".local/state/bmfleet"),
                (None, None) => {
                    return Err(miette::miette!(
                        code = "bmfleet::state::no_dir",
                        help = "pass --state-dir DIR or set BMFLEET_STATE_DIR (or HOME)",
                        "cannot tell where to keep the apply journal: neither XDG_STATE_HOME nor HOME is set"
                    ));
                }
            },
        };
        let locks = lock_dir.map_or_else(|| state.join("locks"), Path::to_path_buf);
        Ok(Self { state, locks })
    }

    /// `<state>/runs`.
    pub fn runs(&self) -> PathBuf {
        self.state.join("runs")
    }

    /// The journal of `run`: `<state>/runs/<run>.jsonl`.
    pub fn journal(&self, run: &str) -> PathBuf {
        self.runs().join(format!("{run}.jsonl"))
    }

    /// The plan copy of `run`: `<state>/runs/<run>.plan.json`.
    pub fn plan_copy(&self, run: &str) -> PathBuf {
        self.runs().join(format!("{run}.plan.json"))
    }

    /// The audit log: `<state>/audit.jsonl`.
    pub fn audit(&self) -> PathBuf {
        self.state.join("audit.jsonl")
    }
}

/// Creates `dir` and its parents, private to the user (mode 0700 on Unix for the new
/// directories).
///
/// # Errors
/// An I/O error naming the directory.
pub fn create_dir(dir: &Path) -> miette::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(|e| {
        miette::miette!(
            code = "bmfleet::state::create_dir",
            help = "pass --state-dir (or --lock-dir) with a directory you can write",
            "cannot create {}: {e}",
            dir.display()
        )
    })
}

/// Seconds and milliseconds since the Unix epoch, now (0 if the clock is before 1970).
fn now() -> (u64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_millis())
}

/// The civil UTC date and time of `secs` since the epoch: (year, month, day, hour, minute,
/// second). Howard Hinnant's `civil_from_days`.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (y, m as u32, d as u32, h as u32, mi as u32, s as u32)
}

/// An RFC 3339 UTC timestamp with milliseconds (`2026-11-27T22:48:00.123Z`).
pub fn timestamp() -> String {
    let (secs, ms) = now();
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// A new run id: the UTC time to the second and 4 hex digits (`20261127T224800Z-3fa2`), so
/// ids sort by start time. The hex digits come from the time, the pid and a counter; the
/// journal is created with `O_EXCL`, so a collision is detected, not overwritten.
pub fn new_run_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let (secs, _) = now();
    let (y, mo, d, h, mi, s) = civil(secs);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut h256 = Sha256::new();
    h256.update(nanos.to_le_bytes());
    h256.update(std::process::id().to_le_bytes());
    h256.update(n.to_le_bytes());
    let digest = h256.finalize();
    format!(
        "{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z-{:02x}{:02x}",
        digest[0], digest[1]
    )
}

/// True when `id` has the shape of a run id (`YYYYMMDDTHHMMSSZ-hhhh`): what `--resume`
/// accepts, so that it never names a path outside `runs/`.
pub fn is_run_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 21
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..].iter().all(|c| c.is_ascii_hexdigit())
}

/// The user running bmfleet: `$USER`, else `$LOGNAME`, else `unknown`.
pub fn user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// This machine's host name: `/proc/sys/kernel/hostname` (Linux), else `$HOSTNAME`, else
/// `unknown`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// SHA-256 (hex) of `text`.
pub fn sha256_hex(text: &[u8]) -> String {
    Sha256::digest(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        // 2026-11-27T22:48:00Z
        assert_eq!(civil(1_795_819_680), (2026, 11, 27, 22, 48, 0));
        // 2000-02-29T12:00:00Z
        assert_eq!(civil(951_825_600), (2000, 2, 29, 12, 0, 0));
    }

    #[test]
    fn run_ids_have_their_shape_and_differ() {
        let a = new_run_id();
        let b = new_run_id();
        assert!(is_run_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_run_id("../../etc/passwd"));
        assert!(!is_run_id("20261127T224800Z-3fa/"));
        assert!(is_run_id("20261127T224800Z-3fa2"));
    }
}

//! `bmfleet lock status` and `bmfleet lock break`: the fleet lock that `apply` holds.

use super::{GlobalArgs, write_out};
use crate::ops::StateDirs;
use crate::ops::lock::{Broken, LockState, break_lock, lock_path, status};
use clap::{Args, Subcommand};
use std::io::Write;
use std::process::ExitCode;

/// `bmfleet lock` options.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: LockAction,
    /// The state directory (as `apply --state-dir`).
    #[arg(long, global = true, value_name = "DIR", env = "BMFLEET_STATE_DIR")]
    pub state_dir: Option<std::path::PathBuf>,
    /// The lock directory (as `apply --lock-dir`).
    #[arg(long, global = true, value_name = "DIR", env = "BMFLEET_LOCK_DIR")]
    pub lock_dir: Option<std::path::PathBuf>,
}

/// Lock actions.
#[derive(Debug, Subcommand)]
pub enum LockAction {
    /// Show who holds the fleet's lock (exit 0 free, 1 held, stale or unreadable).
    Status,
    /// Remove the fleet's lock when its process is dead on this host (stale).
    Break {
        /// Also remove a lock that is held, from another host, or unreadable (only when the
        /// run holding it is known to be gone).
        #[arg(long)]
        force: bool,
    },
}

/// Runs `bmfleet lock ACTION`.
///
/// # Errors
/// No state directory, a held lock to break without `--force`, a lock file that cannot be
/// removed.
pub fn run(g: &GlobalArgs, args: &LockArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let dirs = StateDirs::resolve(args.state_dir.as_deref(), args.lock_dir.as_deref())?;
    match args.action {
        LockAction::Status => {
            let path = lock_path(&dirs.locks, &g.fleet);
            let (text, code) = match status(&path) {
                LockState::Free => (format!("free ({})\n", path.identity), 0),
                LockState::Held(i) => (format!("held by {}\n", i.describe()), 1),
                LockState::Stale(i) => (
                    format!(
                        "stale: {} no longer runs; `bmfleet lock break` removes it\n",
                        i.describe()
                    ),
                    1,
                ),
                LockState::Unreadable(why) => (format!("unreadable: {why}\n"), 1),
            };
            write_out(out, &text)?;
            Ok(ExitCode::from(code))
        }
        LockAction::Break { force } => {
            let text = match break_lock(&dirs.locks, &g.fleet, force)? {
                Broken::NoLock => "no lock to break\n".to_string(),
                Broken::Removed(Some(i)) => format!("removed the lock of {}\n", i.describe()),
                Broken::Removed(None) => "removed the unreadable lock\n".to_string(),
            };
            write_out(out, &text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

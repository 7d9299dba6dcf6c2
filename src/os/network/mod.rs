//! Network writes: an [`Op::NetworkApply`] carried out exactly as the plan rendered it
//! ([`NetworkWrite`]: backend, files, activation, commit and revert commands), through the
//! POSIX-sh script `src/os/network/apply.sh`.
//!
//! - [`choose`]: which backend manages a host's network, decided at read time;
//! - [`session`]: which interfaces carry the SSH session;
//! - [`apply`]: the executor, with lock-out protection.
//!
//! **Lock-out protection.** When the step touches the interface the SSH session runs over
//! (or one it is stacked on), the change is applied with automatic rollback: nmstate's
//! checkpoint (`nmstatectl apply --no-commit --timeout T`), or for the other backends a
//! revert script (restore the previous files, run the revert commands) armed with
//! `systemd-run --on-active=T` (a detached `sleep T` where there is no systemd) *before* the
//! activation. The change is confirmed (`nmstatectl commit`, the timer stopped) only after a
//! **new** SSH connection succeeds, not the multiplexed one; without it the executor waits
//! for the revert and reports the step failed with what was rolled back.

pub mod choose;
pub mod session;
pub mod sysroot;

use crate::engine::provider::{ApplyError, StepOutcome};
use crate::os::transport::{Transport, TransportError, escape_stderr};
use crate::plan::model::Step;
use crate::plan::network::NetworkWrite;
use crate::plan::observed::ReadError;
use crate::plan::op::Op;
use std::time::{Duration, Instant};

/// The script (`src/os/network/apply.sh`).
pub const APPLY_SCRIPT: &str = include_str!("apply.sh");

/// Where the local transport records the commands it would run
/// (`$BMFLEET_SYSROOT/run/bmfleet/commands.log`, one shell-quoted command per line).
pub const COMMAND_LOG: &str = "run/bmfleet/commands.log";

/// Where a sysroot holds the `$SSH_CONNECTION` text the local transport pretends to run
/// under (the test hook for the session's interface).
pub const SSH_CONNECTION_FILE: &str = "run/bmfleet/ssh-connection";

/// How often a new SSH connection is tried while waiting for it.
const FRESH_RETRY: Duration = Duration::from_secs(5);

/// Seconds waited beyond the rollback timeout before checking that the revert ran.
const REVERT_GRACE_S: u64 = 15;

/// The most stderr characters a message shows.
const STDERR_SHOWN: usize = 512;

/// What the `apply` mode reported.
#[derive(Debug, Default)]
struct ApplyReport {
    written: Vec<String>,
    unchanged: Vec<String>,
    armed: String,
    result: String,
    failed_command: Option<String>,
    stderr: String,
}

fn parse_report(stdout: &[u8]) -> ApplyReport {
    let text = String::from_utf8_lossy(stdout);
    let (head, stderr) = match text.split_once("\nstderr:\n") {
        Some((h, e)) => (h.to_string(), e.to_string()),
        None => (text.to_string(), String::new()),
    };
    let mut r = ApplyReport {
        stderr,
        ..ApplyReport::default()
    };
    for line in head.lines() {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "written" => r.written.push(rest.to_string()),
            "unchanged" => r.unchanged.push(rest.to_string()),
            "armed" => r.armed = rest.to_string(),
            "result" => r.result = rest.to_string(),
            "failed-command" => r.failed_command = Some(rest.to_string()),
            _ => {}
        }
    }
    r
}

/// The arguments of one list of commands: count, then per command its argc and argv.
fn command_args(out: &mut Vec<String>, cmds: &[Vec<String>]) {
    out.push(cmds.len().to_string());
    for c in cmds {
        out.push(c.len().to_string());
        out.extend(c.iter().cloned());
    }
}

/// A step id for the host's state directory and timer unit: the address's words and the
/// time, plain characters only (`g1-network-bond0-1767225600`).
fn step_id(step: &Step) -> String {
    let words = format!("{}-{}", step.address.host, step.address.relative());
    let id: String = words
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{}-{secs}", id.trim_start_matches(['-', '.']))
}

/// Checks that the op can be carried out as written: paths absolute, modes octal, contents
/// matching their SHA-256, a backend and activation present.
fn check(w: &NetworkWrite) -> Result<(), String> {
    for f in &w.files {
        if !f.path.starts_with('/') || f.path.contains("..") || f.path.contains('\n') {
            return Err(format!("refused path {:?}", f.path));
        }
        if f.mode.len() != 4 || !f.mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Err(format!(
                "{}: mode {:?} is not four octal digits",
                f.path, f.mode
            ));
        }
        let sha = crate::plan::value::sha256_hex(f.content.as_bytes());
        if sha != f.sha256 {
            return Err(format!(
                "{}: the content does not match its SHA-256 in the plan (the plan file was edited)",
                f.path
            ));
        }
    }
    if w.activate.is_empty() || w.activate.iter().any(Vec::is_empty) {
        return Err("no activation command".into());
    }
    Ok(())
}

struct Ctx<'a> {
    step: &'a Step,
    host: String,
}

impl Ctx<'_> {
    fn err(&self, message: String, code: &str, help: &str, outcome_unknown: bool) -> ApplyError {
        ApplyError {
            error: ReadError {
                endpoint: self.host.clone(),
                message: format!("{}: {message}", self.step.address),
                code: code.into(),
                help: help.into(),
            },
            outcome_unknown,
        }
    }

    fn transport_err(&self, what: &str, e: &TransportError, outcome_unknown: bool) -> ApplyError {
        self.err(
            format!("{what}: {e}"),
            "bmfleet::os::network_transport",
            "check that `ssh HOST true` works; re-plan to see what the host holds now",
            outcome_unknown,
        )
    }
}

/// Carries out a `network-apply` step on the host behind `transport`, exactly as its op
/// says: writes the op's files (each only when its content or mode differs; atomically:
/// temporary file, mode, rename; under `$BMFLEET_SYSROOT` for the local transport), then
/// runs the activation commands, and reads every written file back.
///
/// Guarantees: when the step touches the interface the SSH session runs over (or one it is
/// stacked on), the change is confirmed only after a new SSH connection succeeds, and rolled
/// back otherwise (see the module documentation); an activation command that fails rolls the
/// files back at once. Idempotent: applying the same step again rewrites nothing (the files
/// are reported unchanged) and runs the activation again. The local transport runs no
/// command: it appends them to `$BMFLEET_SYSROOT/`[`COMMAND_LOG`], reads the session's
/// address from [`SSH_CONNECTION_FILE`] and does not wait for the rollback timer.
///
/// Caveats: networkd does not change an existing netdev on reload (a changed bond mode needs
/// the bond recreated); a rollback restores files and reloads, it does not delete interfaces
/// the step created except through the op's revert commands.
///
/// # Errors
/// [`ApplyError`] naming host, step, command and (escaped, shortened) stderr:
/// `bmfleet::os::apply_unsupported` for an op without a rendered write (plans made before
/// network writes, routes and DNS); `bmfleet::os::network_plan` for an op that does not hold
/// together (edited plan file); `bmfleet::os::network_activate` when an activation command
/// failed (the files were restored); `bmfleet::os::network_lockout` when no new SSH
/// connection succeeded (the change was rolled back; `outcome_unknown` unless the revert was
/// confirmed); `bmfleet::os::network_transport` when the host could not be reached
/// (`outcome_unknown` once the files may have been written).
pub async fn apply(transport: &Transport, step: &Step) -> Result<StepOutcome, ApplyError> {
    let cx = Ctx {
        step,
        host: transport.host_label(),
    };
    let w = match &step.op {
        Op::NetworkApply { write: Some(w), .. } => w,
        _ => {
            return Err(cx.err(
                "this network step carries no rendered write (routes and DNS are not written yet; plans saved before network writes were rendered cannot be applied)".into(),
                "bmfleet::os::apply_unsupported",
                "plan again and apply the new plan",
                false,
            ));
        }
    };
    check(w).map_err(|m| {
        cx.err(
            m,
            "bmfleet::os::network_plan",
            "plan again and apply the new plan without editing it",
            false,
        )
    })?;
    let mut requests = 0u64;

    // 1. Which interfaces carry the session.
    requests += 1;
    let out = transport
        .run_script(APPLY_SCRIPT, &["session".into()])
        .await
        .map_err(|e| cx.transport_err("finding the SSH session's interface", &e, false))?;
    let session = session::parse(&String::from_utf8_lossy(&out.stdout));
    let guard = session.guarded(&w.touches);

    // 2. Write, arm, activate.
    let id = step_id(step);
    let mut args = vec![
        "apply".to_string(),
        id.clone(),
        if guard { "1" } else { "0" }.to_string(),
        w.rollback_timeout_s.to_string(),
        if w.backend.self_reverting() { "1" } else { "0" }.to_string(),
        w.files.len().to_string(),
    ];
    for f in &w.files {
        args.extend([f.path.clone(), f.mode.clone(), f.content.clone()]);
    }
    command_args(&mut args, &w.activate);
    command_args(&mut args, &w.commit);
    command_args(&mut args, &w.revert);
    requests += 1;
    let armed_at = Instant::now();
    let out = transport
        .run_script(APPLY_SCRIPT, &args)
        .await
        .map_err(|e| cx.transport_err("writing the network files", &e, true))?;
    let report = parse_report(&out.stdout);
    let files_note = format!(
        "{} written, {} unchanged",
        report.written.len(),
        report.unchanged.len()
    );
    match report.result.as_str() {
        "ok" => {}
        "reverted" => {
            return Err(cx.err(
                format!(
                    "`{}` failed: {}; the previous files were restored and `{}` run ({files_note})",
                    report.failed_command.as_deref().unwrap_or("?"),
                    escape_stderr(report.stderr.as_bytes(), STDERR_SHOWN),
                    joined(&w.revert)
                ),
                "bmfleet::os::network_activate",
                "fix what the command reports (or the spec), re-plan and apply again",
                true,
            ));
        }
        other => {
            return Err(cx.err(
                format!(
                    "`{}` failed ({other}): {}",
                    report.failed_command.as_deref().unwrap_or("?"),
                    escape_stderr(report.stderr.as_bytes(), STDERR_SHOWN)
                ),
                "bmfleet::os::network_activate",
                "re-plan to see what the host holds now",
                true,
            ));
        }
    }
    let detail = format!(
        "{} via {}: {files_note}; ran {}",
        step.address.relative(),
        w.backend.as_str(),
        joined(&w.activate)
    );
    if let (Transport::Local { sysroot }, Op::NetworkApply { desired, .. }) = (transport, &step.op)
    {
        sysroot::emulate_links(sysroot, desired);
    }
    if !guard {
        return Ok(StepOutcome { requests, detail });
    }

    // 3. The session's interface changed: confirm over a new connection, or roll back.
    let confirm_by = Duration::from_secs((w.rollback_timeout_s / 2).max(1));
    let last_err = loop {
        requests += 1;
        match transport.probe_fresh_connection().await {
            Ok(()) => break None,
            Err(e) => {
                if matches!(transport, Transport::Local { .. }) || armed_at.elapsed() >= confirm_by
                {
                    break Some(e);
                }
            }
        }
        tokio::time::sleep(FRESH_RETRY).await;
    };
    if last_err.is_none() {
        let mut cargs = vec!["commit".to_string(), id.clone()];
        command_args(&mut cargs, &w.commit);
        requests += 1;
        let out = transport
            .run_script_fresh(APPLY_SCRIPT, &cargs)
            .await
            .map_err(|e| cx.transport_err("confirming the network change", &e, true))?;
        let r = parse_report(&out.stdout);
        return match r.result.as_str() {
            "committed" => Ok(StepOutcome {
                requests,
                detail: format!("{detail}; the SSH session's interface changed: a new connection succeeded and the change was confirmed"),
            }),
            "too-late" => Err(cx.err(
                format!("a new SSH connection succeeded only after the rollback timer ({} s) had restored the previous files", w.rollback_timeout_s),
                "bmfleet::os::network_lockout",
                "re-plan: the host holds its previous network state; if the change takes long to come up (LACP), apply it from a console or over another interface",
                true,
            )),
            other => Err(cx.err(
                format!(
                    "`{}` failed ({other}): {}",
                    r.failed_command.as_deref().unwrap_or("?"),
                    escape_stderr(r.stderr.as_bytes(), STDERR_SHOWN)
                ),
                "bmfleet::os::network_activate",
                "re-plan to see what the host holds now",
                true,
            )),
        };
    }

    // No new connection: wait for the revert to have run, then check it did.
    let why = last_err.map(|e| e.to_string()).unwrap_or_default();
    if let Transport::Ssh(_) = transport {
        let wait_until = Duration::from_secs(w.rollback_timeout_s + REVERT_GRACE_S);
        if let Some(left) = wait_until.checked_sub(armed_at.elapsed()) {
            tokio::time::sleep(left).await;
        }
    }
    let mut finish = None;
    for attempt in 0..12 {
        if let Ok(out) = transport
            .run_script_fresh(APPLY_SCRIPT, &["finish".into(), id.clone()])
            .await
        {
            finish = Some(parse_report(&out.stdout));
            break;
        }
        if attempt == 11 || matches!(transport, Transport::Local { .. }) {
            break;
        }
        tokio::time::sleep(FRESH_RETRY).await;
    }
    let rolled = match w.backend.self_reverting() {
        true => format!("NetworkManager's checkpoint ({} s)", w.rollback_timeout_s),
        false => format!(
            "the timed revert ({} s, {})",
            w.rollback_timeout_s, report.armed
        ),
    };
    let written = if report.written.is_empty() {
        "no file had changed".to_string()
    } else {
        format!("restored {}", report.written.join(", "))
    };
    let (state, unknown) = match finish.as_ref().map(|r| r.result.as_str()) {
        Some("reverted") | Some("reverted-earlier") => (
            format!(
                "rolled back by {rolled}: {written}, then ran `{}`",
                joined(&w.revert)
            ),
            false,
        ),
        Some(other) => (
            format!(
                "the rollback by {rolled} did not complete ({other}): {}",
                finish
                    .as_ref()
                    .map(|r| escape_stderr(r.stderr.as_bytes(), STDERR_SHOWN))
                    .unwrap_or_default()
            ),
            true,
        ),
        None => (
            format!(
                "the host is still unreachable after {rolled} should have restored it; its state is unknown"
            ),
            true,
        ),
    };
    Err(cx.err(
        format!(
            "after `{}` no new SSH connection succeeded within {} s ({why}); {state}",
            joined(&w.activate),
            confirm_by.as_secs()
        ),
        "bmfleet::os::network_lockout",
        "the change would have cut bmfleet off this host: fix the spec (addresses, VLAN, bond ports) or apply it from a console, then re-plan",
        unknown,
    ))
}

/// Commands as one line (`networkctl reload; networkctl reconfigure bond0`).
fn joined(cmds: &[Vec<String>]) -> String {
    cmds.iter()
        .map(|c| {
            c.iter()
                .map(|a| crate::os::transport::shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_parsed_with_their_stderr() {
        let r = parse_report(
            b"written /etc/a\nunchanged /etc/b\narmed systemd-run\nfailed-command networkctl reload\nresult reverted\nstderr:\nboom\nline 2",
        );
        assert_eq!(r.written, ["/etc/a"]);
        assert_eq!(r.unchanged, ["/etc/b"]);
        assert_eq!(r.armed, "systemd-run");
        assert_eq!(r.result, "reverted");
        assert_eq!(r.failed_command.as_deref(), Some("networkctl reload"));
        assert_eq!(r.stderr, "boom\nline 2");
    }
}

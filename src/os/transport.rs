//! How OS scripts reach a host: the system OpenSSH client ([`Transport::Ssh`]) or a local
//! `sh` over a sysroot directory ([`Transport::Local`], for tests and the simulator).
//!
//! A script is sent on the shell's stdin (`sh -s -- ARGS`), so one script is one round trip
//! and nothing is copied to the host. Through SSH the user's `~/.ssh/config`, agent,
//! ProxyJump, certificates and `known_hosts` apply as they do for `ssh` itself; host-key
//! checking stays on (`StrictHostKeyChecking=yes`, never `no` or `accept-new`), and one
//! multiplexed connection per host is shared by every script of a run (`ControlMaster=auto`,
//! `ControlPersist`, sockets in a private directory).
//!
//! What a host sends back is bounded: stdout at [`MAX_STDOUT`] bytes (more is an error and the
//! command is killed), stderr at [`MAX_STDERR`] (the rest is discarded), the whole command by
//! a timeout; errors name the host, the command and the (escaped, shortened) stderr.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// The most stdout a script may print, in bytes (4 MiB).
pub const MAX_STDOUT: usize = 4 * 1024 * 1024;

/// The most stderr kept from a script, in bytes (64 KiB); the rest is read and discarded.
pub const MAX_STDERR: usize = 64 * 1024;

/// How long a [`Transport::Local`] script may run.
pub const LOCAL_TIMEOUT: Duration = Duration::from_secs(60);

/// `ControlPersist` in seconds: how long the master connection outlives its last session.
pub const CONTROL_PERSIST_SECS: u64 = 60;

/// The longest control directory path, in bytes: a Unix socket path holds 107 bytes, and ssh
/// binds `<dir>/<%C: 40 hex>.<16 random>` before renaming it.
pub const MAX_CONTROL_DIR_LEN: usize = 49;

/// The most stderr characters an error message shows.
const STDERR_IN_MESSAGE: usize = 1024;

/// Where scripts run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// `sh -s` on this machine with `BMFLEET_SYSROOT=<sysroot>` in its environment, so a
    /// script reads `<sysroot>/proc`, `<sysroot>/sys`, ... instead of the real ones. An empty
    /// path (or `/`) reads this machine's real files. The environment is cleared except
    /// `PATH`. On timeout the shell is killed, not processes it started in the background.
    Local {
        /// The fake root directory; relative paths are made absolute.
        sysroot: PathBuf,
    },
    /// The system `ssh` client.
    Ssh(SshTarget),
}

/// An SSH destination and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// Host name, address or `~/.ssh/config` alias (no leading `-`, no whitespace).
    pub destination: String,
    /// TCP port (`-p`); `None` leaves it to `~/.ssh/config` (default 22).
    pub port: Option<u16>,
    /// Login user (`-l`); `None` leaves it to `~/.ssh/config`.
    pub user: Option<String>,
    /// Private key file (`-i`); `None` uses the agent and `~/.ssh/config`.
    pub identity_file: Option<PathBuf>,
    /// Jump host (`-J`, `user@host:port`).
    pub jump_host: Option<String>,
    /// An ssh_config(5) file used instead of `~/.ssh/config` (`-F`), for tests and CI.
    pub config_file: Option<PathBuf>,
    /// Run scripts through `sudo -n` (for a non-root login user; never prompts).
    pub sudo: bool,
    /// Directory for the multiplexing sockets; created `0700` if missing and refused if open
    /// to other users. At most [`MAX_CONTROL_DIR_LEN`] bytes, plain characters only.
    pub control_dir: PathBuf,
    /// `ConnectTimeout` (whole seconds, at least 1).
    pub connect_timeout: Duration,
    /// How long one script may take, connection included.
    pub command_timeout: Duration,
}

impl SshTarget {
    /// A target with defaults: port and user from `~/.ssh/config`, no sudo, connect timeout
    /// 10 s, command timeout 120 s.
    pub fn new(destination: impl Into<String>, control_dir: impl Into<PathBuf>) -> SshTarget {
        SshTarget {
            destination: destination.into(),
            port: None,
            user: None,
            identity_file: None,
            jump_host: None,
            config_file: None,
            sudo: false,
            control_dir: control_dir.into(),
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(120),
        }
    }

    /// The `ssh` argv (program first) that runs `sh -s -- ARGS` on the host, the script
    /// coming on stdin. The remote command is one string the remote shell parses, so every
    /// argument is single-quoted.
    ///
    /// # Errors
    ///
    /// [`TransportError::Invalid`] for a destination, user or jump host that is empty, starts
    /// with `-` or holds whitespace or control characters, or a control directory path that
    /// is too long or not plain.
    pub fn argv(&self, args: &[String]) -> Result<Vec<OsString>, TransportError> {
        self.build_argv(args, false)
    }

    /// The `ssh` argv of [`Self::argv`] over a **new** connection: `ControlMaster=no` and
    /// `ControlPath=none`, so the multiplexed master (which may outlive a network change
    /// that cuts new connections off) is not used. Host-key checking and every other option
    /// stay the same.
    ///
    /// # Errors
    ///
    /// As [`Self::argv`].
    pub fn fresh_argv(&self, args: &[String]) -> Result<Vec<OsString>, TransportError> {
        self.build_argv(args, true)
    }

    fn build_argv(&self, args: &[String], fresh: bool) -> Result<Vec<OsString>, TransportError> {
        let invalid = |reason: String| TransportError::Invalid {
            host: self.destination.clone(),
            reason,
        };
        check_word("destination", &self.destination).map_err(invalid)?;
        if let Some(user) = &self.user {
            check_word("user", user).map_err(invalid)?;
        }
        if let Some(jump) = &self.jump_host {
            check_word("jump host", jump).map_err(invalid)?;
        }
        let dir = self
            .control_dir
            .to_str()
            .ok_or_else(|| invalid("control directory is not UTF-8".into()))?;
        if dir.len() > MAX_CONTROL_DIR_LEN {
            return Err(invalid(format!(
                "control directory {dir:?} is longer than {MAX_CONTROL_DIR_LEN} bytes (a socket path \
                 holds 107)"
            )));
        }
        if !dir.starts_with('/')
            || !dir
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b))
        {
            return Err(invalid(format!(
                "control directory {dir:?} must be an absolute path of letters, digits and /._+-"
            )));
        }
        let dir = dir.trim_end_matches('/');
        let connect = self.connect_timeout.as_secs().max(1);
        let mut argv: Vec<OsString> = vec!["ssh".into(), "-T".into()];
        if let Some(config) = &self.config_file {
            argv.push("-F".into());
            argv.push(config.into());
        }
        let control = if fresh {
            vec![
                "ControlMaster=no".to_string(),
                "ControlPath=none".to_string(),
            ]
        } else {
            vec![
                "ControlMaster=auto".to_string(),
                format!("ControlPath={dir}/%C"),
                format!("ControlPersist={CONTROL_PERSIST_SECS}"),
            ]
        };
        let opts = [
            "BatchMode=yes".to_string(),
            "StrictHostKeyChecking=yes".to_string(),
        ]
        .into_iter()
        .chain(control)
        .chain([
            format!("ConnectTimeout={connect}"),
            // A master whose host went away (a reset) notices within 30 s instead of
            // hanging every session multiplexed over it.
            "ServerAliveInterval=10".to_string(),
            "ServerAliveCountMax=3".to_string(),
        ]);
        for opt in opts {
            argv.push("-o".into());
            argv.push(opt.into());
        }
        if let Some(port) = self.port {
            argv.push("-p".into());
            argv.push(port.to_string().into());
        }
        if let Some(user) = &self.user {
            argv.push("-l".into());
            argv.push(user.into());
        }
        if let Some(key) = &self.identity_file {
            argv.push("-i".into());
            argv.push(key.into());
        }
        if let Some(jump) = &self.jump_host {
            argv.push("-J".into());
            argv.push(jump.into());
        }
        argv.push("--".into());
        argv.push(self.destination.clone().into());
        let mut remote = String::from(if self.sudo {
            "sudo -n sh -s --"
        } else {
            "sh -s --"
        });
        for a in args {
            remote.push(' ');
            remote.push_str(&shell_quote(a));
        }
        argv.push(remote.into());
        Ok(argv)
    }
}

fn check_word(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if value.starts_with('-') {
        return Err(format!("{what} {value:?} starts with '-'"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{what} {value:?} holds whitespace or control characters"
        ));
    }
    Ok(())
}

/// Quotes `s` for a POSIX shell: `'...'`, with `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What a script printed (it exited 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptOutput {
    /// Standard output, at most [`MAX_STDOUT`] bytes.
    pub stdout: Vec<u8>,
    /// Standard error, at most [`MAX_STDERR`] bytes (the rest discarded).
    pub stderr: Vec<u8>,
}

/// Why a script could not be run. Messages name the host and the command; stderr is escaped
/// (control characters as `\u{..}`) and shortened. No message holds a secret: the command
/// line has at most a key file's path.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The target cannot be used as given.
    #[error("{host}: invalid SSH target: {reason}")]
    Invalid {
        /// The destination.
        host: String,
        /// What is wrong.
        reason: String,
    },
    /// The control socket directory could not be made private.
    #[error("{host}: SSH control directory {}: {reason}", path.display())]
    ControlDir {
        /// The destination.
        host: String,
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The command could not be started (no `ssh` or `sh`).
    #[error("{host}: cannot start `{command}`: {source}")]
    Spawn {
        /// The destination (`local:<sysroot>` for the local transport).
        host: String,
        /// The command line.
        command: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Reading or writing the command's pipes failed.
    #[error("{host}: `{command}`: {source}")]
    Io {
        /// The destination.
        host: String,
        /// The command line.
        command: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The command did not finish in time (it was killed).
    #[error("{host}: `{command}` did not finish within {} s and was stopped", after.as_secs_f64())]
    Timeout {
        /// The destination.
        host: String,
        /// The command line.
        command: String,
        /// The timeout.
        after: Duration,
    },
    /// The command printed more than [`MAX_STDOUT`] bytes (it was killed).
    #[error("{host}: `{command}` printed more than {limit} bytes and was stopped")]
    OutputTooLarge {
        /// The destination.
        host: String,
        /// The command line.
        command: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The command exited unsuccessfully (`ssh` exits 255 when it cannot connect or the host
    /// key does not match).
    #[error("{host}: `{command}` failed ({status}): {stderr}")]
    Failed {
        /// The destination.
        host: String,
        /// The command line.
        command: String,
        /// The exit status (`exit status: 255`, `signal: 9`).
        status: String,
        /// Its stderr, escaped and shortened.
        stderr: String,
    },
}

/// Renders stderr for a message: lossy UTF-8, trimmed, control characters (newlines too)
/// escaped, at most `max` characters plus a note of how much was cut.
pub fn escape_stderr(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n >= max {
            let rest = text.chars().count() - n;
            out.push_str(&format!("... ({rest} more characters)"));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push_str("(no stderr)");
    }
    out
}

/// Creates `path` (and missing parents) with mode `0700`, or checks that an existing
/// directory is not a symlink and has no group or other permissions.
///
/// # Errors
///
/// [`TransportError::ControlDir`] naming the reason.
pub fn prepare_control_dir(host: &str, path: &Path) -> Result<(), TransportError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let fail = |reason: String| TransportError::ControlDir {
        host: host.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(fail(
                    "exists and is not a directory (or is a symlink)".into(),
                ));
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(fail(format!(
                    "has mode {mode:04o}; it must be private (0700): chmod 700 it or choose another"
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(|e| fail(format!("cannot create it: {e}")))?;
            // The umask may have taken bits away; never more than 0700.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| fail(format!("cannot set mode 0700: {e}")))
        }
        Err(e) => Err(fail(format!("cannot read it: {e}"))),
    }
}

fn display_argv(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Transport {
    /// The host as errors name it: the SSH destination, or `local:<sysroot>`.
    pub fn host_label(&self) -> String {
        match self {
            Transport::Local { sysroot } => format!("local:{}", sysroot.display()),
            Transport::Ssh(t) => t.destination.clone(),
        }
    }

    /// Closes the SSH master connection of this host, if one runs (`ssh -O exit`), so that the
    /// next script connects afresh (after a reset the old connection is dead). Does nothing
    /// for local transports; failures are ignored (there may be no master).
    pub async fn close_master(&self) {
        let Transport::Ssh(target) = self else {
            return;
        };
        let Ok(mut argv) = target.argv(&[]) else {
            return;
        };
        // `ssh [opts] -- DEST 'sh -s --'` -> `ssh [opts] -O exit -- DEST`.
        argv.pop();
        let Some(pos) = argv.iter().position(|a| a == "--") else {
            return;
        };
        argv.insert(pos, "exit".into());
        argv.insert(pos, "-O".into());
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), cmd.status()).await;
    }

    /// Runs `script` with `args` (`sh -s -- ARGS`, the script on stdin) and returns its
    /// output when it exits 0.
    ///
    /// # Errors
    ///
    /// See [`TransportError`]: invalid target, control directory, start failure, pipe
    /// errors, timeout, stdout over [`MAX_STDOUT`], non-zero exit.
    pub async fn run_script(
        &self,
        script: &str,
        args: &[String],
    ) -> Result<ScriptOutput, TransportError> {
        let host = self.host_label();
        match self {
            Transport::Local { sysroot } => {
                let root = if sysroot.as_os_str().is_empty() {
                    PathBuf::new()
                } else {
                    std::path::absolute(sysroot).map_err(|e| TransportError::Invalid {
                        host: host.clone(),
                        reason: format!("sysroot {}: {e}", sysroot.display()),
                    })?
                };
                let mut argv: Vec<OsString> = vec!["sh".into(), "-s".into(), "--".into()];
                argv.extend(args.iter().map(OsString::from));
                let mut cmd = tokio::process::Command::new("sh");
                cmd.args(&argv[1..]).env_clear();
                cmd.env(
                    "PATH",
                    std::env::var_os("PATH")
                        .unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
                );
                cmd.env("BMFLEET_SYSROOT", root.as_os_str());
                run(cmd, &host, &display_argv(&argv), script, LOCAL_TIMEOUT).await
            }
            Transport::Ssh(target) => {
                let argv = target.argv(args)?;
                prepare_control_dir(&host, &target.control_dir)?;
                run_argv(&argv, &host, script, target.command_timeout).await
            }
        }
    }
}

/// Runs `argv` (program first, never empty: [`SshTarget::argv`] and
/// [`SshTarget::fresh_argv`] build it) with `script` on its stdin.
async fn run_argv(
    argv: &[OsString],
    host: &str,
    script: &str,
    timeout: Duration,
) -> Result<ScriptOutput, TransportError> {
    let Some((program, rest)) = argv.split_first() else {
        return Err(TransportError::Invalid {
            host: host.to_string(),
            reason: "empty command line".into(),
        });
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest);
    run(cmd, host, &display_argv(argv), script, timeout).await
}

/// The file under a local transport's sysroot whose presence makes
/// [`Transport::probe_fresh_connection`] fail: the test hook that simulates a network change
/// cutting the host off (only the local transport reads it).
pub const FAIL_FRESH_CONNECTION: &str = "run/bmfleet/fail-fresh-connection";

impl Transport {
    /// Runs `script` like [`Self::run_script`], but over a new SSH connection that does not
    /// use (or become) the multiplexed master ([`SshTarget::fresh_argv`]); the local
    /// transport runs it as [`Self::run_script`] does.
    ///
    /// # Errors
    ///
    /// As [`Self::run_script`].
    pub async fn run_script_fresh(
        &self,
        script: &str,
        args: &[String],
    ) -> Result<ScriptOutput, TransportError> {
        match self {
            Transport::Local { .. } => self.run_script(script, args).await,
            Transport::Ssh(target) => {
                let argv = target.fresh_argv(args)?;
                run_argv(&argv, &self.host_label(), script, target.command_timeout).await
            }
        }
    }

    /// Whether a **new** connection to the host succeeds now (TCP, key exchange, host key,
    /// authentication and a shell running `true`), not the multiplexed one: what proves that a
    /// network change left the host reachable. The local transport succeeds unless
    /// `<sysroot>/`[`FAIL_FRESH_CONNECTION`] exists (a test hook).
    ///
    /// # Errors
    ///
    /// The [`TransportError`] of the attempt (`ssh` exits 255 when it cannot connect).
    pub async fn probe_fresh_connection(&self) -> Result<(), TransportError> {
        if let Transport::Local { sysroot } = self
            && sysroot.join(FAIL_FRESH_CONNECTION).exists()
        {
            return Err(TransportError::Failed {
                host: self.host_label(),
                command: "ssh (fresh connection)".into(),
                status: "exit status: 255".into(),
                stderr: format!("simulated: {FAIL_FRESH_CONNECTION} exists in the sysroot"),
            });
        }
        self.run_script_fresh("true", &[]).await.map(|_| ())
    }
}

/// Reads at most `cap` bytes; more is an error of kind `FileTooLarge`.
async fn read_capped<R: AsyncRead + Unpin>(reader: Option<R>, cap: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(r) = reader {
        r.take(cap as u64 + 1).read_to_end(&mut buf).await?;
    }
    if buf.len() > cap {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            "output too large",
        ));
    }
    Ok(buf)
}

/// Keeps the first `cap` bytes and discards the rest until end of file.
async fn read_keep_head<R: AsyncRead + Unpin>(
    reader: Option<R>,
    cap: usize,
) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(r) = reader {
        let mut r = r;
        (&mut r).take(cap as u64).read_to_end(&mut buf).await?;
        tokio::io::copy(&mut r, &mut tokio::io::sink()).await?;
    }
    Ok(buf)
}

async fn run(
    mut cmd: tokio::process::Command,
    host: &str,
    command: &str,
    script: &str,
    timeout: Duration,
) -> Result<ScriptOutput, TransportError> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| TransportError::Spawn {
        host: host.to_string(),
        command: command.to_string(),
        source,
    })?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let write = async move {
        if let Some(mut stdin) = stdin {
            // A command that exits without reading its input (ssh failing to connect) closes
            // the pipe: its exit status tells why, not the write error.
            match stdin.write_all(script.as_bytes()).await {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                other => other?,
            }
            match stdin.shutdown().await {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
        }
        Ok::<(), io::Error>(())
    };
    let work = async {
        let ((), out, err) = tokio::try_join!(
            write,
            read_capped(stdout, MAX_STDOUT),
            read_keep_head(stderr, MAX_STDERR)
        )?;
        let status = child.wait().await?;
        Ok::<_, io::Error>((status, out, err))
    };
    let (status, stdout, stderr) = match tokio::time::timeout(timeout, work).await {
        Err(_) => {
            return Err(TransportError::Timeout {
                host: host.to_string(),
                command: command.to_string(),
                after: timeout,
            });
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::FileTooLarge => {
            return Err(TransportError::OutputTooLarge {
                host: host.to_string(),
                command: command.to_string(),
                limit: MAX_STDOUT,
            });
        }
        Ok(Err(source)) => {
            return Err(TransportError::Io {
                host: host.to_string(),
                command: command.to_string(),
                source,
            });
        }
        Ok(Ok(v)) => v,
    };
    // The child is killed on drop when a branch above returned early.
    if !status.success() {
        return Err(TransportError::Failed {
            host: host.to_string(),
            command: command.to_string(),
            status: status.to_string(),
            stderr: escape_stderr(&stderr, STDERR_IN_MESSAGE),
        });
    }
    Ok(ScriptOutput { stdout, stderr })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(argv: &[OsString]) -> Vec<String> {
        argv.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn ssh_argv_keeps_host_key_checking_and_multiplexes() {
        let mut t = SshTarget::new("r1-c01.example", "/run/user/1000/bmfleet-ssh");
        t.port = Some(2222);
        t.user = Some("ops".into());
        t.sudo = true;
        t.connect_timeout = Duration::from_millis(2500);
        let argv = strs(
            &t.argv(&["sysctl:net.ipv4.ip_forward".into(), "it's".into()])
                .unwrap(),
        );
        let joined = argv.join(" ");
        for want in [
            "BatchMode=yes",
            "StrictHostKeyChecking=yes",
            "ControlMaster=auto",
            "ControlPath=/run/user/1000/bmfleet-ssh/%C",
            "ControlPersist=60",
            "ConnectTimeout=2",
        ] {
            assert!(
                argv.iter().any(|a| a == want),
                "{want} missing from {joined}"
            );
        }
        assert!(!joined.contains("StrictHostKeyChecking=no"), "{joined}");
        assert!(!joined.contains("accept-new"), "{joined}");
        assert!(!joined.contains("UserKnownHostsFile"), "{joined}");
        assert_eq!(argv[0], "ssh");
        let dd = argv.iter().position(|a| a == "--").unwrap();
        assert_eq!(argv[dd + 1], "r1-c01.example");
        assert_eq!(
            argv[dd + 2],
            r"sudo -n sh -s -- sysctl:net.ipv4.ip_forward 'it'\''s'"
        );
        assert_eq!(argv.len(), dd + 3);
        assert!(
            joined.contains("-p 2222") && joined.contains("-l ops"),
            "{joined}"
        );
        t.sudo = false;
        let argv = strs(&t.argv(&[]).unwrap());
        assert_eq!(argv.last().unwrap(), "sh -s --");
    }

    #[test]
    fn ssh_argv_refuses_option_injection_and_bad_control_dirs() {
        let ok = SshTarget::new("h", "/tmp/bm");
        assert!(ok.argv(&[]).is_ok());
        for (dest, user, jump, dir) in [
            ("-oProxyCommand=x", None, None, "/tmp/bm"),
            ("", None, None, "/tmp/bm"),
            ("h h", None, None, "/tmp/bm"),
            ("h", Some("-x"), None, "/tmp/bm"),
            ("h", None, Some("-oProxyCommand=x"), "/tmp/bm"),
            ("h", None, None, "relative"),
            ("h", None, None, "/tmp/with space"),
            ("h", None, None, "/tmp/%d"),
            (
                "h",
                None,
                None,
                "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ),
        ] {
            let mut t = SshTarget::new(dest, dir);
            t.user = user.map(String::from);
            t.jump_host = jump.map(String::from);
            assert!(
                matches!(t.argv(&[]), Err(TransportError::Invalid { .. })),
                "{dest:?} {user:?} {jump:?} {dir:?} accepted"
            );
        }
    }

    #[test]
    fn quoting_and_stderr_escaping() {
        assert_eq!(shell_quote("plain-1.2"), "plain-1.2");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b;$(x)"), "'a b;$(x)'");
        assert_eq!(shell_quote("'"), r"''\'''");
        let e = escape_stderr(b"bad\x1b[31m\nline\xff", 100);
        assert_eq!(e, "bad\\u{1b}[31m\\nline\u{fffd}");
        let long = escape_stderr(&[b'x'; 50], 10);
        assert_eq!(long, "xxxxxxxxxx... (40 more characters)");
        assert_eq!(escape_stderr(b"  ", 10), "(no stderr)");
    }

    #[test]
    fn control_dir_is_created_private_and_open_ones_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/ctl");
        prepare_control_dir("h", &dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        prepare_control_dir("h", &dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = prepare_control_dir("h", &dir).unwrap_err().to_string();
        assert!(err.contains("0755") && err.contains("h:"), "{err}");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
        assert!(prepare_control_dir("h", &link).is_err());
    }

    #[tokio::test]
    async fn local_failures_name_host_command_and_stderr() {
        let t = Transport::Local {
            sysroot: PathBuf::from("/nonexistent-root"),
        };
        let err = t
            .run_script("printf 'boom\\033[1m\\n' >&2; exit 3", &["a b".into()])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("local:/nonexistent-root: `sh -s -- 'a b'` failed (exit status: 3)"),
            "{err}"
        );
        assert!(err.contains("boom\\u{1b}[1m"), "{err}");
    }

    #[tokio::test]
    async fn output_is_bounded() {
        let t = Transport::Local {
            sysroot: PathBuf::new(),
        };
        // Endless stdout: stopped at the cap, not read into memory.
        let err = t.run_script("yes xxxxxxxx", &[]).await.unwrap_err();
        assert!(
            matches!(err, TransportError::OutputTooLarge { .. }),
            "{err}"
        );
        // Endless-ish stderr is discarded beyond the cap; the script still succeeds.
        let out = t
            .run_script("head -c 1000000 /dev/zero >&2; echo ok", &[])
            .await
            .unwrap();
        assert_eq!(out.stdout, b"ok\n");
        assert_eq!(out.stderr.len(), MAX_STDERR);
    }

    #[tokio::test]
    async fn scripts_get_args_and_the_sysroot() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Transport::Local {
            sysroot: tmp.path().to_path_buf(),
        };
        let out = t
            .run_script(
                r#"printf '%s|' "$BMFLEET_SYSROOT" "$#" "$1" "$2""#,
                &["x y".into(), "'q'".into()],
            )
            .await
            .unwrap();
        let want = format!("{}|2|x y|'q'|", tmp.path().display());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
    }

    #[tokio::test]
    async fn slow_commands_time_out_and_are_killed() {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-s"]);
        let start = std::time::Instant::now();
        let err = run(
            cmd,
            "h",
            "sh -s",
            "exec sleep 30",
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10));
        let msg = err.to_string();
        assert!(matches!(err, TransportError::Timeout { .. }), "{msg}");
        assert_eq!(
            msg,
            "h: `sh -s` did not finish within 0.3 s and was stopped"
        );
    }

    #[test]
    fn fresh_argv_bypasses_the_master_and_keeps_host_key_checking() {
        let t = SshTarget::new("h", "/tmp/bm");
        let argv = strs(&t.fresh_argv(&["x".into()]).unwrap());
        let joined = argv.join(" ");
        for want in [
            "BatchMode=yes",
            "StrictHostKeyChecking=yes",
            "ControlMaster=no",
            "ControlPath=none",
        ] {
            assert!(argv.iter().any(|a| a == want), "{want} missing: {joined}");
        }
        assert!(!joined.contains("ControlPersist"), "{joined}");
        assert!(!joined.contains("/tmp/bm/%C"), "{joined}");
        assert_eq!(argv.last().unwrap(), "sh -s -- x");
    }

    #[test]
    fn ssh_argv_config_file_and_key() {
        let mut t = SshTarget::new("h", "/tmp/bm");
        t.config_file = Some("/etc/bmfleet/ssh_config".into());
        t.identity_file = Some("/home/ops/.ssh/id_ed25519".into());
        t.jump_host = Some("ops@bastion:2222".into());
        let argv = strs(&t.argv(&[]).unwrap());
        let joined = argv.join(" ");
        assert!(
            joined.starts_with("ssh -T -F /etc/bmfleet/ssh_config -o "),
            "{joined}"
        );
        assert!(
            joined.contains(" -i /home/ops/.ssh/id_ed25519 -J ops@bastion:2222 -- h "),
            "{joined}"
        );
    }
}

//! A real peer: Debian's openssh-server `sshd` on 127.0.0.1, reached through the OS probe's
//! SSH transport (the system `ssh` client), probing this machine's real /proc and /sys.
//!
//! `.ci/test` starts sshd with a generated host key and client key, writes an ssh_config
//! that pins the host key (`StrictHostKeyChecking yes`) and exports `BMFLEET_SSHD_CONFIG` and
//! `BMFLEET_SSHD_HOST`; it runs these tests with `--include-ignored`. A plain `cargo test`
//! reports them as ignored (they need the peer); under CI (`CI=true`) a missing peer FAILS
//! them.

use bmfleet::os::probe::{ProbeError, ProbeRequest, run_probe, split_cmdline};
use bmfleet::os::transport::{SshTarget, Transport, TransportError};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The ssh_config path and Host alias of the peer, or `None` (after failing under CI).
fn peer() -> Option<(PathBuf, String)> {
    let config = std::env::var_os("BMFLEET_SSHD_CONFIG")
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    let host = std::env::var("BMFLEET_SSHD_HOST")
        .ok()
        .filter(|h| !h.is_empty());
    if let (Some(config), Some(host)) = (config, host) {
        return Some((config, host));
    }
    let msg = "no sshd peer (BMFLEET_SSHD_CONFIG/BMFLEET_SSHD_HOST unset): run .ci/test (it starts \
               Debian's openssh-server sshd on 127.0.0.1)";
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{msg}; CI requires this peer");
    }
    eprintln!("SKIPPED peer test: {msg}");
    None
}

/// The value of `key` in the ssh_config (first match, case-insensitive keyword).
fn config_value(text: &str, key: &str) -> String {
    text.lines()
        .filter_map(|l| l.trim().split_once(char::is_whitespace))
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| panic!("{key} missing from the peer's ssh_config"))
}

/// A short private directory under /tmp (a ControlPath must fit in 107 bytes).
fn short_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("bmos")
        .tempdir_in("/tmp")
        .unwrap()
}

fn target(config: &Path, host: &str, control_dir: &Path) -> Transport {
    let mut t = SshTarget::new(host, control_dir);
    t.config_file = Some(config.to_path_buf());
    t.connect_timeout = Duration::from_secs(5);
    t.command_timeout = Duration::from_secs(60);
    Transport::Ssh(t)
}

/// `ssh -O <op>` on the multiplexing master for `control_dir`; returns ssh's stderr.
fn mux(config: &Path, host: &str, control_dir: &Path, op: &str) -> String {
    let out = Command::new("ssh")
        .arg("-F")
        .arg(config)
        .arg("-o")
        .arg(format!("ControlPath={}/%C", control_dir.display()))
        .args(["-O", op, host])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stops the master connection when the test ends, passed or not.
struct Master<'a>(&'a Path, &'a str, &'a Path);

impl Drop for Master<'_> {
    fn drop(&mut self) {
        mux(self.0, self.1, self.2, "exit");
    }
}

/// The base64 lines of an OpenSSH private key file (what must never be printed).
fn key_material(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 20)
        .map(str::to_string)
        .collect();
    assert!(!lines.is_empty(), "{} holds no key", path.display());
    lines
}

fn assert_no_secrets(what: &str, err: &ProbeError, keys: &[&Path]) {
    let shown = format!("{err}\n{err:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{what}: {shown}");
    for key in keys {
        for line in key_material(key) {
            assert!(!shown.contains(&line), "{what}: key material in {shown}");
        }
    }
}

fn ssh_keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "bmfleet-test", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

#[tokio::test]
#[ignore = "peer test: needs an sshd on 127.0.0.1; .ci/test starts one and runs it"]
async fn probe_over_real_sshd() {
    let Some((config, host)) = peer() else {
        return;
    };
    let text = std::fs::read_to_string(&config).unwrap();
    let identity = PathBuf::from(config_value(&text, "IdentityFile"));
    let port = config_value(&text, "Port");
    let request = ProbeRequest {
        sysctl: vec!["kernel.hostname".into()],
        sysfs: vec![],
    };

    // 1. The probe runs over SSH on this machine and reads its real files.
    let tmp = short_tempdir();
    let ctl = tmp.path().join("ctl");
    let transport = target(&config, &host, &ctl);
    let _master = Master(&config, &host, &ctl);
    let p = run_probe(&transport, &request).await.unwrap();
    assert!(!p.sysroot);
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap();
    assert!(!p.cmdline.is_empty());
    assert_eq!(p.cmdline, split_cmdline(cmdline.trim_end()));
    let os = p.os_release.as_ref().expect("os-release");
    assert!(os.id.is_some(), "{os:?}");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        p.sysctl["kernel.hostname"].as_deref(),
        Some(hostname.trim_end())
    );
    if Path::new("/usr/sbin/ip").exists() || Path::new("/sbin/ip").exists() {
        assert!(
            p.links.as_ref().is_some_and(|l| l.contains_key("lo")),
            "{:?}",
            p.errors
        );
    }

    // 2. One multiplexed connection: the master's socket exists and the second probe goes
    //    through the same master (same process, same socket).
    let sockets: Vec<_> = std::fs::read_dir(&ctl)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_socket())
        .collect();
    assert_eq!(sockets.len(), 1, "control dir: {sockets:?}");
    let socket = sockets[0].path();
    let inode = std::fs::metadata(&socket).unwrap().ino();
    let check1 = mux(&config, &host, &ctl, "check");
    assert!(check1.starts_with("Master running (pid="), "{check1}");
    let p2 = run_probe(&transport, &request).await.unwrap();
    assert_eq!(p2.cmdline, p.cmdline);
    assert_eq!(mux(&config, &host, &ctl, "check"), check1);
    assert_eq!(std::fs::metadata(&socket).unwrap().ino(), inode);

    // 3. A wrong pinned host key: refused with ssh's host-key error (a fresh control
    //    directory: a running master would not check the key again).
    let keys = short_tempdir();
    let other = keys.path().join("other_host_key");
    ssh_keygen(&other);
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let mut fields = other_pub.split_whitespace();
    let (kind, body) = (fields.next().unwrap(), fields.next().unwrap());
    let wrong_known = keys.path().join("known_hosts");
    std::fs::write(&wrong_known, format!("[127.0.0.1]:{port} {kind} {body}\n")).unwrap();
    let known = config_value(&text, "UserKnownHostsFile");
    let wrong_config = keys.path().join("ssh_config");
    std::fs::write(
        &wrong_config,
        text.replace(&known, &wrong_known.display().to_string()),
    )
    .unwrap();
    let ctl2 = keys.path().join("ctl");
    let err = run_probe(&target(&wrong_config, &host, &ctl2), &request)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            &err,
            ProbeError::Transport(TransportError::Failed { status, .. }) if status.contains("255")
        ),
        "{msg}"
    );
    assert!(msg.contains("Host key verification failed"), "{msg}");
    assert!(msg.starts_with(&format!("{host}: `ssh ")), "{msg}");
    assert_no_secrets("wrong host key", &err, &[&identity, &other]);

    // 4. A client key the server does not know: refused, and neither key is shown.
    let stranger = keys.path().join("stranger");
    ssh_keygen(&stranger);
    let stranger_config = keys.path().join("ssh_config_stranger");
    std::fs::write(
        &stranger_config,
        text.replace(
            &identity.display().to_string(),
            &stranger.display().to_string(),
        ),
    )
    .unwrap();
    let ctl3 = keys.path().join("ctl3");
    let err = run_probe(&target(&stranger_config, &host, &ctl3), &request)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("Permission denied (publickey)"), "{msg}");
    assert_no_secrets("unknown client key", &err, &[&identity, &stranger]);
}

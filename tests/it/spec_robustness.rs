//! Bad input never panics or hangs: every case runs the real binary on inputs generated in a
//! temp dir, under a deadline (the child is killed when it expires), and must exit 1 with the
//! expected diagnostic code in `--format json`, no panic message and no signal.

use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A hang guard, not a speed check (speed is measured in benches/spec_load.rs): the debug
/// binary on two shared cores takes up to a minute on the 2,000-host case under load.
const DEADLINE: Duration = Duration::from_secs(300);

const FLEET: &str = "apiVersion: bmfleet.dev/v1alpha1
kind: Fleet
metadata: {name: robust}
spec:
  credentials:
    bmc: {}
  defaults:
    bmc: {credentialsRef: bmc}
";

const HOST: &str = "apiVersion: bmfleet.dev/v1alpha1
kind: Host
metadata: {name: n1}
spec:
  bmc: {endpoint: https://10.0.0.1}
";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}):\n{}\nstderr:\n{}",
                head(&self.stdout),
                head(&self.stderr)
            )
        })
    }

    fn codes(&self) -> Vec<String> {
        self.json()["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .map(|d| {
                d["code"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("bmfleet::spec::")
                    .to_string()
            })
            .collect()
    }
}

fn head(s: &str) -> &str {
    let mut end = s.len().min(2000);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Runs `bmfleet args...` in `cwd`, killing it at the deadline. Output is drained on threads
/// so that a full pipe cannot look like a hang.
fn run(cwd: &Path, args: &[&str]) -> Run {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bmfleet"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("BMFLEET_FLEET")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bmfleet");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bmfleet {args:?} did not finish within {DEADLINE:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let run = Run {
        code: status.code(),
        stdout: out.join().expect("stdout thread"),
        stderr: err.join().expect("stderr thread"),
    };
    assert_eq!(
        status.signal(),
        None,
        "bmfleet {args:?} died of a signal; stderr:\n{}",
        head(&run.stderr)
    );
    assert!(
        !run.stderr.contains("panicked") && !run.stdout.contains("panicked"),
        "bmfleet {args:?} panicked:\n{}",
        head(&run.stderr)
    );
    run
}

/// A fleet directory holding a valid Fleet and host plus whatever the case adds.
fn fleet() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("fleet.yaml"), FLEET).unwrap();
    std::fs::write(tmp.path().join("hosts.yaml"), HOST).unwrap();
    tmp
}

/// `validate --format json` must exit 1 and report `code` (and, in human format, also exit
/// 1 without panicking: the renderer sees the same input).
fn expect_code(dir: &Path, code: &str) -> Run {
    let r = run(dir, &["validate", "--fleet", ".", "--format", "json"]);
    assert_eq!(r.code, Some(1), "exit code; stdout:\n{}", head(&r.stdout));
    let codes = r.codes();
    assert!(
        codes.iter().any(|c| c == code),
        "expected {code}, got {codes:?}"
    );
    for format in ["human", "github"] {
        let h = run(dir, &["validate", "--fleet", ".", "--format", format]);
        assert_eq!(h.code, Some(1), "{format}: {}", head(&h.stdout));
    }
    r
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

#[test]
fn a_50_mb_file_is_refused_without_reading_it() {
    let dir = fleet();
    let mut f = std::fs::File::create(dir.path().join("huge.yaml")).unwrap();
    let block =
        "# padding padding padding padding padding padding padding padding pad\n".repeat(1024);
    for _ in 0..(50 * 1024 * 1024 / block.len() + 1) {
        f.write_all(block.as_bytes()).unwrap();
    }
    drop(f);
    assert!(
        std::fs::metadata(dir.path().join("huge.yaml"))
            .unwrap()
            .len()
            >= 50 << 20
    );
    let r = expect_code(dir.path(), "file_too_large");
    let d = &r.json()["diagnostics"][0];
    assert_eq!(d["file"], "huge.yaml");
    // Only the size is reported: the file is refused from its metadata, not read.
    assert_eq!(r.json()["diagnostics"].as_array().unwrap().len(), 1);
}

#[test]
fn billion_laughs_is_refused() {
    let dir = fleet();
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names: Vec<char> = ('b'..='z').collect();
    let mut prev = 'a';
    for n in names {
        text.push_str(&format!(
            "{n}: &{n} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
        prev = n;
    }
    std::fs::write(dir.path().join("bomb.yaml"), &text).unwrap();
    expect_code(dir.path(), "yaml_alias_bomb");
}

#[test]
fn deep_nesting_is_refused() {
    for (name, text) in [
        (
            "flow-seq",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        ),
        ("flow-seq-unclosed", "[".repeat(10_000)),
        (
            "flow-map",
            format!("{}x{}", "{a: ".repeat(10_000), "}".repeat(10_000)),
        ),
        ("block-seq", format!("{}x\n", "- ".repeat(10_000))),
        (
            // (10,000 indented levels would be 50 MB, refused as file_too_large.)
            "block-map",
            (0..2_000)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect(),
        ),
    ] {
        let dir = fleet();
        std::fs::write(dir.path().join("deep.yaml"), &text).unwrap();
        let r = run(
            dir.path(),
            &["validate", "--fleet", ".", "--format", "json"],
        );
        assert_eq!(r.code, Some(1), "{name}");
        let codes = r.codes();
        assert!(
            codes
                .iter()
                .any(|c| c == "yaml_too_deep" || c == "yaml_syntax"),
            "{name}: {codes:?}"
        );
        let h = run(dir.path(), &["validate", "--fleet", "."]);
        assert_eq!(h.code, Some(1), "{name} (human)");
    }
}

#[test]
fn a_profile_include_chain_of_20000_is_refused_at_the_include_that_is_too_deep() {
    // p0 includes p1, which includes p2, ... p19999 (1,000 profiles a file); the host uses
    // p0. Expansion recursed once per level and overflowed the stack.
    let dir = fleet();
    let p = dir.path();
    let n = 20_000;
    for file in 0..n / 1000 {
        let mut text = String::new();
        for i in file * 1000..(file + 1) * 1000 {
            let include = if i + 1 < n {
                format!("  profiles: [p{}]\n", i + 1)
            } else {
                String::new()
            };
            text.push_str(&format!(
                "---\napiVersion: bmfleet.dev/v1alpha1\nkind: Profile\nmetadata: {{name: p{i}}}\nspec:\n{include}  power: On\n"
            ));
        }
        std::fs::write(p.join(format!("profiles-{file:02}.yaml")), text).unwrap();
    }
    std::fs::write(
        p.join("hosts.yaml"),
        HOST.replace("spec:\n", "spec:\n  profiles: [p0]\n"),
    )
    .unwrap();
    let r = expect_code(p, "profile_depth");
    let json = r.json();
    let d = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "bmfleet::spec::profile_depth")
        .unwrap();
    let message = d["message"].as_str().unwrap();
    assert!(
        message.contains("deeper than 32 levels: p0 -> p1 -> p2 -> p3 -> ..."),
        "{message}"
    );
    // Named at the include that goes one level too deep: file, line and column.
    let human = run(p, &["validate", "--fleet", "."]);
    assert!(
        human.stdout.contains("profiles-00.yaml:"),
        "{}",
        head(&human.stdout)
    );
    assert!(
        human.stdout.contains("profile_depth"),
        "{}",
        head(&human.stdout)
    );
}

#[test]
fn explain_with_a_long_path_answers_at_once() {
    // 32,000 parts in one 128 KiB argument (about the most one argument may hold): the
    // suggestion for an unset path re-joined and re-parsed the path once per part.
    let dir = fleet();
    let path = "bmc.".repeat(32_000);
    let path = path.trim_end_matches('.');
    let start = Instant::now();
    let r = run(dir.path(), &["explain", "n1", path, "--fleet", "."]);
    let took = start.elapsed();
    assert_eq!(r.code, Some(1), "{}", head(&r.stderr));
    assert!(r.stderr.contains("unset_path"), "{}", head(&r.stderr));
    assert!(r.stderr.contains("127999"), "{}", head(&r.stderr));
    assert!(
        r.stderr.len() < 4096,
        "the path is echoed whole: {} bytes",
        r.stderr.len()
    );
    assert!(took < Duration::from_secs(30), "explain took {took:?}");
}

#[test]
fn random_bytes_never_panic() {
    for seed in 1..=40u64 {
        let dir = fleet();
        let mut bytes = noise(seed, 64 + (seed as usize * 997) % 20_000);
        if seed % 2 == 0 {
            // Without NUL bytes the file gets past the binary check into UTF-8 decoding.
            bytes
                .iter_mut()
                .filter(|b| **b == 0)
                .for_each(|b| *b = b'x');
        }
        std::fs::write(dir.path().join("noise.yaml"), &bytes).unwrap();
        let r = run(
            dir.path(),
            &["validate", "--fleet", ".", "--format", "json"],
        );
        assert_eq!(r.code, Some(1), "seed {seed}");
        let codes = r.codes();
        assert!(
            codes
                .iter()
                .any(|c| ["binary_file", "not_utf8", "yaml_syntax"].contains(&c.as_str())),
            "seed {seed}: {codes:?}"
        );
        run(dir.path(), &["validate", "--fleet", "."]);
    }
}

#[test]
fn random_yaml_ish_text_never_panics() {
    let alphabet: &[&str] = &[
        "a",
        "b: ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "\n",
        "  ",
        "&x ",
        "*x",
        "!!str ",
        "\"",
        "'",
        "#",
        "|\n",
        ">-\n",
        "---\n",
        "...\n",
        "? ",
        "%YAML 1.2\n",
        "\t",
        "ü",
        "\\",
        "~",
        "kind: Host\n",
        "apiVersion: bmfleet.dev/v1alpha1\n",
        "metadata: {name: n",
        "spec:\n",
        "  network: {interfaces: [{name: e, mtu: ",
        "99999",
        "-1",
        "0x",
        ".inf",
    ];
    for seed in 1..=60u64 {
        let picks = noise(seed, 400);
        let text: String = picks
            .iter()
            .map(|b| alphabet[*b as usize % alphabet.len()])
            .collect();
        let dir = fleet();
        std::fs::write(dir.path().join("fuzz.yaml"), &text).unwrap();
        for format in ["json", "human", "github"] {
            let r = run(
                dir.path(),
                &["validate", "--fleet", ".", "--format", format],
            );
            assert!(
                matches!(r.code, Some(0 | 1)),
                "seed {seed} {format}: {:?}\n{text}",
                r.code
            );
        }
        // `show` renders the effective host from whatever survived.
        let r = run(dir.path(), &["show", "n1", "--fleet", "."]);
        assert!(matches!(r.code, Some(0 | 1)), "seed {seed} show");
    }
}

#[test]
fn non_utf8_is_reported_with_its_offset() {
    let dir = fleet();
    let mut bytes = HOST.replace("n1", "n2").into_bytes();
    bytes.extend_from_slice(b"  bios: {attributes: {Tag: \"\xff\xfe\xc3\"}}\n");
    std::fs::write(dir.path().join("latin1.yaml"), &bytes).unwrap();
    let r = expect_code(dir.path(), "not_utf8");
    let d = &r.json()["diagnostics"][0];
    assert_eq!(d["file"], "latin1.yaml");
    assert_eq!(d["line"], 6);
}

#[test]
fn symlinks_out_of_the_fleet_and_loops_are_not_followed() {
    let dir = fleet();
    let p = dir.path();
    std::os::unix::fs::symlink("/etc/passwd", p.join("passwd.yaml")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", p.join("zero.yaml")).unwrap();
    std::os::unix::fs::symlink("loop-b.yaml", p.join("loop-a.yaml")).unwrap();
    std::os::unix::fs::symlink("loop-a.yaml", p.join("loop-b.yaml")).unwrap();
    std::os::unix::fs::symlink("self.yaml", p.join("self.yaml")).unwrap();
    std::os::unix::fs::symlink("missing.yaml", p.join("dangling.yaml")).unwrap();
    // A directory loop: walking it must not recurse forever.
    std::fs::create_dir(p.join("sub")).unwrap();
    std::os::unix::fs::symlink("..", p.join("sub/up")).unwrap();
    std::os::unix::fs::symlink(".", p.join("sub/here")).unwrap();
    let r = expect_code(p, "symlink_escape");
    let json = r.json();
    let mut files: Vec<&str> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "bmfleet::spec::symlink_escape")
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    files.sort_unstable();
    assert_eq!(
        files,
        [
            "dangling.yaml",
            "loop-a.yaml",
            "loop-b.yaml",
            "passwd.yaml",
            "self.yaml",
            "zero.yaml"
        ]
    );
    assert!(
        !r.stdout.contains("root:"),
        "nothing of /etc/passwd is shown"
    );
    assert_eq!(json["hosts"], 1);
}

#[test]
fn cloud_init_files_never_leave_the_fleet_or_block() {
    let dir = fleet();
    let p = dir.path();
    std::fs::create_dir(p.join("ci")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.join("ci/passwd")).unwrap();
    std::fs::write(p.join("ci/big"), vec![b'#'; 2 * 1024 * 1024]).unwrap();
    let fifo = Command::new("mkfifo").arg(p.join("ci/fifo")).status();
    let have_fifo = fifo.is_ok_and(|s| s.success());
    let mut hosts = String::new();
    for (i, file) in ["ci/passwd", "ci/big", "ci", "/etc/passwd", "ci/fifo"]
        .iter()
        .enumerate()
    {
        if *file == "ci/fifo" && !have_fifo {
            continue;
        }
        hosts.push_str(&format!(
            "---\napiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata: {{name: h{i}}}\nspec:\n  bmc: {{endpoint: https://10.0.1.{i}}}\n  cloudInit:\n    userData: {{file: \"{file}\"}}\n"
        ));
    }
    std::fs::write(p.join("ci-hosts.yaml"), hosts).unwrap();
    let r = expect_code(p, "cloud_init_file_missing");
    let n = r
        .codes()
        .iter()
        .filter(|c| *c == "cloud_init_file_missing")
        .count();
    assert_eq!(n, if have_fifo { 5 } else { 4 }, "{}", head(&r.stdout));
    assert!(!r.stdout.contains("root:"));
}

#[test]
fn a_ca_file_that_is_a_device_or_a_fifo_is_an_error_not_a_hang() {
    // tls.caFile relative to the fleet root: a symlink to /dev/zero and a FIFO. (An absolute
    // caFile lives on the operator's machine; the Redfish client refuses devices and FIFOs
    // there: redfish::tls tests.)
    let dir = fleet();
    let p = dir.path();
    std::fs::create_dir(p.join("pki")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", p.join("pki/zero.pem")).unwrap();
    let have_fifo = Command::new("mkfifo")
        .arg(p.join("pki/fifo.pem"))
        .status()
        .is_ok_and(|s| s.success());
    let mut hosts = String::new();
    for (i, file) in ["pki/zero.pem", "pki/fifo.pem"].iter().enumerate() {
        if *file == "pki/fifo.pem" && !have_fifo {
            continue;
        }
        hosts.push_str(&format!(
            "---\napiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata: {{name: t{i}}}\nspec:\n  bmc:\n    endpoint: https://10.0.2.{i}\n    tls: {{caFile: {file}}}\n"
        ));
    }
    std::fs::write(p.join("tls-hosts.yaml"), hosts).unwrap();
    let start = Instant::now();
    let r = expect_code(p, "tls_ca_file");
    let n = r.codes().iter().filter(|c| *c == "tls_ca_file").count();
    assert_eq!(n, if have_fifo { 2 } else { 1 }, "{}", head(&r.stdout));
    assert!(start.elapsed() < Duration::from_secs(60));
    // Each says why: the symlink leaves the fleet root, the FIFO is not a regular file.
    assert!(
        r.stdout.contains("leaves the fleet root"),
        "{}",
        head(&r.stdout)
    );
    if have_fifo {
        assert!(
            r.stdout.contains("is not a regular file"),
            "{}",
            head(&r.stdout)
        );
    }
}

#[test]
fn a_fifo_among_the_specs_is_skipped() {
    let dir = fleet();
    let ok = Command::new("mkfifo")
        .arg(dir.path().join("pipe.yaml"))
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("mkfifo unavailable; skipped");
        return;
    }
    let r = run(
        dir.path(),
        &["validate", "--fleet", ".", "--format", "json"],
    );
    assert_eq!(r.code, Some(0), "{}", head(&r.stdout));
}

#[test]
fn empty_and_comment_only_files() {
    // Beside a valid fleet they are simply empty.
    for text in [
        "",
        "# only\n# comments\n",
        "---\n",
        "---\n...\n",
        "\u{feff}",
        "\n\n\n",
    ] {
        let dir = fleet();
        std::fs::write(dir.path().join("empty.yaml"), text).unwrap();
        let r = run(
            dir.path(),
            &["validate", "--fleet", ".", "--format", "json"],
        );
        assert_eq!(r.code, Some(0), "{text:?}: {}", head(&r.stdout));
        assert_eq!(r.json()["documents"], 2, "{text:?}");
    }
    // On their own there is no Fleet.
    for text in ["", "# only\n# comments\n"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty.yaml"), text).unwrap();
        let r = expect_code(dir.path(), "fleet_missing");
        assert_eq!(r.codes(), ["fleet_missing"]);
    }
    // An empty directory, and a fleet path that is not a directory.
    let dir = tempfile::tempdir().unwrap();
    expect_code(dir.path(), "fleet_missing");
    let r = run(dir.path(), &["validate", "--fleet", "no/such/dir"]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("bmfleet::spec::fleet_dir"),
        "{}",
        r.stderr
    );
    std::fs::write(dir.path().join("file"), "x").unwrap();
    let r = run(dir.path(), &["validate", "--fleet", "file"]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("bmfleet::spec::fleet_dir"),
        "{}",
        r.stderr
    );
}

#[test]
fn documents_that_are_not_mappings() {
    for (text, found) in [
        ("just a string\n", "string"),
        ("42\n", "integer"),
        ("- a\n- b\n", "sequence"),
        ("[apiVersion, kind]\n", "sequence"),
        ("true\n", "boolean"),
        ("---\n- x\n---\nhello\n", "sequence"),
    ] {
        let dir = fleet();
        std::fs::write(dir.path().join("odd.yaml"), text).unwrap();
        let r = expect_code(dir.path(), "invalid_document");
        let msg = r.json()["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(msg.ends_with(&format!(" {found}")), "{text:?}: {msg}");
    }
}

#[test]
fn very_long_lines() {
    let dir = fleet();
    let long = "x".repeat(2 * 1024 * 1024);
    // A 2 MiB label value, a 2 MiB unknown key (explicit `? `: YAML caps implicit keys at
    // 1024 characters) and a 2 MiB line of flow YAML.
    let text = format!(
        "apiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata:\n  name: n2\n  labels: {{big: {long}}}\nspec:\n  bmc: {{endpoint: https://10.0.0.2}}\n  ? {long}\n  : 1\n---\n{{apiVersion: bmfleet.dev/v1alpha1, kind: Host, metadata: {{name: n3}}, spec: {{bmc: {{endpoint: https://10.0.0.3}}, bios: {{attributes: {{{}}}}}}}}}\n",
        (0..100_000)
            .map(|i| format!("A{i}: {i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::fs::write(dir.path().join("long.yaml"), &text).unwrap();
    let r = expect_code(dir.path(), "invalid_label");
    let codes = r.codes();
    assert!(codes.contains(&"unknown_key".to_string()), "{codes:?}");
    assert_eq!(r.json()["hosts"], 3);
}

#[test]
fn a_host_with_10000_interfaces() {
    let dir = fleet();
    let mut text = String::from(
        "apiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata: {name: wide}\nspec:\n  bmc: {endpoint: https://10.0.0.9}\n  network:\n    interfaces:\n",
    );
    for i in 0..10_000 {
        text.push_str(&format!(
            "      - {{name: eth{i}, type: ethernet, mtu: 9000}}\n"
        ));
    }
    // One VLAN on a base that does not exist, and one port in two bonds.
    text.push_str("      - {name: vlan7, type: vlan, vlan: {base-iface: eth10000, id: 7}}\n");
    text.push_str("      - {name: bond0, type: bond, link-aggregation: {mode: 802.3ad, port: [eth1, eth2]}}\n");
    text.push_str(
        "      - {name: bond1, type: bond, link-aggregation: {mode: 802.3ad, port: [eth2]}}\n",
    );
    std::fs::write(dir.path().join("wide.yaml"), &text).unwrap();
    let r = expect_code(dir.path(), "vlan_base_missing");
    let mut codes = r.codes();
    codes.sort();
    assert_eq!(codes, ["bond_port_conflict", "vlan_base_missing"]);
    assert_eq!(r.json()["hosts"], 2);
    let show = run(dir.path(), &["show", "wide", "--fleet", "."]);
    assert_eq!(show.code, Some(0));
    assert!(show.stdout.contains("name: eth9999"));
    let explain = run(
        dir.path(),
        &[
            "explain",
            "wide",
            "network.interfaces[eth9999].mtu",
            "--fleet",
            ".",
        ],
    );
    assert_eq!(explain.code, Some(0), "{}", explain.stderr);
}

#[test]
fn many_small_problems_are_all_reported() {
    // 2,000 hosts sharing one BMC endpoint and one bad profile value: one diagnostic per
    // duplicate, and the profile problem once with every host listed.
    let dir = fleet();
    let mut text = String::from(
        "apiVersion: bmfleet.dev/v1alpha1\nkind: Profile\nmetadata: {name: p}\nspec:\n  network: {interfaces: [{name: e, mtu: 1}]}\n",
    );
    for i in 0..2_000 {
        text.push_str(&format!(
            "---\napiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata: {{name: h{i}}}\nspec:\n  profiles: [p]\n  bmc: {{endpoint: https://10.9.9.9}}\n"
        ));
    }
    std::fs::write(dir.path().join("many.yaml"), &text).unwrap();
    let r = expect_code(dir.path(), "duplicate_bmc_endpoint");
    let json = r.json();
    let diags = json["diagnostics"].as_array().unwrap();
    let dups = diags
        .iter()
        .filter(|d| d["code"] == "bmfleet::spec::duplicate_bmc_endpoint")
        .count();
    assert_eq!(dups, 1_999, "h1..h1999 each duplicate h0");
    let mtu: Vec<&Value> = diags
        .iter()
        .filter(|d| d["code"] == "bmfleet::spec::mtu_range")
        .collect();
    assert_eq!(mtu.len(), 1);
    assert_eq!(mtu[0]["hosts"].as_array().unwrap().len(), 2_000);
}

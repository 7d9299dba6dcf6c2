//! Every command's `--help` carries an example that names real hosts and paths of
//! examples/fleet (and runs), and completions / man page render.

use std::process::Command;

fn bmfleet(args: &[&str]) -> (String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_bmfleet"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.success(),
    )
}

#[test]
fn every_command_help_has_an_example() {
    let cmd = <bmfleet::cli::Cli as clap::CommandFactory>::command();
    let mut names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    names.push(String::new());
    assert!(names.len() > 5);
    for name in names {
        let args: Vec<&str> = if name.is_empty() {
            vec!["--help"]
        } else {
            vec![name.as_str(), "--help"]
        };
        let (help, ok) = bmfleet(&args);
        assert!(ok, "{name} --help failed");
        assert!(
            help.contains("Examples:\n  bmfleet"),
            "`bmfleet {name} --help` has no example:\n{help}"
        );
    }
}

#[test]
fn completions_and_man_page_render() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (text, ok) = bmfleet(&["completions", shell]);
        assert!(ok && text.contains("validate"), "{shell}");
    }
    let (man, ok) = bmfleet(&["man"]);
    assert!(ok && man.contains(".TH bmfleet 1"));
}

/// The `Examples:` lines of a command's `after_help`, as argument lists: a `# comment`, a
/// pipe and a redirection are cut off (`bmfleet graph --format dot | dot -Tsvg` runs
/// `bmfleet graph --format dot`).
fn examples(cmd: &clap::Command) -> Vec<Vec<String>> {
    let help = cmd
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    help.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("bmfleet "))
        .map(|l| {
            let l = l.split(" #").next().unwrap_or(l);
            let l = l.split(['|', '>']).next().unwrap_or(l);
            l.split_whitespace().skip(1).map(str::to_string).collect()
        })
        .collect()
}

#[test]
fn after_help_examples_name_the_example_fleet_and_run() {
    let root = <bmfleet::cli::Cli as clap::CommandFactory>::command();
    let fleet = crate::plan_support::fleet();
    let hosts: Vec<&str> = fleet.hosts.iter().map(|h| h.name.as_str()).collect();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all: Vec<Vec<String>> = examples(&root);
    for sub in root.get_subcommands() {
        all.extend(examples(sub));
    }
    assert!(all.len() > 15, "{all:?}");
    let mut ran = 0;
    for args in &all {
        let shown = format!("bmfleet {}", args.join(" "));
        let sub = args.first().map(String::as_str).unwrap_or_default();
        // Every path after --fleet and every host an example names exists in examples/fleet.
        for (i, a) in args.iter().enumerate() {
            let next = args.get(i + 1).map(String::as_str);
            match (a.as_str(), next) {
                ("--fleet", Some(p)) => {
                    assert!(repo.join(p).is_dir(), "`{shown}`: no directory {p}")
                }
                ("--host" | "--hang" | "--unreachable", Some(h)) => {
                    assert!(
                        hosts.contains(&h),
                        "`{shown}`: no host {h} in examples/fleet"
                    )
                }
                _ => {}
            }
        }
        if matches!(sub, "show" | "explain") {
            let host = args.get(1).map(String::as_str).unwrap_or_default();
            assert!(
                hosts.contains(&host),
                "`{shown}`: no host {host} in examples/fleet"
            );
        }
        // Run the ones that read the example fleet and need no Git history or network.
        let git = args
            .iter()
            .any(|a| matches!(a.as_str(), "--ref" | "--base" | "--head"));
        if !matches!(sub, "show" | "explain" | "graph" | "validate") || git {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_bmfleet"))
            .args(args)
            .current_dir(repo)
            .env("BMFLEET_FLEET", "examples/fleet")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`{shown}` failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    // show x2, explain x2, graph x2, validate (root and subcommand).
    assert!(ran >= 7, "only {ran} examples ran");
}

//! Every command's `--help` carries an example, and completions / man page render.

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

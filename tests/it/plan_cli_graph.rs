//! `bmfleet graph` end to end (argument parsing, selection, rendering, cycle errors).

use bmfleet::cli::{Cli, run};
use clap::Parser;

fn graph(args: &[&str]) -> Result<String, String> {
    let mut argv = vec!["bmfleet", "--color", "never", "graph"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    match run(cli, &mut out) {
        Ok(_) => Ok(String::from_utf8(out).unwrap()),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[test]
fn text_graph_of_selected_hosts() {
    let out = graph(&[
        "--fleet",
        "examples/fleet",
        "-l",
        "role=storage",
        "--host",
        "r1-*",
    ])
    .unwrap();
    assert!(
        out.starts_with("# spec: "),
        "the revision read comes first:\n{out}"
    );
    assert!(!out.contains("r2-"));
    assert!(!out.contains("r1-c01"));
    assert!(out.ends_with(
        "numbered in execution order (an edge `after N. X [rule]` means X happens first).\n"
    ));
    // Every node is numbered 1, 2, 3... in execution order: each comes after the nodes it
    // waits for (a topological order), and not in address order.
    let mut numbers: Vec<(usize, String)> = Vec::new();
    let mut current = 0;
    for line in out.lines().skip(1) {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("after ") {
            let (n, _) = rest.split_once(". ").unwrap();
            let n: usize = n.parse().unwrap();
            assert!(n < current, "{line} under node {current}:\n{out}");
        } else if let Some((n, address)) = trimmed.split_once(". ")
            && let Ok(n) = n.parse()
        {
            current = n;
            assert_eq!(current, numbers.len() + 1, "{line}");
            numbers.push((current, address.to_string()));
        }
    }
    let at = |a: &str| {
        numbers
            .iter()
            .find(|(_, x)| x == a)
            .map(|(n, _)| *n)
            .unwrap_or_else(|| panic!("{a} not listed:\n{out}"))
    };
    assert!(numbers.len() > 20);
    assert!(at("host/r1-s01/bios") < at("host/r1-s01/power"));
    assert!(at("host/r1-s01/power") < at("host/r1-s01/os/kernel-args"));
    assert!(at("host/r1-s01/power") < at("host/r1-s01/network/ens2f0"));
    assert!(at("host/r1-s01/network/bond0") < at("host/r1-s01/network/bond0.100"));
    assert!(at("host/r1-s01") < at("host/r1-s02/bios"));
    let addresses: Vec<&String> = numbers.iter().map(|(_, a)| a).collect();
    let mut sorted = addresses.clone();
    sorted.sort();
    assert_ne!(
        addresses, sorted,
        "listed alphabetically, not in execution order"
    );
    assert!(out.contains(&format!(
        "{}. host/r1-s02/bios\n    after {}. host/r1-s01 [depends-on]\n",
        at("host/r1-s02/bios"),
        at("host/r1-s01")
    )));
}

#[test]
fn dot_graph() {
    let out = graph(&[
        "--fleet",
        "examples/fleet",
        "--host",
        "r1-d01",
        "--format",
        "dot",
    ])
    .unwrap();
    assert!(out.contains("subgraph \"cluster_r1-d01\""));
    assert!(out.contains(
        "\"host/r1-d01/dpu/mode\" -> \"host/r1-d01/power\" [label=\"firmware-before-power\"];"
    ));
    assert!(out.contains(
        "\"host/r1-d01/power\" -> \"host/r1-d01/os/kernel-args\" [label=\"power-before-os\"];"
    ));
}

#[test]
fn unknown_host_and_bad_selector_are_errors() {
    let e = graph(&["--fleet", "examples/fleet", "--host", "r1-c1"]).unwrap_err();
    assert!(e.contains("no host named `r1-c1`"), "{e}");
    let e = graph(&["--fleet", "examples/fleet", "-l", "role in (a"]).unwrap_err();
    assert!(e.contains("invalid selector"), "{e}");
}

#[test]
fn depends_on_cycle_fails_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fleet.yaml"),
        "apiVersion: bmfleet.dev/v1alpha1\nkind: Fleet\nmetadata: {name: f}\nspec:\n  credentials: {c: {usernameEnv: U, passwordEnv: P}}\n  defaults:\n    power: On\n    bmc: {credentialsRef: c}\n",
    )
    .unwrap();
    let host = |name: &str, dep: &str, ip: u8| {
        format!(
            "---\napiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata: {{name: {name}}}\nspec:\n  dependsOn: [{dep}]\n  bmc: {{endpoint: https://10.0.0.{ip}}}\n"
        )
    };
    std::fs::write(
        dir.path().join("hosts.yaml"),
        format!("{}{}", host("a", "b", 1), host("b", "a", 2)),
    )
    .unwrap();
    let fleet = dir.path().to_str().unwrap();
    match graph(&["--fleet", fleet]) {
        // Validation finds the cycle first (the graph's own check is tested in plan_graph).
        Err(e) => assert!(e.contains("dependency cycle: a -> b -> a"), "{e}"),
        Ok(out) => panic!("expected a cycle error, got:\n{out}"),
    }
}

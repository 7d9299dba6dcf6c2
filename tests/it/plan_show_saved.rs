//! `bmfleet plan --out FILE` then `bmfleet show-plan FILE`: the saved plan re-renders the same
//! text, markdown and JSON without specs or network, as `terraform show PLANFILE` does.

use bmfleet::cli::{Cli, run};
use clap::Parser;

fn bmfleet(args: &[&str]) -> Result<String, String> {
    let mut argv = vec!["bmfleet", "--color", "never"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    match run(cli, &mut out) {
        Ok(_) => Ok(String::from_utf8(out).unwrap()),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[test]
fn a_saved_plan_re_renders_identically_in_every_format_without_the_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");
    let file = file.to_str().unwrap();
    for format in ["text", "markdown", "json"] {
        let planned = bmfleet(&[
            "plan",
            "--simulate",
            "--fleet",
            "examples/fleet",
            "--progress",
            "none",
            "--format",
            format,
            "--out",
            file,
        ])
        .unwrap();
        assert!(planned.len() > 500, "{format}: {planned}");
        // The fleet is not needed to show a saved plan: point --fleet somewhere empty.
        let shown = bmfleet(&[
            "--fleet",
            dir.path().to_str().unwrap(),
            "show-plan",
            file,
            "--format",
            format,
        ])
        .unwrap();
        assert_eq!(
            shown, planned,
            "show-plan --format {format} differs from plan"
        );
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(saved["format_version"], "2.0");
    // Every step carries its typed op; the prose is rendered from it, never stored.
    let steps: Vec<&serde_json::Value> = saved["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["steps"].as_array().unwrap())
        .collect();
    assert!(!steps.is_empty());
    assert!(
        steps
            .iter()
            .all(|s| s["op"]["type"].is_string() && s.get("description").is_none())
    );
}

#[test]
fn a_damaged_or_foreign_plan_file_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");
    std::fs::write(&file, r#"{"format_version": "1.0", "hosts": []}"#).unwrap();
    let err = bmfleet(&["show-plan", file.to_str().unwrap()]).unwrap_err();
    assert!(
        err.contains("plan format 1.0 is not readable by this bmfleet"),
        "{err}"
    );
    std::fs::write(&file, "not json").unwrap();
    let err = bmfleet(&["show-plan", file.to_str().unwrap()]).unwrap_err();
    assert!(err.contains("not a JSON document"), "{err}");
    let err = bmfleet(&["show-plan", dir.path().to_str().unwrap()]).unwrap_err();
    assert!(err.contains("not a regular file"), "{err}");
}

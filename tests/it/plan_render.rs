//! Plan renderers: text, Markdown and JSON. Golden files live in `tests/it/plan_support/golden/`;
//! `BMFLEET_BLESS=1 cargo test --test it plan_render` rewrites them.

use crate::plan_support::*;
use bmfleet::plan::model::Action;
use bmfleet::plan::{ObservedHost, Plan, PlanOptions, plan};
use bmfleet::render::{plan_json, plan_markdown, plan_text};
use bmfleet::spec::Host;
use bmfleet::spec::model::DpuMode;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// A plan of the example fleet with one of everything: a change on many hosts, drift, a
/// pending value, a replaced staged value, a DPU mode change and an unreachable host.
fn sample_plan() -> Plan {
    let f = fleet();
    let hosts: Vec<&Host> = f.hosts.iter().collect();
    let mut o = converged_all(&hosts);
    for name in [
        "r1-c01", "r1-c02", "r1-c03", "r1-c04", "r2-c01", "r2-c02", "r2-c03",
    ] {
        bios_mut(o.get_mut(name).unwrap())
            .current
            .insert("SriovGlobalEnable".into(), json!("Disabled"));
    }
    sys_mut(o.get_mut("r1-c01").unwrap()).power_state = Some("Off".into());
    let mut b = bios_mut(o.get_mut("r1-c02").unwrap());
    b.current.insert("LogicalProc".into(), json!("Enabled"));
    b.pending.insert("LogicalProc".into(), json!("Disabled"));
    drop(b);
    let mut b = bios_mut(o.get_mut("r2-c04").unwrap());
    b.current.insert("SysProfile".into(), json!("Custom"));
    b.pending
        .insert("SysProfile".into(), json!("PerfPerWattOptimizedOs"));
    drop(b);
    dpu_mut(o.get_mut("r1-d01").unwrap()).mode = Some(DpuMode::Nic);
    fail_bmc(
        o.get_mut("r2-d01").unwrap(),
        unreachable("https://10.10.2.31/redfish/v1/Systems/System.Embedded.1"),
    );
    let mut opts = options(&f);
    // A fixed revision, so that the golden files do not depend on the repository's HEAD.
    opts.source = Some(bmfleet::spec::RepoInfo {
        revision: "work tree".into(),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        dirty: false,
        prefix: String::new(),
    });
    plan(&hosts, &o, &opts)
}

fn golden(name: &str, actual: &str) {
    let path = Path::new("tests/it/plan_support/golden").join(name);
    if std::env::var_os("BMFLEET_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with BMFLEET_BLESS=1", path.display()));
    assert!(
        expected == actual,
        "{} is out of date; run `BMFLEET_BLESS=1 cargo test --test it plan_render` and review the diff.\n--- actual ---\n{actual}",
        path.display()
    );
}

#[test]
fn text_plan_matches_the_golden_file() {
    let p = sample_plan();
    let text = plan_text::render(&p, false);
    golden("sample-plan.txt", &text);
    assert!(text.contains("Plan: 9 hosts to change, 10 settings, 9 reboots.\n"));
}

#[test]
fn markdown_plan_matches_the_golden_file() {
    golden("sample-plan.md", &plan_markdown::render(&sample_plan()));
}

#[test]
fn text_plan_has_groups_markers_pending_drift_and_errors() {
    let p = sample_plan();
    let text = plan_text::render(&p, false);
    // Groups first.
    let groups_at = text.find("Changes on many hosts:").unwrap();
    let first_host_at = text.find("\n# r1-c01:").unwrap();
    assert!(groups_at < first_host_at);
    assert!(text.contains("  ~ bios: SriovGlobalEnable = \"Disabled\" -> \"Enabled\"\n"));
    assert!(text.contains("on 7 hosts: r1-c[01-04],r2-c[01-03] [reboot]"));
    // Pending, replaced staged value, drift.
    assert!(
        text.contains("~ LogicalProc = \"Enabled\" -> \"Disabled\" (pending, applies on reset)")
    );
    assert!(
        text.contains(
            "~ SysProfile = \"PerfPerWattOptimizedOs\" (staged) -> \"PerfOptimized\" (replaces staged value)"
        )
    );
    assert!(text.contains("# drift: PowerState is Off, spec says On"));
    // Reboot markers and the coalesced reboot.
    assert!(text.contains("# r1-d01: 1 setting [reboot]"));
    assert!(text.contains("# reboot: DPU GracefulRestart, ForceRestart after 300 s, then host PowerCycle: applies dpu/mode"));
    // The unreachable host names its endpoint and what to do.
    assert!(text.contains("# r2-d01: not planned (error)"));
    assert!(text.contains(
        "Error: could not read https://10.10.2.31/redfish/v1/Systems/System.Embedded.1: connection refused"
    ));
    assert!(text.contains("help: check that the BMC is powered and reachable from here"));
    assert!(text.contains("1 host could not be planned (see the errors)."));
    // Not refreshed, compactly.
    assert!(
        text.contains(
            "# not refreshed: 12 resources (OS state is read over SSH, not available yet)"
        )
    );
    // No colour unless asked; deterministic.
    assert!(!text.contains('\x1b'));
    assert_eq!(text, plan_text::render(&p, false));
    let colored = plan_text::render(&p, true);
    assert!(colored.contains("\x1b[33m~\x1b[0m"));
    assert!(colored.contains("\x1b[1m"));
}

#[test]
fn text_lines_wrap_at_the_fixed_width() {
    let text = plan_text::render(&sample_plan(), false);
    for line in text.lines() {
        let is_note = line.trim_start().starts_with('#') || line.starts_with("Not refreshed");
        if is_note {
            let longest_word = line.split_whitespace().map(str::len).max().unwrap_or(0);
            assert!(
                line.len() <= plan_text::WIDTH || longest_word > plan_text::WIDTH / 2,
                "too long: {line}"
            );
        }
    }
}

#[test]
fn summary_line_forms() {
    let f = fleet();
    let h = f.host("r1-c01").unwrap();
    let mut o = converged(h);
    bios_mut(&mut o)
        .current
        .insert("SriovGlobalEnable".into(), json!("Disabled"));
    let observed = BTreeMap::from([("r1-c01".to_string(), o)]);
    let p = plan(&[h], &observed, &options(&f));
    assert_eq!(
        plan_text::summary_line(&p),
        "Plan: 1 host to change, 1 setting, 1 reboot."
    );
    // Only a plan that observed every resource in scope says the fleet matches.
    let bmc_only = host(
        "n1",
        &[],
        &[],
        settings(json!({"bios": {"attributes": {"LogicalProc": "Enabled"}}})),
    );
    let p = plan(
        &[&bmc_only],
        &converged_all(&[&bmc_only]),
        &PlanOptions::default(),
    );
    assert_eq!(p.summary.unobserved, 0, "{:?}", p.hosts[0].unobserved);
    assert_eq!(
        plan_text::summary_line(&p),
        "No changes. The fleet matches the spec."
    );
    assert!(plan_text::render(&p, false).contains("No changes. The fleet matches the spec.\n"));
    // A plan never vouches for what it did not read: r1-c01's OS state is not observed.
    let p = plan(&[h], &converged_all(&[h]), &options(&f));
    assert!(!p.has_changes());
    assert!(p.summary.unobserved > 0 && p.summary.observed > 0);
    assert_eq!(
        plan_text::summary_line(&p),
        format!(
            "No changes in {} observed resources; {} not observed.",
            p.summary.observed, p.summary.unobserved
        )
    );
    assert!(!plan_text::render(&p, false).contains("matches the spec"));
}

/// A host whose spec sets a password-like BIOS attribute (validation rejects this in a repo,
/// but the planner must not leak it either), observed with other secret values.
fn secret_plan() -> (Plan, Vec<&'static str>) {
    let secrets = vec![
        "hunter2-spec-secret",
        "old-secret-on-bmc",
        "staged-secret-xyz",
    ];
    let mk = |name: &str| {
        host(
            name,
            &[],
            &[],
            settings(json!({
                "bios": {"attributes": {"AdminPassword": "hunter2-spec-secret", "Turbo": "Enabled"}}
            })),
        )
    };
    let (a, b) = (mk("s1"), mk("s2"));
    let mut observed: BTreeMap<String, ObservedHost> = BTreeMap::new();
    for (h, pending) in [(&a, true), (&b, false)] {
        let mut o = converged(h);
        let mut bios = bios_mut(&mut o);
        bios.current
            .insert("AdminPassword".into(), json!("old-secret-on-bmc"));
        if pending {
            bios.pending
                .insert("AdminPassword".into(), json!("staged-secret-xyz"));
        }
        bios.current.insert("Turbo".into(), json!("Disabled"));
        drop(bios);
        observed.insert(h.name.clone(), o);
    }
    (plan(&[&a, &b], &observed, &PlanOptions::default()), secrets)
}

#[test]
fn secrets_never_appear_in_any_rendering_but_their_change_does() {
    let (p, secrets) = secret_plan();
    let renderings = [
        ("text", plan_text::render(&p, false)),
        ("markdown", plan_markdown::render(&p)),
        ("json", plan_json::render(&p)),
        ("debug", format!("{p:?}")),
    ];
    for (what, out) in &renderings {
        for s in &secrets {
            assert!(!out.contains(s), "{what} leaks {s}:\n{out}");
        }
        assert!(out.contains("(sensitive value)"), "{what}");
    }
    let s1 = p.host("s1").unwrap();
    let c = s1
        .changes
        .iter()
        .find(|c| c.setting == "AdminPassword")
        .unwrap();
    assert!(c.sensitive);
    assert_eq!(c.action, Action::Replace);
    let text = &renderings[0].1;
    assert!(text.contains(
        "~ AdminPassword = (sensitive value) (staged) -> (sensitive value) (replaces staged value)"
    ));
    // Terraform readers take `-/+` as destroy-and-recreate: never used for a staged value.
    assert!(!text.contains("-/+"));
    assert!(text.contains("~ AdminPassword = (sensitive value)"));
    // The same (masked) change on two hosts is not grouped: the values may differ.
    assert!(p.groups.iter().all(|g| g.setting != "AdminPassword"));
    assert!(p.groups.iter().any(|g| g.setting == "Turbo"));
}

#[test]
fn cloud_init_content_never_enters_resources_or_diffs() {
    use bmfleet::plan::{diff_specs, flatten};
    let mk = |text: &str| {
        host(
            "c1",
            &[],
            &[],
            settings(json!({"cloudInit": {"userData": {"inline": text}, "delivery": "ssh"}})),
        )
    };
    let files = BTreeMap::new();
    let old = flatten(&mk("#cloud-config\npassword: TOPSECRET-OLD\n"), &files);
    let new = flatten(&mk("#cloud-config\npassword: TOPSECRET-NEW\n"), &files);
    assert!(!format!("{old:?}{new:?}").contains("TOPSECRET"));
    let changes = diff_specs(&old, &new);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].setting, "user-data");
    assert_eq!(
        changes[0].disruption,
        bmfleet::plan::Disruption::Reprovision
    );
    let json = serde_json::to_string(&changes).unwrap();
    assert!(!json.contains("TOPSECRET"));
    assert!(json.contains("sha256"));
}

#[test]
fn markdown_has_banner_details_diff_blocks_and_footer() {
    let p = sample_plan();
    let md = plan_markdown::render(&p);
    assert!(md.starts_with("## bmfleet plan: 9 hosts to change\n"));
    assert!(md.contains("| Hosts | To change | Settings | Reboots |"));
    assert!(md.contains("> [!WARNING]\n> **9 hosts are rebooted**: r[1-2]-c[01-04],r1-d01\n"));
    assert!(md.contains(
        "<details><summary><code>~ bios: SriovGlobalEnable</code> on 7 hosts (reboot)</summary>"
    ));
    assert!(md.contains("```diff\n! SriovGlobalEnable = \"Disabled\" -> \"Enabled\"\n"));
    assert!(md.contains("<details><summary><b>r1-c01</b>:"));
    assert!(md.contains("### Errors"));
    assert!(md.contains(
        "- **r2-d01**: could not read `https://10.10.2.31/redfish/v1/Systems/System.Embedded.1`"
    ));
    assert!(md.contains("Spec: commit 0123456789ab (work tree)"));
    assert!(!md.contains("Truncated"));
    assert!(md.len() < plan_markdown::LIMIT);

    // No banner without reboots.
    let f = fleet();
    let h = f.host("r1-c01").unwrap();
    let quiet = plan(&[h], &converged_all(&[h]), &options(&f));
    let md = plan_markdown::render(&quiet);
    assert!(!md.contains("[!WARNING]"));
    assert!(md.starts_with("## bmfleet plan: no changes\n"));
}

#[test]
fn markdown_of_a_2000_host_plan_stays_under_the_comment_limit() {
    let hosts: Vec<Host> = (0..2000)
        .map(|i| {
            host(
                &format!("rack{:02}-node{:03}", i / 40, i % 40),
                &[("rack", &format!("r{}", i / 40))],
                &[],
                settings(json!({
                    "power": "On",
                    "bios": {"attributes": {
                        "SriovGlobalEnable": "Enabled",
                        "Serial": format!("value-{i}"),
                        "Other": format!("other-{i}")
                    }}
                })),
            )
        })
        .collect();
    let refs: Vec<&Host> = hosts.iter().collect();
    let mut observed = converged_all(&refs);
    for (i, o) in observed.values_mut().enumerate() {
        if i % 50 == 7 {
            fail_bmc(
                o,
                unreachable(&format!("https://10.0.{}.{}", i / 250, i % 250)),
            );
            continue;
        }
        let mut bios = bios_mut(o);
        bios.current
            .insert("SriovGlobalEnable".into(), json!("Disabled"));
        bios.current.insert("Serial".into(), json!("old"));
        bios.current.insert("Other".into(), json!("old"));
    }
    let p = plan(&refs, &observed, &PlanOptions::default());
    assert_eq!(p.summary.hosts_to_change, 1960);
    let md = plan_markdown::render(&p);
    assert!(md.len() <= plan_markdown::LIMIT, "{} characters", md.len());
    let last = md.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("> Truncated to fit a comment: ")
            && last.ends_with("not shown; see the plan artifact or run `bmfleet plan` locally."),
        "{last}"
    );
    // The count in the note is right: every changed or failed host is shown or counted.
    let shown = md.matches("<details><summary><b>").count()
        + md.lines().filter(|l| l.starts_with("- **rack")).count();
    let not_shown: usize = last
        .trim_start_matches("> Truncated to fit a comment: ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(shown + not_shown, 2000);
    // Summary and banner come before anything is cut.
    assert!(md.contains("**Plan: 1960 hosts to change, 5880 settings, 1960 reboots.**"));
    assert!(md.contains("> [!WARNING]"));
}

#[test]
fn json_plan_round_trips_and_is_versioned() {
    let p = sample_plan();
    let text = plan_json::render(&p);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format_version"], "2.0");
    assert_eq!(
        v["source"]["commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(v["summary"]["hosts_to_change"], 9);
    let back = plan_json::parse(&text).unwrap();
    assert_eq!(back, p);
    assert!(back.has_changes());

    let mut future = v.clone();
    future["format_version"] = json!("3.0");
    let err = plan_json::parse(&future.to_string()).unwrap_err();
    assert!(
        err.to_string().contains("plan format 3.0 is not supported"),
        "{err}"
    );
    // A 1.x plan (prose steps, no ops) cannot be executed: it is refused, not guessed at.
    let mut old = v.clone();
    old["format_version"] = json!("1.0");
    assert!(plan_json::parse(&old.to_string()).is_err());
    let mut minor = v;
    minor["format_version"] = json!("2.3");
    assert!(plan_json::parse(&minor.to_string()).is_ok());
    assert!(plan_json::parse("{}").is_err());
}

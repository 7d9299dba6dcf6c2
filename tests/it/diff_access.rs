//! `bmfleet diff` shows every change of trust or reach (issue 10 item 2): a commit that moves a
//! BMC endpoint to another domain, turns TLS verification off and points `passwordEnv` at
//! another variable used to read "No changes between the two revisions" and pass
//! `--fail-on`. Now each such field is an `access` change, listed first, gated by
//! `--fail-on access` (golden `diff-access-fail-on` exits 3), and the markdown says where the
//! credentials go before anything else.

use crate::plan_support::fleet;
use bmfleet::plan::access::{AccessScope, AccessTopic};
use bmfleet::plan::model::Action;
use bmfleet::plan::spec_diff::{SpecDiff, spec_diff};
use bmfleet::spec::LoadedFleet;
use bmfleet::spec::load::Host;
use bmfleet::spec::model::{BmcSpec, SshSpec, TlsSpec};

fn host_mut<'a>(f: &'a mut LoadedFleet, name: &str) -> &'a mut Host {
    f.hosts.iter_mut().find(|h| h.name == name).unwrap()
}

fn bmc_mut<'a>(f: &'a mut LoadedFleet, name: &str) -> &'a mut BmcSpec {
    host_mut(f, name)
        .settings
        .bmc
        .get_or_insert_with(Default::default)
}

fn ssh_mut<'a>(f: &'a mut LoadedFleet, name: &str) -> &'a mut SshSpec {
    host_mut(f, name)
        .settings
        .os
        .get_or_insert_with(Default::default)
        .ssh
        .get_or_insert_with(Default::default)
}

/// The issue's scenario: r1-c01's BMC moves to evil.example.com with verification off, and
/// the shared credential's password is read from another variable.
fn hostile_change() -> SpecDiff {
    let base = fleet();
    let mut head = fleet();
    let bmc = bmc_mut(&mut head, "r1-c01");
    bmc.endpoint = Some("https://evil.example.com".into());
    bmc.tls = Some(TlsSpec {
        ca_file: None,
        insecure_skip_verify: Some(true),
    });
    let spec = &mut head.fleet.as_mut().unwrap().doc.spec;
    spec.credentials
        .get_mut("bmc-default")
        .unwrap()
        .password_env = Some("CI_DEPLOY_TOKEN".into());
    spec_diff(&base, &head)
}

#[test]
fn endpoint_tls_and_password_variable_changes_are_access_changes() {
    let d = hostile_change();
    assert!(d.has_changes());
    assert!(
        d.hosts.is_empty(),
        "nothing changes on the hosts themselves"
    );
    let settings: Vec<(&str, AccessScope, AccessTopic, Action)> = d
        .access
        .iter()
        .map(|a| (a.setting.as_str(), a.scope, a.topic, a.action))
        .collect();
    assert_eq!(
        settings,
        vec![
            (
                "bmc.endpoint",
                AccessScope::Host,
                AccessTopic::Endpoint,
                Action::Update
            ),
            (
                "bmc.tls.insecureSkipVerify",
                AccessScope::Host,
                AccessTopic::Tls,
                Action::Create
            ),
            (
                "credentials.bmc-default.passwordEnv",
                AccessScope::Fleet,
                AccessTopic::Credentials,
                Action::Update
            ),
        ]
    );
    let endpoint = &d.access[0];
    assert_eq!(endpoint.hosts, ["r1-c01"]);
    assert!(
        endpoint
            .notes
            .iter()
            .any(|n| n.contains("now go to evil.example.com (was r1-c01-bmc.example.net)")),
        "{:?}",
        endpoint.notes
    );
    // The password variable concerns every host that uses the credential.
    let cred = &d.access[2];
    assert!(cred.hosts.contains(&"r1-c01".to_string()) && cred.hosts.len() > 1);
    assert_eq!(cred.before, Some("BMC_PASSWORD".into()));
    assert_eq!(cred.after, Some("CI_DEPLOY_TOKEN".into()));
    assert_eq!(d.summary.access_changes, 3);

    let text = bmfleet::render::diff_text::render(&d, false);
    assert!(!text.contains("No changes"), "{text}");
    let access_at = text.find("Access changes (3)").unwrap();
    assert!(text.contains("! credentials \"bmc-default\" now go to evil.example.com"));
    assert!(
        text.contains("\"BMC_PASSWORD\" -> \"CI_DEPLOY_TOKEN\""),
        "{text}"
    );
    assert!(access_at < text.find("Diff:").unwrap());
}

#[test]
fn markdown_says_where_credentials_go_before_anything_else() {
    let mut d = hostile_change();
    // Even with other changes in the PR, the access banner comes first.
    let base = fleet();
    let mut head = fleet();
    head.hosts
        .iter_mut()
        .find(|h| h.name == "r1-c02")
        .unwrap()
        .settings
        .power = Some(bmfleet::spec::model::PowerState::Off);
    let other = spec_diff(&base, &head);
    d.hosts = other.hosts;
    d.summary.hosts_changed = 1;
    let md = bmfleet::render::diff_markdown::render(&d);
    let caution = md.find("> [!CAUTION]").expect("no caution banner");
    let evil = md.find("now go to evil.example.com").unwrap();
    for later in ["| Added |", "### Access changes", "### Changed hosts"] {
        let at = md
            .find(later)
            .unwrap_or_else(|| panic!("no {later} in\n{md}"));
        assert!(
            caution < at && evil < at,
            "{later} before the banner:\n{md}"
        );
    }
    // Ahead of the summary line too.
    assert!(evil < md.find("**Diff:").unwrap());
}

#[test]
fn every_field_of_trust_or_reach_is_covered() {
    let base = fleet();
    let mut head = fleet();
    // Host BMC: systemId, credentialsRef, caFile.
    let bmc = bmc_mut(&mut head, "r1-c02");
    bmc.system_id = Some("System.Embedded.2".into());
    bmc.credentials_ref = Some("dpu-bmc".into());
    bmc.tls = Some(TlsSpec {
        ca_file: Some("pki/other-ca.pem".into()),
        insecure_skip_verify: None,
    });
    // DPU BMC endpoint.
    let dpu_host = head
        .hosts
        .iter()
        .find(|h| h.settings.dpu.as_ref().is_some_and(|d| d.bmc.is_some()))
        .map(|h| h.name.clone())
        .unwrap();
    host_mut(&mut head, &dpu_host)
        .settings
        .dpu
        .as_mut()
        .unwrap()
        .bmc
        .as_mut()
        .unwrap()
        .endpoint = Some("https://dpu.evil.example.com:8443".into());
    // Every SSH field.
    let ssh = ssh_mut(&mut head, "r1-c03");
    ssh.host = Some("10.99.0.1".into());
    ssh.port = Some(2222);
    ssh.user = Some("root".into());
    ssh.identity_file = Some("~/.ssh/other".into());
    ssh.jump_host = Some("jump@bastion.example.com:22".into());
    ssh.sudo = Some(true);
    // Fleet: the username variable, timeouts and limits, rollout.
    let spec = &mut head.fleet.as_mut().unwrap().doc.spec;
    spec.credentials.get_mut("dpu-bmc").unwrap().username_env = Some("OTHER_USER".into());
    spec.concurrency.request_timeout_seconds = 600;
    spec.concurrency.per_bmc = 16;
    spec.concurrency.parallelism = 1000;
    spec.rollout.max_unavailable = bmfleet::spec::model::IntOrPercent::Percent("100%".into());
    spec.rollout.max_failures = None;
    spec.rollout.partition_by = None;
    spec.rollout.stages.clear();

    let d = spec_diff(&base, &head);
    let got: Vec<&str> = d.access.iter().map(|a| a.setting.as_str()).collect();
    for want in [
        "bmc.systemId",
        "bmc.credentialsRef",
        "bmc.tls.caFile",
        "dpu.bmc.endpoint",
        "os.ssh.host",
        "os.ssh.port",
        "os.ssh.user",
        "os.ssh.identityFile",
        "os.ssh.jumpHost",
        "os.ssh.sudo",
        "credentials.dpu-bmc.usernameEnv",
        "concurrency.requestTimeoutSeconds",
        "concurrency.perBmc",
        "concurrency.parallelism",
        "rollout.maxUnavailable",
        "rollout.maxFailures",
        "rollout.partitionBy",
        "rollout.stages",
    ] {
        assert!(got.contains(&want), "{want} missing from {got:?}");
    }
    let dpu = d
        .access
        .iter()
        .find(|a| a.setting == "dpu.bmc.endpoint")
        .unwrap();
    assert!(
        dpu.notes[0].contains("credentials \"dpu-bmc\" now go to dpu.evil.example.com:8443"),
        "{:?}",
        dpu.notes
    );
    // A credential reference change says which credential is now sent.
    let cref = d
        .access
        .iter()
        .find(|a| a.setting == "bmc.credentialsRef")
        .unwrap();
    assert!(cref.notes[0].contains("\"dpu-bmc\""), "{:?}", cref.notes);
    // Fleet-wide limits concern every host (no host list); the text says so.
    let timeout = d
        .access
        .iter()
        .find(|a| a.setting == "concurrency.requestTimeoutSeconds")
        .unwrap();
    assert_eq!(timeout.scope, AccessScope::Fleet);
    assert!(timeout.hosts.is_empty());
    let text = bmfleet::render::diff_text::render(&d, false);
    assert!(
        text.contains("concurrency.requestTimeoutSeconds (fleet) = 30 -> 600"),
        "{text}"
    );
    assert!(text.contains("on every host"), "{text}");
}

#[test]
fn unchanged_specs_have_no_access_changes_and_added_hosts_show_where_credentials_go() {
    let d = spec_diff(&fleet(), &fleet());
    assert!(d.access.is_empty() && !d.has_changes());
    // A new host: its endpoint is a new place the credentials go.
    let mut base = fleet();
    base.hosts.retain(|h| h.name != "r1-c01");
    let d = spec_diff(&base, &fleet());
    let endpoint = d
        .access
        .iter()
        .find(|a| a.setting == "bmc.endpoint")
        .unwrap();
    assert_eq!(
        (endpoint.action, endpoint.hosts.as_slice()),
        (Action::Create, &["r1-c01".to_string()][..])
    );
    assert!(
        endpoint.notes[0].contains("go to r1-c01-bmc.example.net (a new host)"),
        "{:?}",
        endpoint.notes
    );
    // A removed host is not contacted any more: no access change.
    let mut head = fleet();
    head.hosts.retain(|h| h.name != "r1-c01");
    assert!(spec_diff(&fleet(), &head).access.is_empty());
}

#[test]
fn hostile_values_are_escaped_in_text_and_markdown() {
    let base = fleet();
    let mut head = fleet();
    ssh_mut(&mut head, "r1-c01").host =
        Some("10.0.0.1\u{1b}[2J\n  ~ forged line</summary>```<img src=x>".into());
    let d = spec_diff(&base, &head);
    let text = bmfleet::render::diff_text::render(&d, false);
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(!text.contains("\n  ~ forged line"), "{text}");
    let md = bmfleet::render::diff_markdown::render(&d);
    assert!(!md.contains('\u{1b}'));
    // Code fences stay balanced (a value cannot close one), and outside them no HTML from
    // the value is live.
    let fences = md.lines().filter(|l| l.starts_with("```")).count();
    assert_eq!(fences % 2, 0, "{md}");
    let mut inside = false;
    for line in md.lines() {
        if line.starts_with("```") {
            inside = !inside;
            continue;
        }
        if !inside {
            assert!(
                !line.contains("<img") && !line.contains("</summary>"),
                "live HTML outside a code block: {line}"
            );
        }
    }
}

#[test]
fn an_endpoint_with_user_info_is_never_printed_with_it() {
    let base = fleet();
    let mut head = fleet();
    bmc_mut(&mut head, "r1-c01").endpoint = Some("https://root:hunter2@evil.example.com".into());
    let d = spec_diff(&base, &head);
    let json = serde_json::to_string(&d).unwrap();
    let text = bmfleet::render::diff_text::render(&d, false);
    let md = bmfleet::render::diff_markdown::render(&d);
    for out in [&json, &text, &md] {
        assert!(!out.contains("hunter2"), "{out}");
    }
    assert!(text.contains("evil.example.com"));
}

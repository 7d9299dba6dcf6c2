//! `bmfleet diff`'s summary counts disruption classes the way `--fail-on` does: a host counts
//! in every class its changes reach (a reprovision also reboots and flaps links).

use crate::plan_support::fleet;
use bmfleet::plan::resource::Disruption;
use bmfleet::plan::spec_diff::spec_diff;
use std::sync::Arc;

#[test]
fn summary_counts_agree_with_fail_on() {
    let base = fleet();
    let mut head = fleet();
    let path = "cloud-init/compute/user-data";
    let text = head.data_files.get(path).unwrap().to_string();
    head.data_files
        .insert(path.to_string(), Arc::from(format!("{text}# changed\n")));
    let d = spec_diff(&base, &head);
    let s = &d.summary;
    let reprovision = d.hosts_at_least(Disruption::Reprovision).len();
    let reboot = d.hosts_at_least(Disruption::Reboot).len();
    let link_flap = d.hosts_at_least(Disruption::LinkFlap).len();
    // The compute hosts reprovision, and so also reboot and flap links.
    assert!(reprovision > 0);
    assert_eq!(reprovision, reboot);
    assert_eq!(reboot, link_flap);
    assert_eq!(
        (s.reprovisions, s.reboots, s.link_flaps),
        (reprovision, reboot, link_flap)
    );
    let md = bmfleet::render::diff_markdown::render(&d);
    let row = format!(
        "| 0 | 0 | {} | {} | {reboot} | {reprovision} | {link_flap} |",
        s.hosts_changed, s.settings
    );
    assert!(md.contains(&row), "missing {row} in:\n{md}");
    assert!(md.contains("as `--fail-on` does"), "{md}");
    let text = bmfleet::render::diff_text::render(&d, false);
    assert!(
        text.contains(&format!(
            "hosts by --fail-on class: reprovision {reprovision}, reboot {reboot}, link-flap {link_flap}."
        )),
        "{text}"
    );
}

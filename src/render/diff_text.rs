//! `bmfleet diff` as text: hosts added and removed, identical changes grouped once with their
//! hosts and the `file:line` that caused them, then each changed host. Terraform's markers
//! (`+` create, `~` update, `-` delete), no colour unless asked, fixed width.

use super::plan_text::{Paint, change_values, count, wrap};
use crate::plan::model::Action;
use crate::plan::resource::Disruption;
use crate::plan::spec_diff::{Cause, DiffChange, DiffHost, HostStatus, SpecDiff};
use std::collections::BTreeMap;

/// Wrap width.
pub const WIDTH: usize = 100;

/// `[reboot]` / `[reprovision]` / `[link flap]` / empty.
pub fn marker(d: Disruption) -> &'static str {
    match d {
        Disruption::Reprovision => " [reprovision]",
        Disruption::Reboot => " [reboot]",
        Disruption::LinkFlap => " [link flap]",
        Disruption::None => "",
    }
}

/// `profiles/compute.yaml:23 (profile compute)`.
pub fn cause_text(c: &Cause) -> String {
    format!("{} ({})", c.location, c.layer)
}

/// The one-line summary: `Diff: 1 host added, 1 removed, 8 changed (12 settings); 9 hosts
/// reboot, 1 reprovisions.` or `No changes between the revisions.`
pub fn summary_line(d: &SpecDiff) -> String {
    let s = &d.summary;
    if !d.has_changes() {
        return "No changes between the two revisions.".to_string();
    }
    let mut line = format!(
        "Diff: {} added, {} removed, {} changed ({})",
        count(s.hosts_added, "host", "hosts"),
        s.hosts_removed,
        s.hosts_changed,
        count(s.settings, "setting", "settings")
    );
    let mut costs = Vec::new();
    if s.reprovisions > 0 {
        costs.push(format!(
            "{} reprovisioned",
            count(s.reprovisions, "host", "hosts")
        ));
    }
    if s.reboots > 0 {
        costs.push(format!("{} rebooted", count(s.reboots, "host", "hosts")));
    }
    if s.link_flaps > 0 {
        costs.push(format!(
            "{} with link flaps",
            count(s.link_flaps, "host", "hosts")
        ));
    }
    if !costs.is_empty() {
        line.push_str("; ");
        line.push_str(&costs.join(", "));
    }
    line.push('.');
    line
}

/// One change line, e.g. `~ pages.1G.node0 = 32 -> 64`.
pub fn change_line(dc: &DiffChange) -> String {
    let c = &dc.change;
    format!(
        "{} {} {}",
        c.action.symbol(),
        c.setting,
        change_values(
            c.action,
            c.sensitive,
            c.before.as_ref(),
            None,
            c.after.as_ref()
        )
    )
}

/// Changes of a host grouped by resource, in address order.
pub fn by_resource(h: &DiffHost) -> BTreeMap<String, Vec<&DiffChange>> {
    let mut out: BTreeMap<String, Vec<&DiffChange>> = BTreeMap::new();
    for dc in &h.changes {
        out.entry(dc.change.address.relative())
            .or_default()
            .push(dc);
    }
    out
}

fn resource_symbol(changes: &[&DiffChange]) -> &'static str {
    let all = |a: Action| changes.iter().all(|c| c.change.action == a);
    if all(Action::Create) {
        "+"
    } else if all(Action::Delete) {
        "-"
    } else {
        "~"
    }
}

fn host_body(h: &DiffHost, p: Paint) -> String {
    let mut out = String::new();
    for (resource, changes) in by_resource(h) {
        out.push_str(&format!(
            "  {} {} {{\n",
            resource_symbol(&changes),
            resource
        ));
        let mut grouped = Vec::new();
        for dc in &changes {
            if dc.change.group.is_some() {
                grouped.push(dc.change.setting.as_str());
                continue;
            }
            out.push_str(&format!(
                "      {}\n",
                p.action(dc.change.action, &change_line(dc))
            ));
            if let Some(c) = &dc.cause {
                out.push_str(&format!("        # {}\n", cause_text(c)));
            }
        }
        if !grouped.is_empty() {
            out.push_str(&format!(
                "      # as in \"Changes on many hosts\": {}\n",
                grouped.join(", ")
            ));
        }
        out.push_str("    }\n");
    }
    out
}

/// Renders the diff as text.
pub fn render(d: &SpecDiff, color: bool) -> String {
    let p = Paint::new(color);
    let mut out = format!(
        "Base: {}\nHead: {}\n\n",
        d.base.describe(),
        d.head.describe()
    );
    if !d.has_changes() {
        out.push_str("No changes between the two revisions.\n");
        return out;
    }
    let added = d.hosts_with(HostStatus::Added);
    let removed = d.hosts_with(HostStatus::Removed);
    if !added.is_empty() {
        out.push_str(&p.bold(&format!("Hosts added ({}):", added.len())));
        out.push('\n');
        for h in &added {
            out.push_str(&format!(
                "  {} {}  profiles: {}  {}  ({}){}\n",
                p.action(Action::Create, "+"),
                h.name,
                if h.profiles.is_empty() {
                    "-".to_string()
                } else {
                    h.profiles.join(", ")
                },
                h.location.as_deref().unwrap_or_default(),
                count(h.changes.len(), "setting", "settings"),
                marker(h.disruption)
            ));
        }
        out.push('\n');
    }
    if !removed.is_empty() {
        out.push_str(&p.bold(&format!("Hosts removed ({}):", removed.len())));
        out.push('\n');
        for h in &removed {
            out.push_str(&format!(
                "  {} {}  was at {}\n",
                p.action(Action::Delete, "-"),
                h.name,
                h.location.as_deref().unwrap_or_default()
            ));
        }
        out.push_str("  # bmfleet stops managing removed hosts; nothing is changed on them.\n\n");
    }
    if !d.groups.is_empty() {
        out.push_str(&p.bold("Changes on many hosts:"));
        out.push_str("\n\n");
        for g in &d.groups {
            let values = change_values(
                g.action,
                g.sensitive,
                g.before.as_ref(),
                None,
                g.after.as_ref(),
            );
            out.push_str(&format!(
                "  {} {}: {} {}{}\n",
                p.action(g.action, g.action.symbol()),
                g.resource,
                g.setting,
                values,
                marker(g.disruption)
            ));
            for line in wrap(
                &format!(
                    "on {}: {}",
                    count(g.hosts.len(), "host", "hosts"),
                    g.host_ranges
                ),
                "      ",
                "        ",
                WIDTH,
            ) {
                out.push_str(&line);
                out.push('\n');
            }
            for c in &g.causes {
                out.push_str(&format!("      caused by {}\n", cause_text(c)));
            }
        }
        out.push('\n');
    }
    // Hosts whose details read the same are shown once, with their names compressed.
    let blocks = crate::plan::hostlist::group_identical(
        d.hosts_with(HostStatus::Changed).into_iter().map(|h| {
            (
                (host_body(h, p), h.changes.len(), h.disruption),
                h.name.clone(),
            )
        }),
    );
    for ((body, settings, disruption), names) in blocks {
        let who = crate::plan::hostlist::label(&names);
        out.push_str(&p.bold(&format!(
            "# {who}: {}{}",
            count(settings, "setting", "settings"),
            marker(disruption)
        )));
        out.push('\n');
        out.push_str(&body);
        out.push('\n');
    }
    out.push_str(&p.bold(&summary_line(d)));
    out.push('\n');
    out
}

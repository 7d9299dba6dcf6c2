//! `bmfleet diff` as text: first the access changes (where credentials go, what is trusted),
//! then hosts added and removed, identical changes grouped once with their hosts and the
//! `file:line` that caused them, then each changed host. Terraform's markers (`+` create, `~`
//! update, `-` delete), no colour unless asked, fixed width.

use super::plan_text::{Paint, change_values, count, wrap};
use crate::plan::access::{AccessChange, AccessScope};
use crate::plan::model::Action;
use crate::plan::resource::Disruption;
use crate::plan::spec_diff::{Cause, ChangeDetail, DiffChange, DiffHost, HostStatus, SpecDiff};
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

/// The one-line summary: `Diff: 1 host added, 1 removed, 8 changed (12 settings); hosts by
/// --fail-on class: reprovision 1, reboot 9, link-flap 9.` or `No changes between the
/// revisions.` Each class counts the hosts whose changes reach it or a more disruptive one,
/// as `--fail-on` does.
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
    // The classes as `--fail-on` names and counts them: a host counts in every class its
    // changes reach (a reprovision also reboots and flaps links).
    let costs: Vec<String> = [
        ("reprovision", s.reprovisions),
        ("reboot", s.reboots),
        ("link-flap", s.link_flaps),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(class, n)| format!("{class} {n}"))
    .collect();
    if !costs.is_empty() {
        line.push_str("; hosts by --fail-on class: ");
        line.push_str(&costs.join(", "));
    }
    if s.access_changes > 0 {
        line.push_str(&format!(
            "; access: {} on {}",
            count(s.access_changes, "change", "changes"),
            count(s.access_hosts, "host", "hosts")
        ));
    }
    line.push('.');
    line
}

/// `s` with control characters (terminal escapes, newlines that would forge lines) and
/// bidirectional-override characters shown as `\u{..}` escapes.
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// One access change's line, e.g. `~ bmc.endpoint = "https://a" -> "https://b"`, with
/// `(fleet)` after a Fleet-scope setting; control characters escaped.
pub fn access_line(a: &AccessChange) -> String {
    let scope = match a.scope {
        AccessScope::Fleet => " (fleet)",
        AccessScope::Host => "",
    };
    escape_controls(&format!(
        "{} {}{scope} {}",
        a.action.symbol(),
        a.setting,
        change_values(a.action, false, a.before.as_ref(), None, a.after.as_ref())
    ))
}

/// The hosts an access change concerns: `on 3 hosts: r1-c[01-03]`, or `on every host` for a
/// fleet-wide limit or rollout setting, or `on no host` for a credential no host uses.
pub fn access_hosts_text(a: &AccessChange) -> String {
    match (a.scope, a.hosts.len()) {
        (AccessScope::Fleet, 0) if a.setting.starts_with("credentials") => {
            "on no host (no host references this credential)".to_string()
        }
        (AccessScope::Fleet, 0) => "on every host".to_string(),
        (_, n) => format!("on {}: {}", count(n, "host", "hosts"), a.host_ranges),
    }
}

/// The access section: one entry per change with its hosts, cause and `!` notes; empty when
/// nothing of trust or reach changed.
pub fn access_section(d: &SpecDiff, p: Paint) -> String {
    if d.access.is_empty() {
        return String::new();
    }
    let mut out = p.bold(&format!(
        "Access changes ({}): where credentials go and what is trusted",
        d.access.len()
    ));
    out.push_str("\n\n");
    for a in &d.access {
        out.push_str(&format!("  {}\n", p.action(a.action, &access_line(a))));
        for line in wrap(&access_hosts_text(a), "      ", "        ", WIDTH) {
            out.push_str(&escape_controls(&line));
            out.push('\n');
        }
        for c in &a.causes {
            out.push_str(&format!(
                "      caused by {}\n",
                escape_controls(&cause_text(c))
            ));
        }
        for n in &a.notes {
            out.push_str(&format!(
                "      {}\n",
                p.red(&format!("! {}", escape_controls(n)))
            ));
        }
    }
    out.push('\n');
    out
}

/// The lines that show a change's detail: kernel arguments removed (`- quiet`) and added
/// (`+ iommu=pt`), or a cloud-init document's unified diff with its secrets masked.
pub fn detail_lines(detail: &ChangeDetail) -> Vec<String> {
    match detail {
        ChangeDetail::Args { added, removed } => {
            let mut out: Vec<String> = removed.iter().map(|a| format!("- {a}")).collect();
            out.extend(added.iter().map(|a| format!("+ {a}")));
            if out.is_empty() {
                out.push("  (the same arguments in a new order)".to_string());
            }
            out
        }
        ChangeDetail::Text { unified } => unified.clone(),
    }
}

/// The values part of a change or group line: `= 32 -> 64`, or `(added and removed
/// arguments below)` / `(text diff below)` when a detail shows the change instead.
pub fn values_text(
    action: Action,
    sensitive: bool,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
    detail: Option<&ChangeDetail>,
) -> String {
    match detail {
        Some(ChangeDetail::Args { .. }) => "(arguments below)".to_string(),
        Some(ChangeDetail::Text { .. }) => "(text diff below, secrets masked)".to_string(),
        None => change_values(action, sensitive, before, None, after),
    }
}

/// One change line, e.g. `~ pages.1G.node0 = 32 -> 64` (`~ args (arguments below)` when
/// [`detail_lines`] show it).
pub fn change_line(dc: &DiffChange) -> String {
    let c = &dc.change;
    if dc.detail.is_some() {
        return format!(
            "{} {} {}",
            c.action.symbol(),
            c.setting,
            values_text(
                c.action,
                c.sensitive,
                c.before.as_ref(),
                c.after.as_ref(),
                dc.detail.as_ref()
            )
        );
    }
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

/// A detail line coloured as its diff marker says (`+` create, `-` delete).
fn paint_diff_line(p: Paint, line: &str) -> String {
    match line.chars().next() {
        Some('+') => p.action(Action::Create, line),
        Some('-') => p.action(Action::Delete, line),
        _ => line.to_string(),
    }
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
            for line in dc.detail.iter().flat_map(detail_lines) {
                out.push_str(&format!("          {}\n", paint_diff_line(p, &line)));
            }
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
    out.push_str(&access_section(d, p));
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
            let values = values_text(
                g.action,
                g.sensitive,
                g.before.as_ref(),
                g.after.as_ref(),
                g.detail.as_ref(),
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
            for line in g.detail.iter().flat_map(detail_lines) {
                out.push_str(&format!("        {}\n", paint_diff_line(p, &line)));
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

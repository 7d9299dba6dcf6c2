//! `bmfleet diff` as a pull-request comment: title, summary table, a `> [!WARNING]` banner
//! when the PR reboots or reprovisions hosts, hosts added and removed, one collapsible
//! section per group of identical changes (with the `file:line` that caused it) and per
//! changed host, in a deterministic order; under [`LIMIT`] characters, with a note when
//! sections were left out.

use super::diff_text::{
    by_resource, cause_text, change_line, detail_lines, marker, summary_line, values_text,
};
use super::plan_text::count;
use crate::plan::hostlist;
use crate::plan::resource::Disruption;
use crate::plan::spec_diff::{DiffHost, HostStatus, SpecDiff};

/// Most characters in the comment (GitHub allows 65,536).
pub const LIMIT: usize = 65_000;

/// A hidden marker so CI can find and update its own comment.
pub const MARKER: &str = "<!-- bmfleet-diff -->";

/// How the disruption columns count, under the table.
pub const DISRUPTION_RULE: &str = "<sub>Reboot, Reprovision and Link flap count each host in every class its changes reach, as `--fail-on` does: a reprovision also reboots the host and flaps its links, a reboot also flaps its links.</sub>\n\n";

fn banner(d: &SpecDiff) -> String {
    let hosts_with = |class: Disruption| -> Vec<String> {
        d.hosts
            .iter()
            .filter(|h| h.status != HostStatus::Removed && h.disruption == class)
            .map(|h| h.name.clone())
            .collect()
    };
    let reprov = hosts_with(Disruption::Reprovision);
    let reboot = hosts_with(Disruption::Reboot);
    if reprov.is_empty() && reboot.is_empty() {
        return String::new();
    }
    let mut s = String::from("> [!WARNING]\n");
    if !reprov.is_empty() {
        s.push_str(&format!(
            "> **{} would be reprovisioned**: {}\n",
            count(reprov.len(), "host", "hosts"),
            hostlist::compress_limited(&reprov, 40)
        ));
    }
    if !reboot.is_empty() {
        if !reprov.is_empty() {
            s.push_str(">\n");
        }
        s.push_str(&format!(
            "> **{} would reboot**: {}\n",
            count(reboot.len(), "host", "hosts"),
            hostlist::compress_limited(&reboot, 40)
        ));
    }
    s.push('\n');
    s
}

/// A line of a document shown inside a ```` ```diff ```` block: a run of three backticks
/// would close the block, so a zero-width space breaks it up.
fn fence_safe(line: &str) -> String {
    line.replace("```", "`\u{200b}``")
}

fn host_body(h: &DiffHost) -> String {
    let mut body = String::new();
    for (resource, changes) in by_resource(h) {
        body.push_str(&format!("{resource}\n"));
        for dc in changes {
            let line = change_line(dc);
            // diff colouring: + green, - red, ! orange for updates.
            let line = match line.strip_prefix('~') {
                Some(rest) => format!("!{rest}"),
                None => line,
            };
            body.push_str(&format!("{line}\n"));
            for line in dc.detail.iter().flat_map(detail_lines) {
                body.push_str(&format!("{}\n", fence_safe(&line)));
            }
            if let Some(c) = &dc.cause {
                body.push_str(&format!("#   {}\n", cause_text(c)));
            }
        }
    }
    body
}

/// Renders the diff as a PR comment of at most [`LIMIT`] characters.
pub fn render(d: &SpecDiff) -> String {
    let s = &d.summary;
    let mut head = format!("{MARKER}\n");
    if d.has_changes() {
        head.push_str(&format!(
            "## bmfleet diff: {} affected\n\n",
            count(
                s.hosts_added + s.hosts_removed + s.hosts_changed,
                "host",
                "hosts"
            )
        ));
    } else {
        head.push_str("## bmfleet diff: no changes\n\n");
    }
    head.push_str(&format!("**{}**\n\n", summary_line(d)));
    head.push_str("| Added | Removed | Changed | Settings | Reboot | Reprovision | Link flap |\n");
    head.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
    head.push_str(&format!(
        "| {} | {} | {} | {} | {} | {} | {} |\n\n",
        s.hosts_added,
        s.hosts_removed,
        s.hosts_changed,
        s.settings,
        s.reboots,
        s.reprovisions,
        s.link_flaps
    ));
    if s.reboots + s.reprovisions + s.link_flaps > 0 {
        head.push_str(DISRUPTION_RULE);
    }
    head.push_str(&banner(d));
    let mut blocks: Vec<(String, usize)> = Vec::new();
    let added = d.hosts_with(HostStatus::Added);
    let removed = d.hosts_with(HostStatus::Removed);
    if !added.is_empty() {
        let mut b = format!(
            "### Hosts added ({})\n\n| Host | Profiles | Defined at | Settings | Disruption |\n|---|---|---|---:|---|\n",
            added.len()
        );
        for h in &added {
            b.push_str(&format!(
                "| `{}` | {} | `{}` | {} | {} |\n",
                h.name,
                h.profiles.join(", "),
                h.location.as_deref().unwrap_or_default(),
                h.changes.len(),
                h.disruption.as_str()
            ));
        }
        b.push('\n');
        blocks.push((b, added.len()));
    }
    if !removed.is_empty() {
        let mut b = format!(
            "### Hosts removed ({})\n\nbmfleet stops managing them; nothing is changed on the hosts.\n\n",
            removed.len()
        );
        for h in &removed {
            b.push_str(&format!(
                "- `{}` (was at `{}`)\n",
                h.name,
                h.location.as_deref().unwrap_or_default()
            ));
        }
        b.push('\n');
        blocks.push((b, removed.len()));
    }
    if !d.groups.is_empty() {
        blocks.push(("### Changes on many hosts\n\n".to_string(), 0));
        for g in &d.groups {
            let values = values_text(
                g.action,
                g.sensitive,
                g.before.as_ref(),
                g.after.as_ref(),
                g.detail.as_ref(),
            );
            let mut b = format!(
                "<details><summary><code>{}</code>: <code>{} {}</code> on {}{}</summary>\n\n",
                g.resource,
                g.setting,
                values,
                count(g.hosts.len(), "host", "hosts"),
                marker(g.disruption)
            );
            b.push_str(&format!("Hosts: {}\n\n", g.host_ranges));
            for c in &g.causes {
                b.push_str(&format!("Caused by `{}` ({})\n\n", c.location, c.layer));
            }
            let detail: String = g
                .detail
                .iter()
                .flat_map(detail_lines)
                .map(|l| format!("{}\n", fence_safe(&l)))
                .collect();
            b.push_str(&format!(
                "```diff\n{} {} {} {}\n{detail}```\n\n</details>\n\n",
                match g.action.symbol() {
                    "~" => "!",
                    other => other,
                },
                g.resource,
                g.setting,
                values
            ));
            blocks.push((b, 0));
        }
    }
    let changed: Vec<&DiffHost> = d
        .hosts
        .iter()
        .filter(|h| h.status == HostStatus::Changed)
        .collect();
    if !changed.is_empty() {
        blocks.push((format!("### Changed hosts ({})\n\n", changed.len()), 0));
        // Hosts whose details read the same share one section.
        let same = hostlist::group_identical(changed.iter().map(|h| {
            (
                (host_body(h), h.changes.len(), h.disruption),
                h.name.clone(),
            )
        }));
        for ((body, settings, disruption), names) in same {
            let who = match names.as_slice() {
                [one] => format!("<code>{one}</code>"),
                _ => format!(
                    "<code>{}</code> ({} hosts)",
                    hostlist::compress(&names),
                    names.len()
                ),
            };
            blocks.push((
                format!(
                    "<details><summary>{who}: {}{}</summary>\n\n```diff\n{body}```\n\n</details>\n\n",
                    count(settings, "setting", "settings"),
                    marker(disruption)
                ),
                names.len(),
            ));
        }
    }
    let foot = format!(
        "<sub>bmfleet diff: base {} -> head {}</sub>\n",
        d.base.describe(),
        d.head.describe()
    );
    let mut out = head;
    let mut left_out = 0usize;
    let budget = LIMIT.saturating_sub(foot.len() + 300);
    for (text, hosts) in blocks {
        if left_out > 0 || out.len() + text.len() > budget {
            left_out += hosts;
            continue;
        }
        out.push_str(&text);
    }
    if left_out > 0 {
        out.push_str(&format!(
            "> [!NOTE]\n> Truncated to fit a comment: {} not shown. Run `bmfleet diff` locally or see the CI artifact for the full diff.\n\n",
            count(left_out, "more host", "more hosts")
        ));
    }
    out.push_str(&foot);
    out
}

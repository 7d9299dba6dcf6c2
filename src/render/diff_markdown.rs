//! `bmfleet diff` as a pull-request comment: title, a `> [!CAUTION]` banner saying in words
//! where credentials now go and what is now trusted (before anything else), summary table,
//! the access changes in full, a `> [!WARNING]` banner
//! when the PR reboots or reprovisions hosts, hosts added and removed, one collapsible
//! section per group of identical changes (with the `file:line` that caused it) and per
//! changed host, in a deterministic order; under [`LIMIT`] characters, with a note when
//! sections were left out.

use super::diff_text::{
    access_hosts_text, access_line, by_resource, cause_text, change_line, detail_lines,
    escape_controls, marker, summary_line, values_text,
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

/// Most bullets in the access banner; the rest are counted.
const ACCESS_BANNER_ITEMS: usize = 20;

/// Most characters of the access section (it is never dropped to fit the comment, so it is
/// bounded on its own; the rest is counted).
const ACCESS_SECTION_CHARS: usize = 24_000;

/// `s` escaped for Markdown text and inline HTML, control characters shown as escapes.
fn escape_md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape_controls(s).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '*' | '_' | '[' | ']' | '\\' | '`' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The `> [!CAUTION]` banner: what the access changes mean, in words, per group of hosts.
fn access_banner(d: &SpecDiff) -> String {
    if d.access.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "> [!CAUTION]\n> **{}: where credentials go and what is trusted** (`--fail-on access`)\n",
        count(d.access.len(), "access change", "access changes")
    );
    let notes: Vec<String> = d
        .access
        .iter()
        .flat_map(|a| {
            let who = match a.hosts.as_slice() {
                [] => "fleet".to_string(),
                [one] => one.clone(),
                many => format!(
                    "{} ({} hosts)",
                    hostlist::compress_limited(many, 40),
                    many.len()
                ),
            };
            a.notes.iter().map(move |n| format!("{who}: {n}"))
        })
        .collect();
    for n in notes.iter().take(ACCESS_BANNER_ITEMS) {
        s.push_str(&format!("> - {}\n", escape_md(n)));
    }
    if notes.len() > ACCESS_BANNER_ITEMS {
        s.push_str(&format!(
            "> - and {} more (see below)\n",
            notes.len() - ACCESS_BANNER_ITEMS
        ));
    }
    s.push_str("> \n> Every changed endpoint, TLS, credential, SSH, timeout and rollout setting is listed under **Access changes** below.\n\n");
    s
}

/// The access section: every access change with its hosts, cause and notes, in a `diff`
/// block, at most [`ACCESS_SECTION_CHARS`] characters.
fn access_section(d: &SpecDiff) -> String {
    if d.access.is_empty() {
        return String::new();
    }
    let mut body = String::new();
    let mut left_out = 0usize;
    for a in &d.access {
        let mut entry = String::new();
        let line = access_line(a);
        let line = match line.strip_prefix('~') {
            Some(rest) => format!("!{rest}"),
            None => line,
        };
        entry.push_str(&format!("{}\n", fence_safe(&line)));
        entry.push_str(&format!(
            "#   {}\n",
            fence_safe(&escape_controls(&access_hosts_text(a)))
        ));
        for c in &a.causes {
            entry.push_str(&format!(
                "#   {}\n",
                fence_safe(&escape_controls(&cause_text(c)))
            ));
        }
        for n in &a.notes {
            entry.push_str(&format!("#   ! {}\n", fence_safe(&escape_controls(n))));
        }
        if left_out > 0 || body.len() + entry.len() > ACCESS_SECTION_CHARS {
            left_out += 1;
            continue;
        }
        body.push_str(&entry);
    }
    let mut s = format!(
        "### Access changes ({})\n\nWhere bmfleet connects and what it trusts: BMC and DPU endpoints, `systemId`, TLS, credential references and the variables they are read from, SSH, timeouts and rollout.\n\n```diff\n{body}```\n\n",
        d.access.len()
    );
    if left_out > 0 {
        s.push_str(&format!(
            "> [!NOTE]\n> {} not shown: run `bmfleet diff` locally for all of them.\n\n",
            count(left_out, "more access change", "more access changes")
        ));
    }
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
        let access = if s.access_changes > 0 {
            format!(
                ", {}",
                count(s.access_changes, "access change", "access changes")
            )
        } else {
            String::new()
        };
        let hosts = s.hosts_added + s.hosts_removed + s.hosts_changed;
        if hosts == 0 {
            head.push_str(&format!(
                "## bmfleet diff: {}\n\n",
                count(s.access_changes, "access change", "access changes")
            ));
        } else {
            head.push_str(&format!(
                "## bmfleet diff: {} affected{access}\n\n",
                count(hosts, "host", "hosts")
            ));
        }
    } else {
        head.push_str("## bmfleet diff: no changes\n\n");
    }
    head.push_str(&access_banner(d));
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
    head.push_str(&access_section(d));
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

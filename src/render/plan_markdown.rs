//! The plan as a pull-request comment (GitHub-flavoured Markdown): a title and summary table,
//! a `> [!WARNING]` banner when hosts reboot or are reprovisioned, errors, one collapsible
//! `<details>` per group of identical changes and per host with a ```` ```diff ```` block,
//! the rollout, and a footer naming the spec commit.
//!
//! The comment stays under [`LIMIT`] characters (GitHub allows 65,536): sections that do not
//! fit are left out and the comment ends with a note saying how many hosts are not shown.

use super::plan_text::{
    change_values, count, reason_is_notable, resource_action, summary_line, summary_notes,
};
use crate::plan::address::Address;
use crate::plan::hostlist;
use crate::plan::model::{Action, Change, ChangeGroup, Plan, PlanHost};
use crate::plan::resource::{Disruption, ResourceKind};
use std::collections::{BTreeMap, BTreeSet};

/// Most characters a rendered comment has (GitHub's limit is 65,536).
pub const LIMIT: usize = 65_000;

/// Hosts named in a summary line before `and N more`.
const LIST_ITEMS: usize = 40;

/// A section that may be left out when the comment gets too long, with the hosts it shows.
struct Block {
    text: String,
    hosts: Vec<String>,
}

/// Renders the plan as a PR comment of at most [`LIMIT`] characters.
pub fn render(plan: &Plan) -> String {
    let mut head = String::new();
    let title = if plan.has_changes() {
        format!(
            "## bmfleet plan: {} to change",
            count(plan.summary.hosts_to_change, "host", "hosts")
        )
    } else if plan.has_errors() {
        "## bmfleet plan: no changes on the hosts read, errors on others".to_string()
    } else {
        "## bmfleet plan: no changes".to_string()
    };
    head.push_str(&title);
    head.push_str("\n\n");
    head.push_str(&format!("**{}**\n\n", summary_line(plan)));
    let s = &plan.summary;
    head.push_str("| Hosts | To change | Settings | Reboots | Reprovisions | Pending on BMC | Errors | Not refreshed |\n");
    head.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    head.push_str(&format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} |\n\n",
        s.hosts,
        s.hosts_to_change,
        s.settings,
        s.reboots,
        s.reprovisions,
        s.pending,
        s.errors,
        s.unobserved
    ));
    head.push_str(&banner(plan));
    let notes = summary_notes(plan);
    if !notes.is_empty() {
        for n in notes {
            head.push_str(&format!("- {}\n", escape(&n)));
        }
        head.push('\n');
    }

    let mut blocks: Vec<Block> = Vec::new();
    let error_hosts: Vec<&PlanHost> = plan.hosts.iter().filter(|h| h.error.is_some()).collect();
    if !plan.errors.is_empty() || !error_hosts.is_empty() {
        blocks.push(Block {
            text: "### Errors\n\n".into(),
            hosts: Vec::new(),
        });
        for e in &plan.errors {
            blocks.push(Block {
                text: format!(
                    "- **{}** (`{}`): {}\n",
                    escape(&e.message),
                    e.code,
                    escape(&e.help)
                ),
                hosts: Vec::new(),
            });
        }
        for h in &error_hosts {
            if let Some(e) = &h.error {
                blocks.push(Block {
                    text: format!(
                        "- **{}**: could not read `{}`: {} (`{}`). Help: {}\n",
                        h.name,
                        code_span(&e.endpoint),
                        escape(&e.message),
                        e.code,
                        escape(&e.help)
                    ),
                    hosts: vec![h.name.clone()],
                });
            }
        }
        blocks.push(Block {
            text: "\n".into(),
            hosts: Vec::new(),
        });
    }
    if !plan.groups.is_empty() {
        blocks.push(Block {
            text: "### Changes on many hosts\n\n".into(),
            hosts: Vec::new(),
        });
        for g in &plan.groups {
            blocks.push(Block {
                text: group_block(g),
                hosts: Vec::new(),
            });
        }
    }
    let detailed: Vec<&PlanHost> = plan
        .hosts
        .iter()
        .filter(|h| h.error.is_none() && (h.has_changes() || !h.changes.is_empty()))
        .collect();
    if !detailed.is_empty() {
        blocks.push(Block {
            text: "### Hosts\n\n".into(),
            hosts: Vec::new(),
        });
        // Hosts whose details read the same are shown once, with their names.
        let mut same: Vec<(String, Vec<String>, String)> = Vec::new();
        let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
        for h in detailed {
            let (summary, body) = host_details(h);
            match index.get(&(summary.clone(), body.clone())) {
                Some(&i) => same[i].1.push(h.name.clone()),
                None => {
                    index.insert((summary.clone(), body.clone()), same.len());
                    same.push((summary, vec![h.name.clone()], body));
                }
            }
        }
        for (summary, names, body) in same {
            let who = if names.len() == 1 {
                format!("<b>{}</b>", escape(&names[0]))
            } else {
                // Inside the HTML block Markdown escapes are not read: `\[` would show.
                format!(
                    "<b>{}</b> ({})",
                    escape_html(&hostlist::compress_limited(&names, LIST_ITEMS)),
                    count(names.len(), "host", "hosts")
                )
            };
            blocks.push(Block {
                text: format!(
                    "<details><summary>{who}: {summary}</summary>\n\n```diff\n{}```\n\n</details>\n\n",
                    fence_safe(&body)
                ),
                hosts: names,
            });
        }
    }
    if !plan.rollout.batches.is_empty() {
        blocks.push(Block {
            text: rollout_block(plan),
            hosts: Vec::new(),
        });
    }

    let footer = format!(
        "---\n<sub>Spec: {} · plan format {} · rendered by <code>bmfleet plan --format markdown</code></sub>\n",
        escape(&plan.source.describe()),
        escape(&plan.format_version)
    );
    assemble(head, blocks, footer)
}

/// Joins the sections, leaving out what does not fit under [`LIMIT`] and ending with a note
/// when anything was left out.
fn assemble(head: String, blocks: Vec<Block>, footer: String) -> String {
    // Room for the note: generous, so that its numbers always fit.
    const NOTE_ROOM: usize = 400;
    let mut out = head;
    let budget = LIMIT.saturating_sub(footer.len() + NOTE_ROOM);
    let mut left_hosts: BTreeSet<String> = BTreeSet::new();
    let mut left_sections = 0usize;
    let mut truncated = false;
    for b in blocks {
        if !truncated && out.len() + b.text.len() <= budget {
            out.push_str(&b.text);
        } else {
            truncated = true;
            if b.hosts.is_empty() {
                left_sections += usize::from(b.text.trim().len() > 4);
            }
            left_hosts.extend(b.hosts);
        }
    }
    if truncated && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(&footer);
    if truncated {
        let mut what = count(left_hosts.len(), "more host", "more hosts");
        if left_sections > 0 {
            what.push_str(&format!(
                " and {}",
                count(left_sections, "more section", "more sections")
            ));
        }
        out.push_str(&format!(
            "\n> [!NOTE]\n> Truncated to fit a comment: {what} not shown; see the plan artifact or run `bmfleet plan` locally.\n"
        ));
    }
    out
}

fn banner(plan: &Plan) -> String {
    let rebooting: Vec<String> = plan
        .hosts
        .iter()
        .filter(|h| h.reboots() && !h.reprovisions())
        .map(|h| h.name.clone())
        .collect();
    let reprovisioning: Vec<String> = plan
        .hosts
        .iter()
        .filter(|h| h.reprovisions())
        .map(|h| h.name.clone())
        .collect();
    if rebooting.is_empty() && reprovisioning.is_empty() {
        return String::new();
    }
    let mut s = String::from("> [!WARNING]\n");
    if !reprovisioning.is_empty() {
        s.push_str(&format!(
            "> **{} reprovisioned** (new cloud-init data, then a reboot): {}\n",
            count(reprovisioning.len(), "host is", "hosts are"),
            hostlist::compress_limited(&reprovisioning, LIST_ITEMS)
        ));
        if !rebooting.is_empty() {
            s.push_str(">\n");
        }
    }
    if !rebooting.is_empty() {
        s.push_str(&format!(
            "> **{} rebooted**: {}\n",
            count(rebooting.len(), "host is", "hosts are"),
            hostlist::compress_limited(&rebooting, LIST_ITEMS)
        ));
    }
    s.push('\n');
    s
}

/// The `diff` marker of an action: GitHub colours lines starting with `+`, `-` and `!`.
fn diff_symbol(a: Action) -> &'static str {
    match a {
        Action::Update | Action::Replace => "!",
        other => other.symbol(),
    }
}

fn disruption_label(d: Disruption) -> &'static str {
    match d {
        Disruption::None => "",
        Disruption::LinkFlap => " (link flap)",
        Disruption::Reboot => " (reboot)",
        Disruption::Reprovision => " (reprovision)",
    }
}

fn group_block(g: &ChangeGroup) -> String {
    let mut s = format!(
        "<details><summary><code>{} {}: {}</code> on {}{}</summary>\n\n",
        escape(g.action.symbol()),
        escape(&g.resource),
        escape(&g.setting),
        count(g.hosts.len(), "host", "hosts"),
        disruption_label(g.disruption)
    );
    s.push_str(&format!(
        "Hosts: {}\n\n```diff\n",
        hostlist::compress_limited(&g.hosts, LIST_ITEMS)
    ));
    s.push_str(&fence_safe(&format!(
        "{} {} {}\n# {}\n",
        diff_symbol(g.action),
        g.setting,
        change_values(
            g.action,
            false,
            g.before.as_ref(),
            g.pending.as_ref(),
            g.after.as_ref()
        ),
        g.reason
    )));
    s.push_str("```\n\n</details>\n\n");
    s
}

/// A host's summary (`2 settings, 1 pending (reboot)`) and the body of its `diff` block.
fn host_details(h: &PlanHost) -> (String, String) {
    let mut parts = Vec::new();
    let n = h.settings_changed();
    if n > 0 {
        parts.push(count(n, "setting", "settings"));
    }
    if h.pending() > 0 {
        parts.push(format!("{} pending", h.pending()));
    }
    let summary = format!("{}{}", parts.join(", "), disruption_label(h.disruption));
    let mut body = String::new();
    let mut by_resource: BTreeMap<&Address, Vec<&Change>> = BTreeMap::new();
    for c in &h.changes {
        by_resource.entry(&c.address).or_default().push(c);
    }
    for (address, changes) in by_resource {
        let action = resource_action(&changes);
        body.push_str(&format!("{} {}\n", diff_symbol(action), address.relative()));
        let grouped: Vec<&str> = changes
            .iter()
            .filter(|c| c.group.is_some())
            .map(|c| c.setting.as_str())
            .collect();
        if !grouped.is_empty() {
            body.push_str(&format!(
                "#   as in \"Changes on many hosts\": {}\n",
                grouped.join(", ")
            ));
        }
        for c in changes.iter().filter(|c| c.group.is_none()) {
            body.push_str(&format!(
                "{}   {} {}\n",
                diff_symbol(c.action),
                c.setting,
                change_values(
                    c.action,
                    c.sensitive,
                    c.before.as_ref(),
                    c.pending.as_ref(),
                    c.after.as_ref()
                )
            ));
            if reason_is_notable(c) {
                body.push_str(&format!("#     {}\n", c.reason));
            }
        }
    }
    if !h.steps.is_empty() {
        let mut order: Vec<String> = h.steps.iter().map(|st| st.address.relative()).collect();
        order.dedup();
        body.push_str(&format!("# order: {}\n", order.join(" -> ")));
    }
    for st in h.steps.iter().filter(|st| st.kind == ResourceKind::Reboot) {
        body.push_str(&format!("# reboot: {}\n", st.description()));
    }
    for n in &h.notes {
        body.push_str(&format!("# {n}\n"));
    }
    if !h.unobserved.is_empty() {
        let mut reasons: Vec<&str> = h.unobserved.iter().map(|u| u.reason.as_str()).collect();
        reasons.sort();
        reasons.dedup();
        body.push_str(&format!(
            "# not refreshed: {} ({})\n",
            count(h.unobserved.len(), "resource", "resources"),
            reasons.join("; ")
        ));
    }
    (summary, body)
}

fn rollout_block(plan: &Plan) -> String {
    let r = &plan.rollout;
    let limit = match &r.max_unavailable {
        crate::spec::model::IntOrPercent::Count(n) => n.to_string(),
        crate::spec::model::IntOrPercent::Percent(p) => p.clone(),
    };
    let mut s = format!(
        "### Rollout\n\n{} · maxUnavailable {limit}{} · maxFailures {}\n\n| Batch | Stage | Partition | Hosts |\n|---:|---|---|---|\n",
        count(r.batches.len(), "batch", "batches"),
        r.partition_by
            .as_ref()
            .map_or_else(String::new, |k| format!(" per `{k}`")),
        r.max_failures
    );
    const ROWS: usize = 30;
    for b in r.batches.iter().take(ROWS) {
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            b.number,
            b.stage.as_deref().map_or_else(String::new, escape),
            b.partition.as_deref().map_or_else(String::new, escape),
            hostlist::compress_limited(&b.hosts, LIST_ITEMS)
        ));
    }
    if r.batches.len() > ROWS {
        let rest: usize = r.batches.iter().skip(ROWS).map(|b| b.hosts.len()).sum();
        s.push_str(&format!(
            "| … | | | {} more ({}) |\n",
            count(r.batches.len() - ROWS, "batch", "batches"),
            count(rest, "host", "hosts")
        ));
    }
    for w in &r.warnings {
        s.push_str(&format!("\n> [!CAUTION]\n> {}\n", escape(w)));
    }
    s.push('\n');
    s
}

/// `s` escaped for HTML text (`&`, `<`, `>`), for places where Markdown is not read.
fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes text for Markdown and inline HTML.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("\\|"),
            '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for a code span: backticks removed.
fn code_span(s: &str) -> String {
    s.replace('`', "'")
}

/// Keeps text from closing a code fence early.
fn fence_safe(s: &str) -> String {
    s.replace("```", "'''")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markdown_and_html() {
        assert_eq!(escape("a<b>|*c_"), "a&lt;b&gt;\\|\\*c\\_");
        assert_eq!(escape_html("r1-c[01-02]&<x>"), "r1-c[01-02]&amp;&lt;x&gt;");
        assert_eq!(fence_safe("x```y"), "x'''y");
    }

    #[test]
    fn assemble_truncates_and_ends_with_the_note() {
        let blocks: Vec<Block> = (0..100)
            .map(|i| Block {
                text: "x".repeat(1000),
                hosts: vec![format!("h{i}")],
            })
            .collect();
        let out = assemble("head\n".into(), blocks, "footer\n".into());
        assert!(out.len() <= LIMIT);
        assert!(out.trim_end().ends_with("run `bmfleet plan` locally."));
        let shown = out.matches(&"x".repeat(1000)).count();
        assert!(out.contains(&format!("{} more hosts not shown", 100 - shown)));
    }
}

//! The human plan, in Terraform's style: `+` create, `~` update, `-` delete, `-/+` replace,
//! `#` notes; sensitive values as `(sensitive value)`. Identical changes on many hosts come
//! first ("Changes on many hosts"), then each host's own details, the rollout, and one
//! summary line (`Plan: 9 hosts to change, 23 settings, 7 reboots.`).
//!
//! Deterministic: no terminal queries; notes wrap at [`WIDTH`] columns; ANSI colour only when
//! asked for.

use crate::plan::address::Address;
use crate::plan::hostlist;
use crate::plan::model::{Action, Change, ChangeGroup, Plan, PlanHost};
use crate::plan::network::NetworkWrite;
use crate::plan::op::Op;
use crate::plan::resource::{Disruption, ResourceKind};
use crate::plan::value::{SENSITIVE, display_setting};
use serde_json::Value;
use std::collections::BTreeMap;

/// Column at which notes and host lists wrap.
pub const WIDTH: usize = 100;

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    color: bool,
}

impl Paint {
    /// Styling that emits ANSI escapes only when `color` is true.
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    fn wrap(self, code: &str, s: &str) -> String {
        if self.color && !s.is_empty() {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Bold.
    pub fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }

    /// Dim (notes).
    pub fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }

    /// Red (errors).
    pub fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }

    /// The colour of an action's marker.
    pub fn action(self, a: Action, s: &str) -> String {
        let code = match a {
            Action::Create => "32",
            Action::Update => "33",
            Action::Delete => "31",
            Action::Replace => "33",
            Action::Pending => "36",
            Action::NoOp => "0",
        };
        self.wrap(code, s)
    }
}

/// `1 host` / `3 hosts`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The summary line: `Plan: 9 hosts to change, 23 settings, 7 reboots.` (with
/// `, 2 reprovisions` when there are any), or `No changes. The fleet matches the spec.` only
/// when every resource in scope was observed; else `No changes in 80 observed resources; 150
/// not observed.` (a plan never vouches for state it did not read).
pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    if !plan.has_changes() {
        if plan.has_errors() {
            let read = plan.hosts.iter().filter(|h| h.error.is_none()).count();
            if read == 0 {
                return "Nothing planned: no host could be read (see the errors).".to_string();
            }
            return format!(
                "No changes on the {} that could be read; the others could not be planned.",
                count(read, "host", "hosts")
            );
        }
        if s.unobserved > 0 || s.unobserved_settings > 0 {
            let missing = match (s.unobserved, s.unobserved_settings) {
                (n, 0) => n.to_string(),
                (0, k) => count(k, "setting", "settings"),
                (n, k) => format!(
                    "{} and {}",
                    count(n, "resource", "resources"),
                    count(k, "setting", "settings")
                ),
            };
            return format!(
                "No changes in {}; {missing} not observed.",
                count(s.observed, "observed resource", "observed resources"),
            );
        }
        return "No changes. The fleet matches the spec.".to_string();
    }
    let mut line = format!(
        "Plan: {} to change, {}, {}",
        count(s.hosts_to_change, "host", "hosts"),
        count(s.settings, "setting", "settings"),
        count(s.reboots, "reboot", "reboots"),
    );
    if s.reprovisions > 0 {
        line.push_str(&format!(
            ", {}",
            count(s.reprovisions, "reprovision", "reprovisions")
        ));
    }
    line.push('.');
    line
}

/// Lines that qualify the summary: pending values, errors, unobserved resources.
pub fn summary_notes(plan: &Plan) -> Vec<String> {
    let s = &plan.summary;
    let mut out = Vec::new();
    if s.pending > 0 {
        out.push(format!(
            "{} already staged on the BMCs with the desired value (pending, applies on reset).",
            count(s.pending, "setting is", "settings are")
        ));
    }
    let host_errors = plan.hosts.iter().filter(|h| h.error.is_some()).count();
    if host_errors > 0 {
        out.push(format!(
            "{} could not be planned (see the errors).",
            count(host_errors, "host", "hosts")
        ));
    }
    if !plan.errors.is_empty() {
        out.push(format!(
            "{} in the plan (see the errors).",
            count(plan.errors.len(), "error", "errors")
        ));
    }
    if s.unobserved > 0 {
        let hosts: Vec<String> = plan
            .hosts
            .iter()
            .filter(|h| !h.unobserved.is_empty())
            .map(|h| h.name.clone())
            .collect();
        out.push(format!(
            "Not refreshed: {} on {} ({}).",
            count(s.unobserved, "resource", "resources"),
            count(hosts.len(), "host", "hosts"),
            unobserved_reasons(plan).join("; ")
        ));
    }
    if s.unobserved_settings > 0 {
        let hosts = plan
            .hosts
            .iter()
            .filter(|h| !h.unobserved_settings.is_empty())
            .count();
        let mut reasons: Vec<&str> = plan
            .hosts
            .iter()
            .flat_map(|h| h.unobserved_settings.iter().map(|u| u.reason.as_str()))
            .collect();
        reasons.sort_unstable();
        reasons.dedup();
        out.push(format!(
            "Not observed: {} on {} ({}).",
            count(s.unobserved_settings, "setting", "settings"),
            count(hosts, "host", "hosts"),
            reasons.join("; ")
        ));
    }
    out
}

/// Per-host lines for settings that were not compared: `not observed: network/eno1
/// ethernet.speed, network/eno1 ipv4.dhcp (the OS probe does not read ...)`, one per reason.
pub fn unobserved_settings_lines(h: &crate::plan::PlanHost) -> Vec<String> {
    let mut by_reason: std::collections::BTreeMap<&str, Vec<String>> =
        std::collections::BTreeMap::new();
    for u in &h.unobserved_settings {
        by_reason
            .entry(u.reason.as_str())
            .or_default()
            .push(format!("{} {}", u.address.relative(), u.setting));
    }
    by_reason
        .into_iter()
        .map(|(why, what)| format!("not observed: {} ({why})", what.join(", ")))
        .collect()
}

fn unobserved_reasons(plan: &Plan) -> Vec<String> {
    let mut reasons: Vec<String> = plan
        .hosts
        .iter()
        .flat_map(|h| h.unobserved.iter().map(|u| u.reason.clone()))
        .collect();
    reasons.sort();
    reasons.dedup();
    reasons
}

/// A value for display: `(sensitive value)` when sensitive.
pub fn value(sensitive: bool, v: Option<&Value>) -> String {
    if sensitive && v.is_some() {
        SENSITIVE.to_string()
    } else {
        display_setting(v)
    }
}

/// The text after a change's marker and key: `= "a" -> "b"`, `= "b" (pending, applies on
/// reset)`, ...
pub fn change_values(
    action: Action,
    sensitive: bool,
    before: Option<&Value>,
    pending: Option<&Value>,
    after: Option<&Value>,
) -> String {
    let v = |x: Option<&Value>| value(sensitive, x);
    match action {
        Action::Create => format!("= {}", v(after)),
        Action::Delete => format!("= {} -> null", v(before)),
        Action::Pending => match before {
            Some(b) if Some(b) != after => {
                format!(
                    "= {} -> {} (pending, applies on reset)",
                    v(Some(b)),
                    v(after)
                )
            }
            _ => format!("= {} (pending, applies on reset)", v(after)),
        },
        Action::Replace => format!(
            "= {} (staged) -> {} (replaces staged value)",
            v(pending),
            v(after)
        ),
        Action::Update if sensitive => format!("= {}", v(after)),
        Action::Update | Action::NoOp => format!("= {} -> {}", v(before), v(after)),
    }
}

/// True when a change's reason is worth a `#` line of its own (drift, replaced staged values,
/// settings the BMC does not report).
pub fn reason_is_notable(c: &Change) -> bool {
    matches!(c.action, Action::Replace | Action::Create | Action::Delete)
        || c.reason.starts_with("drift")
        || c.reason.starts_with("kernel args:")
}

/// Word-wraps `text` to `width` columns: the first line starts with `first`, the others with
/// `rest`. Words longer than a line are not broken.
pub fn wrap(text: &str, first: &str, rest: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        let prefix_len = if lines.is_empty() {
            first.len()
        } else {
            rest.len()
        };
        if !empty && line.len() + 1 + word.len() > width && line.len() > prefix_len {
            lines.push(std::mem::replace(&mut line, rest.to_string()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line);
    lines
}

fn marker(d: Disruption) -> &'static str {
    match d {
        Disruption::None => "",
        Disruption::LinkFlap => " [link flap]",
        Disruption::Reboot => " [reboot]",
        Disruption::Reprovision => " [reprovision]",
    }
}

/// Renders the plan for a terminal. `color` turns on ANSI colours (the CLI decides, from the
/// TTY and `NO_COLOR`).
pub fn render(plan: &Plan, color: bool) -> String {
    let p = Paint::new(color);
    let mut out: Vec<String> = Vec::new();
    out.push(format!(
        "Spec: {}; {} in scope.",
        plan.source.describe(),
        count(plan.summary.hosts, "host", "hosts")
    ));
    out.push(String::new());

    for e in &plan.errors {
        out.push(p.red(&p.bold(&format!("Error: {}", e.message))));
        out.extend(wrap(&e.help, "  help: ", "        ", WIDTH));
        out.push(String::new());
    }

    if !plan.groups.is_empty() {
        out.push(p.bold("Changes on many hosts:"));
        out.push(String::new());
        for g in &plan.groups {
            render_group(&mut out, p, g);
        }
        out.push(String::new());
    }

    // Hosts whose details read the same (a fleet-wide change on thousands of hosts) are
    // shown once, with their names compressed into ranges.
    let blocks = hostlist::group_identical(
        plan.hosts
            .iter()
            .filter(|h| h.error.is_some() || h.has_changes() || !h.changes.is_empty())
            .map(|h| {
                let mut lines = Vec::new();
                render_host(&mut lines, p, h);
                let header = format!("# {}:", h.name);
                if let Some(first) = lines.first_mut() {
                    *first = first.replacen(&header, "# \u{0}:", 1);
                }
                (lines, h.name.clone())
            }),
    );
    for (mut lines, names) in blocks {
        let who = hostlist::label(&names);
        if let Some(first) = lines.first_mut() {
            *first = first.replacen('\u{0}', &who, 1);
        }
        out.extend(lines);
        out.push(String::new());
    }

    let unchanged: Vec<String> = plan
        .hosts
        .iter()
        .filter(|h| h.error.is_none() && !h.has_changes() && h.changes.is_empty())
        .map(|h| h.name.clone())
        .collect();
    if !unchanged.is_empty() && plan.has_changes() {
        out.extend(wrap(
            &format!(
                "{} without changes: {}",
                count(unchanged.len(), "host", "hosts"),
                hostlist::compress(&unchanged)
            ),
            "# ",
            "#   ",
            WIDTH,
        ));
        out.push(String::new());
    }

    if !plan.rollout.batches.is_empty() {
        render_rollout(&mut out, p, plan);
        out.push(String::new());
    }

    out.push(p.bold(&summary_line(plan)));
    for n in summary_notes(plan) {
        out.extend(wrap(&n, "", "  ", WIDTH));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

fn render_group(out: &mut Vec<String>, p: Paint, g: &ChangeGroup) {
    let line = format!(
        "  {} {}: {} {}",
        p.action(g.action, g.action.symbol()),
        g.resource,
        g.setting,
        change_values(
            g.action,
            false,
            g.before.as_ref(),
            g.pending.as_ref(),
            g.after.as_ref()
        )
    );
    out.push(line);
    out.extend(wrap(
        &format!(
            "on {}: {}{}",
            count(g.hosts.len(), "host", "hosts"),
            hostlist::compress(&g.hosts),
            marker(g.disruption)
        ),
        "      ",
        "        ",
        WIDTH,
    ));
    if g.action == Action::Replace || g.reason.starts_with("drift") {
        for l in wrap(&g.reason, "      # ", "      #   ", WIDTH) {
            out.push(p.dim(&l));
        }
    }
}

fn render_host(out: &mut Vec<String>, p: Paint, h: &PlanHost) {
    if let Some(e) = &h.error {
        out.push(p.red(&p.bold(&format!("# {}: not planned (error)", h.name))));
        out.extend(
            wrap(
                &format!("Error: could not read {}: {}", e.endpoint, e.message),
                "  ",
                "    ",
                WIDTH,
            )
            .into_iter()
            .map(|l| p.red(&l)),
        );
        out.push(format!("    code: {}", e.code));
        out.extend(wrap(&e.help, "    help: ", "          ", WIDTH));
        return;
    }
    let mut parts = Vec::new();
    let settings = h.settings_changed();
    if settings > 0 {
        parts.push(count(settings, "setting", "settings"));
    }
    let pending = h.pending();
    if pending > 0 {
        parts.push(format!("{pending} pending"));
    }
    out.push(p.bold(&format!(
        "# {}: {}{}",
        h.name,
        parts.join(", "),
        marker(h.disruption)
    )));

    let mut by_resource: BTreeMap<&Address, Vec<&Change>> = BTreeMap::new();
    for c in &h.changes {
        by_resource.entry(&c.address).or_default().push(c);
    }
    for (address, changes) in by_resource {
        let action = resource_action(&changes);
        out.push(format!(
            "  {} {} {{",
            p.action(action, action.symbol()),
            address.relative()
        ));
        let own: Vec<&&Change> = changes.iter().filter(|c| c.group.is_none()).collect();
        let grouped: Vec<&str> = changes
            .iter()
            .filter(|c| c.group.is_some())
            .map(|c| c.setting.as_str())
            .collect();
        if !grouped.is_empty() {
            for l in wrap(
                &format!("as in \"Changes on many hosts\": {}", grouped.join(", ")),
                "      # ",
                "      #   ",
                WIDTH,
            ) {
                out.push(p.dim(&l));
            }
        }
        let width = own.iter().map(|c| c.setting.len()).max().unwrap_or(0);
        for c in own {
            out.push(format!(
                "      {} {:width$} {}",
                p.action(c.action, c.action.symbol()),
                c.setting,
                change_values(
                    c.action,
                    c.sensitive,
                    c.before.as_ref(),
                    c.pending.as_ref(),
                    c.after.as_ref()
                ),
            ));
            if reason_is_notable(c) {
                for l in wrap(&c.reason, "        # ", "        #   ", WIDTH) {
                    out.push(p.dim(&l));
                }
            }
        }
        out.push("    }".to_string());
    }
    if !h.steps.is_empty() {
        let mut order: Vec<String> = h.steps.iter().map(|s| s.address.relative()).collect();
        order.dedup();
        for l in wrap(&order.join(" -> "), "  # order: ", "  #   ", WIDTH) {
            out.push(p.dim(&l));
        }
    }
    for s in h.steps.iter().filter(|s| s.kind == ResourceKind::Reboot) {
        for l in wrap(&s.description(), "  # reboot: ", "  #   ", WIDTH) {
            out.push(p.dim(&l));
        }
    }
    for s in &h.steps {
        if let Op::NetworkApply { write: Some(w), .. } = &s.op {
            for l in network_write_lines(&s.address.relative(), w) {
                out.push(p.dim(&l));
            }
        }
        let files = s.op.files();
        if !files.is_empty() {
            out.push(p.dim(&format!(
                "  # {}: writes {}:",
                s.address.relative(),
                count(files.len(), "file", "files")
            )));
            for f in files {
                for l in file_lines(&f.path, &f.mode, &f.content) {
                    out.push(p.dim(&l));
                }
            }
        }
    }
    for n in &h.notes {
        for l in wrap(n, "  # ", "  #   ", WIDTH) {
            out.push(p.dim(&l));
        }
    }
    if !h.unobserved.is_empty() {
        let reasons = {
            let mut r: Vec<&str> = h.unobserved.iter().map(|u| u.reason.as_str()).collect();
            r.sort();
            r.dedup();
            r.join("; ")
        };
        for l in wrap(
            &format!(
                "not refreshed: {} ({reasons})",
                count(h.unobserved.len(), "resource", "resources")
            ),
            "  # ",
            "  #   ",
            WIDTH,
        ) {
            out.push(p.dim(&l));
        }
    }
    for line in unobserved_settings_lines(h) {
        for l in wrap(&line, "  # ", "  #   ", WIDTH) {
            out.push(p.dim(&l));
        }
    }
}

/// A line of a file or command as shown in a plan: control characters escaped, so a plan
/// file cannot move the cursor or forge lines.
fn shown(line: &str) -> String {
    super::diff_text::escape_controls(line)
}

/// A file as the text plan shows it: `#   PATH (MODE):` then each line after `#     | `
/// (escaped for the terminal).
pub fn file_lines(path: &str, mode: &str, content: &str) -> Vec<String> {
    let mut out = vec![format!("  #   {} ({}):", shown(path), shown(mode))];
    for l in content.lines() {
        let l = shown(l);
        out.push(if l.is_empty() {
            "  #     |".to_string()
        } else {
            format!("  #     | {l}")
        });
    }
    out
}

/// The files and commands of a network step, as comment lines of the host's details: which
/// backend, each file with its mode and content, the activation and revert commands.
pub fn network_write_lines(resource: &str, w: &NetworkWrite) -> Vec<String> {
    let argv = |c: &Vec<String>| shown(&c.join(" "));
    let list = |cs: &[Vec<String>]| cs.iter().map(argv).collect::<Vec<_>>().join("; ");
    let mut out = vec![format!(
        "  # {resource}: written through {}, {}:",
        w.backend.as_str(),
        count(w.files.len(), "file", "files")
    )];
    for f in &w.files {
        out.extend(file_lines(&f.path, &f.mode, &f.content));
    }
    out.extend(wrap(
        &format!("then: {}", list(&w.activate)),
        "  #   ",
        "  #     ",
        WIDTH,
    ));
    if !w.commit.is_empty() {
        out.extend(wrap(
            &format!(
                "confirmed over a new SSH connection by: {}",
                list(&w.commit)
            ),
            "  #   ",
            "  #     ",
            WIDTH,
        ));
    }
    out.extend(wrap(
        &format!(
            "if it touches the SSH session's interface: rolled back after {} s without a new SSH connection (previous files restored, then {})",
            w.rollback_timeout_s,
            list(&w.revert)
        ),
        "  #   ",
        "  #     ",
        WIDTH,
    ));
    out
}

/// The marker of a resource with these changes: `+` when all create, `-` when all delete,
/// `-/+` when any replaces, `~` otherwise.
pub fn resource_action(changes: &[&Change]) -> Action {
    if changes.iter().all(|c| c.action == Action::Create) {
        Action::Create
    } else if changes.iter().all(|c| c.action == Action::Delete) {
        Action::Delete
    } else if changes.iter().any(|c| c.action == Action::Replace) {
        Action::Replace
    } else if changes.iter().all(|c| c.action == Action::Pending) {
        Action::Pending
    } else {
        Action::Update
    }
}

fn render_rollout(out: &mut Vec<String>, p: Paint, plan: &Plan) {
    let r = &plan.rollout;
    let limit = match &r.max_unavailable {
        crate::spec::model::IntOrPercent::Count(n) => n.to_string(),
        crate::spec::model::IntOrPercent::Percent(s) => s.clone(),
    };
    let per = r
        .partition_by
        .as_ref()
        .map_or_else(String::new, |k| format!(" per {k}"));
    out.push(p.bold(&format!(
        "Rollout: {} (maxUnavailable {limit}{per}, maxFailures {}):",
        count(r.batches.len(), "batch", "batches"),
        r.max_failures
    )));
    for b in &r.batches {
        let mut label = Vec::new();
        if let Some(s) = &b.stage {
            label.push(format!("stage {s}"));
        }
        if let (Some(k), Some(v)) = (&r.partition_by, &b.partition) {
            label.push(format!("{k}={v}"));
        }
        let label = if label.is_empty() {
            String::new()
        } else {
            format!(" ({})", label.join(", "))
        };
        out.extend(wrap(
            &format!("{}{label}: {}", b.number, hostlist::compress(&b.hosts)),
            "  ",
            "      ",
            WIDTH,
        ));
    }
    for w in &r.warnings {
        out.extend(wrap(w, "  Warning: ", "    ", WIDTH));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_respects_width_and_prefixes() {
        let lines = wrap("aaa bbb ccc ddd", "# ", "#   ", 9);
        assert_eq!(lines, vec!["# aaa bbb", "#   ccc", "#   ddd"]);
        assert_eq!(wrap("", "# ", "  ", 10), vec!["# "]);
    }

    #[test]
    fn change_values_forms() {
        let a = serde_json::json!("A");
        let b = serde_json::json!("B");
        assert_eq!(
            change_values(Action::Update, false, Some(&a), None, Some(&b)),
            "= \"A\" -> \"B\""
        );
        assert_eq!(
            change_values(Action::Pending, false, Some(&a), Some(&b), Some(&b)),
            "= \"A\" -> \"B\" (pending, applies on reset)"
        );
        assert_eq!(
            change_values(Action::Pending, false, None, Some(&b), Some(&b)),
            "= \"B\" (pending, applies on reset)"
        );
        assert_eq!(
            change_values(Action::Update, true, Some(&a), None, Some(&b)),
            "= (sensitive value)"
        );
    }
}

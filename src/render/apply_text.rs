//! The report of `bmfleet apply` as text: a summary line, then every host of the plan
//! (succeeded, failed with step, endpoint and message, skipped, not started) and, for
//! hosts that ran, each step and what happened to it.

use crate::engine::{ApplyReport, FailStage, HostOutcome, StepStatus};
use crate::plan::Plan;
use std::fmt::Write;

/// Renders `report` (of `plan`) for a terminal or a CI log.
pub fn render(plan: &Plan, report: &ApplyReport) -> String {
    let mut out = String::new();
    let skipped = report
        .hosts
        .iter()
        .filter(|h| matches!(h.outcome, HostOutcome::Skipped { .. }))
        .count();
    let resets: u32 = report.hosts.iter().map(|h| h.resets).sum();
    let _ = writeln!(
        out,
        "Apply of the plan from {}: {} succeeded, {} failed, {} not started, {} skipped; {} reset(s).",
        plan.source.describe(),
        report.succeeded(),
        report.failed(),
        report.not_started(),
        skipped,
        resets
    );
    for h in &report.hosts {
        match &h.outcome {
            HostOutcome::Succeeded => {
                let _ = writeln!(
                    out,
                    "\n  ok      {}: {} step(s) applied and verified, {} reset(s)",
                    h.host,
                    h.steps.len(),
                    h.resets
                );
            }
            HostOutcome::Failed {
                stage,
                step,
                endpoint,
                message,
            } => {
                let stage = match stage {
                    FailStage::Stale => "stale",
                    FailStage::Step => "step failed",
                    FailStage::Verify => "not verified",
                };
                let _ = writeln!(out, "\n  FAILED  {} ({stage})", h.host);
                if let Some(s) = step {
                    let _ = writeln!(out, "          step:     {s}");
                }
                if !endpoint.is_empty() {
                    let _ = writeln!(out, "          endpoint: {endpoint}");
                }
                let _ = writeln!(out, "          message:  {message}");
                if h.resets > 0 {
                    let _ = writeln!(out, "          resets:   {}", h.resets);
                }
            }
            HostOutcome::Skipped { reason } => {
                let _ = writeln!(out, "  skipped {}: {reason}", h.host);
                continue;
            }
            HostOutcome::NotStarted { reason } => {
                let _ = writeln!(out, "\n  not started {}: {reason}", h.host);
                continue;
            }
        }
        for s in &h.steps {
            let status = match &s.status {
                StepStatus::Applied(d) if d.is_empty() => "applied".to_string(),
                StepStatus::Applied(d) => format!("applied: {d}"),
                StepStatus::Failed(d) => format!("FAILED: {d}"),
                StepStatus::Skipped => "skipped".to_string(),
                StepStatus::NotRun => "not run".to_string(),
            };
            let _ = writeln!(
                out,
                "          - {}: {} -> {status}",
                s.address, s.description
            );
        }
    }
    out
}

use super::{Ctx, GlobalArgs, write_out};
use crate::plan::resource::Disruption;
use crate::plan::spec_diff::spec_diff;
use crate::spec::LoadOptions;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::process::ExitCode;

/// `bmfleet diff` options.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The base revision (the PR's target branch, e.g. `origin/main`).
    #[arg(long, value_name = "REF")]
    pub base: String,
    /// The head revision (default: the work tree, uncommitted files included).
    #[arg(long, value_name = "REF")]
    pub head: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 0 when nothing changes, 2 when something does, 1 on errors.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Exit 3 when the change would cause any of these disruptions, or (`access`) changes
    /// where credentials go or what is trusted (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "CLASS")]
    pub fail_on: Vec<FailOn>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text with Terraform's markers.
    Text,
    /// A pull-request comment.
    Markdown,
    /// JSON (`format_version` 1.0).
    Json,
}

/// Classes `--fail-on` accepts: the disruption classes, and `access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Links flap (bond, VLAN, MTU, VF count).
    LinkFlap,
    /// Hosts reboot (BIOS, DPU mode, kernel args, hugepages, power).
    Reboot,
    /// Hosts are reprovisioned (cloud-init changes).
    Reprovision,
    /// Trust or reach changes: BMC/DPU endpoints, systemId, TLS, credential references and
    /// the variables they are read from, SSH settings, timeouts, rollout policy (hosts added
    /// count: their endpoints are new places the credentials go).
    Access,
}

pub fn run(
    g: &GlobalArgs,
    ctx: &Ctx,
    args: &DiffArgs,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let load = |rev: Option<&String>| {
        crate::spec::load(&LoadOptions {
            fleet_dir: g.fleet.clone(),
            revision: rev.cloned(),
        })
    };
    let base = load(Some(&args.base))?;
    let head_rev = args.head.as_ref().or(g.revision.as_ref());
    let head = load(head_rev)?;
    for (which, fleet) in [("base", &base), ("head", &head)] {
        super::require_valid(fleet, ctx).map_err(|e| {
            miette::miette!(
                code = "bmfleet::cli::invalid_revision",
                help = "fix the specs (see `bmfleet validate`) before diffing",
                "the {which} revision ({}) is invalid: {e}",
                fleet.repo.describe()
            )
        })?;
    }
    let diff = spec_diff(&base, &head);
    let text = match args.format {
        Format::Text => crate::render::diff_text::render(&diff, ctx.style.color),
        Format::Markdown => crate::render::diff_markdown::render(&diff),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&diff).unwrap_or_default();
            s.push('\n');
            s
        }
    };
    write_out(out, &text)?;
    let mut failing = Vec::new();
    for class in &args.fail_on {
        let (d, name) = match class {
            FailOn::LinkFlap => (Disruption::LinkFlap, "link-flap"),
            FailOn::Reboot => (Disruption::Reboot, "reboot"),
            FailOn::Reprovision => (Disruption::Reprovision, "reprovision"),
            FailOn::Access => {
                if !diff.access.is_empty() {
                    let hosts: Vec<String> = diff
                        .access_hosts()
                        .into_iter()
                        .map(str::to_string)
                        .collect();
                    let settings: std::collections::BTreeSet<&str> =
                        diff.access.iter().map(|a| a.setting.as_str()).collect();
                    let settings: Vec<&str> = settings.into_iter().collect();
                    failing.push(format!(
                        "access: {} ({}) on {}{}",
                        crate::render::plan_text::count(diff.access.len(), "change", "changes"),
                        crate::render::diff_text::escape_controls(&settings.join(", ")),
                        crate::render::plan_text::count(hosts.len(), "host", "hosts"),
                        if hosts.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", crate::plan::hostlist::compress_limited(&hosts, 20))
                        }
                    ));
                }
                continue;
            }
        };
        let hosts: Vec<String> = diff
            .hosts_at_least(d)
            .into_iter()
            .map(str::to_string)
            .collect();
        if !hosts.is_empty() {
            failing.push(format!(
                "{name}: {} ({})",
                hosts.len(),
                crate::plan::hostlist::compress_limited(&hosts, 20)
            ));
        }
    }
    if !failing.is_empty() {
        super::warn(&format!(
            "bmfleet diff: failing because of --fail-on: {}",
            failing.join("; ")
        ));
        return Ok(ExitCode::from(3));
    }
    Ok(if args.detailed_exitcode && diff.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

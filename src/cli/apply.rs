use super::plan::Progress;
use super::{Ctx, GlobalArgs, write_out};
use crate::engine::{NullReporter, Reporter};
use crate::ops::{ApplyRequest, LiveSource, apply_plan};
use crate::render::progress::{BarReporter, NdjsonReporter};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `bmfleet apply` options.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The saved plan to carry out (`bmfleet plan --out FILE`). Required for now: planning
    /// and approving interactively (a typed `yes`) is not built yet.
    #[arg(value_name = "PLANFILE")]
    pub file: Option<std::path::PathBuf>,
    /// Apply to a running `bmfleet sim` at this base URL instead of the real BMCs.
    #[arg(long, value_name = "URL")]
    pub sim_url: Option<String>,
    /// Hosts of one rollout batch applied at once (default: the Fleet's
    /// concurrency.parallelism).
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// Apply although the plan was made from, or the fleet now has, uncommitted changes (or
    /// the fleet is not in Git). A plan from another commit is refused regardless.
    #[arg(long)]
    pub allow_dirty: bool,
    /// Progress on stderr: a bar on a terminal (auto), NDJSON events (one per step start and
    /// finish), or none.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// An ssh_config file for the OS steps (`ssh -F FILE`) instead of ~/.ssh/config.
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<std::path::PathBuf>,
    /// Carry out the OS steps in the directories DIR/<host> (fake roots, as `plan
    /// --sysroots`) instead of over SSH: files are written there and commands recorded in
    /// DIR/<host>/run/bmfleet/commands.log. For tests and demos.
    #[arg(long, value_name = "DIR", conflicts_with = "ssh_config")]
    pub sysroots: Option<std::path::PathBuf>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Every host and step, for people and CI logs.
    Text,
    /// The report as JSON (`hosts`: outcome, steps, resets).
    Json,
}

/// `bmfleet apply PLANFILE`: carries out a saved plan and reports every host.
///
/// # Errors
/// No plan file, an unreadable plan, a plan from another commit or a dirty tree (without
/// `--allow-dirty`), a plan with steps this build cannot apply, invalid specs.
pub fn run(
    g: &GlobalArgs,
    ctx: &Ctx,
    args: &ApplyArgs,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let Some(file) = &args.file else {
        return Err(miette::miette!(
            code = "bmfleet::apply::no_plan",
            help = "run `bmfleet plan --out plan.json`, review it (`bmfleet show-plan plan.json`), then `bmfleet apply plan.json`",
            "apply needs a saved plan for now: planning and approving in one command (a typed `yes` on a terminal) is not built yet"
        ));
    };
    let fleet = super::load_valid(g, ctx)?;
    let reporter: Arc<dyn Reporter> = match args.progress {
        Progress::Ndjson => Arc::new(NdjsonReporter::new(std::io::stderr())),
        Progress::Auto if std::io::stderr().is_terminal() => Arc::new(BarReporter::new()),
        _ => Arc::new(NullReporter),
    };
    let (source, poll_interval) = match &args.sim_url {
        Some(url) => (sim_source(&fleet, url)?, Duration::from_millis(250)),
        None => (LiveSource::Redfish, Duration::from_secs(2)),
    };
    let req = ApplyRequest {
        plan_file: file.clone(),
        allow_dirty: args.allow_dirty,
        parallelism: args.parallelism,
        source,
        os: super::plan::os_source(
            &fleet,
            false,
            args.ssh_config.as_ref(),
            args.sysroots.as_ref(),
        )?,
        poll_interval,
    };
    let outcome = apply_plan(&fleet, &g.fleet, &req, reporter)?;
    let text = match args.format {
        ReportFormat::Text => crate::render::apply_text::render(&outcome.plan, &outcome.report),
        ReportFormat::Json => {
            let mut t = serde_json::to_string_pretty(&outcome.report)
                .map_err(|e| miette::miette!("cannot render the report: {e}"))?;
            t.push('\n');
            t
        }
    };
    write_out(out, &text)?;
    Ok(if outcome.report.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every host of the fleet redirected to the running simulator at `url`.
#[cfg(feature = "sim")]
fn sim_source(fleet: &crate::spec::LoadedFleet, url: &str) -> miette::Result<LiveSource> {
    use crate::sim::targets::{credential, overrides_for_url};
    let all: Vec<&crate::spec::Host> = fleet.hosts.iter().collect();
    Ok(LiveSource::Redirected {
        overrides: overrides_for_url(url, &all),
        credential: credential(),
    })
}

/// Without the `sim` feature only real BMCs can be written.
#[cfg(not(feature = "sim"))]
fn sim_source(_fleet: &crate::spec::LoadedFleet, _url: &str) -> miette::Result<LiveSource> {
    Err(miette::miette!(
        code = "bmfleet::cli::no_sim",
        help = "build bmfleet with its default features (`cargo install --path .`)",
        "this bmfleet was built without the `sim` feature: --sim-url is unavailable"
    ))
}

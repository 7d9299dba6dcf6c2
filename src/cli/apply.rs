use super::plan::{Progress, SimFlags, live_source};
use super::{Ctx, GlobalArgs, write_out};
use crate::engine::{NullReporter, Reporter};
use crate::ops::{ApplyRequest, PlanInput, PlanRequest, Run, StateDirs, apply_plan, plan_fleet};
use crate::render::progress::{BarReporter, LinesReporter, NdjsonReporter};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `bmfleet apply` options.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The saved plan to carry out (`bmfleet plan --out FILE`). Without it, apply plans
    /// now, shows the plan and asks for a typed `yes` (or needs --auto-approve).
    #[arg(value_name = "PLANFILE")]
    pub file: Option<std::path::PathBuf>,
    /// Continue the interrupted run RUN_ID (printed when it started): its saved plan and
    /// journal are reloaded from the state directory; finished steps are not redone, the
    /// step in flight is re-read first.
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["file", "simulate", "auto_approve"])]
    pub resume: Option<String>,
    /// Without PLANFILE: apply the plan without asking (required when stdin is not a
    /// terminal, e.g. in CI).
    #[arg(long)]
    pub auto_approve: bool,
    /// Where runs are recorded (runs/<run-id>.jsonl journals, runs/<run-id>.plan.json,
    /// audit.jsonl, locks/). Default: $XDG_STATE_HOME/bmfleet, else ~/.local/state/bmfleet.
    #[arg(long, value_name = "DIR", env = "BMFLEET_STATE_DIR")]
    pub state_dir: Option<std::path::PathBuf>,
    /// Where the fleet lock is created instead of <state dir>/locks: a directory shared by
    /// the machines that apply this fleet (CI runners), so that only one applies at once.
    #[arg(long, value_name = "DIR", env = "BMFLEET_LOCK_DIR")]
    pub lock_dir: Option<std::path::PathBuf>,
    /// Apply to a running `bmfleet sim` at this base URL instead of the real BMCs.
    #[arg(long, value_name = "URL")]
    pub sim_url: Option<String>,
    /// Without PLANFILE: plan and apply against an in-process simulated fleet seeded from
    /// the specs (with drift), for demos.
    #[arg(long, conflicts_with_all = ["sim_url", "file"])]
    pub simulate: bool,
    /// Without PLANFILE: only hosts whose labels match this selector (kubectl syntax).
    #[arg(long, short = 'l', value_name = "SELECTOR", conflicts_with_all = ["file", "resume"])]
    pub selector: Option<String>,
    /// Without PLANFILE: only these hosts (names, ranges such as `r1-c[01-04]`, globs;
    /// repeatable).
    #[arg(long = "host", value_name = "HOSTLIST", conflicts_with_all = ["file", "resume"])]
    pub hosts: Vec<String>,
    /// Without PLANFILE: leave out these hosts (repeatable).
    #[arg(long, value_name = "HOSTLIST", conflicts_with_all = ["file", "resume"])]
    pub exclude: Vec<String>,
    /// Without PLANFILE: do not read or write the hosts' OS (plan and apply BMC state only).
    #[arg(long, conflicts_with_all = ["file", "resume"])]
    pub no_os: bool,
    /// Hosts of one rollout batch applied at once (default: the Fleet's
    /// concurrency.parallelism).
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// Apply although the plan was made from, or the fleet now has, uncommitted changes (or
    /// the fleet is not in Git). A plan from another commit is refused regardless.
    #[arg(long)]
    pub allow_dirty: bool,
    /// Progress on stderr: auto is a bar on a terminal and timestamped lines otherwise (one per
    /// batch, step start and finish, host outcome: for CI logs); NDJSON events (one per step
    /// start and finish), or none.
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
    /// The report as JSON (`run`, `journal`, `hosts`: outcome, steps, resets).
    Json,
}

/// `bmfleet apply [PLANFILE | --resume RUN_ID]`: carries out a saved plan, a plan made and
/// approved now, or the rest of an interrupted run, journaled under the fleet lock, and
/// reports every host.
///
/// # Errors
/// An unreadable plan, a plan from another commit or a dirty tree (without
/// `--allow-dirty`), a plan with steps this build cannot apply, invalid specs, a held lock,
/// no terminal to approve on without `--auto-approve`, a journal that cannot be written.
pub fn run(
    g: &GlobalArgs,
    ctx: &Ctx,
    args: &ApplyArgs,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let planning = args.file.is_none() && args.resume.is_none();
    if planning && !args.auto_approve && !interactive {
        return Err(miette::miette!(
            code = "bmfleet::apply::no_tty",
            help = "review a saved plan and apply it (`bmfleet plan --out plan.json`, then `bmfleet apply plan.json`), or pass --auto-approve to apply what is planned now without review",
            "apply without PLANFILE asks for a typed `yes`, but stdin is not a terminal; nothing was planned or applied"
        ));
    }
    let fleet = super::load_valid(g, ctx)?;
    let dirs = StateDirs::resolve(args.state_dir.as_deref(), args.lock_dir.as_deref())?;
    let run = Run::begin(dirs, &g.fleet, args.resume.as_deref())?;
    super::warn(&format!(
        "bmfleet apply: run {}{} (journal {})",
        run.id,
        if run.resumed { ", resumed" } else { "" },
        run.dirs.journal(&run.id).display()
    ));
    let reporter: Arc<dyn Reporter> = match args.progress {
        Progress::Ndjson => Arc::new(NdjsonReporter::new(std::io::stderr())),
        Progress::Auto if std::io::stderr().is_terminal() => Arc::new(BarReporter::new()),
        // Without a terminal (CI, a log file): timestamped plain lines.
        Progress::Auto => Arc::new(LinesReporter::new(std::io::stderr())),
        Progress::None => Arc::new(NullReporter),
    };
    let flags = SimFlags {
        simulate: args.simulate,
        sim_url: args.sim_url.as_deref(),
        seed: 29,
        drift_rate: 0.4,
        factory_rate: 0.2,
    };
    let (source, sim) = live_source(&fleet, &flags)?;
    let poll_interval = if args.simulate || args.sim_url.is_some() {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(2)
    };
    // Ok(Err(code)): ended before applying (nothing to apply, not approved).
    let result = (|| -> miette::Result<Result<crate::ops::ApplyOutcome, ExitCode>> {
        let os = match sim.os.clone() {
            Some(os) if !args.no_os && args.sysroots.is_none() => os,
            _ => super::plan::os_source(
                &fleet,
                args.no_os,
                args.ssh_config.as_ref(),
                args.sysroots.as_ref(),
            )?,
        };
        let plan = match (&args.file, &args.resume) {
            (Some(file), _) => PlanInput::File(file.clone()),
            (None, Some(_)) => PlanInput::Resume,
            (None, None) => {
                let req = PlanRequest {
                    selector: args.selector.clone(),
                    hosts: args.hosts.clone(),
                    exclude: args.exclude.clone(),
                    parallelism: args.parallelism,
                    source: source.clone(),
                    os: os.clone(),
                    out: None,
                    deadline: None,
                };
                let planned = plan_fleet(&fleet, &g.fleet, &req, reporter.clone())?.plan;
                let mut text = crate::render::plan_text::render(&planned, ctx.style.color);
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                super::warn(text.trim_end());
                if !planned.has_changes() {
                    super::warn("Nothing to apply.");
                    return Ok(Err(ExitCode::SUCCESS));
                }
                if !args.auto_approve && !approved()? {
                    super::warn("Apply cancelled (only `yes` approves); nothing was applied.");
                    return Ok(Err(ExitCode::from(1)));
                }
                PlanInput::Planned(Box::new(planned))
            }
        };
        let req = ApplyRequest {
            plan,
            allow_dirty: args.allow_dirty,
            parallelism: args.parallelism,
            source: source.clone(),
            os,
            poll_interval,
        };
        apply_plan(&fleet, &g.fleet, &req, Some(&run), reporter.clone()).map(Ok)
    })();
    sim.stop();
    let outcome = match result? {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    for w in &outcome.warnings {
        super::warn(&format!("warning: {w}"));
    }
    let text = match args.format {
        ReportFormat::Text => format!(
            "Run {} (journal {})\n{}",
            run.id,
            run.dirs.journal(&run.id).display(),
            crate::render::apply_text::render(&outcome.plan, &outcome.report)
        ),
        ReportFormat::Json => {
            let v = serde_json::json!({
                "run": run.id,
                "journal": run.dirs.journal(&run.id),
                "hosts": outcome.report.hosts,
            });
            let mut t = serde_json::to_string_pretty(&v)
                .map_err(|e| miette::miette!("cannot render the report: {e}"))?;
            t.push('\n');
            t
        }
    };
    write_out(out, &text)?;
    Ok(if let Some(code) = outcome.interrupted {
        ExitCode::from(u8::try_from(code).unwrap_or(130))
    } else if outcome.report.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Asks on the terminal for a typed `yes`.
///
/// # Errors
/// When stdin cannot be read.
fn approved() -> miette::Result<bool> {
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "\nDo you want to apply this plan? Only `yes` will be accepted.\n  Enter a value: "
    );
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| miette::miette!("cannot read the answer: {e}"))?;
    Ok(line.trim() == "yes")
}

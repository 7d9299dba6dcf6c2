use super::{Ctx, GlobalArgs, write_out};
use crate::engine::{NullReporter, Reporter};
use crate::ops::{LiveSource, OsSource, PlanRequest, plan_fleet};
use crate::os::provider::SshOptions;
use crate::render::progress::{BarReporter, NdjsonReporter};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `bmfleet plan` options.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Save the plan (JSON: spec commit, changes, per-resource fingerprints of the observed
    /// state) to this file, for review and for `apply`.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are changes, 1 on errors (Terraform's
    /// -detailed-exitcode). Resources that could not be observed (listed as not observed,
    /// e.g. OS state until the SSH reader lands) are not changes: they do not make the exit
    /// code 2; add --require-observed to make them fail.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Exit 1 when any resource in scope was not observed, so that a drift check cannot pass
    /// on state it did not read.
    #[arg(long)]
    pub require_observed: bool,
    /// Only hosts whose labels match this selector (kubectl syntax: `rack=r1,role in (compute)`).
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Only these hosts: names, pdsh/ClusterShell ranges such as `r1-c[01-04,07],r2-c01`, or
    /// globs such as `r2-*` (repeatable).
    #[arg(long = "host", value_name = "HOSTLIST")]
    pub hosts: Vec<String>,
    /// Leave out these hosts (names, ranges such as `r2-c[01-04]`, or globs; repeatable).
    #[arg(long, value_name = "HOSTLIST")]
    pub exclude: Vec<String>,
    /// Hosts read at once (default: the Fleet's concurrency.parallelism).
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// Bound the whole read of live state (`90s`, `10m`, `2h`): hosts not read by then are
    /// errors (exit 1), the others are planned as usual.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub deadline: Option<std::time::Duration>,
    /// Progress on stderr: a bar on a terminal (auto), NDJSON events, or none.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// Read live state from an in-process simulated fleet seeded from the specs (with drift)
    /// instead of the real BMCs.
    #[arg(long, conflicts_with = "sim_url")]
    pub simulate: bool,
    /// Read live state from a running `bmfleet sim` at this base URL (as it prints it, e.g.
    /// `http://127.0.0.1:8000`); its state persists between commands.
    #[arg(long, value_name = "URL")]
    pub sim_url: Option<String>,
    /// Do not read the hosts' OS over SSH: OS resources (network, SR-IOV, hugepages, kernel
    /// arguments, sysctl, sysfs, cloud-init) are listed as not observed.
    #[arg(long)]
    pub no_os: bool,
    /// An ssh_config file for the OS reads (`ssh -F FILE`) instead of ~/.ssh/config.
    #[arg(long, value_name = "FILE", conflicts_with = "no_os")]
    pub ssh_config: Option<std::path::PathBuf>,
    /// Read each host's OS from the directory DIR/<host> (a fake root: proc/, sys/, etc/,
    /// the layout of tests/fixtures/sysroot) instead of over SSH; hosts without one are not
    /// observed. For tests and demos.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["no_os", "ssh_config", "simulate"])]
    pub sysroots: Option<std::path::PathBuf>,
    /// With --simulate: seed of the simulated drift.
    #[arg(long, default_value_t = 29, requires = "simulate")]
    pub seed: u64,
    /// With --simulate: fraction of hosts (0.0-1.0) that drift.
    #[arg(long, default_value_t = 0.4, requires = "simulate", value_parser = super::parse_fraction)]
    pub drift_rate: f64,
    /// With --simulate: fraction of hosts (0.0-1.0) whose BIOS is still at factory values.
    #[arg(long, default_value_t = 0.2, requires = "simulate", value_parser = super::parse_fraction)]
    pub factory_rate: f64,
}

/// Plan output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Terraform-like text.
    Text,
    /// A pull-request comment.
    Markdown,
    /// The versioned JSON plan (schemas/plan.schema.json).
    Json,
}

/// Progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// A bar when stderr is a terminal; otherwise nothing (plan) or timestamped lines (apply).
    Auto,
    /// One JSON event per line on stderr.
    Ndjson,
    /// Nothing.
    None,
}

/// How the OS is reached: not at all (`--no-os`), through per-host sysroots
/// (`--sysroots DIR`: `DIR/<host>` for every host that has one), or over SSH (with
/// `--ssh-config`).
///
/// # Errors
/// A `--sysroots` directory that cannot be read.
pub(crate) fn os_source(
    fleet: &crate::spec::LoadedFleet,
    no_os: bool,
    ssh_config: Option<&std::path::PathBuf>,
    sysroots: Option<&std::path::PathBuf>,
) -> miette::Result<OsSource> {
    if no_os {
        return Ok(OsSource::Skip("not read in this run (--no-os)".into()));
    }
    if let Some(dir) = sysroots {
        if !dir.is_dir() {
            return Err(miette::miette!(
                code = "bmfleet::os::sysroots",
                help = "give a directory holding one fake root per host, named like the host",
                "--sysroots {}: not a directory",
                dir.display()
            ));
        }
        let roots = fleet
            .hosts
            .iter()
            .filter(|h| !h.name.contains('/') && !h.name.starts_with('.'))
            .map(|h| (h.name.clone(), dir.join(&h.name)))
            .filter(|(_, p)| p.is_dir())
            .collect();
        return Ok(OsSource::Sysroots(roots));
    }
    Ok(OsSource::Ssh(SshOptions {
        control_dir: std::env::temp_dir().join(format!("bmfleet-ssh-{}", std::process::id())),
        connect_timeout: Duration::from_secs(10),
        command_timeout: Duration::from_secs(120),
        config_file: ssh_config.cloned(),
    }))
}

pub fn run(
    g: &GlobalArgs,
    ctx: &Ctx,
    args: &PlanArgs,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let fleet = super::load_valid(g, ctx)?;
    let reporter: Arc<dyn Reporter> = match args.progress {
        Progress::Ndjson => Arc::new(NdjsonReporter::new(std::io::stderr())),
        Progress::Auto if std::io::stderr().is_terminal() => Arc::new(BarReporter::new()),
        _ => Arc::new(NullReporter),
    };
    let (source, sim) = live_source(&fleet, &SimFlags::of(args))?;
    let os = match sim.os.clone() {
        Some(os) if !args.no_os && args.sysroots.is_none() => os,
        _ => os_source(
            &fleet,
            args.no_os,
            args.ssh_config.as_ref(),
            args.sysroots.as_ref(),
        )?,
    };
    let req = PlanRequest {
        os,
        selector: args.selector.clone(),
        hosts: args.hosts.clone(),
        exclude: args.exclude.clone(),
        parallelism: args.parallelism,
        source,
        out: args.out.clone(),
        deadline: args.deadline,
    };
    let planned = plan_fleet(&fleet, &g.fleet, &req, reporter);
    sim.stop();
    render(
        &planned?.plan,
        args.format,
        ctx,
        ExitPolicy {
            detailed: args.detailed_exitcode,
            require_observed: args.require_observed,
        },
        out,
    )
}

/// The flags that choose a simulator (`--simulate` with its seeding, `--sim-url`), shared
/// by `plan` and `apply`.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "sim"), allow(dead_code))]
pub(crate) struct SimFlags<'a> {
    /// `--simulate`.
    pub simulate: bool,
    /// `--sim-url`.
    pub sim_url: Option<&'a str>,
    /// `--seed`.
    pub seed: u64,
    /// `--drift-rate`.
    pub drift_rate: f64,
    /// `--factory-rate`.
    pub factory_rate: f64,
}

impl<'a> SimFlags<'a> {
    fn of(args: &'a PlanArgs) -> Self {
        Self {
            simulate: args.simulate,
            sim_url: args.sim_url.as_deref(),
            seed: args.seed,
            drift_rate: args.drift_rate,
            factory_rate: args.factory_rate,
        }
    }
}

/// A simulator this command started (`--simulate`), stopped once the plan is made.
#[derive(Default)]
pub(crate) struct SimRun {
    #[cfg(feature = "sim")]
    running: Option<(tokio::runtime::Runtime, crate::sim::SimHandle)>,
    /// Where the simulator's OS state is read from, when a simulator is used.
    pub os: Option<OsSource>,
    /// The simulated hosts' sysroots, removed when the run ends.
    sysroots: Option<std::path::PathBuf>,
}

impl SimRun {
    /// Stops the simulator (if this command started one) and removes its sysroots.
    pub fn stop(self) {
        #[cfg(feature = "sim")]
        if let Some((runtime, sim)) = self.running {
            runtime.block_on(sim.shutdown());
        }
        if let Some(dir) = self.sysroots {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Where `args` say live state comes from. The simulator is wired in here, by the CLI: it
/// hands `ops` endpoint overrides and its credential, so neither `ops` nor the engine
/// imports it.
#[cfg(feature = "sim")]
pub(crate) fn live_source(
    fleet: &crate::spec::LoadedFleet,
    args: &SimFlags<'_>,
) -> miette::Result<(LiveSource, SimRun)> {
    use crate::sim::targets::{credential, overrides, overrides_for_url};
    let all: Vec<&crate::spec::Host> = fleet.hosts.iter().collect();
    match (args.sim_url, args.simulate) {
        (Some(url), _) => Ok((
            LiveSource::Redirected {
                overrides: overrides_for_url(url, &all),
                credential: credential(),
            },
            SimRun {
                os: Some(OsSource::Skip(
                    "a running `bmfleet sim` serves no OS state over --sim-url (start it with --sysroots DIR and plan with --sysroots DIR, or use plan --simulate)".into(),
                )),
                ..SimRun::default()
            },
        )),
        (None, true) => {
            // The simulated fleet is the whole fleet, whatever the filters select: the live
            // state does not depend on which hosts one looks at.
            let seeding = crate::sim::from_spec::Seeding {
                seed: args.seed,
                drift_rate: args.drift_rate,
                factory_rate: args.factory_rate,
            };
            let (config, _drift) = crate::sim::from_spec::from_spec(&all, seeding);
            // The simulator serves from this runtime's worker threads while `plan_fleet`
            // runs its own.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
            let sim = runtime
                .block_on(crate::sim::SimServer::start(config))
                .map_err(|e| miette::miette!("starting the simulator: {e}"))?;
            // The OS facet: one sysroot per host, seeded from the spec with the same drift
            // seed, read through the OS provider's local transport. Written once the
            // simulator runs, so that no failure above leaves the directory behind.
            let dir = std::env::temp_dir().join(format!("bmfleet-sim-os-{}", std::process::id()));
            let sysroots = match crate::sim::os::write_sysroots(&all, &fleet.data_files, &dir, seeding) {
                Ok(s) => s,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    runtime.block_on(sim.shutdown());
                    return Err(miette::miette!("writing the simulated hosts' OS state: {e}"));
                }
            };
            let source = LiveSource::Redirected {
                overrides: overrides(&sim, &all),
                credential: credential(),
            };
            Ok((
                source,
                SimRun {
                    running: Some((runtime, sim)),
                    os: Some(OsSource::Sysroots(sysroots.roots)),
                    sysroots: Some(dir),
                },
            ))
        }
        (None, false) => Ok((LiveSource::Redfish, SimRun::default())),
    }
}

/// Without the `sim` feature only real BMCs can be read.
#[cfg(not(feature = "sim"))]
pub(crate) fn live_source(
    _fleet: &crate::spec::LoadedFleet,
    args: &SimFlags<'_>,
) -> miette::Result<(LiveSource, SimRun)> {
    if args.simulate || args.sim_url.is_some() {
        return Err(miette::miette!(
            code = "bmfleet::cli::no_sim",
            help = "build bmfleet with its default features (`cargo install --path .`)",
            "this bmfleet was built without the `sim` feature: --simulate and --sim-url are unavailable"
        ));
    }
    Ok((LiveSource::Redfish, SimRun::default()))
}

/// How a plan maps to the exit status.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExitPolicy {
    /// `--detailed-exitcode`: 2 when the plan has changes.
    pub detailed: bool,
    /// `--require-observed`: 1 when a resource in scope was not observed.
    pub require_observed: bool,
}

/// Renders `plan` in `format` and returns the exit status: 1 when the plan has errors (or,
/// with `require_observed`, unobserved resources); with `detailed`, 2 when it has changes;
/// else 0.
///
/// # Errors
/// When the output cannot be written.
pub fn render(
    plan: &crate::plan::Plan,
    format: Format,
    ctx: &Ctx,
    policy: ExitPolicy,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let text = match format {
        Format::Text => crate::render::plan_text::render(plan, ctx.style.color),
        Format::Markdown => crate::render::plan_markdown::render(plan),
        Format::Json => crate::render::plan_json::render(plan),
    };
    write_out(out, &text)?;
    if plan.has_errors() {
        return Ok(ExitCode::from(1));
    }
    if policy.require_observed && plan.summary.unobserved > 0 {
        super::warn(&format!(
            "error: {} resources were not observed and --require-observed is set",
            plan.summary.unobserved
        ));
        return Ok(ExitCode::from(1));
    }
    Ok(if policy.detailed && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// `bmfleet show-plan` options.
#[derive(Debug, Args)]
pub struct ShowPlanArgs {
    /// The plan file (`bmfleet plan --out FILE`).
    #[arg(value_name = "PLANFILE")]
    pub file: std::path::PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 0 when the plan has no changes, 2 when it has, 1 when it has errors.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Exit 1 when the plan lists resources that were not observed.
    #[arg(long)]
    pub require_observed: bool,
}

/// `bmfleet show-plan FILE`: re-renders a saved plan without reading specs or BMCs, as
/// `terraform show PLANFILE` does.
///
/// # Errors
/// When the file cannot be read (it must be a regular file under 256 MiB) or is not a plan
/// of format 2.x.
pub fn show(ctx: &Ctx, args: &ShowPlanArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let plan = crate::ops::read_plan(&args.file)?;
    let policy = ExitPolicy {
        detailed: args.detailed_exitcode,
        require_observed: args.require_observed,
    };
    render(&plan, args.format, ctx, policy, out)
}

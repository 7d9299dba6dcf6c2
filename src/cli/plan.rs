use super::{Ctx, GlobalArgs, write_out};
use crate::engine::{
    CredentialSource, NullReporter, RefreshOptions, Reporter, refresh, targets_for,
};
use crate::plan::{PlanOptions, select_hosts};
use crate::render::progress::{BarReporter, NdjsonReporter};
use crate::sim::from_spec::{Seeding, from_spec};
use crate::spec::selector::Selector;
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
    /// -detailed-exitcode).
    #[arg(long)]
    pub detailed_exitcode: bool,
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
    /// Progress on stderr: a bar on a terminal (auto), NDJSON events, or none.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// Read live state from an in-process simulated fleet seeded from the specs (with drift)
    /// instead of the real BMCs.
    #[arg(long)]
    pub simulate: bool,
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
    /// A bar when stderr is a terminal, nothing otherwise.
    Auto,
    /// One JSON event per line on stderr.
    Ndjson,
    /// Nothing.
    None,
}

pub fn run(
    g: &GlobalArgs,
    ctx: &Ctx,
    args: &PlanArgs,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let fleet = super::load(g)?;
    super::require_valid(&fleet, ctx)?;
    let mut opts = PlanOptions::for_fleet(&fleet);
    if let Some(text) = &args.selector {
        opts.selector = Some(Selector::parse(text).map_err(|e| {
            miette::miette!(
                code = "bmfleet::cli::selector",
                help = "kubectl syntax: key=value, key!=value, key in (a,b), key notin (a), key, !key; joined by commas",
                "invalid --selector `{text}`: {e}"
            )
        })?);
    }
    opts.hosts = args.hosts.clone();
    opts.exclude = args.exclude.clone();
    let selected = select_hosts(&fleet.hosts, &opts)?;
    let filtered = args.selector.is_some() || !args.hosts.is_empty() || !args.exclude.is_empty();
    if filtered {
        super::require_selection(
            selected.len(),
            fleet.hosts.len(),
            "the --selector/--host/--exclude filters",
        )?;
    }
    let concurrency = fleet
        .fleet
        .as_ref()
        .map(|f| f.doc.spec.concurrency.clone())
        .unwrap_or_default();
    let mut refresh_opts = RefreshOptions {
        parallelism: args
            .parallelism
            .unwrap_or(concurrency.parallelism as usize)
            .max(1),
        ..RefreshOptions::default()
    };
    refresh_opts.client.per_bmc_in_flight = concurrency.per_bmc.max(1) as usize;
    refresh_opts.client.timeout =
        Duration::from_secs(u64::from(concurrency.request_timeout_seconds.max(1)));
    let reporter: Arc<dyn Reporter> = match args.progress {
        Progress::Ndjson => Arc::new(NdjsonReporter::new(std::io::stderr())),
        Progress::Auto if std::io::stderr().is_terminal() => Arc::new(BarReporter::new()),
        _ => Arc::new(NullReporter),
    };
    let runtime = super::runtime()?;
    let env_lookup = |k: &str| std::env::var(k).ok();
    let empty = Default::default();
    let declared = fleet
        .fleet
        .as_ref()
        .map_or(&empty, |f| &f.doc.spec.credentials);
    let observed = runtime.block_on(async {
        if args.simulate {
            // The simulated fleet is the whole fleet, whatever the filters select: the live
            // state does not depend on which hosts one looks at.
            let everything: Vec<&crate::spec::Host> = fleet.hosts.iter().collect();
            let (config, _drift) = from_spec(
                &everything,
                Seeding {
                    seed: args.seed,
                    drift_rate: args.drift_rate,
                    factory_rate: args.factory_rate,
                },
            );
            let sim = crate::sim::SimServer::start(config)
                .await
                .map_err(|e| miette::miette!("starting the simulator: {e}"))?;
            let targets = crate::engine::targets::simulated_targets(&sim, &selected, &g.fleet);
            let result = refresh(targets, &refresh_opts, reporter.clone()).await;
            sim.shutdown().await;
            Ok::<_, miette::Report>(result.observed)
        } else {
            let creds = CredentialSource::Env {
                declared,
                lookup: &env_lookup,
            };
            let targets = targets_for(&selected, &creds, &g.fleet, None);
            Ok(refresh(targets, &refresh_opts, reporter.clone())
                .await
                .observed)
        }
    })?;
    let plan = crate::plan::plan(&selected, &observed, &opts);
    if let Some(path) = &args.out {
        std::fs::write(path, crate::render::plan_json::render(&plan)).map_err(|e| {
            miette::miette!(
                code = "bmfleet::cli::write_plan",
                "cannot write the plan to {}: {e}",
                path.display()
            )
        })?;
    }
    let text = match args.format {
        Format::Text => crate::render::plan_text::render(&plan, ctx.style.color),
        Format::Markdown => crate::render::plan_markdown::render(&plan),
        Format::Json => crate::render::plan_json::render(&plan),
    };
    write_out(out, &text)?;
    if plan.has_errors() {
        return Ok(ExitCode::from(1));
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

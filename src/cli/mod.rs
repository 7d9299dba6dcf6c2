//! The command line: parse arguments, resolve settings, call the library, render. Thin by
//! design; no domain logic lives here.

mod apply;
mod diff;
mod explain;
mod graph;
mod lock;
mod plan;
mod show;
#[cfg(feature = "sim")]
mod sim;
mod validate;

use crate::render::diagnostics::Style;
use crate::spec::{LoadOptions, LoadedFleet};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Desired state for bare-metal fleets: BMC, BIOS, DPU, NICs, hugepages and cloud-init from
/// a Git repo, planned against the live state read over Redfish.
#[derive(Debug, Parser)]
#[command(name = "bmfleet", version, about, long_about = None, max_term_width = 100, after_help = "Examples:\n  bmfleet validate --fleet examples/fleet\n  bmfleet plan --simulate --fleet examples/fleet\n  bmfleet diff --base origin/main --format markdown")]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The fleet repo (directory holding the YAML specs).
    #[arg(
        long,
        global = true,
        env = "BMFLEET_FLEET",
        default_value = ".",
        value_name = "DIR"
    )]
    pub fleet: PathBuf,
    /// Read the specs from this Git revision (branch, tag, SHA, `HEAD~2`) instead of the
    /// work tree; the work tree is not touched.
    #[arg(long = "ref", global = true, value_name = "REV")]
    pub revision: Option<String>,
    /// When to use colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal unless `NO_COLOR` is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the fleet specs and report every problem with its file:line:column.
    #[command(
        after_help = "Examples:\n  bmfleet validate --fleet examples/fleet\n  bmfleet validate --ref main --format github\n\nExit status: 0 valid, 1 invalid."
    )]
    Validate(validate::ValidateArgs),
    /// Print a host's effective spec (fleet defaults <- profiles <- host).
    #[command(
        after_help = "Examples:\n  bmfleet show r1-c01 --fleet examples/fleet\n  bmfleet show r1-s01 --format json"
    )]
    Show(show::ShowArgs),
    /// Name the file:line that set a value of a host, and the chain it overrode.
    #[command(
        after_help = "Examples:\n  bmfleet explain r1-s01 network.interfaces[bond0].mtu\n  bmfleet explain r2-c01 bios.attributes.SriovGlobalEnable"
    )]
    Explain(explain::ExplainArgs),
    /// The effective per-host change between two Git revisions (for pull-request review;
    /// no access to live systems).
    #[command(
        after_help = "Examples:\n  bmfleet diff --base origin/main\n  bmfleet diff --base main --head my-branch --format markdown > comment.md\n  bmfleet diff --base origin/main --fail-on reboot,reprovision\n\nExit status: 0 no changes (or no --detailed-exitcode), 2 changes with --detailed-exitcode,\n3 a --fail-on class is present, 1 error."
    )]
    Diff(diff::DiffArgs),
    /// Read the live state of every selected host over Redfish and print the plan: what
    /// would change, pending values, disruption, order and rollout batches.
    #[command(
        after_help = "Examples:\n  bmfleet plan --simulate --fleet examples/fleet\n  bmfleet plan -l rack=r1 --format markdown --out plan.json\n  bmfleet plan --detailed-exitcode   # 0 no changes, 2 changes, 1 error\n  bmfleet plan --sim-url http://127.0.0.1:8000 --fleet examples/fleet   # a running `bmfleet sim`\n\nCredentials come from the environment variables named in the Fleet's spec.credentials."
    )]
    Plan(plan::PlanArgs),
    /// Carry out a plan exactly: a saved one (PLANFILE), one made now and approved with a
    /// typed `yes`, or the rest of an interrupted run (--resume). Hosts in rollout order, stale
    /// hosts refused, one coalesced reset per host, every host re-read and verified; every
    /// step journaled, one apply per fleet at a time.
    #[command(
        after_help = "Examples:\n  bmfleet plan --fleet examples/fleet --no-os --out plan.json && bmfleet apply plan.json --fleet examples/fleet\n  bmfleet apply --simulate --fleet examples/fleet --no-os --auto-approve\n  bmfleet apply plan.json --sim-url http://127.0.0.1:8000 --fleet examples/fleet --progress ndjson\n  bmfleet apply --resume 20261127T224800Z-3fa2 --fleet examples/fleet\n\nWithout PLANFILE, apply plans (with --simulate/--sim-url, -l, --host, --exclude, --no-os),\nprints the plan on stderr and asks for a typed `yes`; with no terminal it refuses unless\n--auto-approve. A plan from another spec commit is refused; one made from or onto\nuncommitted changes needs --allow-dirty.\n\nEvery run has an id, printed on stderr when it starts and in the report. Its journal and\nplan copy are in $BMFLEET_STATE_DIR/runs (default ~/.local/state/bmfleet/runs), one audit\nline per step in audit.jsonl. The fleet lock is in <state dir>/locks, or in --lock-dir DIR\n(a directory CI machines share); see `bmfleet lock` and docs/apply.md.\n\nExit status: 0 every host applied and verified (or nothing to apply), 1 a host failed, the\nplan was refused or not approved."
    )]
    Apply(apply::ApplyArgs),
    /// Re-render a saved plan (`bmfleet plan --out FILE`) as text, markdown or JSON, without
    /// reading specs or BMCs.
    #[command(
        name = "show-plan",
        after_help = "Examples:\n  bmfleet plan --simulate --fleet examples/fleet --out plan.json\n  bmfleet show-plan plan.json\n  bmfleet show-plan plan.json --format markdown"
    )]
    ShowPlan(plan::ShowPlanArgs),
    #[cfg(feature = "sim")]
    /// Serve a simulated Redfish fleet (BMC and DPU per host) seeded from the specs, with
    /// drift, latency and fault injection, on 127.0.0.1.
    #[command(
        after_help = "Examples:\n  bmfleet sim --fleet examples/fleet --port 8000\n  bmfleet sim --latency-ms 50 --jitter-ms 20 --error-rate 0.01 --session-limit 4 --hang r2-c04"
    )]
    Sim(sim::SimArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  bmfleet completions bash > /etc/bash_completion.d/bmfleet\n  bmfleet completions zsh > \"${fpath[1]}/_bmfleet\""
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(after_help = "Examples:\n  bmfleet man > bmfleet.1 && man ./bmfleet.1")]
    Man,
    /// Print the dependency graph of hosts' resources: what must happen before what, and
    /// the rule that says so.
    #[command(
        after_help = "Examples:\n  bmfleet graph --fleet examples/fleet --host r1-c01\n  bmfleet graph -l rack=r1 --format dot | dot -Tsvg > graph.svg\n\nExit status: 0 success, 1 invalid specs or a dependency cycle."
    )]
    Graph(graph::GraphArgs),
    /// Show or break the fleet lock that `apply` holds while it runs.
    #[command(
        after_help = "Examples:\n  bmfleet lock status --fleet examples/fleet\n  bmfleet lock break --fleet examples/fleet\n  bmfleet lock break --force --lock-dir /mnt/shared/bmfleet-locks\n\nA lock whose process is dead on this host is stale and `lock break` removes it; a lock held\nfrom another host needs --force (only when that run is known to be gone).\n\nExit status (status): 0 free, 1 held, stale or unreadable."
    )]
    Lock(lock::LockArgs),
    /// Print the JSON Schema of fleet specs.
    #[command(after_help = "Examples:\n  bmfleet schema > schemas/fleet.schema.json")]
    Schema,
}

/// Entry point of the binary: parses `std::env::args`, runs, and maps the outcome to an exit
/// status (0 success, 1 error, 2 "changes present" for `plan --detailed-exitcode`).
pub fn main() -> ExitCode {
    // Usage errors exit 1, not clap's 2: with --detailed-exitcode, 2 means "changes", and a
    // typo in a CI job must not read as drift.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    init_logging();
    let mut out = std::io::stdout().lock();
    match run(cli, &mut out) {
        Ok(code) => code,
        Err(e) => {
            let _ = out.flush();
            // A closed stderr must not turn an error into a panic.
            let _ = writeln!(std::io::stderr(), "{e:?}");
            ExitCode::from(1)
        }
    }
}

/// Sends the library's `tracing` events to stderr: warnings by default (an unverified TLS
/// endpoint, a retried request, a session that cannot be deleted), more with
/// `BMFLEET_LOG` or `RUST_LOG` (`BMFLEET_LOG=bmfleet=debug`). Never to stdout, which carries
/// the data; colour only on a terminal without `NO_COLOR`.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BMFLEET_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let color = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .try_init();
}

/// Parses a fraction from 0.0 to 1.0 (rejects NaN and values out of range).
///
/// # Errors
/// A message for clap.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Ok(_) => Err("must be a number from 0.0 to 1.0".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A duration as `90s`, `10m`, `2h` or plain seconds (`45`), from 1 s to 24 h.
///
/// # Errors
/// Anything else, in words.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration such as 90s, 10m or 2h"))?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
    .ok_or_else(|| format!("`{s}` is not a duration such as 90s, 10m or 2h"))?;
    if !(1..=86_400).contains(&secs) {
        return Err("must be from 1s to 24h".into());
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// Fails when filters were given and selected nothing: an empty plan must not look like a
/// healthy fleet.
///
/// # Errors
/// When `selected` is empty although the fleet has hosts.
pub fn require_selection(selected: usize, fleet_hosts: usize, filters: &str) -> miette::Result<()> {
    if selected == 0 && fleet_hosts > 0 {
        return Err(miette::miette!(
            code = "bmfleet::cli::empty_selection",
            help = "check the labels with `bmfleet show HOST`; globs such as `r2-*` match names",
            "no host matches {filters} (the fleet has {fleet_hosts} hosts)"
        ));
    }
    Ok(())
}

/// Writes a message to stderr, ignoring a closed pipe.
pub fn warn(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Settings resolved from the arguments and the environment.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Rendering style.
    pub style: Style,
}

impl Ctx {
    fn from_global(g: &GlobalArgs) -> Self {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100);
        Self {
            style: Style { color, width },
        }
    }
}

/// Runs a parsed command line, writing its output to `out`.
///
/// # Errors
/// A miette report for failures that are not spec diagnostics (missing fleet directory,
/// bad `--ref`, unknown host, I/O).
pub fn run(cli: Cli, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let ctx = Ctx::from_global(&cli.global);
    match cli.command {
        Command::Validate(args) => validate::run(&cli.global, &ctx, &args, out),
        Command::Show(args) => show::run(&cli.global, &ctx, &args, out),
        Command::Explain(args) => explain::run(&cli.global, &ctx, &args, out),
        Command::Diff(args) => diff::run(&cli.global, &ctx, &args, out),
        Command::Plan(args) => plan::run(&cli.global, &ctx, &args, out),
        Command::ShowPlan(args) => plan::show(&ctx, &args, out),
        Command::Apply(args) => apply::run(&cli.global, &ctx, &args, out),
        #[cfg(feature = "sim")]
        Command::Sim(args) => sim::run(&cli.global, &ctx, &args, out),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "bmfleet", &mut buf);
            write_out(out, &String::from_utf8_lossy(&buf))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| miette::miette!("rendering the man page: {e}"))?;
            write_out(out, &String::from_utf8_lossy(&buf))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph(args) => graph::run(&cli.global, &ctx, &args, out),
        Command::Lock(args) => lock::run(&cli.global, &args, out),
        Command::Schema => {
            write_out(out, &crate::spec::schema::fleet_schema_text())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A multi-threaded tokio runtime for the commands that talk to BMCs.
///
/// # Errors
/// When the OS refuses to start threads.
pub fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))
}

/// Loads the fleet named by the global options.
///
/// # Errors
/// When the fleet directory or revision cannot be opened.
pub fn load(g: &GlobalArgs) -> miette::Result<LoadedFleet> {
    Ok(crate::spec::load(&LoadOptions {
        fleet_dir: g.fleet.clone(),
        revision: g.revision.clone(),
    })?)
}

/// Writes text to the output.
///
/// # Errors
/// On I/O failure (a closed pipe is not an error).
pub fn write_out(out: &mut dyn Write, text: &str) -> miette::Result<()> {
    match out.write_all(text.as_bytes()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(miette::miette!("writing output: {e}")),
    }
}

/// Loads the fleet through [`crate::ops::load_valid`] and renders its failure: a source
/// error as it is, spec errors as the diagnostics report (for commands that need a valid
/// fleet).
///
/// # Errors
/// When the specs cannot be read or have errors.
pub fn load_valid(g: &GlobalArgs, ctx: &Ctx) -> miette::Result<LoadedFleet> {
    match crate::ops::load_valid(&LoadOptions {
        fleet_dir: g.fleet.clone(),
        revision: g.revision.clone(),
    }) {
        Ok(fleet) => Ok(fleet),
        Err(crate::ops::FleetError::Source(e)) => Err(e.into()),
        Err(crate::ops::FleetError::Invalid(fleet)) => {
            require_valid(&fleet, ctx)?;
            Ok(*fleet)
        }
    }
}

/// Fails with a report listing the diagnostics when the fleet has errors (for commands that
/// need a valid fleet).
///
/// # Errors
/// When the fleet has errors.
pub fn require_valid(fleet: &LoadedFleet, ctx: &Ctx) -> miette::Result<()> {
    if !fleet.has_errors() {
        return Ok(());
    }
    let errors: Vec<_> = fleet
        .diagnostics
        .iter()
        .filter(|d| d.severity == crate::spec::Severity::Error)
        .cloned()
        .collect();
    let text = crate::render::diagnostics::human(&errors, &fleet.sources, ctx.style);
    Err(miette::miette!(
        code = "bmfleet::spec::invalid",
        help = "run `bmfleet validate` for the full report",
        "the fleet specs have {} error(s):\n\n{text}",
        errors.len()
    ))
}

/// Finds a host or fails with a "did you mean" hint.
///
/// # Errors
/// When no host has that name.
pub fn find_host<'a>(fleet: &'a LoadedFleet, name: &str) -> miette::Result<&'a crate::spec::Host> {
    fleet.host(name).ok_or_else(|| {
        let hint = crate::spec::check::did_you_mean(
            name,
            fleet.hosts.iter().map(|h| h.name.as_str()),
        )
        .map_or_else(
            || {
                format!(
                    "the fleet has {} hosts; `bmfleet validate` lists problems that may hide one",
                    fleet.hosts.len()
                )
            },
            |b| format!("did you mean `{b}`?"),
        );
        miette::miette!(
            code = "bmfleet::cli::unknown_host",
            help = hint,
            "no host named `{name}` in the fleet"
        )
    })
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_units_and_bounds() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("25h").is_err());
        assert!(parse_duration("10 minutes").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }
}

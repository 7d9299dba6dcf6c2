use super::{Ctx, GlobalArgs, write_out};
use crate::plan::{PlanOptions, select_hosts};
use crate::render::graph;
use crate::spec::selector::Selector;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::process::ExitCode;

/// `bmfleet graph` options.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Only hosts whose labels match this selector (kubectl syntax: `rack=r1,role!=dpu`).
    #[arg(short = 'l', long = "selector", value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Only these hosts: names, pdsh/ClusterShell ranges such as `r1-c[01-04]`, or globs such
    /// as `r1-*` (repeatable).
    #[arg(long = "host", value_name = "HOSTLIST")]
    pub hosts: Vec<String>,
}

/// Output formats of `graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Graphviz DOT, one cluster per host (`| dot -Tsvg > graph.svg`).
    Dot,
    /// Every node with the nodes it comes after and the rules that order them.
    Text,
}

pub fn run(
    g: &GlobalArgs,
    ctx: &Ctx,
    args: &GraphArgs,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let fleet = super::load_valid(g, ctx)?;
    let selector = match &args.selector {
        Some(text) => Some(Selector::parse(text).map_err(|e| {
            miette::miette!(
                code = "bmfleet::cli::bad_selector",
                help = "kubectl syntax: `rack=r1`, `role in (compute,storage)`, `!canary`",
                "invalid selector `{text}`: {e}"
            )
        })?),
        None => None,
    };
    let opts = PlanOptions {
        selector,
        hosts: args.hosts.clone(),
        ..PlanOptions::for_fleet(&fleet)
    };
    let hosts = select_hosts(&fleet.hosts, &opts)?;
    if args.selector.is_some() || !args.hosts.is_empty() {
        super::require_selection(
            hosts.len(),
            fleet.hosts.len(),
            "the --selector/--host filters",
        )?;
    }
    let graph = crate::plan::static_graph(&hosts, &opts.files).check()?;
    // Every command that reads specs names the revision it read.
    let text = match args.format {
        Format::Dot => format!("// spec: {}\n{}", fleet.repo.describe(), graph::dot(&graph)),
        Format::Text => format!("# spec: {}\n{}", fleet.repo.describe(), graph::text(&graph)),
    };
    write_out(out, &text)?;
    Ok(ExitCode::SUCCESS)
}

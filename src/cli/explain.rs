use super::{Ctx, GlobalArgs, write_out};
use crate::spec::merge::{lookup, parse_path, suggest_path};
use crate::spec::yaml::Node;
use clap::Args;
use std::io::Write;
use std::process::ExitCode;

/// `bmfleet explain` options.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The host.
    pub host: String,
    /// Path of a value in the host's settings: `network.interfaces[bond0].mtu`,
    /// `bios.attributes.SriovGlobalEnable`, `os.kernelArgs`.
    pub path: String,
}

fn one_line(fleet: &crate::spec::LoadedFleet, node: &Node) -> String {
    let text = fleet.sources.snippet(node.span).trim();
    let first = text.lines().next().unwrap_or_default();
    if first.len() < text.len() || first.len() > 60 {
        let json = node.to_json().to_string();
        if json.len() > 60 {
            format!("{}...", json.chars().take(57).collect::<String>())
        } else {
            json
        }
    } else {
        first.to_string()
    }
}

/// A path as error messages show it: at most 200 characters, the length said beyond that
/// (a 128 KiB argument is not echoed whole).
fn shown(path: &str) -> String {
    const MAX: usize = 200;
    match path.char_indices().nth(MAX) {
        Some((end, _)) => format!(
            "{}... ({} characters)",
            path.get(..end).unwrap_or_default(),
            path.chars().count()
        ),
        None => path.to_string(),
    }
}

pub fn run(
    g: &GlobalArgs,
    _ctx: &Ctx,
    args: &ExplainArgs,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let fleet = super::load(g)?;
    let host = super::find_host(&fleet, &args.host)?;
    let segs = parse_path(&args.path).map_err(|e| {
        miette::miette!(
            code = "bmfleet::cli::bad_path",
            help = "write paths like network.interfaces[bond0].mtu or bios.attributes.SriovGlobalEnable",
            "{e}"
        )
    })?;
    let Some(node) = lookup(&host.tree, &segs) else {
        let help = match suggest_path(&host.tree, &args.path) {
            Some(better) => format!("did you mean `{better}`?"),
            None => format!(
                "`bmfleet show {}` prints everything that is set; keys with dots take brackets: os.sysctl[vm.swappiness]",
                host.name
            ),
        };
        return Err(miette::miette!(
            code = "bmfleet::cli::unset_path",
            help = help,
            "`{}` is not set for host {} (no layer sets it)",
            shown(&args.path),
            host.name
        ));
    };
    let collection = matches!(
        node.value,
        crate::spec::yaml::Value::Map(_) | crate::spec::yaml::Value::Seq(_)
    );
    // `scalar` renders any collection as `{}` / `[]`: show collections on one line instead.
    let value = if collection {
        one_line(&fleet, node)
    } else {
        crate::render::yaml::scalar(&node.to_json()).replace('\n', " ")
    };
    let mut s = format!(
        "{} of host {} = {value}\n  ({})\n\n",
        args.path,
        host.name,
        fleet.repo.describe()
    );
    let width = 24;
    s.push_str(&format!(
        "  {:<16} {:<width$} {}\n",
        "set by",
        fleet.layer_of(node.span),
        fleet.sources.location(node.span)
    ));
    for (i, prev) in node.overrode.iter().rev().enumerate() {
        let label = if i == 0 {
            "overrode"
        } else {
            "  which overrode"
        };
        let value = fleet.sources.snippet(*prev).trim();
        let value = value.lines().next().unwrap_or_default();
        s.push_str(&format!(
            "  {label:<16} {:<width$} {}  (was {})\n",
            fleet.layer_of(*prev),
            fleet.sources.location(*prev),
            value
        ));
    }
    if node.overrode.is_empty() {
        s.push_str("  (no other layer sets it)\n");
    }
    if collection {
        s.push_str("\n  This is a collection; explain one of its values for its own chain.\n");
    }
    s.push_str(&format!(
        "\n  Merge order: fleet defaults{} <- host {}\n",
        host.profiles
            .iter()
            .map(|p| format!(" <- profile {p}"))
            .collect::<String>(),
        host.name
    ));
    write_out(out, &s)?;
    Ok(ExitCode::SUCCESS)
}

use super::{Ctx, GlobalArgs, write_out};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::process::ExitCode;

/// `bmfleet show` options.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The host.
    pub host: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
}

/// Output formats of `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// YAML, with a comment header naming the layers.
    Yaml,
    /// JSON.
    Json,
}

pub fn run(
    g: &GlobalArgs,
    _ctx: &Ctx,
    args: &ShowArgs,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let fleet = super::load(g)?;
    let host = super::find_host(&fleet, &args.host)?;
    let doc = serde_json::json!({
        "apiVersion": crate::spec::model::API_VERSION,
        "kind": "Host",
        "metadata": { "name": host.name, "labels": host.labels },
        "spec": host.settings,
    });
    let text = match args.format {
        Format::Json => {
            // Every command names the revision it read; JSON stdout stays a pure document.
            super::warn(&format!("bmfleet show: read {}", fleet.repo.describe()));
            let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Yaml => {
            let mut s = format!(
                "# Effective spec of {} ({})\n# Layers: fleet defaults",
                host.name,
                fleet.repo.describe()
            );
            for p in &host.profiles {
                s.push_str(&format!(" <- profile {p}"));
            }
            s.push_str(&format!(" <- host {}\n", host.name));
            if fleet.has_errors() {
                s.push_str("# WARNING: the fleet has validation errors; run `bmfleet validate`\n");
            }
            s.push_str(&crate::render::yaml::to_yaml(&doc));
            s
        }
    };
    write_out(out, &text)?;
    Ok(ExitCode::SUCCESS)
}

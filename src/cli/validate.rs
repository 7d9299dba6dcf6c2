use super::{Ctx, GlobalArgs, write_out};
use crate::render::diagnostics;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::process::ExitCode;

/// `bmfleet validate` options.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Output formats of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// miette reports with snippets.
    Human,
    /// One JSON document.
    Json,
    /// GitHub Actions workflow annotations.
    Github,
}

pub fn run(
    g: &GlobalArgs,
    ctx: &Ctx,
    args: &ValidateArgs,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let fleet = match super::load(g) {
        Ok(f) => f,
        // Machine formats get a machine-readable failure, not only a report on stderr.
        Err(e) if args.format != Format::Human => {
            let code = e
                .code()
                .map_or_else(|| "bmfleet::spec::load".to_string(), |c| c.to_string());
            let message = e.to_string();
            let help = e.help().map(|h| h.to_string());
            let text = match args.format {
                Format::Json => {
                    let doc = serde_json::json!({
                        "format_version": "1.0",
                        "valid": false,
                        "errors": 1,
                        "warnings": 0,
                        "diagnostics": [{
                            "code": code, "severity": "error", "message": message, "help": help,
                        }],
                    });
                    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
                    s.push('\n');
                    s
                }
                _ => format!(
                    "::error title={}::{}\n",
                    code.replace(':', "%3A"),
                    message.replace('%', "%25").replace('\n', "%0A")
                ),
            };
            write_out(out, &text)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let (errors, warnings) = fleet.counts();
    let text = match args.format {
        Format::Human => {
            let mut s = format!("Reading {}\n\n", fleet.repo.describe());
            s.push_str(&diagnostics::human(
                &fleet.diagnostics,
                &fleet.sources,
                ctx.style,
            ));
            let summary = format!(
                "{} document(s): {} fleet, {} profile(s), {} host(s)",
                fleet.document_count,
                usize::from(fleet.fleet.is_some()),
                fleet.profiles.len(),
                fleet.hosts.len()
            );
            if errors == 0 {
                s.push_str(&format!(
                    "Valid: {summary}{}.\n",
                    if warnings > 0 {
                        format!(", {warnings} warning(s)")
                    } else {
                        String::new()
                    }
                ));
            } else {
                s.push_str(&format!(
                    "Invalid: {errors} error(s), {warnings} warning(s) in {summary}.\n"
                ));
            }
            s
        }
        Format::Json => diagnostics::json(
            &fleet.diagnostics,
            &fleet.sources,
            serde_json::json!({
                "source": fleet.repo,
                "documents": fleet.document_count,
                "profiles": fleet.profiles.len(),
                "hosts": fleet.hosts.len(),
            }),
        ),
        Format::Github => {
            let mut s = diagnostics::github(&fleet.diagnostics, &fleet.sources, &fleet.repo.prefix);
            s.push_str(&format!(
                "bmfleet validate: {errors} error(s), {warnings} warning(s), {} host(s), {}\n",
                fleet.hosts.len(),
                fleet.repo.describe()
            ));
            s
        }
    };
    write_out(out, &text)?;
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

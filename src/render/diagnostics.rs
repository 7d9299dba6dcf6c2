//! Rendering spec diagnostics: human (miette graphical), JSON and GitHub annotations.

use crate::spec::{Diag, Sources};
use miette::{GraphicalReportHandler, GraphicalTheme};

/// Output styling shared by the human renderers.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Wrap width in columns.
    pub width: usize,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            color: false,
            width: 100,
        }
    }
}

/// Renders diagnostics with miette's graphical handler (no colour unless `style.color`).
pub fn human(diags: &[Diag], sources: &Sources, style: Style) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false)
        .with_context_lines(1);
    let mut out = String::new();
    for d in diags {
        let report = d.report(sources);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!("{}: {}\n", d.full_code(), d.message));
        }
        out.push('\n');
    }
    out
}

/// Renders diagnostics as a JSON document `{"diagnostics": [...], "errors": N, "warnings": M}`.
pub fn json(diags: &[Diag], sources: &Sources, extra: serde_json::Value) -> String {
    let list: Vec<_> = diags.iter().map(|d| d.to_json(sources)).collect();
    let errors = diags
        .iter()
        .filter(|d| d.severity == crate::spec::Severity::Error)
        .count();
    let mut doc = serde_json::json!({
        "format_version": "1.0",
        "valid": errors == 0,
        "errors": errors,
        "warnings": diags.len() - errors,
        "diagnostics": list,
    });
    if let (Some(obj), serde_json::Value::Object(more)) = (doc.as_object_mut(), extra) {
        for (k, v) in more {
            obj.insert(k, v);
        }
    }
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// Renders diagnostics as GitHub Actions workflow commands, one per line.
pub fn github(diags: &[Diag], sources: &Sources, prefix: &str) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.to_github(sources, prefix));
        out.push('\n');
    }
    out
}

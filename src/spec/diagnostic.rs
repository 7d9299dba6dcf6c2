//! Spec diagnostics: every problem found in a fleet repo, with a stable code, the span of
//! the offending value, a label and a hint. Rendered by miette (human), as JSON, or as
//! GitHub workflow annotations.

use super::source::Sources;
use super::yaml::Span;
use miette::{Diagnostic, LabeledSpan, NamedSource, Severity as MietteSeverity, SourceSpan};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// How bad a diagnostic is. Errors make `bmfleet validate` exit 1; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The spec is invalid.
    Error,
    /// Suspicious but accepted.
    Warning,
}

/// One problem in the spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diag {
    /// Short stable code, e.g. `vlan_id_range`; the full code is `bmfleet::spec::<code>`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One sentence saying what is wrong.
    pub message: String,
    /// The offending value (or key), when the problem has a place.
    pub span: Option<Span>,
    /// Label shown under the span.
    pub label: String,
    /// What to do about it.
    pub help: Option<String>,
    /// Other places that matter (the first definition of a duplicate, the base interface).
    pub related: Vec<(Span, String)>,
    /// Hosts whose effective spec has this problem (for values set in a shared profile).
    pub hosts: Vec<String>,
    /// A secret value found in the repo: masked with `*` in every rendering of the source,
    /// so reports never repeat it.
    pub secret: Option<Span>,
}

impl Diag {
    /// An error with a code, a message and a span.
    pub fn error(code: &'static str, message: impl Into<String>, span: Option<Span>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: shorten_quoted(message.into()),
            span,
            label: String::new(),
            help: None,
            related: Vec::new(),
            hosts: Vec::new(),
            secret: None,
        }
    }

    /// Marks the secret value to mask in renderings of the source.
    #[must_use]
    pub fn secret(mut self, span: Span) -> Self {
        self.secret = Some(span);
        self
    }

    /// A warning with a code, a message and a span.
    pub fn warning(code: &'static str, message: impl Into<String>, span: Option<Span>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message, span)
        }
    }

    /// Sets the label.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = shorten_quoted(label.into());
        self
    }

    /// Sets the hint.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(shorten_quoted(help.into()));
        self
    }

    /// Adds a related place.
    #[must_use]
    pub fn related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, shorten_quoted(label.into())));
        self
    }

    /// The full code, `bmfleet::spec::<code>`.
    pub fn full_code(&self) -> String {
        format!("bmfleet::spec::{}", self.code)
    }

    /// A renderable miette report for this diagnostic.
    pub fn report<'a>(&'a self, sources: &'a Sources) -> Report<'a> {
        Report {
            diag: self,
            source: self.span.map(|s| sources.named(s.file)),
            sources,
            related: self
                .related
                .iter()
                .filter(|(s, _)| Some(s.file) != self.span.map(|p| p.file))
                .map(|(s, l)| RelatedReport {
                    source: sources.named(s.file),
                    span: *s,
                    label: l.clone(),
                })
                .collect(),
        }
    }
}

/// Longest value quoted in a message (between backticks) before it is shortened.
pub const MAX_QUOTED_CHARS: usize = 80;

/// Shortens every backtick-quoted value longer than [`MAX_QUOTED_CHARS`] characters to its
/// start, `...` and its length (`` `xxxx... (2097152 characters)` ``): a 2 MiB label value must not become a 2 MiB message that
/// the renderer wraps over thousands of lines.
pub fn shorten_quoted(text: String) -> String {
    if text.len() <= MAX_QUOTED_CHARS {
        return text;
    }
    let parts: Vec<&str> = text.split('`').collect();
    let long = |(i, p): (usize, &&str)| i % 2 == 1 && p.chars().count() > MAX_QUOTED_CHARS;
    if !parts.iter().enumerate().any(long) {
        return text;
    }
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('`');
        }
        if long((i, part)) {
            out.extend(part.chars().take(MAX_QUOTED_CHARS - 20));
            out.push_str(&format!("... ({} characters)", part.chars().count()));
        } else {
            out.push_str(part);
        }
    }
    out
}

/// A [`Diag`] bound to its sources, implementing [`miette::Diagnostic`].
pub struct Report<'a> {
    diag: &'a Diag,
    source: Option<NamedSource<Arc<str>>>,
    #[allow(dead_code)]
    sources: &'a Sources,
    related: Vec<RelatedReport>,
}

fn source_span(span: Span) -> SourceSpan {
    SourceSpan::new((span.start as usize).into(), span.len())
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diag, f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)?;
        if !self.diag.hosts.is_empty() {
            write!(f, " ({})", host_summary(&self.diag.hosts))?;
        }
        Ok(())
    }
}

impl std::error::Error for Report<'_> {}

impl Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diag.full_code()))
    }

    fn severity(&self) -> Option<MietteSeverity> {
        Some(match self.diag.severity {
            Severity::Error => MietteSeverity::Error,
            Severity::Warning => MietteSeverity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = self.diag.span?;
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            (!self.diag.label.is_empty()).then(|| self.diag.label.clone()),
            source_span(primary),
        )];
        for (span, label) in &self.diag.related {
            if span.file == primary.file {
                labels.push(LabeledSpan::new_with_span(
                    Some(label.clone()),
                    source_span(*span),
                ));
            }
        }
        Some(Box::new(labels.into_iter()))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|r| r as &dyn Diagnostic)))
    }
}

/// A related place in another file.
pub struct RelatedReport {
    source: NamedSource<Arc<str>>,
    span: Span,
    label: String,
}

impl fmt::Debug for RelatedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl fmt::Display for RelatedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl std::error::Error for RelatedReport {}

impl Diagnostic for RelatedReport {
    fn severity(&self) -> Option<MietteSeverity> {
        Some(MietteSeverity::Advice)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(Some(self.label.clone()), source_span(self.span)),
        )))
    }
}

/// `3 hosts: r1-n01, r1-n02, r1-n03` (at most 5 names, then `and N more`).
pub fn host_summary(hosts: &[String]) -> String {
    let n = hosts.len();
    let shown: Vec<&str> = hosts.iter().take(5).map(String::as_str).collect();
    let mut s = format!(
        "{n} host{}: {}",
        if n == 1 { "" } else { "s" },
        shown.join(", ")
    );
    if n > 5 {
        s.push_str(&format!(" and {} more", n - 5));
    }
    s
}

/// A diagnostic as JSON (`bmfleet validate --format json`). Lines and columns are 1-based;
/// `file` is relative to the fleet root.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagJson {
    /// `bmfleet::spec::<code>`.
    pub code: String,
    /// `error` or `warning`.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// File relative to the fleet root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Start line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Start column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// End line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<usize>,
    /// End column (exclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<usize>,
    /// The label.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// The hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Affected hosts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Related places as `file:line:column` with a label.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedJson>,
}

/// A related place in JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct RelatedJson {
    /// `file:line:column`.
    pub location: String,
    /// What it is.
    pub message: String,
}

impl Diag {
    /// The JSON form.
    pub fn to_json(&self, sources: &Sources) -> DiagJson {
        let (file, line, column, end_line, end_column) = match self.span {
            Some(span) => {
                let (l, c) = sources.line_col(span);
                let (el, ec) = sources
                    .file(span.file)
                    .map_or((l, c), |f| f.line_col(span.end));
                (
                    Some(sources.path(span).to_string()),
                    Some(l),
                    Some(c),
                    Some(el),
                    Some(ec),
                )
            }
            None => (None, None, None, None, None),
        };
        DiagJson {
            code: self.full_code(),
            severity: self.severity,
            message: self.message.clone(),
            file,
            line,
            column,
            end_line,
            end_column,
            label: self.label.clone(),
            help: self.help.clone(),
            hosts: self.hosts.clone(),
            related: self
                .related
                .iter()
                .map(|(s, m)| RelatedJson {
                    location: sources.location(*s),
                    message: m.clone(),
                })
                .collect(),
        }
    }

    /// A GitHub Actions workflow command (`::error file=...,line=...::message`). `prefix` is
    /// the fleet root relative to the repository root, so annotations land on the right file.
    pub fn to_github(&self, sources: &Sources, prefix: &str) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = Vec::new();
        if let Some(span) = self.span {
            let path = sources.path(span);
            let path = if prefix.is_empty() {
                path.to_string()
            } else {
                format!("{prefix}/{path}")
            };
            let (l, c) = sources.line_col(span);
            let (el, ec) = sources
                .file(span.file)
                .map_or((l, c), |f| f.line_col(span.end));
            props.push(format!("file={}", gh_prop(&path)));
            props.push(format!("line={l}"));
            props.push(format!("col={c}"));
            props.push(format!("endLine={el}"));
            if el == l {
                props.push(format!("endColumn={ec}"));
            }
        }
        props.push(format!("title={}", gh_prop(&self.full_code())));
        let mut msg = self.message.clone();
        if !self.hosts.is_empty() {
            msg.push_str(&format!(" ({})", host_summary(&self.hosts)));
        }
        if let Some(h) = &self.help {
            msg.push_str("\nhint: ");
            msg.push_str(h);
        }
        format!("::{kind} {}::{}", props.join(","), gh_data(&msg))
    }
}

fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quoted_values_are_shortened() {
        let long = "x".repeat(100_000);
        let d = Diag::error(
            "invalid_label",
            format!("`{long}` is not a valid label value for `rack`"),
            None,
        )
        .label(format!("`{long}`"))
        .help("short `help` stays");
        assert_eq!(
            d.message,
            format!(
                "`{}... (100000 characters)` is not a valid label value for `rack`",
                "x".repeat(60)
            )
        );
        assert_eq!(
            d.label,
            format!("`{}... (100000 characters)`", "x".repeat(60))
        );
        assert_eq!(d.help.as_deref(), Some("short `help` stays"));
        let ok = format!("`{}` is fine", "y".repeat(80));
        assert_eq!(shorten_quoted(ok.clone()), ok);
    }
}

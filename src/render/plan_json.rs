//! The plan as versioned JSON (`format_version`), what `bmfleet plan --format json` prints
//! and `bmfleet plan -o` saves, and its JSON Schema (draft 2020-12, generated from the Rust
//! types with schemars; committed as `schemas/plan.schema.json`).

use crate::plan::model::{FORMAT_VERSION, Plan};
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// `$id` of the plan schema.
pub const SCHEMA_ID: &str = "https://bmfleet.dev/schemas/plan-1.schema.json";

/// The plan as pretty-printed JSON, ending with a newline. Sensitive values are already
/// masked in the plan, so nothing secret can be printed.
pub fn render(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).unwrap_or_default();
    s.push('\n');
    s
}

/// Reading a saved plan failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanReadError {
    /// Not JSON, or not a plan.
    #[error("not a bmfleet plan: {0}")]
    #[diagnostic(
        code(bmfleet::plan::unreadable),
        help("pass a file written by `bmfleet plan -o FILE`")
    )]
    Invalid(#[from] serde_json::Error),
    /// A plan format this release cannot read.
    #[error("plan format {found} is not supported (this bmfleet reads {FORMAT_VERSION})")]
    #[diagnostic(
        code(bmfleet::plan::format_version),
        help("re-run `bmfleet plan` with this version of bmfleet")
    )]
    Version {
        /// The file's `format_version`.
        found: String,
    },
}

/// Reads a saved plan, accepting any `format_version` with the same major version.
///
/// # Errors
/// [`PlanReadError`] when the text is not a plan or has another major version.
pub fn parse(text: &str) -> Result<Plan, PlanReadError> {
    let raw: Value = serde_json::from_str(text)?;
    let found = raw
        .get("format_version")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let major = |v: &str| v.split('.').next().map(str::to_string);
    if found.is_empty() || major(&found) != major(FORMAT_VERSION) {
        return Err(PlanReadError::Version { found });
    }
    Ok(serde_json::from_value(raw)?)
}

/// The JSON Schema of the plan (draft 2020-12).
pub fn schema() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let generated = generator.into_root_schema_for::<Plan>().to_value();
    // Header keys first, then the generated ones in their order.
    let mut out = serde_json::Map::new();
    out.insert(
        "$schema".into(),
        Value::String("https://json-schema.org/draft/2020-12/schema".into()),
    );
    out.insert("$id".into(), Value::String(SCHEMA_ID.into()));
    out.insert(
        "title".into(),
        Value::String(format!("bmfleet plan (format_version {FORMAT_VERSION})")),
    );
    out.insert(
        "description".into(),
        Value::String(
            "A bmfleet plan as written by `bmfleet plan --format json` and `bmfleet plan -o`."
                .into(),
        ),
    );
    if let Value::Object(map) = generated {
        for (k, v) in map {
            if !matches!(k.as_str(), "$schema" | "$id" | "title" | "description") {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

/// The schema as the pretty-printed text committed in `schemas/plan.schema.json`.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

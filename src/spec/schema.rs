//! JSON Schema for fleet specs, generated from the Rust types with schemars
//! (draft 2020-12). `bmfleet schema` prints it; `schemas/fleet.schema.json` is the committed
//! copy (a test fails when it is out of date); editors pick it up through the
//! `# yaml-language-server: $schema=...` line at the top of spec files.

use super::model::{FleetDocument, HostDocument, ProfileDocument};
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

/// `$id` of the fleet schema.
pub const SCHEMA_ID: &str = "https://bmfleet.dev/schemas/v1alpha1/fleet.schema.json";

/// The fleet schema: one document of any kind, dispatched on `kind`, with every type in
/// `$defs` (`FleetDocument`, `ProfileDocument`, `HostDocument`, ...).
pub fn fleet_schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let fleet = generator.subschema_for::<FleetDocument>();
    let profile = generator.subschema_for::<ProfileDocument>();
    let host = generator.subschema_for::<HostDocument>();
    let defs: serde_json::Map<String, Value> = generator.definitions().clone();
    let branch = |kind: &str, schema: &schemars::Schema| {
        json!({
            "if": { "properties": { "kind": { "const": kind } }, "required": ["kind"] },
            "then": schema.as_value().clone(),
        })
    };
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "bmfleet fleet spec (apiVersion bmfleet.dev/v1alpha1)",
        "description": "One YAML document of a bmfleet fleet repo: kind Fleet, Profile or Host.",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {
            "apiVersion": { "const": super::model::API_VERSION },
            "kind": { "enum": ["Fleet", "Profile", "Host"] }
        },
        "allOf": [
            branch("Fleet", &fleet),
            branch("Profile", &profile),
            branch("Host", &host),
        ],
        "$defs": defs,
    })
}

/// The schema as the pretty-printed text committed in `schemas/fleet.schema.json`.
pub fn fleet_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&fleet_schema()).unwrap_or_default();
    s.push('\n');
    s
}

//! The committed JSON Schemas are generated from the Rust types and must be up to date;
//! the schema is strict (no unknown keys anywhere) and accepts the example fleet under a
//! standard JSON Schema validator (the one editors use through yaml-language-server).

use bmfleet::spec::check::KNOWN_KEYWORDS;
use serde_json::Value;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn fleet_schema_file_is_up_to_date() {
    let path = root().join("schemas/fleet.schema.json");
    let generated = bmfleet::spec::schema::fleet_schema_text();
    if std::env::var_os("BMFLEET_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/fleet.schema.json is out of date: run `cargo run -- schema > schemas/fleet.schema.json` (or BMFLEET_BLESS=1 cargo test --test it schema)"
    );
}

fn walk(v: &Value, path: &str, problems: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            let is_schema = m.contains_key("type")
                || m.contains_key("$ref")
                || m.contains_key("anyOf")
                || m.contains_key("oneOf");
            if m.get("type") == Some(&Value::String("object".into()))
                && m.contains_key("properties")
                && m.get("additionalProperties") != Some(&Value::Bool(false))
            {
                problems.push(format!(
                    "{path}: object without additionalProperties: false"
                ));
            }
            if is_schema {
                for k in m.keys() {
                    if !KNOWN_KEYWORDS.contains(&k.as_str()) {
                        problems.push(format!("{path}: keyword `{k}` unknown to spec::check"));
                    }
                }
            }
            for (k, child) in m {
                if k == "properties" || k == "$defs" {
                    if let Value::Object(props) = child {
                        for (name, s) in props {
                            walk(s, &format!("{path}/{k}/{name}"), problems);
                        }
                    }
                } else if k != "const" && k != "enum" && k != "default" {
                    walk(child, &format!("{path}/{k}"), problems);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}/{i}"), problems);
            }
        }
        _ => {}
    }
}

#[test]
fn every_definition_is_strict_and_understood_by_the_checker() {
    let schema = bmfleet::spec::schema::fleet_schema();
    let mut problems = Vec::new();
    walk(&schema["$defs"], "#/$defs", &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The top level dispatches on kind; it must cover the three kinds.
    let all_of = schema["allOf"].as_array().unwrap();
    assert_eq!(all_of.len(), 3);
}

#[test]
fn example_fleet_validates_under_a_standard_json_schema_validator() {
    let schema = bmfleet::spec::schema::fleet_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let fleet = bmfleet::spec::load::load_dir(&root().join("examples/fleet")).unwrap();
    assert!(!fleet.has_errors(), "{:?}", fleet.diagnostics);
    let mut checked = 0;
    for id in 0..fleet.sources.len() as u32 {
        let file = fleet.sources.file(id).unwrap();
        if !file.path.ends_with(".yaml") {
            continue;
        }
        for doc in bmfleet::spec::yaml::parse(&file.text, id, 100_000).unwrap() {
            let json = doc.root.to_json();
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", file.path);
            checked += 1;
        }
    }
    assert_eq!(checked, fleet.document_count);
    // And the standard validator rejects what ours rejects.
    let bad: Value = serde_json::json!({
        "apiVersion": "bmfleet.dev/v1alpha1", "kind": "Host", "metadata": {"name": "x"},
        "spec": {"network": {"interfaces": [{"name": "bond0", "lnik-aggregation": {}}]}}
    });
    assert!(!validator.is_valid(&bad));
}

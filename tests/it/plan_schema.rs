//! `schemas/plan.schema.json` is generated from the plan types; this test fails when the
//! committed file is out of date (`BMFLEET_BLESS=1 cargo test --test it plan_schema` rewrites
//! it), and checks that real plans validate against it.

use crate::plan_support::*;
use bmfleet::plan::plan;
use bmfleet::render::plan_json;
use bmfleet::spec::Host;
use serde_json::json;
use std::path::Path;

const PATH: &str = "schemas/plan.schema.json";

#[test]
fn committed_plan_schema_is_up_to_date() {
    let generated = plan_json::schema_text();
    if std::env::var_os("BMFLEET_BLESS").is_some() {
        std::fs::create_dir_all(Path::new(PATH).parent().unwrap()).unwrap();
        std::fs::write(PATH, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(PATH).unwrap_or_default();
    assert!(
        committed == generated,
        "{PATH} is out of date; run `BMFLEET_BLESS=1 cargo test --test it plan_schema` and commit it"
    );
}

#[test]
fn schema_is_draft_2020_12_and_describes_the_plan() {
    let s = plan_json::schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["$id"], plan_json::SCHEMA_ID);
    for field in [
        "format_version",
        "source",
        "summary",
        "groups",
        "hosts",
        "rollout",
    ] {
        assert!(s["properties"].get(field).is_some(), "{field}");
    }
}

#[test]
fn rendered_plans_validate_against_the_schema() {
    let f = fleet();
    let hosts: Vec<&Host> = f.hosts.iter().collect();
    let mut observed = converged_all(&hosts);
    for o in observed.values_mut() {
        bios_mut(o)
            .current
            .insert("SriovGlobalEnable".into(), json!("Disabled"));
    }
    fail_bmc(
        observed.get_mut("r2-d01").unwrap(),
        unreachable("https://10.10.2.31"),
    );
    let p = plan(&hosts, &observed, &options(&f));
    let instance: serde_json::Value = serde_json::from_str(&plan_json::render(&p)).unwrap();
    let validator = jsonschema::validator_for(&plan_json::schema()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // And the schema rejects what is not a plan.
    let mut broken = instance.clone();
    broken["hosts"][0]["changes"] = json!([{"address": 1}]);
    assert!(!validator.is_valid(&broken));
}

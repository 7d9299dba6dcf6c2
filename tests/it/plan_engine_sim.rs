//! The contract between the engine and the planner: the engine's observed state, read from
//! the simulator seeded from the example fleet, plans to exactly the drift the simulator
//! applied, and to nothing when it applied none.

use bmfleet::engine::NullReporter;
use bmfleet::plan::model::Action;
use bmfleet::plan::{PlanOptions, plan};
use bmfleet::sim::from_spec::{Seeding, from_spec};
use bmfleet::sim::{DriftKind, SimServer};
use bmfleet::spec::Host;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

async fn plan_against_sim(
    drift_rate: f64,
) -> (bmfleet::plan::Plan, Vec<bmfleet::sim::DriftRecord>) {
    let fleet = bmfleet::spec::load::load_dir(Path::new("examples/fleet")).unwrap();
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let (config, drift) = from_spec(
        &hosts,
        Seeding {
            seed: 11,
            drift_rate,
            factory_rate: 0.0,
        },
    );
    let sim = SimServer::start(config).await.unwrap();
    let targets =
        bmfleet::sim::targets::simulated_targets(&sim, &hosts, Path::new("examples/fleet"));
    let result = crate::plan_support::refresh_redfish(
        &hosts,
        targets,
        Default::default(),
        Arc::new(NullReporter),
    )
    .await;
    sim.shutdown().await;
    let p = plan(&hosts, &result.observed, &PlanOptions::for_fleet(&fleet));
    (p, drift)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_fleet_without_drift_plans_to_no_changes() {
    let (p, drift) = plan_against_sim(0.0).await;
    assert!(drift.is_empty());
    assert!(
        !p.has_errors(),
        "{:?}",
        p.hosts
            .iter()
            .filter_map(|h| h.error.as_ref())
            .collect::<Vec<_>>()
    );
    let changes: Vec<_> = p.hosts.iter().flat_map(|h| &h.changes).collect();
    assert!(changes.is_empty(), "{changes:#?}");
    assert!(!p.has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_fleet_with_drift_plans_to_that_drift() {
    let (p, drift) = plan_against_sim(0.8).await;
    assert!(!drift.is_empty());
    assert!(!p.has_errors());
    let fleet = bmfleet::spec::load::load_dir(Path::new("examples/fleet")).unwrap();
    let spec_sets = |host: &str, attr: &str| {
        fleet
            .host(host)
            .and_then(|h| h.settings.bios.as_ref())
            .is_some_and(|b| b.attributes.contains_key(attr))
    };
    let mut expected_hosts = BTreeSet::new();
    let mut bios_drift_compared = 0;
    for d in &drift {
        let h = p.host(&d.host).unwrap();
        let find = |address: &str, setting: &str| {
            h.changes
                .iter()
                .find(|c| c.address == address && c.setting == setting)
        };
        match &d.kind {
            DriftKind::PowerOff => {
                let c = find(&format!("host/{}/power", d.host), "PowerState").unwrap();
                assert_eq!(c.reason, "drift: PowerState is Off, spec says On");
                expected_hosts.insert(d.host.clone());
            }
            // The example specs set no boot override: not compared, so not a change.
            DriftKind::BootOverridePxeOnce => {
                assert!(
                    h.changes
                        .iter()
                        .all(|c| !c.setting.starts_with("BootSourceOverride"))
                );
            }
            DriftKind::BiosFlipped { attribute, to, .. } => {
                let c = find(&format!("host/{}/bios", d.host), attribute);
                // Only attributes the spec sets are compared.
                assert_eq!(c.is_some(), spec_sets(&d.host, attribute), "{d:?}");
                if let Some(c) = c {
                    assert_eq!(c.action, Action::Update);
                    assert_eq!(c.before.as_ref(), Some(to));
                    expected_hosts.insert(d.host.clone());
                    bios_drift_compared += 1;
                }
            }
            DriftKind::BiosStaged { attribute, value } => {
                let c = find(&format!("host/{}/bios", d.host), attribute);
                assert_eq!(c.is_some(), spec_sets(&d.host, attribute), "{d:?}");
                if let Some(c) = c {
                    // A staged desired value is pending (applies on reset); a staged other
                    // value is drift that must be replaced.
                    let desired = fleet
                        .host(&d.host)
                        .and_then(|h| h.settings.bios.as_ref())
                        .and_then(|b| b.attributes.get(attribute))
                        .map(|v| v.to_json());
                    let want = if desired.as_ref() == Some(value) {
                        Action::Pending
                    } else {
                        Action::Replace
                    };
                    assert_eq!(c.action, want, "{c:?}");
                    assert_eq!(c.pending.as_ref(), Some(value));
                    expected_hosts.insert(d.host.clone());
                    bios_drift_compared += 1;
                }
            }
            // Factory BIOS hosts are checked like flipped attributes elsewhere.
            DriftKind::FactoryBios { .. } => {}
            DriftKind::DpuNicMode => {
                let c = find(&format!("host/{}/dpu/mode", d.host), "mode").unwrap();
                assert_eq!(c.before, Some(serde_json::json!("nic")));
                assert!(
                    h.steps
                        .iter()
                        .any(|s| s.description().starts_with("DPU reset"))
                );
                expected_hosts.insert(d.host.clone());
            }
        }
    }
    let changed: BTreeSet<String> = p
        .hosts
        .iter()
        .filter(|h| h.has_changes())
        .map(|h| h.name.clone())
        .collect();
    assert_eq!(changed, expected_hosts);
    assert!(!changed.is_empty());
    eprintln!(
        "{} drift records, {bios_drift_compared} on spec-set BIOS attributes",
        drift.len()
    );
}

//! Seeded drift: determinism, and that drifted hosts look drifted over Redfish.

use crate::sim_common::Bmc;
use bmfleet::sim::{
    BmcKind, DpuMode, DriftKind, PowerState, SimFleetConfig, SimServer, Vendor, apply_drift,
};
use serde_json::Value;

#[test]
fn same_seed_same_drift_different_seed_different_drift() {
    let base = SimFleetConfig::generated(200).hosts;
    let mut a = base.clone();
    let mut b = base.clone();
    let mut c = base.clone();
    let ra = apply_drift(&mut a, 42, 0.3);
    let rb = apply_drift(&mut b, 42, 0.3);
    let rc = apply_drift(&mut c, 43, 0.3);
    assert_eq!(ra, rb);
    assert_eq!(a, b, "same resulting configurations");
    assert_ne!(ra, rc);
    // Roughly the requested fraction.
    assert!((30..=90).contains(&ra.len()), "{}", ra.len());
    // Every kind shows up in a fleet this size.
    let has = |f: fn(&DriftKind) -> bool| ra.iter().any(|r| f(&r.kind));
    assert!(has(|k| matches!(k, DriftKind::PowerOff)));
    assert!(has(|k| matches!(k, DriftKind::BootOverridePxeOnce)));
    assert!(has(|k| matches!(k, DriftKind::BiosFlipped { .. })));
    assert!(has(|k| matches!(k, DriftKind::BiosStaged { .. })));
    assert!(has(|k| matches!(k, DriftKind::DpuNicMode)));
    // Records are in host order, one per host.
    let names: Vec<&str> = ra.iter().map(|r| r.host.as_str()).collect();
    let mut sorted = names.clone();
    sorted.dedup();
    assert_eq!(names.len(), sorted.len());
}

#[test]
fn drift_records_describe_what_changed() {
    let base = SimFleetConfig::generated(300).hosts;
    let mut hosts = base.clone();
    let records = apply_drift(&mut hosts, 7, 0.5);
    for r in &records {
        let before = base.iter().find(|h| h.name == r.host).unwrap();
        let after = hosts.iter().find(|h| h.name == r.host).unwrap();
        match &r.kind {
            DriftKind::PowerOff => {
                assert_eq!(before.power, PowerState::On);
                assert_eq!(after.power, PowerState::Off);
            }
            DriftKind::BootOverridePxeOnce => {
                assert_eq!(after.boot_override.enabled, "Once");
                assert_eq!(after.boot_override.target, "Pxe");
            }
            DriftKind::BiosFlipped {
                attribute,
                from,
                to,
            } => {
                assert_ne!(from, to);
                assert_eq!(&before.bios[attribute], from);
                assert_eq!(&after.bios[attribute], to);
            }
            DriftKind::BiosStaged { attribute, value } => {
                assert_eq!(before.bios[attribute], after.bios[attribute]);
                assert_ne!(&after.bios[attribute], value);
                assert_eq!(&after.pending_bios[attribute], value);
            }
            DriftKind::FactoryBios { .. } => unreachable!("apply_drift never resets to factory"),
            DriftKind::DpuNicMode => {
                assert_eq!(after.dpu.as_ref().unwrap().mode, DpuMode::NicMode);
            }
        }
    }
    let untouched = hosts.iter().zip(&base).filter(|(h, b)| h == b).count();
    assert_eq!(untouched + records.len(), base.len());
    assert!(apply_drift(&mut hosts.clone(), 7, 0.0).is_empty());
    assert!(apply_drift(&mut hosts.clone(), 7, f64::NAN).is_empty());
    assert_eq!(apply_drift(&mut base.clone(), 7, 1.0).len(), base.len());
}

#[tokio::test]
async fn staged_drift_shows_as_pending_and_applies_on_reset() {
    let mut config = SimFleetConfig::generated(60);
    config.timing = bmfleet::sim::Timing::uniform(100);
    let records = apply_drift(&mut config.hosts, 3, 1.0);
    let staged = records
        .iter()
        .find_map(|r| match &r.kind {
            DriftKind::BiosStaged { attribute, value } => {
                Some((r.host.clone(), attribute.clone(), value.clone()))
            }
            _ => None,
        })
        .expect("a staged drift among 60 hosts");
    let (host, attribute, value) = staged;
    let vendor = config.hosts.iter().find(|h| h.name == host).unwrap().vendor;
    let sim = SimServer::start(config).await.unwrap();
    let bmc = Bmc::login(&sim, &host, BmcKind::Bmc).await;
    let (root, _) = bmc.get("").await;
    let (systems, _) = bmc
        .get(root["Systems"]["@odata.id"].as_str().unwrap())
        .await;
    let system = systems["Members"][0]["@odata.id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (sys, _) = bmc.get(&system).await;
    let bios = sys["Bios"]["@odata.id"].as_str().unwrap().to_owned();
    let (b, _) = bmc.get(&bios).await;
    let settings = b["@Redfish.Settings"]["SettingsObject"]["@odata.id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = bmc.get(&settings).await;
    assert_eq!(s["Attributes"][&attribute], value);
    assert_ne!(b["Attributes"][&attribute], value);
    // One drift per host, so this host is still on.
    assert_eq!(sys["PowerState"], "On");
    let task = bmc.reset(&system, "ForceRestart").await;
    bmc.wait_task(&task).await;
    let (b, _) = bmc.get(&bios).await;
    // Drift stages as if through the UI, so even iDRAC has a job for it.
    assert_eq!(b["Attributes"][&attribute], value, "vendor {vendor:?}");
    if vendor != Vendor::Lenovo {
        let (s, _) = bmc.get(&settings).await;
        assert_eq!(s["Attributes"], Value::Object(Default::default()));
    }
    sim.shutdown().await;
}

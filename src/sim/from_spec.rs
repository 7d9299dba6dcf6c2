//! Seeding a simulated fleet from fleet specs, for `bmfleet plan --simulate` and tests.
//!
//! Each effective host becomes a [`SimHostConfig`] whose live state starts equal to the
//! desired state (power, boot mode, BIOS attributes, DPU mode and DPU BIOS), on top of the
//! vendor's factory BIOS. Then, deterministically from a seed: a fraction of hosts are
//! "freshly racked" (their BIOS is back at factory values), and a fraction get one drift on a
//! property the spec manages, the way fleets really drift: powered off, a BIOS attribute
//! changed by hand, a BIOS change someone staged and never rebooted for (the desired value,
//! so the plan shows it as pending), a wrong value staged over a correct one, a DPU switched
//! to NIC mode. Hosts whose spec manages none of these get the simulator's generic drift
//! ([`apply_drift`]).

use super::{
    DpuGeneration, DpuMode, DriftRecord, SimDpuConfig, SimFleetConfig, SimHostConfig, Vendor,
    apply_drift,
};
use crate::spec::Host;
use crate::spec::model::{BootMode, DpuMode as SpecDpuMode, PowerState};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Username every simulated BMC accepts in `--simulate` mode.
pub const SIM_USERNAME: &str = "bmfleet";
/// Password every simulated BMC accepts in `--simulate` mode (not a secret: it only opens
/// the loopback simulator).
pub const SIM_PASSWORD: &str = "simulated";

/// How to seed the simulated fleet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seeding {
    /// Seed of every random choice.
    pub seed: u64,
    /// Fraction (0.0 to 1.0) of hosts that get one drift.
    pub drift_rate: f64,
    /// Fraction (0.0 to 1.0) of hosts whose BIOS is at factory values (recorded as
    /// [`super::DriftKind::FactoryBios`]).
    pub factory_rate: f64,
}

impl Default for Seeding {
    fn default() -> Self {
        Self {
            seed: 29,
            drift_rate: 0.4,
            factory_rate: 0.2,
        }
    }
}

/// The vendor a spec host looks like, from its `bmc.systemId`: `System.Embedded.1` is an
/// iDRAC, `1` an XCC, anything else a DMTF-style generic BMC.
pub fn vendor_for(system_id: Option<&str>) -> Vendor {
    match system_id {
        Some("System.Embedded.1") => Vendor::Dell,
        Some("1") => Vendor::Lenovo,
        _ => Vendor::Generic,
    }
}

/// Builds the simulated fleet for `hosts` and returns it with the drift applied.
pub fn from_spec(hosts: &[&Host], seeding: Seeding) -> (SimFleetConfig, Vec<DriftRecord>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seeding.seed ^ 0x5eed_f1ee);
    let mut factory_records = Vec::new();
    let mut sims: Vec<SimHostConfig> = hosts
        .iter()
        .map(|h| {
            let s = &h.settings;
            let system_id = s.bmc.as_ref().and_then(|b| b.system_id.as_deref());
            let vendor = vendor_for(system_id);
            let mut sim = SimHostConfig::new(h.name.clone(), vendor);
            if let Some(id) = system_id {
                sim.system_id = id.to_string();
            }
            sim.username = SIM_USERNAME.to_string();
            sim.password = SIM_PASSWORD.to_string();
            let factory = rng.random_bool(fraction(seeding.factory_rate));
            let mut factory_attrs = Vec::new();
            if let Some(bios) = &s.bios {
                for (k, v) in &bios.attributes {
                    if factory && sim.bios.contains_key(k) {
                        if sim.bios.get(k) != Some(&v.to_json()) {
                            factory_attrs.push(k.clone());
                        }
                        continue;
                    }
                    sim.bios.insert(k.clone(), v.to_json());
                }
            }
            if !factory_attrs.is_empty() {
                factory_records.push(DriftRecord {
                    host: h.name.clone(),
                    kind: super::DriftKind::FactoryBios {
                        attributes: factory_attrs,
                    },
                });
            }
            sim.power = match s.power {
                Some(PowerState::Off) => super::PowerState::Off,
                _ => super::PowerState::On,
            };
            sim.boot_mode = match s.boot.as_ref().and_then(|b| b.mode) {
                Some(BootMode::Legacy) => "Legacy".to_string(),
                _ => "UEFI".to_string(),
            };
            if let Some(dpu) = &s.dpu {
                let mut d = SimDpuConfig::new(DpuGeneration::Bf3);
                if let Some(id) = dpu.bmc.as_ref().and_then(|b| b.system_id.as_ref()) {
                    d.system_id = id.clone();
                }
                d.mode = match dpu.mode {
                    Some(SpecDpuMode::Nic) => DpuMode::NicMode,
                    _ => DpuMode::DpuMode,
                };
                if let Some(bios) = &dpu.bios {
                    for (k, v) in &bios.attributes {
                        d.bios.insert(k.clone(), v.to_json());
                    }
                }
                sim.dpu = Some(d);
            }
            sim
        })
        .collect();
    let mut drift = factory_records;
    let rate = fraction(seeding.drift_rate);
    for (sim, host) in sims.iter_mut().zip(hosts) {
        if !rng.random_bool(rate) {
            continue;
        }
        if let Some(record) = managed_drift(sim, host, &mut rng) {
            drift.push(record);
        } else {
            drift.extend(apply_drift(std::slice::from_mut(sim), rng.random(), 1.0));
        }
    }
    (
        SimFleetConfig {
            hosts: sims,
            ..SimFleetConfig::generated(0)
        },
        drift,
    )
}

/// A probability from user input: NaN counts as 0, others are clamped to 0.0..=1.0.
fn fraction(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

/// A different value for a BIOS attribute: `Enabled` <-> `Disabled`, integers + 1, booleans
/// negated, other strings get a vendor-style alternative.
fn flip(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) if s == "Enabled" => "Disabled".into(),
        serde_json::Value::String(s) if s == "Disabled" => "Enabled".into(),
        serde_json::Value::String(s) if s == "PerfOptimized" => "PerfPerWattOptimizedOs".into(),
        serde_json::Value::String(s) => format!("{s}Alt").into(),
        serde_json::Value::Number(n) => (n.as_i64().unwrap_or(0) + 1).into(),
        serde_json::Value::Bool(b) => (!b).into(),
        other => other.clone(),
    }
}

fn managed_drift(
    sim: &mut SimHostConfig,
    host: &Host,
    rng: &mut ChaCha8Rng,
) -> Option<DriftRecord> {
    use super::DriftKind;
    let attrs: Vec<String> = host
        .settings
        .bios
        .as_ref()
        .map(|b| b.attributes.keys().cloned().collect())
        .unwrap_or_default();
    let has_dpu = sim.dpu.as_ref().is_some_and(|d| d.mode == DpuMode::DpuMode);
    let mut kinds: Vec<u8> = vec![0]; // power off
    if !attrs.is_empty() {
        kinds.extend([1, 2, 3]);
    }
    if has_dpu {
        kinds.push(4);
    }
    let kind = kinds[rng.random_range(0..kinds.len())];
    let record = |kind| DriftRecord {
        host: sim.name.clone(),
        kind,
    };
    match kind {
        0 if sim.power == super::PowerState::On => {
            sim.power = super::PowerState::Off;
            Some(record(DriftKind::PowerOff))
        }
        1..=3 => {
            let attr = attrs[rng.random_range(0..attrs.len())].clone();
            let desired = sim.bios.get(&attr)?.clone();
            let other = flip(&desired);
            match kind {
                // Changed by hand in the BIOS setup.
                1 => {
                    sim.bios.insert(attr.clone(), other.clone());
                    Some(record(DriftKind::BiosFlipped {
                        attribute: attr,
                        from: desired,
                        to: other,
                    }))
                }
                // Staged (desired value) but never rebooted: shows as pending.
                2 => {
                    sim.bios.insert(attr.clone(), other);
                    sim.pending_bios.insert(attr.clone(), desired.clone());
                    Some(record(DriftKind::BiosStaged {
                        attribute: attr,
                        value: desired,
                    }))
                }
                // A wrong value staged over a correct one.
                _ => {
                    sim.pending_bios.insert(attr.clone(), other.clone());
                    Some(record(DriftKind::BiosStaged {
                        attribute: attr,
                        value: other,
                    }))
                }
            }
        }
        4 => {
            if let Some(d) = sim.dpu.as_mut() {
                d.mode = DpuMode::NicMode;
                d.bios.insert("NicMode".into(), "NicMode".into());
            }
            Some(record(DriftKind::DpuNicMode))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic_and_follows_the_spec() {
        let fleet = crate::spec::load::load_dir(std::path::Path::new("examples/fleet")).unwrap();
        let hosts: Vec<&Host> = fleet.hosts.iter().collect();
        let calm = Seeding {
            seed: 1,
            drift_rate: 0.0,
            factory_rate: 0.0,
        };
        let (sim, drift) = from_spec(&hosts, calm);
        assert!(drift.is_empty());
        let c01 = sim.hosts.iter().find(|h| h.name == "r1-c01").unwrap();
        assert_eq!(c01.vendor, Vendor::Dell);
        assert_eq!(c01.bios["LogicalProc"], "Disabled");
        let d01 = sim.hosts.iter().find(|h| h.name == "r1-d01").unwrap();
        assert_eq!(d01.dpu.as_ref().unwrap().mode, DpuMode::DpuMode);
        let a = from_spec(&hosts, Seeding::default());
        let b = from_spec(&hosts, Seeding::default());
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
        assert!(!a.1.is_empty());
    }
}

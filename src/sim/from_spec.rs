//! Seeding a simulated fleet from fleet specs, for `bmfleet plan --simulate` and tests.
//!
//! Each effective host becomes a [`SimHostConfig`] whose live state starts equal to the
//! desired state (power, boot mode, BIOS attributes, DPU mode and DPU BIOS), on top of the
//! vendor's factory BIOS. Then, deterministically from a seed: a fraction of hosts are
//! "freshly racked" (their BIOS is back at factory values), and a fraction get drift
//! ([`apply_drift`]): powered off, a PXE boot override, a flipped or already staged BIOS
//! attribute, a DPU switched to NIC mode.

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
    /// Fraction (0.0 to 1.0) of hosts whose BIOS is at factory values.
    pub factory_rate: f64,
}

impl Default for Seeding {
    fn default() -> Self {
        Self {
            seed: 42,
            drift_rate: 0.3,
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
            let factory = rng.random_bool(seeding.factory_rate.clamp(0.0, 1.0));
            if let Some(bios) = &s.bios {
                for (k, v) in &bios.attributes {
                    if factory && sim.bios.contains_key(k) {
                        continue;
                    }
                    sim.bios.insert(k.clone(), v.to_json());
                }
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
    let drift = apply_drift(&mut sims, seeding.seed, seeding.drift_rate);
    (
        SimFleetConfig {
            hosts: sims,
            ..SimFleetConfig::generated(0)
        },
        drift,
    )
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

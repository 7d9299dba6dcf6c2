//! Seeded configuration drift: the changes people and firmware make behind a tool's back.
//!
//! The kinds follow the real-world failure modes in `shared/research/anchors-baremetal.md`
//! ("Drift, ownership conflicts and stale reads"; pending BIOS values left by someone who
//! PATCHed without rebooting; a DPU found in the wrong mode).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{DpuMode, PowerState, SimHostConfig};

/// One drift applied to one host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftRecord {
    /// The host's name.
    pub host: String,
    /// What was changed.
    pub kind: DriftKind,
}

/// A kind of drift.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DriftKind {
    /// The host was powered off.
    PowerOff,
    /// A one-time PXE boot override was set (`Once` / `Pxe`).
    BootOverridePxeOnce,
    /// A current BIOS attribute was changed (`Enabled` <-> `Disabled`, integer + 1, boolean
    /// negated).
    BiosFlipped {
        /// Attribute name.
        attribute: String,
        /// Value before.
        from: Value,
        /// Value after.
        to: Value,
    },
    /// A changed value was staged in the BIOS settings object, applied at the next reset.
    BiosStaged {
        /// Attribute name.
        attribute: String,
        /// Staged value.
        value: Value,
    },
    /// The DPU was switched to NIC mode (current mode; the DPU BIOS `NicMode` follows).
    DpuNicMode,
    /// The host's BIOS is at the vendor's factory values for these attributes (a freshly
    /// racked or replaced host; [`crate::sim::from_spec`] only).
    FactoryBios {
        /// Attributes whose factory value differs from the spec's.
        attributes: Vec<String>,
    },
}

/// Deterministically perturbs about `rate` (0.0 to 1.0; clamped; NaN counts as 0) of `hosts`,
/// one drift per chosen host, and returns what it did in host order.
///
/// Hosts are visited in slice order with a ChaCha8 generator seeded by `seed`, so the same
/// `(hosts, seed, rate)` always gives the same records and a different seed almost always gives
/// different ones. A host can only get a drift that changes something: no BIOS drift without a
/// flippable attribute (string `Enabled`/`Disabled`, integer or boolean), no `DpuNicMode`
/// without a DPU in `DpuMode`, no `PowerOff` for a host already off, no boot override if one is
/// already `Once`/`Pxe`.
pub fn apply_drift(hosts: &mut [SimHostConfig], seed: u64, rate: f64) -> Vec<DriftRecord> {
    let rate = if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut records = Vec::new();
    for host in hosts.iter_mut() {
        // Always draw both numbers so one host's choice never shifts another host's draw.
        let chosen = rng.random_bool(rate);
        let pick: u32 = rng.random();
        let attr_pick: u32 = rng.random();
        if !chosen {
            continue;
        }
        let flippable: Vec<String> = host
            .bios
            .iter()
            .filter(|(_, v)| flipped(v).is_some())
            .map(|(k, _)| k.clone())
            .collect();
        let mut kinds: Vec<u8> = Vec::with_capacity(5);
        if host.power != PowerState::Off {
            kinds.push(0);
        }
        if !(host.boot_override.enabled == "Once" && host.boot_override.target == "Pxe") {
            kinds.push(1);
        }
        if !flippable.is_empty() {
            kinds.push(2);
            kinds.push(3);
        }
        if host
            .dpu
            .as_ref()
            .is_some_and(|d| d.mode == DpuMode::DpuMode)
        {
            kinds.push(4);
        }
        let Some(&kind) = kinds.get(pick as usize % kinds.len().max(1)) else {
            continue;
        };
        let attribute = flippable
            .get(attr_pick as usize % flippable.len().max(1))
            .cloned();
        let drift = match (kind, attribute) {
            (0, _) => {
                host.power = PowerState::Off;
                DriftKind::PowerOff
            }
            (1, _) => {
                host.boot_override.enabled = "Once".to_owned();
                host.boot_override.target = "Pxe".to_owned();
                DriftKind::BootOverridePxeOnce
            }
            (2, Some(attribute)) => {
                let Some(from) = host.bios.get(&attribute).cloned() else {
                    continue;
                };
                let Some(to) = flipped(&from) else { continue };
                host.bios.insert(attribute.clone(), to.clone());
                DriftKind::BiosFlipped {
                    attribute,
                    from,
                    to,
                }
            }
            (3, Some(attribute)) => {
                let Some(value) = host.bios.get(&attribute).and_then(flipped) else {
                    continue;
                };
                host.pending_bios.insert(attribute.clone(), value.clone());
                DriftKind::BiosStaged { attribute, value }
            }
            (4, _) => {
                let Some(dpu) = host.dpu.as_mut() else {
                    continue;
                };
                dpu.mode = DpuMode::NicMode;
                if dpu.bios.contains_key("NicMode") {
                    dpu.bios.insert(
                        "NicMode".to_owned(),
                        Value::String(DpuMode::NicMode.as_str().to_owned()),
                    );
                }
                DriftKind::DpuNicMode
            }
            _ => continue,
        };
        records.push(DriftRecord {
            host: host.name.clone(),
            kind: drift,
        });
    }
    records
}

/// The "other" value of a BIOS attribute, if it has an obvious one.
fn flipped(value: &Value) -> Option<Value> {
    match value {
        Value::String(s) if s == "Enabled" => Some(Value::String("Disabled".to_owned())),
        Value::String(s) if s == "Disabled" => Some(Value::String("Enabled".to_owned())),
        Value::Bool(b) => Some(Value::Bool(!b)),
        Value::Number(n) => n
            .as_i64()
            .map(|i| Value::from(if i == i64::MAX { i - 1 } else { i + 1 })),
        _ => None,
    }
}

//! The planner's rules table: for each resource kind, the [`Op`] that writes its changed
//! settings. Every choice an executor could otherwise make is made here (apply time, reset
//! types and their order, timeouts), from the spec and the capabilities the provider
//! observed; the executor carries the op out as written.
//!
//! Adding a resource kind means: its flattening in [`super::resource`], a rule here, and a
//! provider that reads and writes it. Nothing else in the planner changes.

use super::address::Address;
use super::observed::{Observation, ObservedHost};
use super::op::{ContentRef, Controller, FileWrite, Op, OpValue, ResetStep, SecretRef};
use super::os_files;
use super::resource::{DataFiles, Resource, ResourceKind};
use super::value::sha256_json;
use crate::spec::Host;
use crate::spec::model::CloudInitSource;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Seconds a host gets to come back from a reset before the fallback reset type is sent.
pub const RESET_TIMEOUT_S: u64 = 600;
/// Seconds a DPU gets to come back from its reset.
pub const DPU_RESET_TIMEOUT_S: u64 = 300;
/// Seconds a graceful power-off gets before `ForceOff`.
pub const POWER_OFF_TIMEOUT_S: u64 = 300;
/// Seconds the OS gets to answer after a reset.
pub const AWAIT_OS_TIMEOUT_S: u64 = 900;

/// What the rules read besides the resource.
pub struct Context<'a> {
    /// The host's effective spec.
    pub host: &'a Host,
    /// The observed `PowerState` (`On`, `Off`), when read.
    pub power_now: Option<&'a str>,
    /// The fleet's data files (cloud-init documents).
    pub files: &'a DataFiles,
}

/// The op that writes settings `keys` of resource `r` (keys are those whose action writes).
///
/// # Errors
/// When the write cannot be rendered for this host (a network interface the chosen network
/// backend cannot write as the spec declares it, or no backend recorded): the reason, for the
/// planner to report as the host's error.
pub fn op_for(
    ctx: &Context<'_>,
    r: &Resource,
    keys: &[&str],
    obs: &Observation,
) -> Result<Op, String> {
    let desired = |k: &str| r.settings.get(k).map(|s| s.value.clone());
    let plain = |k: &str| desired(k).unwrap_or(Value::Null);
    let string = |k: &str| desired(k).and_then(|v| v.as_str().map(str::to_string));
    let map_of = || -> BTreeMap<String, Value> {
        keys.iter().map(|k| ((*k).to_string(), plain(k))).collect()
    };
    let op = match r.kind {
        ResourceKind::Bios | ResourceKind::DpuBios => {
            let (on, spec_path) = if r.kind == ResourceKind::Bios {
                (Controller::Bmc, "bios.attributes")
            } else {
                (Controller::Dpu, "dpu.bios.attributes")
            };
            let attributes = keys
                .iter()
                .map(|k| {
                    let v = plain(k);
                    let sensitive = r.settings.get(*k).is_some_and(|s| s.sensitive);
                    let value = if sensitive {
                        OpValue::Secret(SecretRef {
                            secret: format!("spec:{spec_path}.{k}"),
                            sha256: sha256_json(&v),
                        })
                    } else {
                        OpValue::Plain(v)
                    };
                    ((*k).to_string(), value)
                })
                .collect();
            let times = &obs.capabilities.apply_times;
            Op::BiosStage {
                on,
                attributes,
                apply_time: times
                    .iter()
                    .any(|t| t == "OnReset")
                    .then(|| "OnReset".to_string()),
            }
        }
        ResourceKind::Boot => {
            let pick = |k: &str| {
                if keys.contains(&k) { string(k) } else { None }
            };
            Op::BootOverride {
                mode: pick("BootSourceOverrideMode"),
                target: pick("BootSourceOverrideTarget"),
                enabled: pick("BootSourceOverrideEnabled"),
            }
        }
        ResourceKind::Power => {
            let state = string("PowerState").unwrap_or_default();
            power_op(&state, &obs.capabilities.reset_types)
        }
        ResourceKind::DpuMode => Op::DpuMode {
            mode: string("mode").unwrap_or_default(),
        },
        ResourceKind::Ethernet | ResourceKind::Bond | ResourceKind::Vlan => Op::NetworkApply {
            desired: network_document(ctx.host, r),
            write: Some(network_write(ctx.host, r, obs)?),
        },
        ResourceKind::Routes | ResourceKind::Dns => Op::NetworkApply {
            desired: network_document(ctx.host, r),
            write: Some(routes_dns_write(ctx.host, r, obs)?),
        },
        ResourceKind::SrIov => {
            let pf = r.address.iface.clone().unwrap_or_default();
            let vfs = ctx
                .host
                .settings
                .network
                .as_ref()
                .and_then(|n| n.interfaces.iter().find(|i| i.name == pf))
                .and_then(|i| i.ethernet.as_ref())
                .and_then(|e| e.sr_iov.as_ref())
                .filter(|s| !s.vfs.is_empty())
                .and_then(|s| serde_json::to_value(&s.vfs).ok())
                .unwrap_or(Value::Null);
            let num_vfs = desired("total-vfs").and_then(|v| v.as_u64());
            // The VF settings live in the same boot unit as the count, so the unit needs
            // the count: the spec's, else the one observed.
            let count = num_vfs.or_else(|| obs.current("total-vfs").and_then(Value::as_u64));
            Op::SriovNumVfs {
                persist: count.map(|n| os_files::sriov_unit(&pf, n, &vfs)),
                pf,
                num_vfs,
                vfs,
                total_vfs: obs.current("sriov_totalvfs").and_then(Value::as_u64),
            }
        }
        ResourceKind::Hugepages => {
            let w = os_files::hugepage_writes(ctx.host, keys);
            let writer = obs.capabilities.writer.clone();
            let mut persist: Vec<FileWrite> = w.tmpfiles.into_iter().collect();
            if !w.boot_args.is_empty() && writer.as_deref() == Some("grub.d") {
                persist.push(os_files::grub_d_file(
                    os_files::HUGEPAGES_GRUB_FILE,
                    "os.hugepages (the default size and pools of 1G and more)",
                    &w.boot_args,
                ));
            }
            Op::Hugepages {
                settings: map_of(),
                runtime: w.runtime,
                writer: (!w.boot_args.is_empty()).then_some(writer).flatten(),
                boot_args: w.boot_args,
                persist,
            }
        }
        ResourceKind::KernelArgs => {
            let want = string_list(desired("args").as_ref());
            let have = string_list(obs.current("args"));
            let (add, remove) = kernel_args_change(&want, &have);
            let writer = obs.capabilities.writer.clone();
            let file = (writer.as_deref() == Some("grub.d"))
                .then(|| os_files::grub_d_file(os_files::KERNEL_ARGS_FILE, "os.kernelArgs", &want));
            Op::KernelArgs {
                add,
                remove,
                writer,
                file,
            }
        }
        ResourceKind::Sysctl => Op::Sysctl {
            values: map_of(),
            persist: os_files::sysctl_file(ctx.host),
        },
        ResourceKind::Sysfs => Op::Sysfs {
            values: map_of(),
            persist: os_files::sysfs_file(ctx.host),
        },
        ResourceKind::Tunables => {
            let values = map_of();
            let writes = values
                .iter()
                .filter_map(|(k, v)| os_files::tunable_write(k, v))
                .collect();
            Op::Tunables {
                values,
                writes,
                persist: os_files::tunables_file(ctx.host),
            }
        }
        ResourceKind::Vfio => Op::Vfio {
            settings: map_of(),
            persist: os_files::vfio_unit(ctx.host),
        },
        ResourceKind::CloudInit => cloud_init_op(ctx),
        // Synthetic kinds never carry settings; the reset is built by [`reset`].
        ResourceKind::Reboot | ResourceKind::Host => Op::AwaitOs { timeout_s: 0 },
    };
    Ok(op)
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The key of a kernel argument (`hugepages` of `hugepages=64`, `quiet` of `quiet`).
fn arg_key(arg: &str) -> &str {
    arg.split_once('=').map_or(arg, |(k, _)| k)
}

/// Kernel args as added and removed arguments: a desired argument missing from the current
/// command line is added; a current argument with the same key and another value is removed.
/// Arguments the spec does not mention are left alone.
fn kernel_args_change(want: &[String], have: &[String]) -> (Vec<String>, Vec<String>) {
    let add: Vec<String> = want.iter().filter(|a| !have.contains(a)).cloned().collect();
    let remove: Vec<String> = have
        .iter()
        .filter(|h| !want.contains(h) && want.iter().any(|w| arg_key(w) == arg_key(h)))
        .cloned()
        .collect();
    (add, remove)
}

fn allowed(types: &[String], t: &str) -> bool {
    types.is_empty() || types.iter().any(|x| x == t)
}

/// Power on or off with reset types the system allows.
fn power_op(state: &str, types: &[String]) -> Op {
    if state == "Off" {
        let graceful = allowed(types, "GracefulShutdown");
        let force = allowed(types, "ForceOff");
        let (reset_type, fallback) = match (graceful, force) {
            (true, true) => ("GracefulShutdown", Some("ForceOff".to_string())),
            (true, false) => ("GracefulShutdown", None),
            _ => ("ForceOff", None),
        };
        Op::Power {
            state: state.to_string(),
            reset_type: reset_type.to_string(),
            fallback,
            timeout_s: POWER_OFF_TIMEOUT_S,
        }
    } else {
        let reset_type = if allowed(types, "On") {
            "On"
        } else {
            "PushPowerButton"
        };
        Op::Power {
            state: state.to_string(),
            reset_type: reset_type.to_string(),
            fallback: None,
            timeout_s: RESET_TIMEOUT_S,
        }
    }
}

/// A restart of one system: graceful, forced after the timeout, with the types it allows.
fn restart(on: Controller, types: &[String], timeout_s: u64) -> ResetStep {
    let graceful = allowed(types, "GracefulRestart");
    let force = allowed(types, "ForceRestart");
    let (reset_type, fallback) = match (graceful, force) {
        (true, true) => ("GracefulRestart", Some("ForceRestart".to_string())),
        (true, false) => ("GracefulRestart", None),
        (false, true) => ("ForceRestart", None),
        // Neither listed: a power cycle is what is left.
        (false, false) if allowed(types, "PowerCycle") => ("PowerCycle", None),
        (false, false) => ("ForceRestart", None),
    };
    ResetStep {
        on,
        reset_type: reset_type.to_string(),
        fallback,
        timeout_s,
    }
}

/// The host's one coalesced reset. With a DPU mode change: the DPU is reset first, then the
/// host is power-cycled (a warm restart does not re-enumerate the DPU's PCIe functions);
/// where the BMC has no `PowerCycle` (HPE iLO, Lenovo XCC) it is `GracefulShutdown`
/// (`ForceOff` after the timeout), then `On`.
pub fn reset(observed: &ObservedHost, dpu_mode: bool, applies: Vec<String>) -> Op {
    let types_of = |kind: ResourceKind| -> Vec<String> {
        observed
            .of_kind(kind)
            .map(|o| o.capabilities.reset_types.clone())
            .unwrap_or_default()
    };
    let host_types = types_of(ResourceKind::Power);
    let mut sequence = Vec::new();
    if dpu_mode {
        let dpu_types = types_of(ResourceKind::DpuMode);
        sequence.push(restart(Controller::Dpu, &dpu_types, DPU_RESET_TIMEOUT_S));
        if allowed(&host_types, "PowerCycle") {
            sequence.push(ResetStep {
                on: Controller::Bmc,
                reset_type: "PowerCycle".into(),
                fallback: None,
                timeout_s: RESET_TIMEOUT_S,
            });
        } else {
            let (reset_type, fallback) = if allowed(&host_types, "GracefulShutdown") {
                ("GracefulShutdown", Some("ForceOff".to_string()))
            } else {
                ("ForceOff", None)
            };
            sequence.push(ResetStep {
                on: Controller::Bmc,
                reset_type: reset_type.into(),
                fallback,
                timeout_s: POWER_OFF_TIMEOUT_S,
            });
            sequence.push(ResetStep {
                on: Controller::Bmc,
                reset_type: "On".into(),
                fallback: None,
                timeout_s: RESET_TIMEOUT_S,
            });
        }
    } else {
        sequence.push(restart(Controller::Bmc, &host_types, RESET_TIMEOUT_S));
    }
    Op::Reset { sequence, applies }
}

/// The wait for the OS after the host's reset (a step of its own, at `host/<h>/reboot`).
pub fn await_os(host: &str) -> super::model::Step {
    super::model::Step {
        address: Address::new(host, ResourceKind::Reboot, None),
        kind: ResourceKind::Reboot,
        disruption: super::resource::Disruption::None,
        op: Op::AwaitOs {
            timeout_s: AWAIT_OS_TIMEOUT_S,
        },
        precondition: None,
    }
}

/// The nmstate document for one network resource: the interface as the spec declares it
/// (nmstate's names), or the routes / DNS section.
fn network_document(host: &Host, r: &Resource) -> Value {
    let net = host.settings.network.as_ref();
    match r.kind {
        ResourceKind::Routes => json!({
            "routes": net.and_then(|n| n.routes.as_ref()).and_then(|x| serde_json::to_value(x).ok())
        }),
        ResourceKind::Dns => json!({
            "dns-resolver": net
                .and_then(|n| n.dns_resolver.as_ref())
                .and_then(|x| serde_json::to_value(x).ok())
        }),
        _ => {
            let name = r.address.iface.as_deref().unwrap_or_default();
            let iface = net
                .and_then(|n| n.interfaces.iter().find(|i| i.name == name))
                .and_then(|i| serde_json::to_value(i).ok())
                .unwrap_or(Value::Null);
            json!({ "interfaces": [iface] })
        }
    }
}

/// The rendered write of network resource `r` through the backend the OS provider recorded
/// in the observation's `capabilities.writer`. An interface that did not exist when read
/// (observed `state: absent`, or nothing observed) is new: it is not reconfigured by name and
/// a rollback deletes it.
fn network_write(
    host: &Host,
    r: &Resource,
    obs: &Observation,
) -> Result<super::network::NetworkWrite, String> {
    use super::network::{NetworkBackend, ROLLBACK_TIMEOUT_S, render};
    let name = r.address.iface.as_deref().unwrap_or_default();
    let backend = obs
        .capabilities
        .writer
        .as_deref()
        .and_then(NetworkBackend::parse)
        .ok_or_else(|| {
            format!(
                "{}: no network backend was recorded when the host was read (writer {:?})",
                r.relative(),
                obs.capabilities.writer
            )
        })?;
    let net = host.settings.network.clone().unwrap_or_default();
    let new_iface = obs.current("state").and_then(Value::as_str) == Some("absent")
        || obs.values.values().all(|v| v.current.is_none());
    render(backend, &net, name, new_iface, ROLLBACK_TIMEOUT_S)
        .map_err(|e| format!("{}: the {} writer: {e}", r.relative(), backend.as_str()))
}

/// The rendered write of the `routes` or `dns` resource through the recorded backend
/// (`dns` also by the `resolver` the host was read with), see [`super::network::routes`].
fn routes_dns_write(
    host: &Host,
    r: &Resource,
    obs: &Observation,
) -> Result<super::network::NetworkWrite, String> {
    use super::network::NetworkBackend;
    use super::network::routes::{render_dns, render_routes};
    let backend = obs
        .capabilities
        .writer
        .as_deref()
        .and_then(NetworkBackend::parse)
        .ok_or_else(|| {
            format!(
                "{}: no network backend was found when the host was read, so nothing can write it",
                r.relative()
            )
        })?;
    let net = host.settings.network.clone().unwrap_or_default();
    let out = if r.kind == ResourceKind::Dns {
        let dns = net.dns_resolver.map(|d| d.config).unwrap_or_default();
        render_dns(
            backend,
            &dns,
            obs.current("resolver").and_then(Value::as_str),
        )
    } else {
        render_routes(backend, &net)
    };
    out.map_err(|e| format!("{}: the {} writer: {e}", r.relative(), backend.as_str()))
}

fn content_ref(name: &str, src: &CloudInitSource, files: &DataFiles) -> ContentRef {
    let (path, text): (String, Option<&str>) = match (&src.inline, &src.file) {
        (Some(t), _) => ("inline".to_string(), Some(t.as_str())),
        (None, Some(p)) => (p.clone(), files.get(p).map(|t| &**t)),
        (None, None) => ("none".to_string(), None),
    };
    ContentRef {
        name: name.to_string(),
        path,
        sha256: text.map(|t| super::value::sha256_hex(t.as_bytes())),
        bytes: text.map(|t| t.len() as u64),
    }
}

fn cloud_init_op(ctx: &Context<'_>) -> Op {
    let Some(ci) = ctx.host.settings.cloud_init.as_ref() else {
        return Op::CloudInit {
            documents: Vec::new(),
            delivery: None,
            instance_id: None,
        };
    };
    let documents: Vec<ContentRef> = [
        ("user-data", &ci.user_data),
        ("meta-data", &ci.meta_data),
        ("network-config", &ci.network_config),
    ]
    .into_iter()
    .filter_map(|(name, src)| src.as_ref().map(|s| content_ref(name, s, ctx.files)))
    .collect();
    let instance_id = ci.meta_data.is_none().then(|| {
        let digests: Vec<&str> = documents
            .iter()
            .map(|d| d.sha256.as_deref().unwrap_or("unreadable"))
            .collect();
        os_files::instance_id(&ctx.host.name, &digests)
    });
    Op::CloudInit {
        documents,
        instance_id,
        delivery: ci
            .delivery
            .as_ref()
            .and_then(|d| serde_json::to_value(d).ok())
            .and_then(|v| v.as_str().map(str::to_string)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_args_are_added_and_removed_by_key() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let change = kernel_args_change(
            &s(&["hugepages=64", "iommu=pt", "quiet"]),
            &s(&["quiet", "hugepages=32", "console=ttyS0"]),
        );
        assert_eq!(
            change,
            (s(&["hugepages=64", "iommu=pt"]), s(&["hugepages=32"]))
        );
    }

    #[test]
    fn resets_use_only_allowed_types() {
        let mut host = ObservedHost::new("a");
        let mut power = Observation::default();
        power.capabilities.reset_types =
            vec!["On".into(), "ForceOff".into(), "ForceRestart".into()];
        host.resources
            .insert(Address::new("a", ResourceKind::Power, None), Ok(power));
        let Op::Reset { sequence, .. } = reset(&host, false, vec!["bios".into()]) else {
            panic!("not a reset")
        };
        assert_eq!(sequence.len(), 1);
        assert_eq!(sequence[0].reset_type, "ForceRestart");
        assert_eq!(sequence[0].fallback, None);
        // A DPU mode change on a BMC without PowerCycle: DPU restart, then off and on.
        let Op::Reset { sequence, .. } = reset(&host, true, vec!["dpu/mode".into()]) else {
            panic!("not a reset")
        };
        let types: Vec<&str> = sequence.iter().map(|s| s.reset_type.as_str()).collect();
        assert_eq!(types, ["GracefulRestart", "ForceOff", "On"]);
        assert_eq!(sequence[0].on, Controller::Dpu);
    }
}

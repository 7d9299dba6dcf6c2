//! The Redfish provider: the first implementation of [`Provider`]. It reads a host's BMC and
//! its DPU's BMC (power, boot, BIOS current and staged values, DPU mode) and turns Redfish's
//! shapes into [`Observation`]s keyed by resource address, normalizing vendor spellings on
//! the way so that the planner compares with plain equality; and it carries out the Redfish
//! ops of a saved plan.
//!
//! Normalizations (the quirks stay here, not in the planner):
//! - an integer BIOS attribute sent as a string (`"4"`) matches the spec's integer `4`
//!   (BMCs disagree on how integer attributes are typed), see [`crate::plan::value::same_value`];
//! - `PoweringOn` counts as `On` and `PoweringOff` as `Off` (the transition is under way);
//! - a staged value equal to the current one stages nothing (HPE and Lenovo list every
//!   writable attribute in the settings object);
//! - the DPU mode comes from `Oem.Nvidia.Mode`, else the BIOS `NicMode` attribute
//!   (BlueField-2, and BlueField BMCs that report an empty mode).

use super::{
    BmcTarget, ClientOptions, DpuMode, ReadWant, RedfishClient, RedfishError, SystemState,
};
use crate::engine::event::BmcRole;
use crate::engine::provider::{ApplyError, EndpointRead, Provider, ProviderRead, StepOutcome};
use crate::engine::targets::HostTarget;
use crate::plan::address::Address;
use crate::plan::model::Step;
use crate::plan::observed::{Capabilities, Fingerprint, Observation, ObservedValue, ReadError};
use crate::plan::op::{Controller, Op, OpValue};
use crate::plan::resource::{Resource, ResourceKind};
use crate::plan::value::{same_value, sha256_json};
use crate::spec::Host;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The kinds the Redfish provider owns.
pub const KINDS: &[ResourceKind] = &[
    ResourceKind::Power,
    ResourceKind::Boot,
    ResourceKind::Bios,
    ResourceKind::DpuMode,
    ResourceKind::DpuBios,
];

/// Reads and writes hosts over Redfish, one client (one session) per BMC per call.
pub struct RedfishProvider {
    targets: BTreeMap<String, HostTarget>,
    client: ClientOptions,
    task_poll: std::time::Duration,
}

/// How often a reset's task monitor is polled by default.
pub const TASK_POLL: std::time::Duration = std::time::Duration::from_secs(2);

use crate::engine::provider::RESET_TIMEOUT_CODE;

impl RedfishProvider {
    /// A provider for `targets` (see [`crate::engine::targets::targets_for`]) with the client
    /// options of the run (timeouts, retries, in-flight limits).
    pub fn new(targets: Vec<HostTarget>, client: ClientOptions) -> Self {
        Self {
            targets: targets.into_iter().map(|t| (t.name.clone(), t)).collect(),
            client,
            task_poll: TASK_POLL,
        }
    }

    /// The same provider polling reset tasks every `every` (default [`TASK_POLL`]; tests
    /// against a fast simulator use milliseconds). Polls sleep on tokio's clock.
    pub fn with_task_poll(mut self, every: std::time::Duration) -> Self {
        self.task_poll = every.max(std::time::Duration::from_millis(1));
        self
    }
}

/// The [`ReadError`] for a Redfish failure: the endpoint, the message, the code and the help.
pub fn read_error(target: &BmcTarget, e: &RedfishError) -> ReadError {
    use miette::Diagnostic;
    ReadError {
        endpoint: target.endpoint.to_string(),
        message: e.to_string(),
        code: e.code_str().to_string(),
        help: e
            .help()
            .map(|h| h.to_string())
            .unwrap_or_else(|| "check that the BMC is reachable and retry".into()),
    }
}

async fn read_one(
    target: &BmcTarget,
    want: ReadWant,
    opts: &ClientOptions,
) -> (Result<SystemState, ReadError>, u64) {
    let client = match RedfishClient::new(target.clone(), opts.clone()) {
        Ok(c) => c,
        Err(e) => return (Err(read_error(target, &e)), 0),
    };
    let result = client.read_system(want).await;
    // Explicit logout: session exhaustion is the most common BMC failure.
    let _ = client.logout().await;
    let requests = client.request_count();
    (result.map_err(|e| read_error(target, &e)), requests)
}

/// Spells `observed` as the spec spells `desired` when they are the same value.
fn normalize(observed: Option<Value>, desired: Option<&Value>) -> Option<Value> {
    match (observed, desired) {
        (Some(o), Some(d)) if same_value(&o, d) => Some(d.clone()),
        (o, _) => o,
    }
}

fn fingerprint(etag: Option<String>, settings_etag: Option<String>, v: &Value) -> Fingerprint {
    Fingerprint {
        etag: etag.filter(|e| !e.is_empty()),
        settings_etag: settings_etag.filter(|e| !e.is_empty()),
        sha256: sha256_json(v),
    }
}

/// Builds an observation from (key, current, pending) triples, normalized against the
/// desired settings of `resource` and with staged values equal to the current ones dropped.
fn observation(
    resource: Option<&Resource>,
    values: impl IntoIterator<Item = (String, Option<Value>, Option<Value>)>,
    fingerprint: Fingerprint,
) -> Observation {
    let desired = |k: &str| resource.and_then(|r| r.settings.get(k)).map(|s| &s.value);
    let values = values
        .into_iter()
        .map(|(k, current, pending)| {
            let current = normalize(current, desired(&k));
            let pending = normalize(pending, desired(&k)).filter(|p| current.as_ref() != Some(p));
            (k, ObservedValue { current, pending })
        })
        .collect();
    Observation {
        values,
        fingerprint,
        ..Observation::default()
    }
}

fn bios_observation(resource: Option<&Resource>, state: &SystemState) -> Option<Observation> {
    let bios = state.bios.as_ref()?;
    let keys: std::collections::BTreeSet<&String> =
        bios.attributes.keys().chain(bios.pending.keys()).collect();
    let mut obs = observation(
        resource,
        keys.into_iter().map(|k| {
            (
                k.clone(),
                bios.attributes.get(k).cloned(),
                bios.pending.get(k).cloned(),
            )
        }),
        fingerprint(
            bios.etag.clone(),
            bios.settings_etag.clone(),
            &json!({ "current": bios.attributes, "pending": bios.pending }),
        ),
    );
    obs.capabilities.apply_times = bios.supported_apply_times.clone();
    obs.pending_unknown = bios.pending_unknown.clone();
    Some(obs)
}

fn power_label(s: &str) -> &str {
    match s {
        "PoweringOn" => "On",
        "PoweringOff" => "Off",
        other => other,
    }
}

fn spec_mode(m: Option<DpuMode>) -> Option<Value> {
    m.map(|m| match m {
        DpuMode::Dpu => json!("dpu"),
        DpuMode::Nic => json!("nic"),
    })
}

impl RedfishProvider {
    async fn read_host(&self, host: &Host, resources: &[Resource]) -> ProviderRead {
        let mut out = ProviderRead::default();
        let name = host.name.as_str();
        let find = |kind: ResourceKind| resources.iter().find(|r| r.kind == kind);
        let addr = |kind: ResourceKind| Address::new(name, kind, None);
        let Some(target) = self.targets.get(name) else {
            let e = ReadError {
                endpoint: String::new(),
                message: format!("{name}: no Redfish target was built for this host"),
                code: "bmfleet::redfish::no_target".into(),
                help: "check that the host has a bmc section in its spec".into(),
            };
            out.resources
                .insert(addr(ResourceKind::Power), Err(e.clone()));
            for r in resources {
                out.resources.insert(r.address.clone(), Err(e.clone()));
            }
            return out;
        };
        let bmc_fut = async {
            match &target.bmc {
                Err(e) => (Err(e.clone()), 0),
                Ok(t) => {
                    let want = ReadWant {
                        bios: target.bios,
                        ..ReadWant::default()
                    };
                    read_one(t, want, &self.client).await
                }
            }
        };
        let dpu_fut = async {
            match &target.dpu {
                None => None,
                Some(Err(e)) => Some((Err(e.clone()), 0)),
                Some(Ok(t)) => {
                    let want = ReadWant {
                        bios: target.dpu_bios,
                        dpu_mode: true,
                        ..ReadWant::default()
                    };
                    Some(read_one(t, want, &self.client).await)
                }
            }
        };
        let ((bmc, bmc_requests), dpu) = futures::join!(bmc_fut, dpu_fut);
        out.endpoints.push(EndpointRead {
            role: BmcRole::Bmc,
            ok: bmc.is_ok(),
            requests: bmc_requests,
        });
        match bmc {
            Err(e) => {
                out.resources
                    .insert(addr(ResourceKind::Power), Err(e.clone()));
                for r in resources
                    .iter()
                    .filter(|r| matches!(r.kind, ResourceKind::Boot | ResourceKind::Bios))
                {
                    out.resources.insert(r.address.clone(), Err(e.clone()));
                }
            }
            Ok(s) => {
                let raw = s.power_state.clone();
                let mut power = observation(
                    find(ResourceKind::Power),
                    [(
                        "PowerState".to_string(),
                        raw.as_deref().map(|p| json!(power_label(p))),
                        None,
                    )],
                    fingerprint(s.etag.clone(), None, &json!({ "PowerState": raw })),
                );
                power.capabilities = Capabilities {
                    reset_types: s.reset_types.clone(),
                    ..Capabilities::default()
                };
                out.resources.insert(addr(ResourceKind::Power), Ok(power));
                if let Some(r) = find(ResourceKind::Boot) {
                    let b = &s.boot;
                    let triples = [
                        ("BootSourceOverrideMode", &b.override_mode),
                        ("BootSourceOverrideTarget", &b.override_target),
                        ("BootSourceOverrideEnabled", &b.override_enabled),
                    ];
                    let fp = fingerprint(
                        s.etag.clone(),
                        None,
                        &json!({
                            "BootSourceOverrideMode": b.override_mode,
                            "BootSourceOverrideTarget": b.override_target,
                            "BootSourceOverrideEnabled": b.override_enabled,
                        }),
                    );
                    let obs = observation(
                        Some(r),
                        triples
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v.as_ref().map(|x| json!(x)), None)),
                        fp,
                    );
                    out.resources.insert(r.address.clone(), Ok(obs));
                }
                if let Some(r) = find(ResourceKind::Bios) {
                    match bios_observation(Some(r), &s) {
                        Some(obs) => {
                            out.resources.insert(r.address.clone(), Ok(obs));
                        }
                        None => {
                            out.not_observed.insert(
                                r.address.clone(),
                                "the BMC returned no Bios resource".into(),
                            );
                        }
                    }
                }
            }
        }
        let dpu_resources: Vec<&Resource> = resources
            .iter()
            .filter(|r| matches!(r.kind, ResourceKind::DpuMode | ResourceKind::DpuBios))
            .collect();
        match dpu {
            None => {
                for r in dpu_resources {
                    out.not_observed
                        .insert(r.address.clone(), "the DPU's BMC was not read".into());
                }
            }
            Some((result, requests)) => {
                out.endpoints.push(EndpointRead {
                    role: BmcRole::Dpu,
                    ok: result.is_ok(),
                    requests,
                });
                match result {
                    Err(e) => {
                        for r in dpu_resources {
                            out.resources.insert(r.address.clone(), Err(e.clone()));
                        }
                    }
                    Ok(s) => self.dpu_observations(&s, name, resources, &mut out),
                }
            }
        }
        out
    }

    fn dpu_observations(
        &self,
        s: &SystemState,
        name: &str,
        resources: &[Resource],
        out: &mut ProviderRead,
    ) {
        let find = |kind: ResourceKind| resources.iter().find(|r| r.kind == kind);
        let nic_mode = |m: Option<&Value>| m.and_then(Value::as_str).and_then(DpuMode::parse);
        let bios = s.bios.as_ref();
        // The mode in effect: Oem.Nvidia.Mode when it parses, else the BIOS NicMode.
        let current = s
            .dpu_mode
            .as_ref()
            .and_then(|m| DpuMode::parse(&m.raw))
            .or_else(|| nic_mode(bios.and_then(|b| b.attributes.get("NicMode"))));
        // BlueField-2 stages a mode change in the NicMode BIOS attribute.
        let pending = nic_mode(bios.and_then(|b| b.pending.get("NicMode")));
        let mut mode = observation(
            find(ResourceKind::DpuMode),
            [("mode".to_string(), spec_mode(current), spec_mode(pending))],
            fingerprint(
                s.etag.clone(),
                None,
                &json!({ "mode": spec_mode(current), "pending_mode": spec_mode(pending) }),
            ),
        );
        mode.capabilities.reset_types = s.reset_types.clone();
        // Always reported with a DPU: its reset types decide the DPU reset.
        out.resources
            .insert(Address::new(name, ResourceKind::DpuMode, None), Ok(mode));
        if let Some(r) = find(ResourceKind::DpuBios) {
            match bios_observation(Some(r), s) {
                Some(obs) => {
                    out.resources.insert(r.address.clone(), Ok(obs));
                }
                None => {
                    out.not_observed.insert(
                        r.address.clone(),
                        "the DPU's BMC returned no Bios resource".into(),
                    );
                }
            }
        }
    }

    async fn apply_step(&self, host: &Host, step: &Step) -> Result<StepOutcome, ApplyError> {
        let fail = |endpoint: String, message: String, code: &str, help: &str| ApplyError {
            error: ReadError {
                endpoint,
                message,
                code: code.to_string(),
                help: help.to_string(),
            },
            outcome_unknown: false,
        };
        let target = self.targets.get(&host.name).ok_or_else(|| {
            fail(
                String::new(),
                format!("{}: no Redfish target was built for this host", host.name),
                "bmfleet::redfish::no_target",
                "check that the host has a bmc section in its spec",
            )
        })?;
        if let Op::Reset { sequence, .. } = &step.op {
            let mut outcome = StepOutcome::default();
            for rs in sequence {
                let o = self.reset_one(target, &host.name, rs).await?;
                outcome.requests += o.requests;
                if !outcome.detail.is_empty() {
                    outcome.detail.push_str("; ");
                }
                outcome.detail.push_str(&o.detail);
            }
            return Ok(outcome);
        }
        let on = match &step.op {
            Op::BiosStage { on, .. } => *on,
            Op::DpuMode { .. } => Controller::Dpu,
            _ => Controller::Bmc,
        };
        let bmc = Self::controller(target, &host.name, on)?;
        let client =
            RedfishClient::new(bmc.clone(), self.client.clone()).map_err(|e| ApplyError {
                error: read_error(bmc, &e),
                outcome_unknown: false,
            })?;
        let result = self.write(&client, step).await;
        let _ = client.logout().await;
        let requests = client.request_count();
        match result {
            Ok(detail) => Ok(StepOutcome { requests, detail }),
            Err(e) => Err(ApplyError {
                error: read_error(bmc, &e),
                outcome_unknown: matches!(
                    e,
                    RedfishError::Timeout { .. } | RedfishError::WriteOutcomeUnknown { .. }
                ),
            }),
        }
    }

    /// The target of controller `on` of `host`, or why it cannot be written.
    fn controller<'t>(
        target: &'t HostTarget,
        host: &str,
        on: Controller,
    ) -> Result<&'t BmcTarget, ApplyError> {
        let bmc = match on {
            Controller::Bmc => Some(&target.bmc),
            Controller::Dpu => target.dpu.as_ref(),
        };
        match bmc {
            Some(Ok(t)) => Ok(t),
            Some(Err(e)) => Err(ApplyError {
                error: e.clone(),
                outcome_unknown: false,
            }),
            None => Err(ApplyError {
                error: ReadError {
                    endpoint: String::new(),
                    message: format!("{host}: the spec has no DPU BMC"),
                    code: "bmfleet::redfish::no_target".into(),
                    help: "add dpu.bmc to the host's spec".into(),
                },
                outcome_unknown: false,
            }),
        }
    }

    /// Sends one reset of a reset sequence to the controller it names and follows its task
    /// monitor (when the BMC answers 202 with one) until the task ends or `timeout_s` has
    /// passed. Sends exactly the step's `reset_type`; the fallback is the executor's.
    ///
    /// # Guarantees
    /// One `ComputerSystem.Reset` POST (never resent once it may have reached the BMC).
    /// A task that ends in `Exception`, `Killed` or `Cancelled` fails the step with its
    /// messages.
    ///
    /// # Idempotency
    /// Not idempotent: every accepted call resets the system again.
    ///
    /// # Caveats
    /// A reset that answers 200/204 without a task is reported done at once; the executor
    /// waits for `PowerState` itself. A task still running after `timeout_s` is an error with
    /// [`RESET_TIMEOUT_CODE`] and `outcome_unknown` set (the system may still be resetting).
    async fn reset_one(
        &self,
        target: &HostTarget,
        host: &str,
        rs: &crate::plan::op::ResetStep,
    ) -> Result<StepOutcome, ApplyError> {
        use super::ResetType;
        let bmc = Self::controller(target, host, rs.on)?;
        let fail = |e: &RedfishError, unknown: bool| ApplyError {
            error: read_error(bmc, e),
            outcome_unknown: unknown,
        };
        let client =
            RedfishClient::new(bmc.clone(), self.client.clone()).map_err(|e| fail(&e, false))?;
        let reset_type = [
            ResetType::On,
            ResetType::ForceOff,
            ResetType::GracefulShutdown,
            ResetType::GracefulRestart,
            ResetType::ForceRestart,
            ResetType::Nmi,
            ResetType::ForceOn,
            ResetType::PushPowerButton,
            ResetType::PowerCycle,
        ]
        .into_iter()
        .find(|x| x.as_redfish() == rs.reset_type);
        let Some(reset_type) = reset_type else {
            return Err(ApplyError {
                error: ReadError {
                    endpoint: bmc.endpoint.to_string(),
                    message: format!("{}: unknown ResetType {}", bmc.label, rs.reset_type),
                    code: "bmfleet::redfish::unsupported".into(),
                    help: "make the plan again with this bmfleet version".into(),
                },
                outcome_unknown: false,
            });
        };
        let result = async {
            let task = client.reset(reset_type).await.map_err(|e| {
                fail(
                    &e,
                    e.code_str() == "bmfleet::redfish::write_outcome_unknown",
                )
            })?;
            let Some(task) = task else {
                return Ok(format!("{} {} accepted", bmc.label, rs.reset_type));
            };
            let deadline =
                tokio::time::Instant::now() + std::time::Duration::from_secs(rs.timeout_s);
            loop {
                let progress = client.poll_task(&task).await.map_err(|e| fail(&e, true))?;
                match progress.state {
                    super::TaskState::Failed | super::TaskState::Cancelled => {
                        let messages: Vec<String> = progress
                            .messages
                            .iter()
                            .filter_map(|m| m.message.clone().or_else(|| m.message_id.clone()))
                            .collect();
                        return Err(ApplyError {
                            error: ReadError {
                                endpoint: bmc.endpoint.to_string(),
                                message: format!(
                                    "{}: {} task {} ended {:?}: {}",
                                    bmc.label,
                                    rs.reset_type,
                                    task.monitor,
                                    progress.state,
                                    if messages.is_empty() {
                                        "no message".to_string()
                                    } else {
                                        messages.join("; ")
                                    }
                                ),
                                code: "bmfleet::redfish::task_failed".into(),
                                help: "read the BMC's log for this task; the host was not verified"
                                    .into(),
                            },
                            outcome_unknown: true,
                        });
                    }
                    _ if progress.finished || progress.state == super::TaskState::Completed => {
                        return Ok(format!(
                            "{} {} completed (task {})",
                            bmc.label, rs.reset_type, task.monitor
                        ));
                    }
                    _ => {}
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(ApplyError {
                        error: ReadError {
                            endpoint: bmc.endpoint.to_string(),
                            message: format!(
                                "{}: {} task {} did not finish within {} s",
                                bmc.label, rs.reset_type, task.monitor, rs.timeout_s
                            ),
                            code: RESET_TIMEOUT_CODE.into(),
                            help: "check the host's console; the reset may still be running".into(),
                        },
                        outcome_unknown: true,
                    });
                }
                tokio::time::sleep(self.task_poll).await;
            }
        }
        .await;
        let _ = client.logout().await;
        let requests = client.request_count();
        result.map(|detail| StepOutcome { requests, detail })
    }

    async fn write(&self, client: &RedfishClient, step: &Step) -> Result<String, RedfishError> {
        use super::{ApplyTime, BootOverrideEnabled, ResetType};
        let unsupported = |what: String| RedfishError::Unsupported {
            host: client.label().to_string(),
            url: String::new(),
            what,
            help: "make the plan again with this bmfleet version".into(),
        };
        match &step.op {
            Op::BiosStage {
                attributes,
                apply_time,
                ..
            } => {
                let mut attrs = BTreeMap::new();
                for (k, v) in attributes {
                    match v {
                        OpValue::Plain(v) => {
                            attrs.insert(k.clone(), v.clone());
                        }
                        OpValue::Secret(r) => {
                            return Err(unsupported(format!(
                                "writing the secret BIOS attribute {k} ({}) is done by `bmfleet apply`, which resolves the reference",
                                r.secret
                            )));
                        }
                    }
                }
                // Read first so the client knows the settings object and its ETag.
                client
                    .read_system(ReadWant {
                        bios: true,
                        ..ReadWant::default()
                    })
                    .await?;
                let at = apply_time.as_deref().and_then(|t| {
                    [
                        ApplyTime::Immediate,
                        ApplyTime::OnReset,
                        ApplyTime::AtMaintenanceWindowStart,
                        ApplyTime::InMaintenanceWindowOnReset,
                    ]
                    .into_iter()
                    .find(|x| x.as_redfish() == t)
                });
                let o = client.patch_bios_settings(&attrs, at).await?;
                Ok(format!("HTTP {}", o.status))
            }
            Op::BootOverride {
                mode,
                target,
                enabled,
            } => {
                let enabled = match enabled.as_deref() {
                    Some("Continuous") => BootOverrideEnabled::Continuous,
                    Some("Disabled") => BootOverrideEnabled::Disabled,
                    _ => BootOverrideEnabled::Once,
                };
                let target = target.as_deref().unwrap_or("None");
                let o = client
                    .set_boot_override(target, enabled, mode.as_deref())
                    .await?;
                Ok(format!("HTTP {}", o.status))
            }
            Op::Power { reset_type, .. } => {
                let t = [
                    ResetType::On,
                    ResetType::ForceOff,
                    ResetType::GracefulShutdown,
                    ResetType::GracefulRestart,
                    ResetType::ForceRestart,
                    ResetType::Nmi,
                    ResetType::ForceOn,
                    ResetType::PushPowerButton,
                    ResetType::PowerCycle,
                ]
                .into_iter()
                .find(|x| x.as_redfish() == reset_type)
                .ok_or_else(|| unsupported(format!("ResetType {reset_type}")))?;
                client.reset(t).await?;
                Ok(format!("reset {reset_type} accepted"))
            }
            Op::DpuMode { mode } => {
                let m =
                    DpuMode::parse(mode).ok_or_else(|| unsupported(format!("DPU mode {mode}")))?;
                let o = client.set_dpu_mode(m).await?;
                Ok(format!("HTTP {}", o.status))
            }
            other => Err(unsupported(format!(
                "the {} op is carried out by the executor (`bmfleet apply`), not by one Redfish write",
                serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default()
            ))),
        }
    }
}

impl Provider for RedfishProvider {
    fn name(&self) -> &'static str {
        "redfish"
    }

    fn kinds(&self) -> &'static [ResourceKind] {
        KINDS
    }

    fn read<'a>(
        &'a self,
        host: &'a Host,
        resources: &'a [Resource],
    ) -> BoxFuture<'a, ProviderRead> {
        Box::pin(self.read_host(host, resources))
    }

    /// Carries out a Redfish op: `bios-stage` (PATCH of the settings object with the
    /// observed ETag as `If-Match` and the op's apply time), `boot-override`, `power` (the
    /// op's `ResetType`), `dpu-mode`, and `reset`: each `ResetType` of the sequence, in
    /// order, to the controller it names, following each task monitor until the task ends
    /// (bounded by the reset's `timeout_s`; [`RESET_TIMEOUT_CODE`] when it does not). The
    /// executor (`engine::execute`) sends a reset sequence one reset at a time, waits for
    /// `PowerState` between them and sends fallbacks; this provider never chooses one.
    ///
    /// # Guarantees
    /// One write per call, to the controller the op names; nothing else is written.
    ///
    /// # Idempotency
    /// Staging or setting the same values again is harmless; a reset is not idempotent.
    ///
    /// # Caveats
    /// A 2xx is not proof: iLO accepts values it will not apply, iDRAC leaves values
    /// pending without a job. The executor re-reads to verify.
    fn apply<'a>(
        &'a self,
        host: &'a Host,
        step: &'a Step,
    ) -> BoxFuture<'a, Result<StepOutcome, ApplyError>> {
        Box::pin(self.apply_step(host, step))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn observed_values_take_the_spec_spelling_and_stale_staging_is_dropped() {
        let obs = observation(
            None,
            [("X".to_string(), Some(json!("4")), Some(json!("4")))],
            Fingerprint::default(),
        );
        assert_eq!(obs.values["X"].pending, None);
    }

    #[test]
    fn integer_attributes_take_the_spec_spelling_but_booleans_do_not() {
        // iDRAC reports MemFrequency as "3200" where the spec (and other BMCs) say 3200.
        assert_eq!(
            normalize(Some(json!("3200")), Some(&json!(3200))),
            Some(json!(3200))
        );
        assert_eq!(
            normalize(Some(json!(4)), Some(&json!("4"))),
            Some(json!("4"))
        );
        // A boolean is not an enumeration string: that difference is real drift.
        assert_eq!(
            normalize(Some(json!("Enabled")), Some(&json!(true))),
            Some(json!("Enabled"))
        );
        assert_eq!(
            normalize(Some(json!("04")), Some(&json!(4))),
            Some(json!("04"))
        );
        assert_eq!(normalize(None, Some(&json!(4))), None);
    }

    #[test]
    fn a_power_transition_counts_as_its_end_state() {
        assert_eq!(power_label("PoweringOn"), "On");
        assert_eq!(power_label("PoweringOff"), "Off");
        assert_eq!(power_label("Paused"), "Paused");
    }

    #[test]
    fn an_unreadable_settings_object_leaves_current_values_and_marks_pending_unknown() {
        let state = SystemState {
            bios: Some(super::super::BiosState {
                attributes: [("LogicalProc".to_string(), json!("Enabled"))].into(),
                pending_unknown: Some("HTTP 403 on /redfish/v1/Systems/1/Bios/Settings".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let obs = bios_observation(None, &state).unwrap();
        assert_eq!(obs.current("LogicalProc"), Some(&json!("Enabled")));
        assert_eq!(
            obs.pending_unknown.as_deref(),
            Some("HTTP 403 on /redfish/v1/Systems/1/Bios/Settings")
        );
    }
}

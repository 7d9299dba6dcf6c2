//! Writes and task polling: conditional PATCH with the ETag fallbacks real BMCs need, POST
//! actions, BIOS settings, boot override, reset, BlueField DPU mode.
//!
//! Sources: DSP0266 §8.6 "PATCH (update)" and §8.2.4 `If-Match` (412/428), §9.5 "Actions",
//! §9.9 "Settings resource" (`@Redfish.SettingsApplyTime`), §12.2 "Asynchronous operations"
//! (202 + `Location` task monitor); sushy's ETag strategy (`sushy/connector.py`); iDRAC
//! behaviour (no BIOS job is created without `@Redfish.SettingsApplyTime`); NVIDIA BlueField
//! BMC (`Oem/Nvidia/Actions/Mode.Set`).

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{RedfishClient, Req, lock};
use super::error::{ExtendedMessage, RedfishError};
use super::model::{Bios, ComputerSystem, DellJob, Job, NvidiaComputerSystem, Task};
use super::read::DpuMode;

/// When BIOS settings take effect (`@Redfish.SettingsApplyTime.ApplyTime`, Settings schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyTime {
    /// Apply now (rare for BIOS).
    Immediate,
    /// Apply at the next reset (the usual BIOS case; iDRAC needs it to create the job).
    OnReset,
    /// At the start of the maintenance window.
    AtMaintenanceWindowStart,
    /// At a reset within the maintenance window.
    InMaintenanceWindowOnReset,
}

impl ApplyTime {
    /// The Redfish value, e.g. `OnReset`.
    pub fn as_redfish(self) -> &'static str {
        match self {
            Self::Immediate => "Immediate",
            Self::OnReset => "OnReset",
            Self::AtMaintenanceWindowStart => "AtMaintenanceWindowStart",
            Self::InMaintenanceWindowOnReset => "InMaintenanceWindowOnReset",
        }
    }
}

/// `BootSourceOverrideEnabled` (ComputerSystem `Boot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootOverrideEnabled {
    /// No override.
    Disabled,
    /// Override the next boot only.
    Once,
    /// Override every boot.
    Continuous,
}

impl BootOverrideEnabled {
    /// The Redfish value.
    pub fn as_redfish(self) -> &'static str {
        match self {
            Self::Disabled => "Disabled",
            Self::Once => "Once",
            Self::Continuous => "Continuous",
        }
    }
}

/// `ResetType` of `#ComputerSystem.Reset` (Resource schema `ResetType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetType {
    /// Power on.
    On,
    /// Immediate power off.
    ForceOff,
    /// OS shutdown.
    GracefulShutdown,
    /// OS restart.
    GracefulRestart,
    /// Immediate restart.
    ForceRestart,
    /// Non-maskable interrupt.
    Nmi,
    /// Immediate power on.
    ForceOn,
    /// Press the power button.
    PushPowerButton,
    /// Power off then on.
    PowerCycle,
}

impl ResetType {
    /// The Redfish value, e.g. `GracefulRestart`.
    pub fn as_redfish(self) -> &'static str {
        match self {
            Self::On => "On",
            Self::ForceOff => "ForceOff",
            Self::GracefulShutdown => "GracefulShutdown",
            Self::GracefulRestart => "GracefulRestart",
            Self::ForceRestart => "ForceRestart",
            Self::Nmi => "Nmi",
            Self::ForceOn => "ForceOn",
            Self::PushPowerButton => "PushPowerButton",
            Self::PowerCycle => "PowerCycle",
        }
    }
}

/// An asynchronous operation to poll (DSP0266 §12.2): the task monitor from the `Location`
/// header of a 202, and the Task resource if the body named one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    /// Task monitor path (or a Task/Job path when that is all the BMC gave).
    pub monitor: String,
    /// `@odata.id` of the Task resource from the 202 body, if any.
    pub task_path: Option<String>,
}

/// Task state, normalized from `TaskState` (Task schema), `JobState` (Job schema) or the
/// iDRAC `DellJob.JobState`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// `New`, `Pending`, `Starting`, or iDRAC `Scheduled`/`Scheduling`.
    Pending,
    /// `Running`, `Stopping`, `Cancelling`, `Service`, or iDRAC `Downloading`...
    Running,
    /// `Suspended`, `Interrupted` or `UserIntervention`: waiting for something.
    Suspended,
    /// `Completed`.
    Completed,
    /// `Exception`, `Killed`, iDRAC `Failed`/`CompletedWithErrors`.
    Failed,
    /// `Cancelled`.
    Cancelled,
    /// A value bmfleet does not know (kept verbatim).
    Unknown(String),
}

impl TaskState {
    /// Normalizes a Task/Job/DellJob state string.
    pub fn parse(raw: &str) -> Self {
        match raw {
            "New" | "Pending" | "Starting" | "Scheduled" | "Scheduling" => Self::Pending,
            "Running" | "Stopping" | "Cancelling" | "Service" | "Continue" | "Validating"
            | "Downloading" | "Downloaded" | "Waiting" | "ReadyForExecution" => Self::Running,
            "Suspended" | "Interrupted" | "UserIntervention" | "Paused" => Self::Suspended,
            "Completed" => Self::Completed,
            "Exception" | "Killed" | "Failed" | "CompletedWithErrors" => Self::Failed,
            "Cancelled" | "Canceled" => Self::Cancelled,
            other => Self::Unknown(other.to_string()),
        }
    }

    /// True for states that will not change any more.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// Progress of a task, as returned by [`RedfishClient::poll_task`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskProgress {
    /// Normalized state.
    pub state: TaskState,
    /// `TaskStatus`/`JobStatus`: `OK`, `Warning`, `Critical`.
    pub status: Option<String>,
    /// `PercentComplete` (0..=100).
    pub percent_complete: Option<i64>,
    /// `Messages`.
    pub messages: Vec<ExtendedMessage>,
    /// True when the operation finished (final state, or the monitor returned the result).
    pub finished: bool,
}

/// The result of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// HTTP status of the successful answer (200, 202 or 204).
    pub status: u16,
    /// New `ETag` of the resource, if the BMC returned one.
    pub etag: Option<String>,
    /// Task to poll when the BMC answered 202 with a `Location`.
    pub task: Option<TaskRef>,
}

/// The `If-Match` values to try in turn, per sushy's strategy: as read; for a weak ETag
/// (`W/"x"`) then its strong form (`"x"`) then none; for a bare token (not quoted, a vendor
/// quirk) its quoted form then none. An empty ETag (`""`, `W/""`) means no `If-Match`.
pub fn if_match_candidates(etag: Option<&str>) -> Vec<Option<String>> {
    let Some(raw) = etag.map(str::trim).filter(|e| !e.is_empty()) else {
        return vec![None];
    };
    let (weak, opaque) = match raw.strip_prefix("W/").or_else(|| raw.strip_prefix("w/")) {
        Some(rest) => (true, rest.trim()),
        None => (false, raw),
    };
    let quoted = opaque.len() >= 2 && opaque.starts_with('"') && opaque.ends_with('"');
    let inner = if quoted {
        &opaque[1..opaque.len() - 1]
    } else {
        opaque
    };
    if inner.is_empty() {
        return vec![None];
    }
    match (weak, quoted) {
        (false, true) => vec![Some(raw.to_string())],
        (true, _) => vec![
            Some(format!("W/\"{inner}\"")),
            Some(format!("\"{inner}\"")),
            None,
        ],
        (false, false) => vec![Some(format!("\"{inner}\"")), None],
    }
}

impl RedfishClient {
    /// `PATCH path` with `body`, sending `If-Match: etag` when given (DSP0266 §8.6).
    ///
    /// ETag handling for vendor quirks: an empty ETag sends no `If-Match`; on 412 with a weak
    /// (or unquoted) ETag, retries once with the strong form and then without `If-Match`
    /// (sushy's strategy, for BMCs that compare weak ETags strictly); on 428 (If-Match
    /// required) re-GETs the resource and retries once with its ETag. The new ETag is
    /// recorded (see [`RedfishClient::etag_of`]).
    ///
    /// # Errors
    /// [`RedfishError::Precondition`] when the ETag does not match after the fallbacks (the
    /// resource changed: re-read it); [`RedfishError::Unauthorized`],
    /// [`RedfishError::NotFound`], [`RedfishError::HttpStatus`] (with the BMC's MessageIds,
    /// e.g. `PropertyValueNotInList`), and transport errors.
    pub async fn patch(
        &self,
        path: &str,
        body: &Value,
        etag: Option<&str>,
    ) -> Result<WriteOutcome, RedfishError> {
        let url = self.link_url(path)?;
        let mut candidates = if_match_candidates(etag);
        let mut index = 0;
        let mut refetched = false;
        loop {
            let if_match = candidates.get(index).cloned().flatten();
            let resp = self
                .request(Req {
                    method: Method::PATCH,
                    url: url.clone(),
                    body: Some(body),
                    if_match: if_match.as_deref(),
                })
                .await?;
            match resp.status.as_u16() {
                200..=299 => {
                    let etag = resp.etag();
                    self.remember_etag(&url, etag.clone());
                    return Ok(WriteOutcome {
                        status: resp.status.as_u16(),
                        task: self.task_ref(&resp),
                        etag,
                    });
                }
                412 if index + 1 < candidates.len() => {
                    tracing::warn!(host = %self.label, url = %url, if_match = ?if_match,
                        "412 Precondition Failed; retrying with the next If-Match form");
                    index += 1;
                }
                428 if !refetched => {
                    refetched = true;
                    let (_, fresh) = self.get_url(url.clone(), true).await?;
                    if fresh.is_none() {
                        return Err(self.status_error(&resp));
                    }
                    tracing::info!(host = %self.label, url = %url, "428 Precondition Required; retrying with the ETag just read");
                    candidates = if_match_candidates(fresh.as_deref());
                    index = 0;
                }
                _ => return Err(self.status_error(&resp)),
            }
        }
    }

    /// `POST` of an action to its `target` (DSP0266 §9.5). Never sends `If-Match`. Retried
    /// only on connection failures and 503/429.
    ///
    /// # Errors
    /// [`RedfishError::HttpStatus`] (e.g. 400 `ActionParameterValueNotInList`),
    /// [`RedfishError::NotFound`], [`RedfishError::Unauthorized`], transport errors.
    pub async fn post_action(
        &self,
        target: &str,
        body: &Value,
    ) -> Result<WriteOutcome, RedfishError> {
        let url = self.link_url(target)?;
        let resp = self
            .request(Req {
                method: Method::POST,
                url,
                body: Some(body),
                if_match: None,
            })
            .await?;
        if !resp.status.is_success() {
            return Err(self.status_error(&resp));
        }
        Ok(WriteOutcome {
            status: resp.status.as_u16(),
            etag: resp.etag(),
            task: self.task_ref(&resp),
        })
    }

    /// A task reference from a 202 (`Location` task monitor, and the body's `@odata.id`
    /// when it is a Task); for other statuses, a `Location` naming a Task or Job
    /// (iDRAC answers a BIOS PATCH with a job URI).
    fn task_ref(&self, resp: &super::client::Resp) -> Option<TaskRef> {
        let body_id = resp
            .json_value(&self.label)
            .ok()
            .and_then(|v| {
                let is_task = v.get("TaskState").is_some() || v.get("JobState").is_some();
                is_task.then(|| v.get("@odata.id").and_then(Value::as_str).map(String::from))
            })
            .flatten();
        let location = resp.location();
        if resp.status.as_u16() == 202 {
            let monitor = location.or_else(|| body_id.clone())?;
            return Some(TaskRef {
                monitor,
                task_path: body_id,
            });
        }
        let loc = location?;
        (loc.contains("/Jobs/") || loc.contains("/Tasks/")).then_some(TaskRef {
            monitor: loc,
            task_path: None,
        })
    }

    /// The system, from the last read or by GET (1 request).
    async fn known_system(&self) -> Result<(String, ComputerSystem), RedfishError> {
        let cached = {
            let known = lock(&self.known);
            known.system_path.clone().zip(known.system.clone())
        };
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let root = self.service_root().await?;
        let path = self.system_path(&root).await?;
        let (system, _) = self.get::<ComputerSystem>(&path).await?;
        {
            let mut known = lock(&self.known);
            known.system_path = Some(path.clone());
            known.system = Some(system.clone());
        }
        Ok((path, system))
    }

    /// Writes BIOS attributes to the settings object (`@Redfish.Settings.SettingsObject`)
    /// with `PATCH {"Attributes": attrs, "@Redfish.SettingsApplyTime": {"ApplyTime": t}}`.
    ///
    /// The apply time is `apply_time` if given, else `OnReset` when the Bios lists it in
    /// `SupportedApplyTimes` (iDRAC creates no BIOS job without it), else omitted (BMCs that
    /// do not list apply times may reject the annotation). Uses the settings object's ETag
    /// from the last read as `If-Match`. Costs 1 request after a BIOS read, 2-3 otherwise.
    ///
    /// # Errors
    /// [`RedfishError::Unsupported`] when the Bios has no settings object or `apply_time` is
    /// not among `SupportedApplyTimes`; [`RedfishError::NotFound`] without a Bios link; and
    /// the errors of [`RedfishClient::patch`].
    pub async fn patch_bios_settings(
        &self,
        attrs: &BTreeMap<String, Value>,
        apply_time: Option<ApplyTime>,
    ) -> Result<WriteOutcome, RedfishError> {
        let cached = lock(&self.known).bios.clone();
        let meta = match cached {
            Some(m) => m,
            None => {
                let (sys_path, system) = self.known_system().await?;
                let Some(bios_path) = system.bios_path().map(String::from) else {
                    return Err(RedfishError::NotFound {
                        host: self.label.clone(),
                        url: sys_path,
                        what: "Bios link of the ComputerSystem".into(),
                        details: Box::default(),
                        help: format!("the BMC at {} does not expose BIOS settings", self.label),
                    });
                };
                let (bios, _) = self.get::<Bios>(&bios_path).await?;
                let settings = bios.redfish_settings.unwrap_or_default();
                let meta = super::client::BiosMeta {
                    path: bios_path,
                    settings_path: settings
                        .settings_object
                        .as_ref()
                        .and_then(|l| l.path())
                        .map(String::from),
                    supported_apply_times: settings.supported_apply_times,
                };
                lock(&self.known).bios = Some(meta.clone());
                meta
            }
        };
        let Some(settings_path) = meta.settings_path.clone() else {
            return Err(RedfishError::Unsupported {
                host: self.label.clone(),
                url: meta.path.clone(),
                what: "the Bios resource has no @Redfish.Settings.SettingsObject to write to"
                    .into(),
                help: "this BMC does not support BIOS changes over Redfish; update its firmware"
                    .into(),
            });
        };
        let supported = &meta.supported_apply_times;
        let chosen = match apply_time {
            Some(t) => {
                if !supported.is_empty() && !supported.iter().any(|s| s == t.as_redfish()) {
                    return Err(RedfishError::Unsupported {
                        host: self.label.clone(),
                        url: meta.path.clone(),
                        what: format!(
                            "apply time {} is not supported (SupportedApplyTimes: {})",
                            t.as_redfish(),
                            supported.join(", ")
                        ),
                        help: "choose one of the supported apply times".into(),
                    });
                }
                Some(t)
            }
            None if supported.iter().any(|s| s == "OnReset") => Some(ApplyTime::OnReset),
            None => None,
        };
        let mut body = json!({ "Attributes": attrs });
        if let (Some(t), Some(obj)) = (chosen, body.as_object_mut()) {
            obj.insert(
                "@Redfish.SettingsApplyTime".into(),
                json!({ "ApplyTime": t.as_redfish() }),
            );
        }
        let etag = self.etag_of(&settings_path);
        self.patch(&settings_path, &body, etag.as_deref()).await
    }

    /// Sets the boot override: `PATCH {"Boot": {"BootSourceOverrideTarget": target,
    /// "BootSourceOverrideEnabled": enabled, "BootSourceOverrideMode": mode}}` on the
    /// system, with its ETag from the last read. `target` and `mode` are checked against the
    /// allowable values when the BMC lists them.
    ///
    /// # Errors
    /// [`RedfishError::Unsupported`] for a value outside the advertised allowable values,
    /// and the errors of [`RedfishClient::patch`].
    pub async fn set_boot_override(
        &self,
        target: &str,
        enabled: BootOverrideEnabled,
        mode: Option<&str>,
    ) -> Result<WriteOutcome, RedfishError> {
        let (path, system) = self.known_system().await?;
        let boot = system.boot.unwrap_or_default();
        let check = |value: &str, allowed: &[String], what: &str| {
            if allowed.is_empty() || allowed.iter().any(|a| a == value) {
                Ok(())
            } else {
                Err(RedfishError::Unsupported {
                    host: self.label.clone(),
                    url: path.clone(),
                    what: format!(
                        "{what} {value} is not allowed (allowed: {})",
                        allowed.join(", ")
                    ),
                    help: format!("choose one of the values {} advertises", self.label),
                })
            }
        };
        check(
            target,
            &boot.boot_source_override_target_allowable,
            "BootSourceOverrideTarget",
        )?;
        check(
            enabled.as_redfish(),
            &boot.boot_source_override_enabled_allowable,
            "BootSourceOverrideEnabled",
        )?;
        let mut inner = json!({
            "BootSourceOverrideTarget": target,
            "BootSourceOverrideEnabled": enabled.as_redfish(),
        });
        if let Some(m) = mode {
            check(
                m,
                &boot.boot_source_override_mode_allowable,
                "BootSourceOverrideMode",
            )?;
            if let Some(obj) = inner.as_object_mut() {
                obj.insert("BootSourceOverrideMode".into(), json!(m));
            }
        }
        let etag = self.etag_of(&path);
        let outcome = self
            .patch(&path, &json!({ "Boot": inner }), etag.as_deref())
            .await?;
        // The cached Boot is stale now.
        lock(&self.known).system = None;
        Ok(outcome)
    }

    /// Resets the system: `POST {"ResetType": t}` to the `#ComputerSystem.Reset` target
    /// from `Actions` (no `If-Match`). Returns the task when the BMC answers 202 with a
    /// `Location` (otherwise the reset was accepted synchronously, 200/204).
    ///
    /// # Errors
    /// [`RedfishError::Unsupported`] when the system advertises no Reset action or not this
    /// `ResetType`; and the errors of [`RedfishClient::post_action`].
    pub async fn reset(&self, reset_type: ResetType) -> Result<Option<TaskRef>, RedfishError> {
        let (path, system) = self.known_system().await?;
        let action = system.reset_action();
        let Some(target) = action.as_ref().and_then(|a| a.target.clone()) else {
            return Err(RedfishError::Unsupported {
                host: self.label.clone(),
                url: path,
                what: "the ComputerSystem has no #ComputerSystem.Reset action".into(),
                help: "power-cycle this host another way (BMC UI, IPMI)".into(),
            });
        };
        let allowed = action
            .map(|a| a.allowable_values("ResetType"))
            .unwrap_or_default();
        if !allowed.is_empty() && !allowed.iter().any(|a| a == reset_type.as_redfish()) {
            return Err(RedfishError::Unsupported {
                host: self.label.clone(),
                url: target,
                what: format!(
                    "ResetType {} is not allowed (allowed: {})",
                    reset_type.as_redfish(),
                    allowed.join(", ")
                ),
                help: "choose one of the advertised reset types".into(),
            });
        }
        let outcome = self
            .post_action(&target, &json!({ "ResetType": reset_type.as_redfish() }))
            .await?;
        lock(&self.known).system = None;
        Ok(outcome.task)
    }

    /// Polls a task once (1 request; 2 when the monitor is gone and the Task is read).
    ///
    /// The task monitor answers 202 (body: the Task, or empty) while running and the
    /// operation's own result when done (DSP0266 §12.2); a body with `TaskState` (Task),
    /// `JobState` (Job, iDRAC DellJob) gives the state; any other 2xx means completed. If the
    /// monitor is gone (404) and the Task path is known, the Task is read instead.
    ///
    /// # Errors
    /// [`RedfishError::NotFound`] when neither the monitor nor the Task exist,
    /// [`RedfishError::Parse`], [`RedfishError::HttpStatus`], transport errors.
    pub async fn poll_task(&self, task: &TaskRef) -> Result<TaskProgress, RedfishError> {
        let url = self.link_url(&task.monitor)?;
        let resp = self
            .request(Req {
                method: Method::GET,
                url,
                body: None,
                if_match: None,
            })
            .await?;
        let status = resp.status.as_u16();
        if status == 404
            && let Some(tp) = task.task_path.as_deref().filter(|t| *t != task.monitor)
        {
            let value = self.get_json(tp).await?;
            return Ok(progress_from(&value, false));
        }
        let value = self.check(&resp)?;
        Ok(progress_from(&value, status != 202))
    }

    /// Sets the BlueField DPU mode.
    ///
    /// BlueField-3 (the system has `Oem.Nvidia`): `POST {"Mode": "DpuMode"|"NicMode"}` to
    /// the `#Mode.Set` target of `Oem/Nvidia` (or `<Oem/Nvidia>/Actions/Mode.Set`).
    /// BlueField-2: [`RedfishClient::patch_bios_settings`] with `NicMode`. Either way the
    /// change applies after a DPU reset.
    ///
    /// # Errors
    /// The errors of [`RedfishClient::post_action`] or
    /// [`RedfishClient::patch_bios_settings`].
    pub async fn set_dpu_mode(&self, mode: DpuMode) -> Result<WriteOutcome, RedfishError> {
        let known_nv = lock(&self.known).nvidia.clone();
        let nvidia = match known_nv {
            Some(nv) => Some(nv),
            None => {
                let (_, system) = self.known_system().await?;
                match system
                    .oem_nvidia()
                    .and_then(|o| o.get("@odata.id"))
                    .and_then(Value::as_str)
                {
                    Some(oem_path) => {
                        let target = match self.get::<NvidiaComputerSystem>(oem_path).await {
                            Ok((nv, _)) => nv.mode_set_action().and_then(|a| a.target),
                            Err(RedfishError::NotFound { .. }) => None,
                            Err(e) => return Err(e),
                        };
                        Some(super::client::NvidiaMeta {
                            oem_path: oem_path.to_string(),
                            mode_set_target: target,
                        })
                    }
                    None => None,
                }
            }
        };
        match nvidia {
            Some(nv) => {
                let target = nv.mode_set_target.unwrap_or_else(|| {
                    format!("{}/Actions/Mode.Set", nv.oem_path.trim_end_matches('/'))
                });
                self.post_action(&target, &json!({ "Mode": mode.as_redfish() }))
                    .await
            }
            None => {
                let attrs: BTreeMap<String, Value> =
                    [("NicMode".to_string(), json!(mode.as_redfish()))]
                        .into_iter()
                        .collect();
                self.patch_bios_settings(&attrs, None).await
            }
        }
    }
}

/// Progress from a Task, Job or DellJob body; other bodies mean the result of a finished
/// operation when `done_if_unknown`.
fn progress_from(value: &Value, done_if_unknown: bool) -> TaskProgress {
    let messages = |ms: &[super::model::Message]| ms.iter().map(ExtendedMessage::from).collect();
    if value.get("TaskState").is_some()
        && let Ok(task) = serde_json::from_value::<Task>(value.clone())
    {
        // iDRAC: the embedded DellJob is more precise than TaskState.
        let state = task
            .dell_job()
            .and_then(|j| j.job_state)
            .or(task.task_state.clone())
            .map(|s| TaskState::parse(&s))
            .unwrap_or(TaskState::Running);
        return TaskProgress {
            finished: state.is_final(),
            state,
            status: task.task_status,
            percent_complete: task.percent_complete,
            messages: messages(&task.messages),
        };
    }
    if value.get("JobState").is_some() {
        if value.get("JobStatus").is_some()
            && let Ok(job) = serde_json::from_value::<Job>(value.clone())
        {
            let state = TaskState::parse(job.job_state.as_deref().unwrap_or("Running"));
            return TaskProgress {
                finished: state.is_final(),
                state,
                status: job.job_status,
                percent_complete: job.percent_complete,
                messages: messages(&job.messages),
            };
        }
        if let Ok(job) = serde_json::from_value::<DellJob>(value.clone()) {
            let state = TaskState::parse(job.job_state.as_deref().unwrap_or("Running"));
            let msg = ExtendedMessage {
                message_id: job.message_id,
                message: job.message,
                severity: None,
                resolution: None,
            };
            return TaskProgress {
                finished: state.is_final(),
                state,
                status: None,
                percent_complete: job.percent_complete,
                messages: if msg.message.is_some() || msg.message_id.is_some() {
                    vec![msg]
                } else {
                    Vec::new()
                },
            };
        }
    }
    if done_if_unknown {
        TaskProgress {
            state: TaskState::Completed,
            status: None,
            percent_complete: Some(100),
            messages: Vec::new(),
            finished: true,
        }
    } else {
        TaskProgress {
            state: TaskState::Running,
            status: None,
            percent_complete: None,
            messages: Vec::new(),
            finished: false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn if_match_candidates_follow_sushy() {
        assert_eq!(if_match_candidates(None), vec![None]);
        assert_eq!(if_match_candidates(Some("")), vec![None]);
        assert_eq!(if_match_candidates(Some("\"\"")), vec![None]);
        assert_eq!(if_match_candidates(Some("W/\"\"")), vec![None]);
        assert_eq!(
            if_match_candidates(Some("\"abc\"")),
            vec![Some("\"abc\"".to_string())]
        );
        assert_eq!(
            if_match_candidates(Some("W/\"abc\"")),
            vec![
                Some("W/\"abc\"".to_string()),
                Some("\"abc\"".to_string()),
                None
            ]
        );
        assert_eq!(
            if_match_candidates(Some("1676250921")),
            vec![Some("\"1676250921\"".to_string()), None]
        );
    }

    #[test]
    fn task_states() {
        assert_eq!(TaskState::parse("Scheduled"), TaskState::Pending);
        assert_eq!(TaskState::parse("CompletedWithErrors"), TaskState::Failed);
        assert!(TaskState::parse("Cancelled").is_final());
        assert_eq!(
            TaskState::parse("Weird"),
            TaskState::Unknown("Weird".into())
        );
    }

    #[test]
    fn progress_from_idrac_task_uses_dell_job() {
        let v = json!({"TaskState": "Starting", "TaskStatus": "OK", "PercentComplete": 0,
            "Oem": {"Dell": {"JobState": "Scheduled", "Message": "Task successfully scheduled.",
            "MessageId": "IDRAC.2.5.JCP001"}}});
        let p = progress_from(&v, true);
        assert_eq!(p.state, TaskState::Pending);
        assert!(!p.finished);
        let v = json!({"JobState": "Completed", "JobStatus": "OK", "PercentComplete": 100});
        assert!(progress_from(&v, false).finished);
        assert!(progress_from(&json!({"Id": "x"}), true).finished);
    }
}

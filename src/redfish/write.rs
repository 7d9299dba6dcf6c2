//! Writes and task polling: conditional PATCH with the `If-Match` forms real BMCs need
//! (learned once per BMC), POST actions, BIOS settings, boot override, reset, BlueField DPU
//! mode.
//!
//! Every function here that changes hardware documents its `# Guarantees` (what is sent, how
//! often), `# Idempotency` (what a repeat does) and `# Caveats`. None retries a write that may
//! have reached the BMC: a timeout or 5xx is [`RedfishError::WriteOutcomeUnknown`], and the
//! caller re-reads and decides.
//!
//! Sources: DSP0266 §8.6 "PATCH (update)" and §8.2.4 `If-Match` (412/428), §9.5 "Actions",
//! §9.9 "Settings resource" (`@Redfish.SettingsApplyTime`), §12.2 "Asynchronous operations"
//! (202 + `Location` task monitor); RFC 9110 §13.1.1 (`If-Match`, strong comparison); sushy's
//! weak-to-strong ETag retry (`sushy/connector.py`), without its final retry without
//! `If-Match`; iDRAC behaviour (no BIOS job is created without `@Redfish.SettingsApplyTime`,
//! one job per accepted PATCH); NVIDIA BlueField BMC (`Oem/Nvidia/Actions/Mode.Set`).

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{RedfishClient, Req, Resp, lock};
use super::error::{ErrorDetails, ExtendedMessage, RedfishError};
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

/// A form of an observed ETag, as sent back in `If-Match`.
///
/// RFC 9110 §13.1.1 compares `If-Match` strongly (a weak tag never matches), but BMCs
/// disagree: many send weak tags (`W/"x"`) and accept them back as sent, some accept only the
/// strong form (`"x"`), a few send bare unquoted tokens. The client tries the forms in the
/// order of [`IfMatchForm::ALL`] until the BMC accepts one, remembers which forms it accepted
/// (per client, i.e. per BMC) and from then on sends only those (see
/// [`RedfishClient::if_match_forms`]). Every form carries the observed ETag: the client never
/// sends `If-Match: *` nor drops the header after a 412.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IfMatchForm {
    /// Exactly as the BMC sent it (trimmed).
    AsRead,
    /// The strong form `"x"`: a weak tag without `W/`, a bare token quoted.
    Strong,
    /// The weak form `W/"x"`.
    Weak,
}

impl IfMatchForm {
    /// Every form, in the order tried on a BMC whose preference is not known yet.
    pub const ALL: [Self; 3] = [Self::AsRead, Self::Strong, Self::Weak];

    /// The `If-Match` value of this form for `etag`; `None` for an empty ETag (blank, `""`,
    /// `W/""`), which means the BMC offered none.
    pub fn render(self, etag: &str) -> Option<String> {
        let raw = etag.trim();
        let opaque = raw
            .strip_prefix("W/")
            .or_else(|| raw.strip_prefix("w/"))
            .unwrap_or(raw)
            .trim();
        let inner = if opaque.len() >= 2 && opaque.starts_with('"') && opaque.ends_with('"') {
            &opaque[1..opaque.len() - 1]
        } else {
            opaque
        };
        if inner.is_empty() {
            return None;
        }
        Some(match self {
            Self::AsRead => raw.to_string(),
            Self::Strong => format!("\"{inner}\""),
            Self::Weak => format!("W/\"{inner}\""),
        })
    }
}

/// The distinct `If-Match` values a client that has not learned this BMC's preference tries
/// for `etag`, in order: as read, strong form, weak form (e.g. `W/"x"` -> `W/"x"`, `"x"`;
/// `"x"` -> `"x"`, `W/"x"`; `x` -> `x`, `"x"`, `W/"x"`). Empty for an empty ETag. Never a
/// value without the ETag: a 412 on all of them is a conflict, not a reason to write blind.
pub fn if_match_candidates(etag: &str) -> Vec<String> {
    IfMatchForms::ALL
        .candidates(etag)
        .into_iter()
        .map(|(value, _)| value)
        .collect()
}

/// A set of [`IfMatchForm`]s: the forms a BMC may accept, narrowed by every conditional
/// PATCH it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IfMatchForms(u8);

impl IfMatchForms {
    /// Nothing learned yet.
    pub(crate) const ALL: Self = Self(0b111);

    fn bit(form: IfMatchForm) -> u8 {
        match form {
            IfMatchForm::AsRead => 0b001,
            IfMatchForm::Strong => 0b010,
            IfMatchForm::Weak => 0b100,
        }
    }

    fn contains(self, form: IfMatchForm) -> bool {
        self.0 & Self::bit(form) != 0
    }

    /// The forms in the set, in [`IfMatchForm::ALL`] order.
    pub(crate) fn forms(self) -> Vec<IfMatchForm> {
        IfMatchForm::ALL
            .into_iter()
            .filter(|f| self.contains(*f))
            .collect()
    }

    /// The distinct `If-Match` values of the forms in the set for `etag`, in order, each
    /// with the forms that produce it.
    fn candidates(self, etag: &str) -> Vec<(String, IfMatchForms)> {
        let mut out: Vec<(String, IfMatchForms)> = Vec::new();
        for form in self.forms() {
            let Some(value) = form.render(etag) else {
                continue;
            };
            match out.iter_mut().find(|(v, _)| *v == value) {
                Some((_, forms)) => forms.0 |= Self::bit(form),
                None => out.push((value, IfMatchForms(Self::bit(form)))),
            }
        }
        out
    }

    /// The set after the BMC accepted a value that `accepted` produce.
    fn narrowed(self, accepted: IfMatchForms) -> Self {
        match self.0 & accepted.0 {
            0 => accepted,
            both => Self(both),
        }
    }
}

impl RedfishClient {
    /// The `If-Match` forms this client still sends to its BMC, in the order tried: all of
    /// [`IfMatchForm::ALL`] until a conditional PATCH succeeded, then only the forms
    /// consistent with every value the BMC accepted (e.g. `[Strong]` after a weak tag got
    /// 412 as read and was accepted in its strong form; `[AsRead, Strong]` after a strong tag
    /// was accepted, since both forms give the same value).
    pub fn if_match_forms(&self) -> Vec<IfMatchForm> {
        lock(&self.if_match).forms()
    }

    /// `PATCH path` with `body`, conditional on `etag` (DSP0266 §8.6, `If-Match` §8.2.4).
    ///
    /// With an ETag, the PATCH carries `If-Match` in each form this BMC may accept (see
    /// [`IfMatchForm`]) until one is accepted: on a BMC whose form is not known yet, as read,
    /// then strong, then weak (a 412 moves to the next form); once one was accepted, only
    /// the learned forms. On 428 (If-Match required) the resource is re-read once and the
    /// PATCH sent with its ETag. The new ETag is recorded (see [`RedfishClient::etag_of`]).
    ///
    /// # Guarantees
    /// - With an ETag, every PATCH sent carries `If-Match` with that ETag: a 412 never leads
    ///   to a PATCH without `If-Match` (nor with `If-Match: *`). When every form gets 412,
    ///   nothing was written and [`RedfishError::Precondition`] lists the values tried.
    /// - At most one PATCH per distinct form (3 on a BMC not learned yet, 1-2 after), plus
    ///   one GET and the same again after a 428.
    /// - Each PATCH is sent once by the transport: it is resent only when it provably was
    ///   not sent (connection refused, DNS, connect timeout), after 503/429 with
    ///   `Retry-After`, or once with a new session after a 401. A timeout, a connection
    ///   broken after sending, or a 5xx (other than 501, or 503 with `Retry-After`) ends in
    ///   [`RedfishError::WriteOutcomeUnknown`].
    ///
    /// # Idempotency
    /// Not idempotent on the wire. The same body twice leaves plain properties in the same
    /// state, but the first success changes the ETag, so a repeat with the old ETag gets
    /// [`RedfishError::Precondition`]; and on settings objects each accepted PATCH may create
    /// a job (iDRAC schedules a BIOS job; a second PATCH fails on the pending job or replaces
    /// it). After [`RedfishError::WriteOutcomeUnknown`], re-read the resource before deciding
    /// to send it again.
    ///
    /// # Caveats
    /// - Without an ETag (`None`, blank, `""`) the PATCH is unconditional: the BMC offered no
    ///   concurrency control for the resource.
    /// - The learned forms are per client: a BMC that compares ETags differently per
    ///   resource can make a PATCH fail with [`RedfishError::Precondition`] although nothing
    ///   changed; re-planning (a new client) learns again.
    /// - A 2xx on a settings object means staged, not applied: the value takes effect at the
    ///   apply time (often the next reset).
    ///
    /// # Errors
    /// [`RedfishError::Precondition`] (412 on every form, or 428 without a usable ETag),
    /// [`RedfishError::WriteOutcomeUnknown`], [`RedfishError::Unauthorized`],
    /// [`RedfishError::Forbidden`], [`RedfishError::NotFound`], [`RedfishError::HttpStatus`]
    /// (with the BMC's MessageIds, e.g. `PropertyValueNotInList`), and transport errors for
    /// requests that were not sent.
    pub async fn patch(
        &self,
        path: &str,
        body: &Value,
        etag: Option<&str>,
    ) -> Result<WriteOutcome, RedfishError> {
        let url = self.link_url(path)?;
        let mut etag: Option<String> = etag.map(String::from);
        let mut refetched = false;
        let mut tried: Vec<String> = Vec::new();
        'etag: loop {
            let forms = *lock(&self.if_match);
            let candidates = etag
                .as_deref()
                .map(|e| forms.candidates(e))
                .unwrap_or_default();
            let attempts: Vec<Option<(String, IfMatchForms)>> = if candidates.is_empty() {
                vec![None]
            } else {
                candidates.into_iter().map(Some).collect()
            };
            let mut rejected: Option<Resp> = None;
            for attempt in attempts {
                let if_match = attempt.as_ref().map(|(value, _)| value.as_str());
                let resp = self
                    .request(Req {
                        method: Method::PATCH,
                        url: url.clone(),
                        body: Some(body),
                        if_match,
                    })
                    .await?;
                match resp.status.as_u16() {
                    200..=299 => {
                        if let Some((value, accepted)) = &attempt {
                            let mut learned = lock(&self.if_match);
                            *learned = learned.narrowed(*accepted);
                            tracing::debug!(host = %self.label, if_match = %value,
                                forms = ?learned.forms(), "If-Match accepted");
                        }
                        let new_etag = resp.etag();
                        self.remember_etag(&url, new_etag.clone());
                        return Ok(WriteOutcome {
                            status: resp.status.as_u16(),
                            task: self.task_ref(&resp),
                            etag: new_etag,
                        });
                    }
                    412 => {
                        tracing::warn!(host = %self.label, url = %url, if_match = ?if_match,
                            "412 Precondition Failed");
                        if let Some(value) = if_match {
                            tried.push(value.to_string());
                        }
                        rejected = Some(resp);
                    }
                    428 if !refetched => {
                        refetched = true;
                        if let Some(value) = if_match {
                            tried.push(value.to_string());
                        }
                        let (_, fresh) = self.get_url(url.clone(), true).await?;
                        if fresh.as_deref().is_none_or(|e| e.trim().is_empty()) {
                            return Err(self.precondition_error(&resp, tried));
                        }
                        tracing::info!(host = %self.label, url = %url,
                            "428 Precondition Required; sending the ETag just read");
                        etag = fresh;
                        continue 'etag;
                    }
                    428 => {
                        if let Some(value) = if_match {
                            tried.push(value.to_string());
                        }
                        return Err(self.precondition_error(&resp, tried));
                    }
                    _ => return Err(self.write_status_error(&resp)),
                }
            }
            // Every form carrying the ETag got 412 (or the one PATCH without an ETag did):
            // nothing was written, and nothing is sent without If-Match.
            return Err(match rejected {
                Some(resp) => self.precondition_error(&resp, tried),
                None => RedfishError::Precondition {
                    host: self.label.clone(),
                    method: Method::PATCH.to_string(),
                    url: url.to_string(),
                    status: 412,
                    tried,
                    details: Box::default(),
                },
            });
        }
    }

    /// [`RedfishError::Precondition`] for a 412/428 answer, with the `If-Match` values tried.
    fn precondition_error(&self, resp: &Resp, tried: Vec<String>) -> RedfishError {
        RedfishError::Precondition {
            host: self.label.clone(),
            method: resp.method.to_string(),
            url: resp.url.to_string(),
            status: resp.status.as_u16(),
            tried,
            details: Box::new(ErrorDetails::from_body(&resp.body)),
        }
    }

    /// `POST` of `body` to an action `target` (DSP0266 §9.5). Never sends `If-Match` (iDRAC
    /// answers 412 to actions that carry it).
    ///
    /// # Guarantees
    /// - The POST is sent once by the transport: it is resent only when it provably was not
    ///   sent (connection refused, DNS, connect timeout), after 503/429 with `Retry-After`,
    ///   or once with a new session after a 401. A timeout, a connection broken after
    ///   sending, or a 5xx (other than 501, or 503 with `Retry-After`) ends in
    ///   [`RedfishError::WriteOutcomeUnknown`].
    /// - A 2xx is returned as is; a 202 with `Location` carries the task to poll.
    ///
    /// # Idempotency
    /// Not idempotent: actions are not conditional, and a second reset resets again (or fails
    /// because the system is already off). After [`RedfishError::WriteOutcomeUnknown`],
    /// re-read the state the action changes before sending it again.
    ///
    /// # Caveats
    /// - Unconditional: nothing checks that the resource is still as it was read.
    /// - A 2xx means accepted, not done: poll the task ([`RedfishClient::poll_task`]) or
    ///   re-read the resource.
    ///
    /// # Errors
    /// [`RedfishError::WriteOutcomeUnknown`], [`RedfishError::HttpStatus`] (e.g. 400
    /// `ActionParameterValueNotInList`), [`RedfishError::NotFound`],
    /// [`RedfishError::Unauthorized`], [`RedfishError::Forbidden`], and transport errors for
    /// requests that were not sent.
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
            return Err(self.write_status_error(&resp));
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
    fn task_ref(&self, resp: &Resp) -> Option<TaskRef> {
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
    /// # Guarantees
    /// - Those of [`RedfishClient::patch`]: one PATCH per `If-Match` form at most, never
    ///   resent after it may have reached the BMC, never sent without `If-Match` after a 412.
    /// - Only the attributes given are sent; an unsupported `apply_time` is refused before
    ///   any request.
    ///
    /// # Idempotency
    /// Staging the same values twice leaves the same pending values, but each accepted PATCH
    /// may create a BIOS job (iDRAC: a second PATCH fails on the pending job, `LC068`/
    /// `RAC0679`, or must wait for it), and the settings ETag changes after the first. Re-read
    /// (the pending values show whether the first one landed) before repeating.
    ///
    /// # Caveats
    /// - The values are staged, not applied: they take effect at the apply time (with
    ///   `OnReset`, at the next reset of the system, which this does not trigger).
    /// - When the settings object could not be read (see [`super::BiosState::pending_unknown`])
    ///   or had no ETag, the PATCH is unconditional.
    /// - Values replace anything staged before for the same attributes.
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
    /// # Guarantees
    /// - Those of [`RedfishClient::patch`], with the system's ETag from the last read.
    /// - A target, enabled or mode value outside the advertised allowable values is refused
    ///   before the PATCH.
    ///
    /// # Idempotency
    /// Setting the same override twice leaves the same state (the second PATCH needs the new
    /// ETag, so re-read first). With `Once`, the BMC clears the override at the next boot:
    /// a repeat after a boot sets it again.
    ///
    /// # Caveats
    /// - The override takes effect at the next boot; this does not reset the system.
    /// - Some BMCs change other `Boot` properties with it (e.g. the mode).
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
    /// # Guarantees
    /// - Those of [`RedfishClient::post_action`]: one POST, never resent after it may have
    ///   reached the BMC (a timeout or 5xx is [`RedfishError::WriteOutcomeUnknown`]: the
    ///   system may be resetting).
    /// - A `ResetType` outside the advertised allowable values is refused before the POST.
    ///
    /// # Idempotency
    /// Not idempotent: each accepted reset resets the system again (and a power-changing one
    /// may fail when the system is already in the target state). Re-read `PowerState`
    /// before repeating.
    ///
    /// # Caveats
    /// - Unconditional and disruptive: the host OS is interrupted (forcefully for `Force*`).
    /// - A 2xx means accepted: poll the task or re-read the power state to know it is done.
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
    /// # Guarantees
    /// - Those of [`RedfishClient::post_action`] (BlueField-3) or
    ///   [`RedfishClient::patch_bios_settings`] (BlueField-2): one write, never resent after
    ///   it may have reached the BMC.
    ///
    /// # Idempotency
    /// Requesting the mode already pending or in effect leaves the same state, but each
    /// accepted request is a new request to the DPU firmware; re-read the mode (current and
    /// pending) before repeating.
    ///
    /// # Caveats
    /// - Nothing changes until the DPU is reset (and on most servers the host power-cycled),
    ///   which this does not do.
    /// - The BlueField-3 action is unconditional.
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
    fn if_match_candidates_always_carry_the_etag() {
        let none: Vec<String> = Vec::new();
        assert_eq!(if_match_candidates(""), none);
        assert_eq!(if_match_candidates("  "), none);
        assert_eq!(if_match_candidates("\"\""), none);
        assert_eq!(if_match_candidates("W/\"\""), none);
        assert_eq!(if_match_candidates("\"abc\""), vec!["\"abc\"", "W/\"abc\""]);
        assert_eq!(
            if_match_candidates("W/\"abc\""),
            vec!["W/\"abc\"", "\"abc\""]
        );
        assert_eq!(
            if_match_candidates("1676250921"),
            vec!["1676250921", "\"1676250921\"", "W/\"1676250921\""]
        );
        // Every candidate names the observed opaque tag: no `*`, nothing empty.
        for etag in ["\"abc\"", "W/\"abc\"", "w/\"abc\"", "abc"] {
            for c in if_match_candidates(etag) {
                assert!(c.contains("abc") && c != "*", "{etag}: {c}");
            }
        }
        assert_eq!(
            IfMatchForm::Strong.render("w/\"x\"").as_deref(),
            Some("\"x\"")
        );
        assert_eq!(
            IfMatchForm::AsRead.render(" W/\"x\" ").as_deref(),
            Some("W/\"x\"")
        );
    }

    #[test]
    fn learned_forms_narrow_to_what_the_bmc_accepted() {
        let all = IfMatchForms::ALL;
        // A weak tag refused as read, accepted strong: only Strong is kept.
        let cands = all.candidates("W/\"a\"");
        assert_eq!(cands.len(), 2);
        let strong = cands[1].1;
        let learned = all.narrowed(strong);
        assert_eq!(learned.forms(), vec![IfMatchForm::Strong]);
        assert_eq!(
            learned.candidates("W/\"b\""),
            vec![("\"b\"".to_string(), strong)]
        );
        // A strong tag accepted as read: AsRead and Strong both gave that value.
        let cands = all.candidates("\"a\"");
        let learned = all.narrowed(cands[0].1);
        assert_eq!(
            learned.forms(),
            vec![IfMatchForm::AsRead, IfMatchForm::Strong]
        );
        // A later weak tag then tries as read, then strong: never the weak-only form.
        let next: Vec<String> = learned
            .candidates("W/\"c\"")
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        assert_eq!(next, vec!["W/\"c\"", "\"c\""]);
        // Disjoint (concurrent writes learned something else meanwhile): the latest wins.
        assert_eq!(
            learned.narrowed(IfMatchForms(0b100)).forms(),
            vec![IfMatchForm::Weak]
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

//! Execute: carry out a saved [`Plan`] exactly, deciding nothing.
//!
//! - **Order.** Hosts run in the plan's rollout batches; a batch starts when the previous
//!   one has ended. Within a batch, at most [`ExecuteOptions::parallelism`] hosts run at
//!   once. A host's steps run one after another, in the plan's order.
//! - **Preconditions.** Before its first write, every resource a host's steps write is
//!   re-read through its provider and its fingerprint compared with the step's
//!   precondition (SHA-256 of the observed values; ETags where both sides have one). One
//!   mismatch refuses the whole host as stale, before anything is written to it; the error
//!   names the address and the values that changed since the plan. (The check is made once
//!   per host, not before each step: a host's own earlier steps legitimately change later
//!   steps' resources, e.g. a BlueField-2 mode change stages `NicMode` in the DPU's BIOS
//!   settings. Each write still carries the ETag its provider read just before it.)
//! - **Resets.** A `reset` step sends each reset of its sequence through the provider that
//!   owns the host's `power` resource, then waits (tokio time, bounded by the reset's
//!   `timeout_s`) for `PowerState` to be `On` (`Off` after `ForceOff`/`GracefulShutdown`);
//!   when the reset does not finish in time and the plan names a fallback reset type, the
//!   fallback is sent once. A `power` step is sent the same way (one reset of its
//!   `reset_type`) and waits for its `state`.
//! - **Verification.** After a host's last step, every resource a step wrote is re-read and
//!   compared with the spec's desired values: a value that is different or still pending
//!   fails the host (a 2xx is not proof).
//! - **Failure.** A failed step marks the host's remaining steps skipped. Other hosts go on
//!   until more hosts have failed than the plan's `rollout.max_failures`; from then on no new
//!   host starts (hosts already running finish).
//!
//! Plans with steps no provider of this build can carry out (the OS layer's steps) are
//! refused as a whole before any host is touched ([`ExecuteError::NotExecutable`]).

use super::event::{Event, Reporter};
use super::provider::{ApplyError, Provider, RESET_TIMEOUT_CODE};
use crate::plan::address::Address;
use crate::plan::model::{Plan, PlanHost, Step};
use crate::plan::observed::{Fingerprint, Observation, ReadError};
use crate::plan::op::{Controller, Op, ResetStep};
use crate::plan::resource::{DataFiles, Resource, ResourceKind, flatten};
use crate::plan::value::same_value;
use crate::spec::Host;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Options of an execution.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// Hosts of one batch applied at once (`--parallelism`); `0` is treated as `1`.
    pub parallelism: usize,
    /// How often `PowerState` is re-read while waiting for a reset (tokio time).
    pub poll_interval: Duration,
    /// Set (by a Ctrl-C or SIGTERM handler) to stop starting hosts: hosts in flight finish
    /// their steps (a host is never left between its staging and its reset by this), the
    /// others are reported as not started. `None`: never stopped.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        Self {
            parallelism: 16,
            poll_interval: Duration::from_secs(5),
            stop: None,
        }
    }
}

/// Why a plan was refused before any host was touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecuteError {
    /// Steps that no provider of this build can carry out (`host/r1-c01/network/bond0:
    /// apply the network state of 1 interface`): the OS layer's steps until the OS provider
    /// writes.
    NotExecutable(Vec<String>),
    /// Hosts of the plan that the fleet specs no longer declare.
    UnknownHosts(Vec<String>),
    /// Hosts with steps that are in no rollout batch (the plan is inconsistent).
    NotInRollout(Vec<String>),
}

impl std::fmt::Display for ExecuteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecuteError::NotExecutable(steps) => write!(
                f,
                "the plan has {} step(s) this bmfleet cannot carry out yet; nothing was applied:\n  {}",
                steps.len(),
                steps.join("\n  ")
            ),
            ExecuteError::UnknownHosts(hosts) => write!(
                f,
                "the plan names hosts the fleet does not declare: {}; nothing was applied",
                hosts.join(", ")
            ),
            ExecuteError::NotInRollout(hosts) => write!(
                f,
                "the plan has steps for hosts in no rollout batch: {}; nothing was applied",
                hosts.join(", ")
            ),
        }
    }
}

impl std::error::Error for ExecuteError {}

/// What happened to one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum HostOutcome {
    /// Every step ran and the host matched the plan afterwards.
    Succeeded,
    /// The host was refused as stale, a step failed, or verification failed.
    Failed {
        /// Where it failed: `stale` (precondition), `step` (a write, reset or wait) or
        /// `verify` (re-read after the last step).
        stage: FailStage,
        /// The step's resource address (`host/r1-c01/bios`); `None` when no single step is
        /// to blame (verification of several resources).
        step: Option<String>,
        /// The endpoint that failed or was read (a URL), when known.
        endpoint: String,
        /// What failed, with the values concerned.
        message: String,
    },
    /// Not applied because there was nothing to apply, or the host could not be planned.
    Skipped {
        /// Why (`no changes`, `not planned: <error>`).
        reason: String,
    },
    /// Not started because the failure budget (`maxFailures`) was exceeded first.
    NotStarted {
        /// Why.
        reason: String,
    },
}

/// Where a host failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailStage {
    /// Its live state changed since the plan (or could not be read): nothing was written.
    Stale,
    /// A step failed; the steps after it were skipped.
    Step,
    /// All steps ran but the host does not match the plan afterwards.
    Verify,
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Carried out (the peer's answer).
    Applied(String),
    /// Failed (why).
    Failed(String),
    /// Not run: an earlier step, or the host's precondition check, failed.
    Skipped,
    /// Not run: the host was not started.
    NotRun,
}

/// One step of a host in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// The step's resource address.
    pub address: String,
    /// The step, for humans.
    pub description: String,
    /// What happened.
    pub status: StepStatus,
}

/// One host in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostReport {
    /// Host name.
    pub host: String,
    /// What happened.
    pub outcome: HostOutcome,
    /// Its steps, in plan order.
    pub steps: Vec<StepReport>,
    /// Resets sent to the host's own system for its coalesced reset (fallbacks included;
    /// DPU resets and power on/off are not counted).
    pub resets: u32,
}

/// What an execution did: every host of the plan, in plan order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// One entry per host of the plan.
    pub hosts: Vec<HostReport>,
}

impl ApplyReport {
    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&HostReport> {
        self.hosts.iter().find(|h| h.host == name)
    }

    /// Hosts that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, HostOutcome::Failed { .. }))
    }

    /// Hosts applied and verified.
    pub fn succeeded(&self) -> usize {
        self.count(|o| matches!(o, HostOutcome::Succeeded))
    }

    /// Hosts not started.
    pub fn not_started(&self) -> usize {
        self.count(|o| matches!(o, HostOutcome::NotStarted { .. }))
    }

    fn count(&self, f: impl Fn(&HostOutcome) -> bool) -> usize {
        self.hosts.iter().filter(|h| f(&h.outcome)).count()
    }
}

/// The kind whose provider carries `step` out: the reset goes to the owner of `power`, the
/// wait for the OS to the owner of the OS kinds (`kernel-args` stands for them).
fn owner_kind(step: &Step) -> ResourceKind {
    match step.op {
        Op::Reset { .. } => ResourceKind::Power,
        Op::AwaitOs { .. } => ResourceKind::KernelArgs,
        _ => step.kind,
    }
}

fn provider_for(providers: &[Arc<dyn Provider>], kind: ResourceKind) -> Option<&Arc<dyn Provider>> {
    providers.iter().find(|p| p.kinds().contains(&kind))
}

/// Checks that `plan` can be carried out as a whole (every step has a provider that writes
/// it, every host with steps is declared and batched), so that nothing is half-applied.
///
/// # Errors
/// [`ExecuteError`] listing every offending step or host.
pub fn check_executable(
    plan: &Plan,
    hosts: &BTreeMap<&str, &Host>,
    providers: &[Arc<dyn Provider>],
) -> Result<(), ExecuteError> {
    let with_steps: Vec<&PlanHost> = plan.hosts.iter().filter(|h| h.has_changes()).collect();
    let unknown: Vec<String> = with_steps
        .iter()
        .filter(|h| !hosts.contains_key(h.name.as_str()))
        .map(|h| h.name.clone())
        .collect();
    if !unknown.is_empty() {
        return Err(ExecuteError::UnknownHosts(unknown));
    }
    let not_executable: Vec<String> = with_steps
        .iter()
        .flat_map(|h| &h.steps)
        .filter_map(|s| match provider_for(providers, owner_kind(s)) {
            None => Some(format!("{}: {}", s.address, s.description())),
            Some(p) => p
                .supports(s)
                .err()
                .map(|why| format!("{}: {}: {why}", s.address, s.description())),
        })
        .collect();
    if !not_executable.is_empty() {
        return Err(ExecuteError::NotExecutable(not_executable));
    }
    let batched: BTreeSet<&str> = plan
        .rollout
        .batches
        .iter()
        .flat_map(|b| b.hosts.iter().map(String::as_str))
        .collect();
    let unbatched: Vec<String> = with_steps
        .iter()
        .filter(|h| !batched.contains(h.name.as_str()))
        .map(|h| h.name.clone())
        .collect();
    if !unbatched.is_empty() {
        return Err(ExecuteError::NotInRollout(unbatched));
    }
    Ok(())
}

/// Carries out `plan` on `hosts` (the fleet's effective hosts, looked up by name) through
/// `providers`, batch by batch, and reports every host.
///
/// # Guarantees
/// - Writes only what the plan's steps say, in their order, through the provider that owns
///   each step's kind; decides nothing itself (reset types, apply times and timeouts are the
///   plan's).
/// - Nothing is written when the plan is refused ([`check_executable`]); nothing is written
///   to a host whose preconditions do not hold.
/// - No new host starts once more than `rollout.max_failures` hosts have failed; batches
///   never overlap.
///
/// # Idempotency
/// Applying the same plan again after it succeeded is refused host by host as stale (the
/// fingerprints changed), which is the intended outcome: make a new plan. Staging values
/// is idempotent; resets are not.
///
/// # Caveats
/// - A host that fails after its reset was sent is left as the report shows it; there is
///   no rollback. A write whose answer was lost (`outcome_unknown`) is reported as such.
/// - Preconditions are checked once per host before its first write, not per step.
/// - The engine keeps no journal itself: the caller records the step events (`ops` writes
///   the journal) and resumes with [`execute_resumed`].
///
/// # Errors
/// [`ExecuteError`] when the plan cannot be carried out as a whole; per-host failures are
/// in the report, never errors.
pub async fn execute(
    plan: &Plan,
    hosts: &[&Host],
    files: &DataFiles,
    providers: &[Arc<dyn Provider>],
    opts: &ExecuteOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<ApplyReport, ExecuteError> {
    execute_resumed(
        plan,
        hosts,
        files,
        providers,
        opts,
        &Resume::default(),
        reporter,
    )
    .await
}

/// What an earlier run of the same plan did, as its journal recorded it (`bmfleet apply
/// --resume`): per host, the 0-based indexes of the steps that finished ok, and of those
/// that started but did not finish ok (in flight when the run stopped, or failed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    /// Host name -> steps journaled as finished ok.
    pub finished: BTreeMap<String, BTreeSet<usize>>,
    /// Host name -> steps journaled as started without finishing ok.
    pub unfinished: BTreeMap<String, BTreeSet<usize>>,
}

impl Resume {
    /// True when the earlier run touched `host` (a step of it started).
    pub fn touched(&self, host: &str) -> bool {
        self.finished.get(host).is_some_and(|s| !s.is_empty())
            || self.unfinished.get(host).is_some_and(|s| !s.is_empty())
    }

    fn is_finished(&self, host: &str, index: usize) -> bool {
        self.finished.get(host).is_some_and(|s| s.contains(&index))
    }

    fn is_unfinished(&self, host: &str, index: usize) -> bool {
        !self.is_finished(host, index)
            && self
                .unfinished
                .get(host)
                .is_some_and(|s| s.contains(&index))
    }
}

/// [`execute`], continuing an earlier run of the same plan that `resume` describes.
///
/// # Guarantees
/// As [`execute`], and:
/// - A step journaled as finished ok is not run again (it is reported applied; no event).
/// - A host the earlier run touched is re-read first. A step not finished passes its
///   precondition when its resource still has the planned fingerprint *or* already shows
///   the values the plan writes (current, or staged); anything else refuses the host as
///   stale.
/// - A step journaled as started but not finished is not re-sent when the re-read shows its
///   values already there; a `reset` in flight is never re-sent: its `PowerState` is waited
///   for (bounded by its `timeout_s`) and the host is verified. Other in-flight steps run
///   again (staging is idempotent).
/// - A host whose steps all finished is only verified.
///
/// # Idempotency
/// Resuming a run that finished verifies its hosts and writes nothing.
///
/// # Caveats
/// A step that is not started yet but whose resource an earlier step of the same host
/// changed (a DPU mode change staging `NicMode`) fails the precondition on resume unless it
/// shows the planned values: the host is refused as stale, which is safe; make a new plan.
///
/// # Errors
/// As [`execute`].
pub async fn execute_resumed(
    plan: &Plan,
    hosts: &[&Host],
    files: &DataFiles,
    providers: &[Arc<dyn Provider>],
    opts: &ExecuteOptions,
    resume: &Resume,
    reporter: Arc<dyn Reporter>,
) -> Result<ApplyReport, ExecuteError> {
    let by_name: BTreeMap<&str, &Host> = hosts.iter().map(|h| (h.name.as_str(), *h)).collect();
    check_executable(plan, &by_name, providers)?;
    let with_steps = plan.hosts.iter().filter(|h| h.has_changes()).count();
    reporter.event(&Event::ApplyStarted {
        hosts: with_steps,
        batches: plan.rollout.batches.len(),
    });
    let failures = AtomicUsize::new(0);
    let max_failures = plan.rollout.max_failures;
    let parallelism = opts.parallelism.max(1);
    let mut done: BTreeMap<String, HostReport> = BTreeMap::new();
    for batch in &plan.rollout.batches {
        let members: Vec<(&PlanHost, &Host)> = batch
            .hosts
            .iter()
            .filter(|n| !done.contains_key(n.as_str()))
            .filter_map(|n| {
                let ph = plan.host(n).filter(|h| h.has_changes())?;
                by_name.get(n.as_str()).map(|h| (ph, *h))
            })
            .collect();
        if members.is_empty() {
            continue;
        }
        reporter.event(&Event::BatchStarted {
            number: batch.number,
            hosts: members.len(),
        });
        let reports: Vec<HostReport> = futures::stream::iter(members)
            .map(|(ph, host)| {
                let reporter = reporter.clone();
                let failures = &failures;
                async move {
                    if opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                        return HostReport {
                            host: ph.name.clone(),
                            outcome: HostOutcome::NotStarted {
                                reason: "the run was interrupted (Ctrl-C or SIGTERM) before this host started; `bmfleet apply --resume RUN_ID` continues the run".into(),
                            },
                            steps: step_reports(ph, &StepStatus::NotRun),
                            resets: 0,
                        };
                    }
                    if failures.load(Ordering::SeqCst) > max_failures {
                        return not_started(ph, max_failures);
                    }
                    reporter.event(&Event::HostStarted {
                        host: ph.name.clone(),
                    });
                    let report =
                        run_host(ph, host, files, providers, opts, resume, reporter.as_ref()).await;
                    let ok = report.outcome == HostOutcome::Succeeded;
                    if !ok {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                    reporter.event(&Event::HostApplied {
                        host: ph.name.clone(),
                        ok,
                    });
                    report
                }
            })
            .buffer_unordered(parallelism)
            .collect()
            .await;
        for r in reports {
            done.insert(r.host.clone(), r);
        }
    }
    let hosts: Vec<HostReport> = plan
        .hosts
        .iter()
        .map(|ph| {
            done.remove(&ph.name).unwrap_or_else(|| HostReport {
                host: ph.name.clone(),
                outcome: HostOutcome::Skipped {
                    reason: match &ph.error {
                        Some(e) => format!("not planned: {e}"),
                        None => "no changes".to_string(),
                    },
                },
                steps: Vec::new(),
                resets: 0,
            })
        })
        .collect();
    let report = ApplyReport { hosts };
    reporter.event(&Event::ApplyFinished {
        succeeded: report.succeeded(),
        failed: report.failed(),
        not_started: report.not_started(),
    });
    Ok(report)
}

fn step_reports(ph: &PlanHost, status: &StepStatus) -> Vec<StepReport> {
    ph.steps
        .iter()
        .map(|s| StepReport {
            address: s.address.to_string(),
            description: s.description(),
            status: status.clone(),
        })
        .collect()
}

fn not_started(ph: &PlanHost, max_failures: usize) -> HostReport {
    HostReport {
        host: ph.name.clone(),
        outcome: HostOutcome::NotStarted {
            reason: format!(
                "more than {max_failures} host(s) failed (the rollout's maxFailures); no new host was started"
            ),
        },
        steps: step_reports(ph, &StepStatus::NotRun),
        resets: 0,
    }
}

/// Reads `host` through every provider that owns one of `kinds`, merged by address.
async fn read_host(
    host: &Host,
    resources: &[Resource],
    providers: &[Arc<dyn Provider>],
    kinds: &BTreeSet<ResourceKind>,
) -> BTreeMap<Address, Result<Observation, ReadError>> {
    let chosen: Vec<&Arc<dyn Provider>> = providers
        .iter()
        .filter(|p| p.kinds().iter().any(|k| kinds.contains(k)))
        .collect();
    let owned: Vec<Vec<Resource>> = chosen
        .iter()
        .map(|p| super::provider::owned_by(p.as_ref(), resources))
        .collect();
    let reads =
        futures::future::join_all(chosen.iter().zip(&owned).map(|(p, own)| p.read(host, own)))
            .await;
    reads.into_iter().flat_map(|r| r.resources).collect()
}

/// True when `now` is the state `planned` fingerprinted: same SHA-256 of the values, and
/// the same ETags where both sides have one.
fn same_fingerprint(planned: &Fingerprint, now: &Fingerprint) -> bool {
    let etag_ok = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    planned.sha256 == now.sha256
        && etag_ok(&planned.etag, &now.etag)
        && etag_ok(&planned.settings_etag, &now.settings_etag)
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "(not set)".to_string(), Value::to_string)
}

/// What changed at `address` between the plan and `now`: one line per setting the spec
/// sets whose current or staged value differs from what the plan saw.
fn stale_details(
    ph: &PlanHost,
    resource: Option<&Resource>,
    address: &Address,
    now: &Observation,
    planned: &Fingerprint,
) -> String {
    let mut lines = Vec::new();
    if let Some(r) = resource {
        for (key, setting) in &r.settings {
            let change = ph
                .changes
                .iter()
                .find(|c| &c.address == address && &c.setting == key);
            let (before, pending) = match change {
                Some(c) => (c.before.clone(), c.pending.clone()),
                // Compared and unchanged when planning: it held the desired value.
                None => (Some(setting.value.clone()), None),
            };
            let cur = now.values.get(key);
            let now_current = cur.and_then(|v| v.current.clone());
            let now_pending = cur.and_then(|v| v.pending.clone());
            if setting.sensitive || change.is_some_and(|c| c.sensitive) {
                continue;
            }
            if before != now_current || pending != now_pending {
                let staged = |p: &Option<Value>| {
                    p.as_ref()
                        .map_or_else(String::new, |p| format!(" (staged {p})"))
                };
                lines.push(format!(
                    "{key}: planned against {}{}, now {}{}",
                    show(before.as_ref()),
                    staged(&pending),
                    show(now_current.as_ref()),
                    staged(&now_pending)
                ));
            }
        }
    }
    if lines.is_empty() {
        let short = |s: &str| s.get(..12).unwrap_or(s).to_string();
        lines.push(format!(
            "values the spec does not set changed (fingerprint {} -> {}{})",
            short(&planned.sha256),
            short(&now.fingerprint.sha256),
            match (&planned.etag, &now.fingerprint.etag) {
                (Some(a), Some(b)) if a != b => format!(", ETag {a} -> {b}"),
                _ => String::new(),
            }
        ));
    }
    lines.join("; ")
}

/// A failed host: `steps` before `failed_at` keep their status, the failed one is marked,
/// the rest skipped.
fn failed(
    ph: &PlanHost,
    mut steps: Vec<StepReport>,
    resets: u32,
    stage: FailStage,
    step: Option<String>,
    endpoint: String,
    message: String,
) -> HostReport {
    for s in &mut steps {
        if s.status == StepStatus::NotRun {
            s.status = StepStatus::Skipped;
        }
    }
    HostReport {
        host: ph.name.clone(),
        outcome: HostOutcome::Failed {
            stage,
            step,
            endpoint,
            message,
        },
        steps,
        resets,
    }
}

/// Applies one host: precondition check, steps, verification (continuing what `resume`
/// says an earlier run did).
async fn run_host(
    ph: &PlanHost,
    host: &Host,
    files: &DataFiles,
    providers: &[Arc<dyn Provider>],
    opts: &ExecuteOptions,
    resume: &Resume,
    reporter: &dyn Reporter,
) -> HostReport {
    let touched = resume.touched(&ph.name);
    let resources = flatten(host, files);
    let desired = |a: &Address| resources.iter().find(|r| &r.address == a);
    let kinds: BTreeSet<ResourceKind> = ph.steps.iter().map(owner_kind).collect();
    let mut steps = step_reports(ph, &StepStatus::NotRun);

    // 1. Preconditions, all at once, before any write.
    let observed = read_host(host, &resources, providers, &kinds).await;
    let mut stale = Vec::new();
    let mut stale_endpoint = String::new();
    for (index, step) in ph.steps.iter().enumerate() {
        let Some(pre) = &step.precondition else {
            continue;
        };
        if resume.is_finished(&ph.name, index) {
            continue;
        }
        match observed.get(&step.address) {
            Some(Ok(now)) if same_fingerprint(pre, &now.fingerprint) => {}
            Some(Ok(now)) if touched && shows_planned(ph, desired(&step.address), step, now) => {}
            Some(Ok(now)) => stale.push(format!(
                "{}: {}",
                step.address,
                stale_details(ph, desired(&step.address), &step.address, now, pre)
            )),
            Some(Err(e)) => {
                stale_endpoint.clone_from(&e.endpoint);
                stale.push(format!("{}: cannot be read: {}", step.address, e.message));
            }
            None => stale.push(format!("{}: no longer observed", step.address)),
        }
    }
    if !stale.is_empty() {
        let first = ph
            .steps
            .iter()
            .find(|s| stale.iter().any(|l| l.starts_with(&s.address.to_string())))
            .map(|s| s.address.to_string());
        return failed(
            ph,
            steps,
            0,
            FailStage::Stale,
            first,
            stale_endpoint,
            format!(
                "{}: refused as stale, nothing was written (its live state changed since the plan; make a new plan): {}",
                ph.name,
                stale.join(" | ")
            ),
        );
    }

    // 2. The steps, in order.
    let mut resets = 0u32;
    for (index, step) in ph.steps.iter().enumerate() {
        let address = step.address.to_string();
        if resume.is_finished(&ph.name, index) {
            if let Some(s) = steps.get_mut(index) {
                s.status = StepStatus::Applied("applied by the interrupted run (journal)".into());
            }
            continue;
        }
        reporter.event(&Event::StepStarted {
            host: ph.name.clone(),
            index,
            address: address.clone(),
            description: step.description(),
        });
        let result = if resume.is_unfinished(&ph.name, index) {
            let now = observed.get(&step.address).and_then(|o| o.as_ref().ok());
            resume_step(
                ph,
                step,
                desired(&step.address),
                now,
                host,
                providers,
                opts,
                &mut resets,
            )
            .await
        } else {
            run_step(step, host, providers, opts, &mut resets).await
        };
        let (ok, detail) = match &result {
            Ok(d) => (true, d.clone()),
            Err(e) => (false, e.error.message.clone()),
        };
        reporter.event(&Event::StepFinished {
            host: ph.name.clone(),
            index,
            address: address.clone(),
            ok,
            detail: detail.clone(),
        });
        if let Some(s) = steps.get_mut(index) {
            s.status = if ok {
                StepStatus::Applied(detail)
            } else {
                StepStatus::Failed(detail)
            };
        }
        if let Err(e) = result {
            let unknown = if e.outcome_unknown {
                " (the write may have taken effect: re-read before retrying)"
            } else {
                ""
            };
            return failed(
                ph,
                steps,
                resets,
                FailStage::Step,
                Some(address),
                e.error.endpoint.clone(),
                format!("{}{unknown}; {}", e.error.message, e.error.help),
            );
        }
    }

    // 3. Verify: a 2xx is not proof. Every resource a step wrote, and every resource whose
    // staged values a reset applies (also when they were staged before the plan).
    let mut to_verify: BTreeSet<Address> = BTreeSet::new();
    for step in &ph.steps {
        match &step.op {
            Op::Reset { applies, .. } => {
                to_verify.extend(
                    applies
                        .iter()
                        .filter_map(|rel| Address::parse(&format!("host/{}/{rel}", ph.name)).ok()),
                );
            }
            _ if step.kind != ResourceKind::Reboot => {
                to_verify.insert(step.address.clone());
            }
            _ => {}
        }
    }
    let observed = read_host(host, &resources, providers, &kinds).await;
    let mut wrong = Vec::new();
    let mut endpoint = String::new();
    for address in &to_verify {
        let Some(r) = desired(address) else {
            continue;
        };
        match observed.get(address) {
            Some(Ok(now)) => {
                if let Some(why) = &now.pending_unknown {
                    wrong.push(format!("{address}: staged values cannot be read ({why})"));
                }
                for (key, setting) in r.settings.iter().filter(|(_, s)| !s.sensitive) {
                    let v = now.values.get(key);
                    let current = v.and_then(|v| v.current.as_ref());
                    let pending = v.and_then(|v| v.pending.as_ref());
                    if let Some(p) = pending {
                        wrong.push(format!("{address}: {key} is still pending ({p})"));
                    } else if current != Some(&setting.value) {
                        wrong.push(format!(
                            "{}: {key} is {}, the plan wants {}",
                            address,
                            show(current),
                            setting.value
                        ));
                    }
                }
            }
            Some(Err(e)) => {
                endpoint.clone_from(&e.endpoint);
                wrong.push(format!("{address}: cannot be read: {}", e.message));
            }
            None => wrong.push(format!("{address}: not observed after apply")),
        }
    }
    if !wrong.is_empty() {
        return failed(
            ph,
            steps,
            resets,
            FailStage::Verify,
            None,
            endpoint,
            format!(
                "{}: every step was accepted, but the host does not match the plan: {}",
                ph.name,
                wrong.join("; ")
            ),
        );
    }
    HostReport {
        host: ph.name.clone(),
        outcome: HostOutcome::Succeeded,
        steps,
        resets,
    }
}

/// True when `now` already shows every non-sensitive value the plan's changes of `step`
/// write (as current with nothing else staged, or as staged): the step took effect before
/// the run stopped. False when the step changes no setting that can be compared.
fn shows_planned(
    ph: &PlanHost,
    resource: Option<&Resource>,
    step: &Step,
    now: &Observation,
) -> bool {
    let Some(r) = resource else {
        return false;
    };
    let mut compared = 0;
    for c in ph
        .changes
        .iter()
        .filter(|c| c.address == step.address && !c.sensitive)
    {
        let Some(want) = r.settings.get(&c.setting).filter(|s| !s.sensitive) else {
            continue;
        };
        let v = now.values.get(&c.setting);
        let current = v.and_then(|v| v.current.as_ref());
        let pending = v.and_then(|v| v.pending.as_ref());
        let there = match pending {
            Some(p) => same_value(p, &want.value),
            None => current.is_some_and(|c| same_value(c, &want.value)),
        };
        if !there {
            return false;
        }
        compared += 1;
    }
    compared > 0
}

/// Continues a step that an earlier run started but did not finish ok, from the host's
/// state re-read just before (`now`, the step's resource).
///
/// # Guarantees
/// A reset is never sent again: the power state its last host reset ends in is waited for
/// (bounded by that reset's `timeout_s`). A step whose values already show is not sent. A
/// `power` step whose state already holds is not sent. Anything else runs as
/// [`run_step`] does.
///
/// # Idempotency
/// As [`run_step`] for the steps it re-runs (staging is idempotent).
///
/// # Caveats
/// A reset in flight whose host never comes back fails the step; the host is not reset again.
#[allow(clippy::too_many_arguments)]
async fn resume_step(
    ph: &PlanHost,
    step: &Step,
    resource: Option<&Resource>,
    now: Option<&Observation>,
    host: &Host,
    providers: &[Arc<dyn Provider>],
    opts: &ExecuteOptions,
    resets: &mut u32,
) -> Result<String, ApplyError> {
    match &step.op {
        Op::Reset { sequence, .. } => {
            let Some(provider) = provider_for(providers, owner_kind(step)) else {
                return Err(executor_error(
                    format!("no provider writes {} resources", step.kind),
                    "this build cannot apply the step",
                ));
            };
            let Some(last) = sequence.iter().rev().find(|rs| rs.on == Controller::Bmc) else {
                return Ok(
                    "in flight when the run stopped; not re-sent (a DPU reset: verified next)"
                        .into(),
                );
            };
            let want = ends_in(&last.reset_type);
            wait_power(host, provider, want, last.timeout_s, opts)
                .await
                .map(|()| format!("in flight when the run stopped; not re-sent: PowerState is {want}"))
                .map_err(|seen| ApplyError {
                    error: ReadError {
                        endpoint: String::new(),
                        message: format!(
                            "{}: the reset in flight when the run stopped did not end in PowerState {want} within {} s (last seen: {seen}); it was not sent again",
                            host.name, last.timeout_s
                        ),
                        code: RESET_TIMEOUT_CODE.into(),
                        help: "check the host's console; once it is up, make a new plan".into(),
                    },
                    outcome_unknown: true,
                })
        }
        Op::Power { state, .. } => {
            let holds = now
                .and_then(|o| o.current("PowerState"))
                .is_some_and(|v| v.as_str() == Some(state.as_str()));
            if holds {
                Ok(format!(
                    "in flight when the run stopped; PowerState is already {state}"
                ))
            } else {
                run_step(step, host, providers, opts, resets).await
            }
        }
        _ => match now {
            Some(o) if shows_planned(ph, resource, step, o) => Ok(
                "in flight when the run stopped; its values are already there, not re-sent".into(),
            ),
            _ => run_step(step, host, providers, opts, resets).await,
        },
    }
}

fn executor_error(message: String, help: &str) -> ApplyError {
    ApplyError {
        error: ReadError {
            endpoint: String::new(),
            message,
            code: "bmfleet::engine::apply".into(),
            help: help.into(),
        },
        outcome_unknown: false,
    }
}

/// Carries out one step. Resets and power changes are sent one `ResetType` at a time and
/// waited for; `resets` counts the resets sent to the host's own system by a `reset` step.
///
/// # Guarantees
/// One write per reset type sent; a fallback reset type only when the plan names one and the
/// first did not finish within its `timeout_s`.
///
/// # Idempotency
/// As the provider's `apply`: staging is idempotent, resets are not.
///
/// # Caveats
/// The wait reads `PowerState`, which some BMCs report as `On` while still booting; the
/// Redfish provider follows the reset's task monitor first for that reason.
async fn run_step(
    step: &Step,
    host: &Host,
    providers: &[Arc<dyn Provider>],
    opts: &ExecuteOptions,
    resets: &mut u32,
) -> Result<String, ApplyError> {
    let Some(provider) = provider_for(providers, owner_kind(step)) else {
        return Err(executor_error(
            format!("no provider writes {} resources", step.kind),
            "this build cannot apply the step",
        ));
    };
    match &step.op {
        Op::Reset { sequence, applies } => {
            let mut details = Vec::new();
            for rs in sequence {
                let d =
                    reset_and_wait(step, rs, applies, None, host, provider, opts, resets).await?;
                details.push(d);
            }
            Ok(details.join("; "))
        }
        Op::Power {
            state,
            reset_type,
            fallback,
            timeout_s,
        } => {
            let rs = ResetStep {
                on: Controller::Bmc,
                reset_type: reset_type.clone(),
                fallback: fallback.clone(),
                timeout_s: *timeout_s,
            };
            let mut ignored = 0;
            let want = Some(state.as_str());
            reset_and_wait(step, &rs, &[], want, host, provider, opts, &mut ignored).await
        }
        _ => provider.apply(host, step).await.map(|o| o.detail),
    }
}

/// The `PowerState` a reset type ends in.
fn ends_in(reset_type: &str) -> &'static str {
    match reset_type {
        "ForceOff" | "GracefulShutdown" => "Off",
        _ => "On",
    }
}

/// Sends one reset (and, if it does not finish in time, its fallback) and waits for the
/// power state `want` (a `power` step's `state`), or else the one the reset type ends in.
///
/// # Guarantees
/// At most two resets are sent: `rs.reset_type`, then `rs.fallback` once.
///
/// # Idempotency
/// Not idempotent: each call resets the system.
///
/// # Caveats
/// A DPU's power state is not read: its reset is done when its task is.
#[allow(clippy::too_many_arguments)]
async fn reset_and_wait(
    step: &Step,
    rs: &ResetStep,
    applies: &[String],
    want: Option<&str>,
    host: &Host,
    provider: &Arc<dyn Provider>,
    opts: &ExecuteOptions,
    resets: &mut u32,
) -> Result<String, ApplyError> {
    let mut attempt = Some(rs.reset_type.clone());
    let mut last_error = None;
    let mut details = Vec::new();
    let mut first = true;
    while let Some(reset_type) = attempt.take() {
        let one = Step {
            op: Op::Reset {
                sequence: vec![ResetStep {
                    on: rs.on,
                    reset_type: reset_type.clone(),
                    fallback: None,
                    timeout_s: rs.timeout_s,
                }],
                applies: applies.to_vec(),
            },
            ..step.clone()
        };
        if rs.on == Controller::Bmc && matches!(step.op, Op::Reset { .. }) {
            *resets += 1;
        }
        let sent = provider.apply(host, &one).await;
        let timed_out = match sent {
            Ok(o) => {
                details.push(o.detail);
                if rs.on == Controller::Bmc {
                    let want = want.unwrap_or_else(|| ends_in(&reset_type));
                    match wait_power(host, provider, want, rs.timeout_s, opts).await {
                        Ok(()) => return Ok(details.join("; ")),
                        Err(seen) => {
                            last_error = Some(ApplyError {
                                error: ReadError {
                                    endpoint: String::new(),
                                    message: format!(
                                        "{}: PowerState did not become {want} within {} s after {reset_type} (last seen: {seen})",
                                        host.name, rs.timeout_s
                                    ),
                                    code: RESET_TIMEOUT_CODE.into(),
                                    help:
                                        "check the host's console; the reset may still be running"
                                            .into(),
                                },
                                outcome_unknown: true,
                            });
                            true
                        }
                    }
                } else {
                    return Ok(details.join("; "));
                }
            }
            Err(e) => {
                let t = e.error.code == RESET_TIMEOUT_CODE;
                last_error = Some(e);
                t
            }
        };
        if timed_out && first {
            attempt.clone_from(&rs.fallback);
        }
        first = false;
    }
    Err(last_error.unwrap_or_else(|| {
        executor_error(
            format!("{}: the reset did not finish", host.name),
            "check the host",
        )
    }))
}

/// Waits until the host's `PowerState` is `want`, re-reading every `opts.poll_interval`
/// for at most `timeout_s` seconds (tokio time).
///
/// # Errors
/// The last state seen (or read error) when the time is up.
async fn wait_power(
    host: &Host,
    provider: &Arc<dyn Provider>,
    want: &str,
    timeout_s: u64,
    opts: &ExecuteOptions,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_s);
    let address = Address::new(&host.name, ResourceKind::Power, None);
    loop {
        let read = provider.read(host, &[]).await;
        let seen = match read.resources.get(&address) {
            Some(Ok(o)) => match o.current("PowerState") {
                Some(v) if v.as_str() == Some(want) => return Ok(()),
                v => show(v),
            },
            Some(Err(e)) => format!("read error: {}", e.message),
            None => "not reported".to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(seen);
        }
        tokio::time::sleep(opts.poll_interval).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_compare_values_and_etags_where_both_have_one() {
        let fp = |sha: &str, etag: Option<&str>| Fingerprint {
            etag: etag.map(str::to_string),
            settings_etag: None,
            sha256: sha.into(),
        };
        assert!(same_fingerprint(&fp("a", None), &fp("a", Some("1"))));
        assert!(same_fingerprint(&fp("a", Some("1")), &fp("a", Some("1"))));
        assert!(!same_fingerprint(&fp("a", Some("1")), &fp("a", Some("2"))));
        assert!(!same_fingerprint(&fp("a", None), &fp("b", None)));
    }

    #[test]
    fn power_off_reset_types_end_off() {
        assert_eq!(ends_in("ForceOff"), "Off");
        assert_eq!(ends_in("GracefulShutdown"), "Off");
        assert_eq!(ends_in("PowerCycle"), "On");
        assert_eq!(ends_in("On"), "On");
    }
}

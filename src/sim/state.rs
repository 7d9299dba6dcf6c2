//! Per-host runtime state: current and pending values, in-flight resets, tasks and sessions.
//!
//! Time-driven changes are computed lazily: a reset stores its start instant and duration, and
//! every access first calls [`HostState::settle`], which completes the reset if its time has
//! passed. No background task runs per host, so 10,000 idle hosts cost only their state, and
//! `tokio::time::pause()` works.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::model::{DpuMode, PowerState, SimHostConfig, Timing, Vendor};

/// Which of a host's two BMCs a request or endpoint addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BmcKind {
    /// The host's BMC (iDRAC, XCC, ...): `/h/{host}/bmc`.
    Bmc,
    /// The BlueField DPU's own BMC: `/h/{host}/dpu`.
    Dpu,
}

impl BmcKind {
    /// The URL path segment: `"bmc"` or `"dpu"`.
    pub fn segment(self) -> &'static str {
        match self {
            BmcKind::Bmc => "bmc",
            BmcKind::Dpu => "dpu",
        }
    }
}

/// How many finished tasks a BMC remembers; older ones answer 404, as on a real BMC whose task
/// list rolls over.
const TASK_HISTORY: usize = 16;

/// A DPU mode change waiting for its two preconditions (NVIDIA BlueField BMC "Modes of
/// Operation Configuration": reset the DPU, then power-cycle the host).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingDpuMode {
    /// The requested mode.
    pub mode: DpuMode,
    /// True once the DPU has been reset after the request; the next host power cycle (reset
    /// type `PowerCycle`, or power on from off) then applies the mode.
    pub dpu_reset_done: bool,
}

/// What a reset does to power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// Off then on again. `cold` is a full power cycle (`PowerCycle`, or a restart request while
    /// off), which is what applies a pending DPU mode.
    Restart { cold: bool },
    /// Off to on (cold boot).
    PowerOn,
    /// On to off.
    PowerOff,
}

/// An in-flight reset of one BMC's system.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PowerOp {
    pub kind: OpKind,
    pub start: Instant,
    pub duration: Duration,
}

/// A task created by a reset (DMTF `Task` schema).
#[derive(Clone, Debug)]
pub(crate) struct SimTask {
    pub id: u32,
    pub reset_type: String,
    pub start: Instant,
    pub duration: Duration,
}

impl SimTask {
    /// `(TaskState, PercentComplete)` at `now`: `New` for the first tenth of the duration,
    /// `Running` until it ends, `Completed` after.
    pub fn progress(&self, now: Instant) -> (&'static str, u64) {
        let elapsed = now.saturating_duration_since(self.start);
        if elapsed >= self.duration {
            return ("Completed", 100);
        }
        let total = self.duration.as_millis().max(1);
        let pct = (elapsed.as_millis() * 100 / total).min(99);
        let pct = u64::try_from(pct).unwrap_or(99);
        if elapsed.as_millis() * 10 < total {
            ("New", pct)
        } else {
            ("Running", pct)
        }
    }
}

/// A Redfish session (DSP0266 "Session management").
#[derive(Clone, Debug)]
pub(crate) struct SimSession {
    pub id: u32,
    pub token: String,
    pub user: String,
}

/// Runtime of one BMC (host or DPU): sessions, tasks, in-flight reset.
#[derive(Clone, Debug, Default)]
pub(crate) struct BmcRuntime {
    pub sessions: Vec<SimSession>,
    pub next_session: u32,
    pub tasks: VecDeque<SimTask>,
    pub next_task: u32,
    pub op: Option<PowerOp>,
    /// Resets started on this BMC's system (see [`HostState::reset_count`]).
    pub resets: u64,
}

impl BmcRuntime {
    /// Records a new task and returns its id.
    pub fn push_task(&mut self, reset_type: &str, start: Instant, duration: Duration) -> u32 {
        self.next_task = self.next_task.wrapping_add(1);
        let id = self.next_task;
        if self.tasks.len() >= TASK_HISTORY {
            self.tasks.pop_front();
        }
        self.tasks.push_back(SimTask {
            id,
            reset_type: reset_type.to_owned(),
            start,
            duration,
        });
        id
    }
}

/// Power state seen at `now` while `op` runs, or `settled` without one.
fn observed_power(settled: PowerState, op: Option<&PowerOp>, now: Instant) -> PowerState {
    let Some(op) = op else { return settled };
    let elapsed = now.saturating_duration_since(op.start);
    let total = op.duration.as_millis().max(1);
    let quarter = elapsed.as_millis() * 4 / total;
    match op.kind {
        OpKind::Restart { .. } => match quarter {
            0 => PowerState::PoweringOff,
            1 => PowerState::Off,
            2 | 3 => PowerState::PoweringOn,
            _ => PowerState::On,
        },
        OpKind::PowerOn => {
            if quarter < 4 {
                PowerState::PoweringOn
            } else {
                PowerState::On
            }
        }
        OpKind::PowerOff => {
            if quarter < 4 {
                PowerState::PoweringOff
            } else {
                PowerState::Off
            }
        }
    }
}

/// The state of one simulated host, as seen through
/// [`SimHandle::with_host`](super::SimHandle::with_host).
///
/// `config` holds the *settled* values: during a reset `config.power` keeps its value from
/// before the reset and [`HostState::power_state`] reports the transition. Tests may change any
/// public field; the next request sees the change (ETags follow, since they hash the
/// rendered resource). Changing `config.name` changes only what is reported (`HostName`),
/// not the URL the host is served under.
#[derive(Clone, Debug)]
pub struct HostState {
    /// Current values (power, boot, BIOS, DPU) and BIOS values staged as pending
    /// (`config.pending_bios`).
    pub config: SimHostConfig,
    /// Dell only: whether a BIOS configuration job is scheduled for the pending values. iDRAC
    /// creates the job only when the PATCH carries `@Redfish.SettingsApplyTime`; without a job a
    /// reset leaves the values pending (dell/iDRAC-Redfish-Scripting #84). Set when the host
    /// starts with pending values. Ignored for other vendors.
    pub bios_job_scheduled: bool,
    /// DPU BIOS attributes staged in the DPU's `Bios/Settings`, applied at the next DPU reset
    /// or host power cycle. A staged `NicMode` (BF2) turns into [`HostState::dpu_pending_mode`]
    /// at the DPU reset instead.
    pub dpu_pending_bios: BTreeMap<String, Value>,
    /// A requested DPU mode not yet in effect (not visible over Redfish, as on real BMCs).
    pub dpu_pending_mode: Option<PendingDpuMode>,
    pub(crate) bmc: BmcRuntime,
    pub(crate) dpu: BmcRuntime,
}

impl HostState {
    /// Runtime state for a host starting as `config`.
    pub(crate) fn new(config: SimHostConfig) -> Self {
        let bios_job_scheduled = !config.pending_bios.is_empty();
        Self {
            config,
            bios_job_scheduled,
            dpu_pending_bios: BTreeMap::new(),
            dpu_pending_mode: None,
            bmc: BmcRuntime::default(),
            dpu: BmcRuntime::default(),
        }
    }

    /// The host `PowerState` as Redfish reports it now, including transitions.
    pub fn power_state(&self) -> PowerState {
        self.power_state_at(Instant::now())
    }

    pub(crate) fn power_state_at(&self, now: Instant) -> PowerState {
        observed_power(self.config.power, self.bmc.op.as_ref(), now)
    }

    /// The DPU `PowerState` now: `On`, or the transition during a DPU reset.
    pub fn dpu_power_state(&self) -> PowerState {
        self.dpu_power_state_at(Instant::now())
    }

    pub(crate) fn dpu_power_state_at(&self, now: Instant) -> PowerState {
        observed_power(PowerState::On, self.dpu.op.as_ref(), now)
    }

    /// True while a host reset (or power on/off) is in progress.
    pub fn reset_in_progress(&self) -> bool {
        self.bmc.op.is_some()
    }

    /// True while a DPU reset is in progress.
    pub fn dpu_reset_in_progress(&self) -> bool {
        self.dpu.op.is_some()
    }

    /// `ComputerSystem.Reset` requests that started a power operation on the given BMC's
    /// system since start (restart, power cycle, power on, power off, the restart of an
    /// `Immediate` BIOS apply; a DPU reset on
    /// [`BmcKind::Dpu`]). Resets that changed nothing (answered 204) are not counted. Lets
    /// tests check that `apply` resets each host exactly once.
    pub fn reset_count(&self, kind: BmcKind) -> u64 {
        self.runtime(kind).resets
    }

    /// Number of open sessions on the given BMC.
    pub fn session_count(&self, kind: BmcKind) -> usize {
        self.runtime(kind).sessions.len()
    }

    /// Closes every session on the given BMC (like `racadm closessn -a`).
    pub fn clear_sessions(&mut self, kind: BmcKind) {
        self.runtime_mut(kind).sessions.clear();
    }

    pub(crate) fn runtime(&self, kind: BmcKind) -> &BmcRuntime {
        match kind {
            BmcKind::Bmc => &self.bmc,
            BmcKind::Dpu => &self.dpu,
        }
    }

    pub(crate) fn runtime_mut(&mut self, kind: BmcKind) -> &mut BmcRuntime {
        match kind {
            BmcKind::Bmc => &mut self.bmc,
            BmcKind::Dpu => &mut self.dpu,
        }
    }

    /// The DPU mode Redfish reports now.
    pub fn dpu_mode(&self) -> Option<DpuMode> {
        self.config.dpu.as_ref().map(|d| d.mode)
    }

    /// Completes any reset whose time has passed by `now`: applies power, pending BIOS values,
    /// one-time boot overrides and DPU mode changes. Idempotent; cheap when nothing is due.
    pub(crate) fn settle(&mut self, now: Instant) {
        let due = |op: Option<PowerOp>| {
            op.and_then(|op| op.start.checked_add(op.duration))
                .filter(|end| *end <= now)
        };
        let dpu_end = due(self.dpu.op);
        let host_end = due(self.bmc.op);
        // Complete both in the order they ended: a host power cycle that ended before the DPU
        // reset must not count as "after" it.
        match (dpu_end, host_end) {
            (Some(d), Some(h)) if h < d => {
                self.finish_host_op();
                self.finish_dpu_op();
            }
            _ => {
                if dpu_end.is_some() {
                    self.finish_dpu_op();
                }
                if host_end.is_some() {
                    self.finish_host_op();
                }
            }
        }
    }

    fn finish_dpu_op(&mut self) {
        if self.dpu.op.take().is_some() {
            self.finish_dpu_reset();
        }
    }

    fn finish_host_op(&mut self) {
        let Some(op) = self.bmc.op.take() else {
            return;
        };
        match op.kind {
            OpKind::PowerOff => self.config.power = PowerState::Off,
            OpKind::PowerOn => self.finish_boot(true),
            OpKind::Restart { cold } => self.finish_boot(cold),
        }
    }

    /// The host has booted: BIOS pending values apply (on Dell only with a scheduled job), a
    /// `Once` override is consumed, and a cold boot also reboots the DPU from power-off.
    fn finish_boot(&mut self, cold: bool) {
        self.config.power = PowerState::On;
        let apply_bios = self.config.vendor != Vendor::Dell || self.bios_job_scheduled;
        if apply_bios && !self.config.pending_bios.is_empty() {
            let pending = std::mem::take(&mut self.config.pending_bios);
            self.config.bios.extend(pending);
            self.bios_job_scheduled = false;
        }
        if self.config.boot_override.enabled == "Once" {
            self.config.boot_override.enabled = "Disabled".to_owned();
        }
        if cold && self.config.dpu.is_some() {
            self.apply_dpu_pending_bios(false);
            if let Some(pending) = self.dpu_pending_mode
                && pending.dpu_reset_done
            {
                self.dpu_pending_mode = None;
                if let Some(dpu) = self.config.dpu.as_mut() {
                    dpu.mode = pending.mode;
                    if dpu.bios.contains_key("NicMode") {
                        dpu.bios.insert(
                            "NicMode".to_owned(),
                            Value::String(pending.mode.as_str().to_owned()),
                        );
                    }
                }
            }
        }
    }

    /// The DPU's Arm cores have rebooted.
    fn finish_dpu_reset(&mut self) {
        self.apply_dpu_pending_bios(true);
        if let Some(pending) = self.dpu_pending_mode.as_mut() {
            pending.dpu_reset_done = true;
        }
    }

    /// Applies staged DPU BIOS values. A staged `NicMode` becomes a pending mode that still
    /// needs a host power cycle; `from_dpu_reset` marks the DPU reset as done for it.
    fn apply_dpu_pending_bios(&mut self, from_dpu_reset: bool) {
        let Some(dpu) = self.config.dpu.as_mut() else {
            return;
        };
        let mut pending = std::mem::take(&mut self.dpu_pending_bios);
        if let Some(mode) = pending.remove("NicMode") {
            let requested = mode.as_str().and_then(DpuMode::parse);
            match requested {
                Some(mode) if mode != dpu.mode => {
                    self.dpu_pending_mode = Some(PendingDpuMode {
                        mode,
                        dpu_reset_done: from_dpu_reset,
                    });
                }
                Some(_) => self.dpu_pending_mode = None,
                None => {}
            }
        }
        dpu.bios.extend(pending);
    }

    /// Starts a host reset at `now`; returns the task id. The caller has checked that no reset
    /// is in progress.
    pub(crate) fn start_host_op(
        &mut self,
        kind: OpKind,
        reset_type: &str,
        now: Instant,
        timing: &Timing,
    ) -> u32 {
        let ms = match kind {
            OpKind::PowerOff => timing.power_off_ms,
            OpKind::PowerOn | OpKind::Restart { .. } => timing.reset_ms,
        };
        let duration = Duration::from_millis(ms);
        self.bmc.resets += 1;
        self.bmc.op = Some(PowerOp {
            kind,
            start: now,
            duration,
        });
        self.bmc.push_task(reset_type, now, duration)
    }

    /// Starts a DPU reset at `now`; returns the task id.
    pub(crate) fn start_dpu_reset(
        &mut self,
        reset_type: &str,
        now: Instant,
        timing: &Timing,
    ) -> u32 {
        let duration = Duration::from_millis(timing.dpu_reset_ms);
        self.dpu.resets += 1;
        self.dpu.op = Some(PowerOp {
            kind: OpKind::Restart { cold: false },
            start: now,
            duration,
        });
        self.dpu.push_task(reset_type, now, duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::{DpuGeneration, SimDpuConfig};

    fn host() -> HostState {
        let config = SimHostConfig::new("h", Vendor::Generic)
            .with_dpu(SimDpuConfig::new(DpuGeneration::Bf3));
        let mut state = HostState::new(config);
        state.dpu_pending_mode = Some(PendingDpuMode {
            mode: DpuMode::NicMode,
            dpu_reset_done: false,
        });
        state
    }

    fn op(kind: OpKind, start: Instant, ms: u64) -> Option<PowerOp> {
        Some(PowerOp {
            kind,
            start,
            duration: Duration::from_millis(ms),
        })
    }

    #[test]
    fn a_power_cycle_that_ended_before_the_dpu_reset_does_not_apply_the_mode() {
        let t0 = Instant::now();
        let mut s = host();
        s.bmc.op = op(OpKind::Restart { cold: true }, t0, 10);
        s.dpu.op = op(OpKind::Restart { cold: false }, t0, 20);
        s.settle(t0 + Duration::from_millis(30));
        assert_eq!(s.dpu_mode(), Some(DpuMode::DpuMode));
        assert!(s.dpu_pending_mode.is_some_and(|p| p.dpu_reset_done));

        let mut s = host();
        s.dpu.op = op(OpKind::Restart { cold: false }, t0, 10);
        s.bmc.op = op(OpKind::Restart { cold: true }, t0, 20);
        s.settle(t0 + Duration::from_millis(30));
        assert_eq!(s.dpu_mode(), Some(DpuMode::NicMode));
        assert_eq!(s.dpu_pending_mode, None);
    }

    #[test]
    fn observed_power_follows_the_reset_phases() {
        let t0 = Instant::now();
        let mut s = host();
        s.bmc.op = op(OpKind::Restart { cold: false }, t0, 400);
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(s.power_state_at(at(50)), PowerState::PoweringOff);
        assert_eq!(s.power_state_at(at(150)), PowerState::Off);
        assert_eq!(s.power_state_at(at(250)), PowerState::PoweringOn);
        assert_eq!(s.power_state_at(at(399)), PowerState::PoweringOn);
        s.settle(at(400));
        assert!(!s.reset_in_progress());
        assert_eq!(s.power_state_at(at(400)), PowerState::On);
    }

    #[test]
    fn task_states_progress_new_running_completed() {
        let t0 = Instant::now();
        let t = SimTask {
            id: 1,
            reset_type: "ForceRestart".into(),
            start: t0,
            duration: Duration::from_millis(1000),
        };
        assert_eq!(t.progress(t0), ("New", 0));
        assert_eq!(t.progress(t0 + Duration::from_millis(500)), ("Running", 50));
        assert_eq!(
            t.progress(t0 + Duration::from_millis(1000)),
            ("Completed", 100)
        );
    }
}

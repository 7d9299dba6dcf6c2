//! Events the engine emits while it works (refresh, then apply). Libraries never print: a [`Reporter`] turns events
//! into progress bars (the CLI, on a terminal), NDJSON, or a recording (tests).

use serde::Serialize;
use std::sync::Mutex;

/// Which BMC of a host an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BmcRole {
    /// The host's own BMC.
    Bmc,
    /// The DPU's BMC.
    Dpu,
    /// The host's operating system, over SSH.
    Os,
}

/// Something that happened during a refresh (read of live state) or an apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Reading started for `hosts` hosts (`bmcs` BMCs in all).
    RefreshStarted {
        /// Hosts to read.
        hosts: usize,
        /// BMCs to read (host BMCs plus DPU BMCs).
        bmcs: usize,
    },
    /// One BMC was read (or failed).
    BmcRead {
        /// Host name.
        host: String,
        /// Host BMC or DPU BMC.
        role: BmcRole,
        /// Whether the read succeeded.
        ok: bool,
        /// HTTP requests it took (retries included).
        requests: u64,
    },
    /// All BMCs of a host were read.
    HostRefreshed {
        /// Host name.
        host: String,
        /// True when every BMC of the host was read.
        ok: bool,
    },
    /// Reading finished.
    RefreshFinished {
        /// Hosts read.
        hosts: usize,
        /// Hosts with at least one failed BMC.
        failed: usize,
        /// HTTP requests in all.
        requests: u64,
    },
    /// `apply` started: `hosts` hosts with steps, in `batches` rollout batches.
    ApplyStarted {
        /// Hosts with steps.
        hosts: usize,
        /// Rollout batches.
        batches: usize,
    },
    /// A rollout batch started (1-based `number`).
    BatchStarted {
        /// The batch's number in the plan.
        number: usize,
        /// Hosts in it.
        hosts: usize,
    },
    /// A host's apply started (its preconditions are checked next).
    HostStarted {
        /// Host name.
        host: String,
    },
    /// A step of a host started.
    StepStarted {
        /// Host name.
        host: String,
        /// 0-based index in the host's steps.
        index: usize,
        /// The step's resource address (`host/r1-c01/bios`).
        address: String,
        /// The step, for humans (rendered from its op).
        description: String,
    },
    /// A step of a host finished.
    StepFinished {
        /// Host name.
        host: String,
        /// 0-based index in the host's steps.
        index: usize,
        /// The step's resource address.
        address: String,
        /// True when the step was carried out.
        ok: bool,
        /// What the peer said, or why it failed.
        detail: String,
    },
    /// A host's apply ended (its steps ran and the host was verified, or it failed).
    HostApplied {
        /// Host name.
        host: String,
        /// True when every step ran and the host matched the plan afterwards.
        ok: bool,
    },
    /// `apply` ended.
    ApplyFinished {
        /// Hosts applied and verified.
        succeeded: usize,
        /// Hosts that failed (stale, a step failed, or not verified).
        failed: usize,
        /// Hosts not started because the failure budget was exceeded.
        not_started: usize,
    },
}

/// Receives engine events. Implementations must be cheap and must not block.
pub trait Reporter: Send + Sync {
    /// Called for every event, in the order they happen per host.
    fn event(&self, event: &Event);
}

/// Ignores every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullReporter;

impl Reporter for NullReporter {
    fn event(&self, _event: &Event) {}
}

/// Records every event (for tests).
#[derive(Debug, Default)]
pub struct RecordingReporter {
    events: Mutex<Vec<Event>>,
}

impl RecordingReporter {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Reporter for RecordingReporter {
    fn event(&self, event: &Event) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event.clone());
        }
    }
}

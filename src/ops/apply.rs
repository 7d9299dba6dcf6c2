//! `apply_plan`: carry out a saved plan on the fleet it was made from.
//!
//! Load the plan file, check that it was made from the spec commit the fleet is read at now,
//! wire the providers as `plan_fleet` does ([`LiveSource`]), and run
//! [`crate::engine::execute`], journaled (see [`super::journal`]) under a [`Run`] holding the
//! fleet's lock (see [`super::lock`]).

use super::journal::{Journal, JournalRead, RunHeader, read_journal};
use super::lock::FleetLock;
use super::plan_fleet::{LiveSource, OsSource, client_options, redfish_provider};
use super::state::{StateDirs, is_run_id, new_run_id, sha256_hex};
use crate::engine::{ApplyReport, ExecuteOptions, Provider, Reporter, execute_resumed};
use crate::plan::Plan;
use crate::plan::model::SpecSource;
use crate::spec::source::RepoInfo;
use crate::spec::{Host, LoadedFleet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

/// Which plan to apply.
#[derive(Debug, Clone)]
pub enum PlanInput {
    /// A saved plan (`bmfleet plan --out FILE`).
    File(PathBuf),
    /// A plan just made and approved (`bmfleet apply` without PLANFILE).
    Planned(Box<Plan>),
    /// The plan of the run being resumed (`--resume RUN_ID`): its copy in the state
    /// directory, with its journal. Needs a [`Run`] begun with that id.
    Resume,
}

/// What to apply.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The plan.
    pub plan: PlanInput,
    /// Apply a plan made from (or to) a work tree with uncommitted changes, or outside Git.
    pub allow_dirty: bool,
    /// Hosts of one batch applied at once (`--parallelism`; default: the Fleet's
    /// `concurrency.parallelism`).
    pub parallelism: Option<usize>,
    /// Where the BMCs and DPU BMCs are reached.
    pub source: LiveSource,
    /// How the hosts' OS is reached for the plan's OS steps (and their re-reads).
    pub os: OsSource,
    /// How often reset tasks and `PowerState` are polled while waiting (a few seconds for
    /// real BMCs; milliseconds against a fast simulator).
    pub poll_interval: Duration,
}

/// One `apply` run: its id, where its records go, and the fleet lock it holds (released
/// when the `Run` is dropped).
#[derive(Debug)]
pub struct Run {
    /// The run id (`20261127T224800Z-3fa2`).
    pub id: String,
    /// The state and lock directories.
    pub dirs: StateDirs,
    /// True when this run continues an earlier one (`--resume`).
    pub resumed: bool,
    lock: FleetLock,
}

impl Run {
    /// Begins a run against the fleet at `fleet_dir`: a new run id, or `resume` (the id of
    /// an earlier run whose journal is in `dirs`), and the fleet's lock.
    ///
    /// # Guarantees
    /// On success the fleet lock is held until the `Run` is dropped; nothing else is written.
    ///
    /// # Errors
    /// A `resume` id that is malformed or has no journal in `dirs`; the lock is held by
    /// another run, stale, or cannot be created.
    pub fn begin(dirs: StateDirs, fleet_dir: &Path, resume: Option<&str>) -> miette::Result<Self> {
        let id = match resume {
            Some(id) => {
                let runs = dirs.runs();
                if !is_run_id(id) {
                    return Err(miette::miette!(
                        code = "bmfleet::apply::run_id",
                        help = format!(
                            "give the id `bmfleet apply` printed (`20261127T224800Z-3fa2`); journals are in {}",
                            runs.display()
                        ),
                        "`{id}` is not a run id"
                    ));
                }
                if !dirs.journal(id).is_file() {
                    return Err(miette::miette!(
                        code = "bmfleet::apply::no_run",
                        help = "check the id and --state-dir (BMFLEET_STATE_DIR)",
                        "no journal of run {id} in {}",
                        runs.display()
                    ));
                }
                id.to_string()
            }
            None => new_run_id(),
        };
        let lock = FleetLock::acquire(&dirs.locks, fleet_dir, &id)?;
        Ok(Self {
            id,
            dirs,
            resumed: resume.is_some(),
            lock,
        })
    }

    /// The lock this run holds.
    pub fn lock(&self) -> &FleetLock {
        &self.lock
    }
}

/// What `apply` did.
#[derive(Debug, Clone)]
pub struct ApplyOutcome {
    /// The plan that was applied.
    pub plan: Plan,
    /// Every host of the plan and what happened to it.
    pub report: ApplyReport,
    /// The run id, when the run was journaled.
    pub run_id: Option<String>,
    /// The journal, when the run was journaled.
    pub journal: Option<PathBuf>,
    /// Problems that did not stop the run (a journal or audit write that failed).
    pub warnings: Vec<String>,
    /// The exit status of the signal that interrupted the run (130 for SIGINT, 143 for
    /// SIGTERM): hosts in flight finished, no new host was started.
    pub interrupted: Option<i32>,
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM: the first sets `stop` (no new host is started, hosts
/// in flight finish their steps) and records the exit status in `code`; a second one exits at
/// once with that status (steps in flight are cut: the journal shows them as started, and
/// `--resume` re-reads them; the fleet lock is left behind and shows as stale).
async fn watch_signals(stop: Arc<AtomicBool>, code: Arc<AtomicI32>) {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        #[cfg(unix)]
        let got = tokio::select! {
            r = tokio::signal::ctrl_c() => r.map(|()| 130),
            Some(()) = async {
                match term.as_mut() {
                    Some(t) => t.recv().await,
                    None => std::future::pending().await,
                }
            } => Ok(143),
        };
        #[cfg(not(unix))]
        let got = tokio::signal::ctrl_c().await.map(|()| 130);
        let Ok(c) = got else {
            // No signal handling on this platform: nothing to watch.
            return;
        };
        if stop.swap(true, Ordering::SeqCst) {
            std::process::exit(code.load(Ordering::SeqCst).max(c));
        }
        code.store(c, Ordering::SeqCst);
        tracing::warn!(
            "interrupted: no new host is started; hosts in flight finish their steps (send the signal again to stop at once)"
        );
    }
}

/// Checks that a plan made from `planned` may be applied to the fleet read at `now`.
///
/// # Errors
/// A different commit is always refused. A plan made from uncommitted changes, a work tree
/// that has uncommitted changes now, or a fleet outside Git (nothing proves which specs the
/// plan came from) are refused unless `allow_dirty`.
pub fn check_source(planned: &SpecSource, now: &RepoInfo, allow_dirty: bool) -> miette::Result<()> {
    let describe = |c: &Option<String>| {
        c.as_deref().map_or_else(
            || "no commit".to_string(),
            |s| format!("commit {}", s.get(..12).unwrap_or(s)),
        )
    };
    if planned.commit != now.commit && (planned.commit.is_some() || now.commit.is_some()) {
        return Err(miette::miette!(
            code = "bmfleet::apply::other_commit",
            help = "make a new plan from the specs as they are now (`bmfleet plan --out FILE`), review it, and apply that",
            "the plan was made from {} but the fleet is now at {}; nothing was applied",
            describe(&planned.commit),
            describe(&now.commit)
        ));
    }
    if allow_dirty {
        return Ok(());
    }
    let help = "commit the changes and make a new plan, or pass --allow-dirty to apply anyway";
    if planned.dirty {
        return Err(miette::miette!(
            code = "bmfleet::apply::dirty",
            help = help,
            "the plan was made from a work tree with uncommitted changes ({}); nothing was applied",
            planned.describe()
        ));
    }
    if now.dirty {
        return Err(miette::miette!(
            code = "bmfleet::apply::dirty",
            help = help,
            "the fleet's work tree has uncommitted changes ({}); nothing was applied",
            now.describe()
        ));
    }
    if now.commit.is_none() {
        return Err(miette::miette!(
            code = "bmfleet::apply::no_commit",
            help = "keep the fleet in Git, or pass --allow-dirty to apply anyway",
            "the fleet is not in a Git repository, so nothing shows the plan was made from these specs; nothing was applied"
        ));
    }
    Ok(())
}

/// Applies the plan `req.plan` names to `fleet` (already loaded and valid, read at the
/// revision the caller chose), journaled under `run` when given.
///
/// # Guarantees
/// Nothing is written unless the plan's spec commit is the fleet's and every step of the
/// plan can be carried out by this build; then as
/// [`crate::engine::execute`]: steps exactly as planned, stale hosts refused before any
/// write, every applied host re-read and verified. With `run`: the plan is copied to
/// `runs/<id>.plan.json` and the journal `runs/<id>.jsonl` started (fsynced) before any
/// write; every step is journaled before and after it runs, and audited after. Resuming
/// (`PlanInput::Resume`) reloads both and continues as
/// [`crate::engine::execute_resumed`]: finished steps are not redone, the step in flight
/// is re-read first, a reset in flight is never re-sent.
///
/// # Idempotency
/// Re-applying a plan that succeeded refuses its hosts as stale: make a new plan. Resuming
/// a run that finished only re-verifies its hosts.
///
/// # Caveats
/// Without `run` there is no journal, no audit line and no lock (library use and tests).
/// A journal write that fails mid-run does not stop the run; it is in `warnings`.
///
/// # Errors
/// An unreadable plan file or plan copy, a journal that does not match its plan copy, a
/// plan from another commit or a dirty tree (without `allow_dirty`), a plan with steps
/// that cannot be carried out, a journal that cannot be started, or a runtime that does not
/// start. Per-host failures are in the report, not errors.
pub fn apply_plan(
    fleet: &LoadedFleet,
    fleet_dir: &std::path::Path,
    req: &ApplyRequest,
    run: Option<&Run>,
    reporter: Arc<dyn Reporter>,
) -> miette::Result<ApplyOutcome> {
    let (plan, resume, copied) = match (&req.plan, run) {
        (PlanInput::File(path), _) => (super::read_plan(path)?, None, None),
        (PlanInput::Planned(plan), _) => ((**plan).clone(), None, None),
        (PlanInput::Resume, None) => {
            return Err(miette::miette!(
                code = "bmfleet::apply::resume",
                "resuming needs the run's state directory; nothing was applied"
            ));
        }
        (PlanInput::Resume, Some(run)) => {
            let (plan, read, digest) = load_resume(run)?;
            (plan, Some(read.resume), Some(digest))
        }
    };
    check_source(&plan.source, &fleet.repo, req.allow_dirty)?;
    let hosts: Vec<&Host> = plan
        .hosts
        .iter()
        .filter_map(|ph| fleet.host(&ph.name))
        .collect();
    let concurrency = fleet
        .fleet
        .as_ref()
        .map(|f| f.doc.spec.concurrency.clone())
        .unwrap_or_default();
    let stop = Arc::new(AtomicBool::new(false));
    let opts = ExecuteOptions {
        parallelism: req
            .parallelism
            .unwrap_or(concurrency.parallelism as usize)
            .max(1),
        poll_interval: req.poll_interval,
        stop: Some(stop.clone()),
    };
    let redfish = redfish_provider(fleet, fleet_dir, &hosts, &req.source, client_options(fleet))
        .with_task_poll(req.poll_interval);
    let os = super::plan_fleet::os_provider(&hosts, &req.os)?
        .with_data_files(Arc::new(fleet.data_files.clone()))
        .with_poll(req.poll_interval.max(Duration::from_millis(10)) * 5);
    let providers: Vec<Arc<dyn Provider>> = vec![Arc::new(redfish), Arc::new(os)];
    // Refuse a plan this build cannot carry out before a journal is started for it.
    {
        let by_name = hosts.iter().map(|h| (h.name.as_str(), *h)).collect();
        crate::engine::execute::check_executable(&plan, &by_name, &providers).map_err(refused)?;
    }
    let journal = match run {
        None => None,
        Some(run) => {
            let fleet_id = super::lock::fleet_identity(fleet_dir);
            Some(Arc::new(match copied {
                Some(digest) => Journal::reopen(
                    &run.dirs,
                    &RunHeader {
                        run: run.id.clone(),
                        plan_digest: digest,
                        fleet: fleet_id,
                    },
                    &plan,
                    reporter.clone(),
                )?,
                None => {
                    let text = crate::render::plan_json::render(&plan);
                    Journal::create(
                        &run.dirs,
                        &RunHeader {
                            run: run.id.clone(),
                            plan_digest: sha256_hex(text.as_bytes()),
                            fleet: fleet_id,
                        },
                        &plan,
                        &text,
                        reporter.clone(),
                    )?
                }
            }))
        }
    };
    let sink: Arc<dyn Reporter> = match &journal {
        Some(j) => j.clone(),
        None => reporter,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
    let resume = resume.unwrap_or_default();
    let interrupted = Arc::new(AtomicI32::new(0));
    let report = runtime
        .block_on(async {
            let watcher = tokio::spawn(watch_signals(stop.clone(), interrupted.clone()));
            let r = execute_resumed(
                &plan,
                &hosts,
                &fleet.data_files,
                &providers,
                &opts,
                &resume,
                sink,
            )
            .await;
            watcher.abort();
            r
        })
        .map_err(refused)?;
    let mut warnings = Vec::new();
    if let Some(j) = &journal {
        j.finish(&report);
        if let Some(e) = j.error() {
            warnings.push(format!(
                "{e}: the run's record is incomplete, so `--resume` may redo or re-verify steps"
            ));
        }
    }
    let code = interrupted.load(Ordering::SeqCst);
    Ok(ApplyOutcome {
        interrupted: (code != 0).then_some(code),
        plan,
        report,
        run_id: run.map(|r| r.id.clone()),
        journal: journal.as_ref().map(|j| j.path().to_path_buf()),
        warnings,
    })
}

fn refused(e: crate::engine::ExecuteError) -> miette::Report {
    let help = match e {
        crate::engine::ExecuteError::NotExecutable(_) => {
            "make a plan this build can carry out: leave out the hosts named (`bmfleet plan --exclude HOSTS --out FILE`), or their OS (`--no-os`); nothing was applied"
        }
        _ => "make a new plan from the specs as they are now",
    };
    miette::miette!(code = "bmfleet::apply::refused", help = help, "{e}")
}

/// The plan copy and journal of the run being resumed, checked against each other: the
/// plan, what the journal says, and the copy's digest.
fn load_resume(run: &Run) -> miette::Result<(Plan, JournalRead, String)> {
    let copy = run.dirs.plan_copy(&run.id);
    let bytes = std::fs::read(&copy).map_err(|e| {
        miette::miette!(
            code = "bmfleet::apply::resume",
            help = "the plan copy is written next to the journal when a run starts; without it the run cannot be resumed: make a new plan",
            "cannot read the plan of run {} ({}): {e}",
            run.id,
            copy.display()
        )
    })?;
    let digest = sha256_hex(&bytes);
    let plan = super::read_plan(&copy)?;
    let read = read_journal(&run.dirs.journal(&run.id))?;
    if read.plan_digest != digest {
        return Err(miette::miette!(
            code = "bmfleet::apply::resume",
            help = "the plan copy was changed after the run started; make a new plan",
            "the plan copy {} does not match the digest its journal recorded; nothing was applied",
            copy.display()
        ));
    }
    for (host, steps) in &read.addresses {
        for (index, address) in steps {
            let planned = plan
                .host(host)
                .and_then(|h| h.steps.get(*index))
                .map(|s| s.address.to_string());
            if planned.as_deref() != Some(address.as_str()) {
                return Err(miette::miette!(
                    code = "bmfleet::apply::resume",
                    help = "the journal does not belong to this plan; make a new plan",
                    "the journal of run {} names step {index} of {host} as {address}, which the plan does not have; nothing was applied",
                    run.id
                ));
            }
        }
    }
    Ok((plan, read, digest))
}

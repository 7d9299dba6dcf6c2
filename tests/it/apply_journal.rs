//! `apply` journal, audit log, resume and fleet lock (issue 9 items 5 and 6), and approval in
//! one command (item 1): against the in-process simulator through `ops`, and the CLI.

use crate::apply::{OpsRig, bmfleet_cli, resets};
use bmfleet::engine::{HostOutcome, NullReporter, StepStatus};
use bmfleet::ops::lock::{Broken, FleetLock, LockInfo, LockState, break_lock, lock_path, status};
use bmfleet::ops::{ApplyOutcome, PlanInput, Run, StateDirs, apply_plan};
use bmfleet::plan::op::Op;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn dirs(rig: &OpsRig) -> StateDirs {
    StateDirs::resolve(Some(&rig.tmp.path().join("state")), None).unwrap()
}

fn apply(rig: &OpsRig, plan: PlanInput, run: &Run) -> miette::Result<ApplyOutcome> {
    apply_to(rig, &rig.fleet(), plan, run)
}

fn apply_to(
    rig: &OpsRig,
    fleet: &bmfleet::spec::LoadedFleet,
    plan: PlanInput,
    run: &Run,
) -> miette::Result<ApplyOutcome> {
    let req = bmfleet::ops::ApplyRequest {
        plan,
        allow_dirty: false,
        parallelism: Some(8),
        source: rig.source(fleet),
        os: bmfleet::ops::OsSource::Skip("not read in this test".into()),
        poll_interval: Duration::from_millis(10),
    };
    apply_plan(fleet, &rig.dir, &req, Some(run), Arc::new(NullReporter))
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn event(v: &Value) -> &str {
    v["event"].as_str().unwrap_or_default()
}

#[test]
fn a_journaled_run_records_every_step_before_and_after_and_audits_each() {
    let rig = OpsRig::new();
    let file = rig.tmp.path().join("plan.json");
    let planned = rig.plan(Some(file.clone()));
    let dirs = dirs(&rig);
    let run = Run::begin(dirs.clone(), &rig.dir, None).unwrap();
    assert!(bmfleet::ops::state::is_run_id(&run.id), "{}", run.id);
    let outcome = apply(&rig, PlanInput::File(file), &run).unwrap();
    assert_eq!(outcome.report.failed(), 0, "{:#?}", outcome.report);
    assert_eq!(outcome.run_id.as_deref(), Some(run.id.as_str()));
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);

    let journal = lines(&dirs.journal(&run.id));
    let head = &journal[0];
    assert_eq!(event(head), "run-started");
    assert_eq!(head["run"], run.id.as_str());
    assert_eq!(
        head["spec_commit"].as_str(),
        planned.source.commit.as_deref()
    );
    let copy = std::fs::read(dirs.plan_copy(&run.id)).unwrap();
    assert_eq!(
        head["plan_digest"].as_str().unwrap(),
        bmfleet::ops::state::sha256_hex(&copy)
    );
    assert_eq!(
        bmfleet::plan::Plan::from_json(std::str::from_utf8(&copy).unwrap()).unwrap(),
        planned
    );
    for k in ["user", "hostname", "ts", "pid"] {
        assert!(!head[k].is_null(), "{k}: {head}");
    }
    let tail = journal.last().unwrap();
    assert_eq!(event(tail), "run-finished");
    assert_eq!(tail["outcome"], "succeeded");

    // Every step of the plan: started, then finished ok, in its host's order.
    let mut total = 0;
    for ph in planned.hosts.iter().filter(|h| h.has_changes()) {
        let mine: Vec<&Value> = journal
            .iter()
            .filter(|l| l["host"] == ph.name.as_str())
            .collect();
        assert_eq!(mine.len(), 2 * ph.steps.len(), "{}: {mine:#?}", ph.name);
        for (i, step) in ph.steps.iter().enumerate() {
            let (s, f) = (mine[2 * i], mine[2 * i + 1]);
            assert_eq!((event(s), event(f)), ("started", "finished"));
            for l in [s, f] {
                assert_eq!(l["index"], i);
                assert_eq!(l["address"], step.address.to_string().as_str());
            }
            assert_eq!(f["ok"], true);
        }
        total += ph.steps.len();
    }
    let audit = lines(&dirs.audit());
    assert_eq!(audit.len(), total);
    for a in &audit {
        assert_eq!(a["run"], run.id.as_str());
        assert_eq!(a["result"], "ok");
        assert_eq!(a["spec_commit"].as_str(), planned.source.commit.as_deref());
    }
    let bios = audit
        .iter()
        .find(|a| a["step"].as_str().unwrap().ends_with("/bios"))
        .expect("a BIOS step is audited");
    let change = &bios["changes"][0];
    assert!(
        change.get("before").is_some() && change.get("after").is_some(),
        "{bios}"
    );
    // The lock is released when the run ends.
    drop(run);
    assert_eq!(status(&lock_path(&dirs.locks, &rig.dir)), LockState::Free);
}

/// Keeps the journal of `victim` up to its last `started` line (the process died during that
/// step) and every other host's lines whole; drops the footer.
fn crash_during_last_step(path: &Path, victim: &str, last: usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            if event(&v) == "run-finished" {
                return false;
            }
            if v["host"] != victim {
                return true;
            }
            let i = v["index"].as_u64().unwrap() as usize;
            i < last || (i == last && event(&v) == "started")
        })
        .collect();
    std::fs::write(path, kept.join("\n") + "\n").unwrap();
}

#[test]
fn a_run_that_died_during_a_reset_resumes_without_resetting_or_redoing_anything() {
    let rig = OpsRig::new();
    let file = rig.tmp.path().join("plan.json");
    let planned = rig.plan(Some(file.clone()));
    let dirs = dirs(&rig);
    let run = Run::begin(dirs.clone(), &rig.dir, None).unwrap();
    let id = run.id.clone();
    let first = apply(&rig, PlanInput::File(file), &run).unwrap();
    assert_eq!(first.report.failed(), 0, "{:#?}", first.report);
    drop(run);
    let victim = planned
        .hosts
        .iter()
        .find(|h| {
            h.steps.len() > 1 && matches!(h.steps.last().map(|s| &s.op), Some(Op::Reset { .. }))
        })
        .expect("a host whose last step is its reset");
    let last = victim.steps.len() - 1;
    crash_during_last_step(&dirs.journal(&id), &victim.name, last);
    let before: Vec<(String, u64)> = planned
        .hosts
        .iter()
        .map(|h| (h.name.clone(), resets(rig.sim(), &h.name)))
        .collect();
    assert_eq!(resets(rig.sim(), &victim.name), 1);

    let run = Run::begin(dirs.clone(), &rig.dir, Some(&id)).unwrap();
    assert!(run.resumed);
    let resumed = apply(&rig, PlanInput::Resume, &run).unwrap();
    assert_eq!(resumed.plan, planned);
    assert_eq!(resumed.report.failed(), 0, "{:#?}", resumed.report);
    assert_eq!(
        resumed.report.succeeded(),
        planned.hosts.iter().filter(|h| h.has_changes()).count()
    );
    for (name, n) in &before {
        assert_eq!(resets(rig.sim(), name), *n, "{name} was reset again");
    }
    let r = resumed.report.host(&victim.name).unwrap();
    assert_eq!(r.outcome, HostOutcome::Succeeded);
    assert_eq!(r.resets, 0);
    let StepStatus::Applied(detail) = &r.steps[last].status else {
        panic!("{r:#?}")
    };
    assert!(detail.contains("not re-sent"), "{detail}");
    for s in &r.steps[..last] {
        assert_eq!(
            s.status,
            StepStatus::Applied("applied by the interrupted run (journal)".into())
        );
    }
    // The journal now shows the resumed run finishing the step in flight, and its end.
    let journal = lines(&dirs.journal(&id));
    assert!(journal.iter().any(|l| event(l) == "run-resumed"));
    let finished: Vec<&Value> = journal
        .iter()
        .filter(|l| l["host"] == victim.name.as_str() && event(l) == "finished")
        .collect();
    assert_eq!(finished.len(), last + 1);
    assert_eq!(event(journal.last().unwrap()), "run-finished");
    // Only the step in flight was started again: the other hosts were verified only.
    let started_again = journal
        .iter()
        .skip_while(|l| event(l) != "run-resumed")
        .filter(|l| event(l) == "started")
        .count();
    assert_eq!(started_again, 1);
}

#[test]
fn secrets_never_reach_the_journal_or_the_audit_log() {
    const SECRET: &str = "hunter2-never-logged";
    let rig = OpsRig::new();
    let profile = rig.dir.join("profiles/compute.yaml");
    let text = std::fs::read_to_string(&profile).unwrap();
    let text = text.replace(
        "      SysProfile: PerfOptimized\n",
        &format!("      SysProfile: PerfOptimized\n      AdminPassword: {SECRET}\n"),
    );
    std::fs::write(&profile, text).unwrap();
    rig.commit("bios password");
    // `validate` refuses a password in the repo (plaintext_secret); the library is driven
    // with it anyway, as the worst case of a secret reaching a plan's steps.
    let fleet = bmfleet::spec::load(&bmfleet::spec::LoadOptions {
        fleet_dir: rig.dir.clone(),
        revision: None,
    })
    .unwrap();
    assert!(fleet.has_errors());
    let req = bmfleet::ops::PlanRequest {
        selector: None,
        hosts: Vec::new(),
        exclude: Vec::new(),
        parallelism: None,
        source: rig.source(&fleet),
        os: bmfleet::ops::OsSource::Skip("not read in this test".into()),
        out: None,
        deadline: None,
    };
    let planned = bmfleet::ops::plan_fleet(&fleet, &rig.dir, &req, Arc::new(NullReporter))
        .unwrap()
        .plan;
    assert!(
        planned
            .hosts
            .iter()
            .flat_map(|h| &h.changes)
            .any(|c| c.setting == "AdminPassword" && c.sensitive),
        "the plan changes the password"
    );
    let dirs = dirs(&rig);
    let run = Run::begin(dirs.clone(), &rig.dir, None).unwrap();
    let outcome = apply_to(&rig, &fleet, PlanInput::Planned(Box::new(planned)), &run).unwrap();
    // This build refuses to write a secret BIOS attribute: those hosts fail, by reference.
    assert!(outcome.report.failed() > 0);
    for path in [dirs.journal(&run.id), dirs.audit(), dirs.plan_copy(&run.id)] {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(SECRET),
            "{} leaks the secret",
            path.display()
        );
    }
    let audit = std::fs::read_to_string(dirs.audit()).unwrap();
    assert!(
        audit.contains(r#""setting":"AdminPassword""#) && audit.contains(r#""sensitive":true"#),
        "{audit}"
    );
}

#[test]
fn a_held_lock_refuses_a_second_run_naming_its_holder_and_is_released_on_drop() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = Path::new("examples/fleet");
    let locks = tmp.path().join("locks");
    let first = FleetLock::acquire(&locks, fleet, "20261127T224800Z-0001").unwrap();
    let e = FleetLock::acquire(&locks, fleet, "20261127T224800Z-0002").unwrap_err();
    let text = format!("{e:?}");
    assert!(text.contains("another apply holds the lock"), "{text}");
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    assert!(text.contains("20261127T224800Z-0001"), "{text}");
    assert!(text.contains(&first.info().user), "{text}");
    // A live holder is not broken without --force.
    assert!(break_lock(&locks, fleet, false).is_err());
    assert!(first.file().exists());
    drop(first);
    assert_eq!(status(&lock_path(&locks, fleet)), LockState::Free);
    let again = FleetLock::acquire(&locks, fleet, "20261127T224800Z-0003").unwrap();
    assert!(matches!(
        break_lock(&locks, fleet, true).unwrap(),
        Broken::Removed(Some(_))
    ));
    drop(again);
}

#[test]
fn a_lock_left_by_a_dead_process_is_stale_refused_and_broken() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = Path::new("examples/fleet");
    let locks = tmp.path().join("locks");
    let path = lock_path(&locks, fleet);
    std::fs::create_dir_all(&locks).unwrap();
    let dead = LockInfo {
        user: "alice".into(),
        hostname: bmfleet::ops::state::hostname(),
        pid: u32::MAX - 1,
        started: "2026-11-27T22:48:00.000Z".into(),
        run: "20261127T224800Z-dead".into(),
        fleet: path.identity.clone(),
    };
    std::fs::write(&path.file, serde_json::to_string(&dead).unwrap()).unwrap();
    assert_eq!(status(&path), LockState::Stale(dead.clone()));
    let e = FleetLock::acquire(&locks, fleet, "20261127T224800Z-0004").unwrap_err();
    let text = format!("{e:?}");
    assert!(
        text.contains("stale") && text.contains("bmfleet lock break"),
        "{text}"
    );
    assert!(
        text.contains("alice") && text.contains("20261127T224800Z-dead"),
        "{text}"
    );
    // `bmfleet lock status` and `bmfleet lock break` through the CLI.
    let state = tmp.path().to_str().unwrap();
    let lock_dir = locks.to_str().unwrap();
    let (out, _, code) = bmfleet_cli(
        fleet,
        &[
            "lock",
            "status",
            "--state-dir",
            state,
            "--lock-dir",
            lock_dir,
        ],
    );
    assert_eq!(code, Some(1));
    assert!(out.starts_with("stale: alice on "), "{out}");
    let (out, err, code) = bmfleet_cli(
        fleet,
        &[
            "lock",
            "break",
            "--state-dir",
            state,
            "--lock-dir",
            lock_dir,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("removed the lock of alice"), "{out}");
    let (out, _, code) = bmfleet_cli(
        fleet,
        &[
            "lock",
            "status",
            "--state-dir",
            state,
            "--lock-dir",
            lock_dir,
        ],
    );
    assert_eq!(code, Some(0));
    assert!(out.starts_with("free"), "{out}");
    // A lock from another host cannot be checked: held, broken only with --force.
    let other = LockInfo {
        hostname: "ci-runner-elsewhere".into(),
        ..dead
    };
    std::fs::write(&path.file, serde_json::to_string(&other).unwrap()).unwrap();
    assert_eq!(status(&path), LockState::Held(other));
    assert!(break_lock(&locks, fleet, false).is_err());
    assert!(matches!(
        break_lock(&locks, fleet, true).unwrap(),
        Broken::Removed(Some(_))
    ));
}

#[test]
fn cli_apply_auto_approved_plans_applies_journals_and_resumes_under_the_lock() {
    let rig = OpsRig::new();
    let url = format!("http://{}", rig.sim().addr());
    let state = rig.tmp.path().join("state");
    let state_arg = state.to_str().unwrap();
    let (out, err, code) = bmfleet_cli(
        &rig.dir,
        &[
            "apply",
            "--sim-url",
            &url,
            "--no-os",
            "--auto-approve",
            "--state-dir",
            state_arg,
        ],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    // The run id on stderr at the start, the plan on stderr, the report on stdout.
    let id = err
        .split("bmfleet apply: run ")
        .nth(1)
        .and_then(|t| t.get(..21))
        .unwrap()
        .to_string();
    assert!(bmfleet::ops::state::is_run_id(&id), "{err}");
    assert!(err.contains("Plan:") || err.contains("to change"), "{err}");
    assert!(out.starts_with(&format!("Run {id} (journal ")), "{out}");
    assert!(out.contains(" 0 failed, 0 not started"), "{out}");
    let dirs = StateDirs::resolve(Some(&state), None).unwrap();
    assert!(dirs.journal(&id).is_file() && dirs.plan_copy(&id).is_file());
    let (out, err, code) = bmfleet_cli(
        &rig.dir,
        &["plan", "--sim-url", &url, "--detailed-exitcode"],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");

    // Resuming a finished run verifies only: nothing is sent again.
    let before: u64 = rig.sim().host_names().map(|h| resets(rig.sim(), h)).sum();
    let (out, err, code) = bmfleet_cli(
        &rig.dir,
        &[
            "apply",
            "--resume",
            &id,
            "--sim-url",
            &url,
            "--state-dir",
            state_arg,
        ],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(err.contains(&format!("run {id}, resumed")), "{err}");
    let after: u64 = rig.sim().host_names().map(|h| resets(rig.sim(), h)).sum();
    assert_eq!(before, after);

    // Nothing left to apply: says so, exit 0, nothing journaled as a step.
    let (_, err, code) = bmfleet_cli(
        &rig.dir,
        &[
            "apply",
            "--sim-url",
            &url,
            "--no-os",
            "--auto-approve",
            "--state-dir",
            state_arg,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("Nothing to apply."), "{err}");

    // While another run holds the fleet's lock, apply is refused before planning.
    let held = FleetLock::acquire(&dirs.locks, &rig.dir, "20261127T224800Z-0005").unwrap();
    let requests = rig.sim().request_count();
    let (_, err, code) = bmfleet_cli(
        &rig.dir,
        &[
            "apply",
            "--sim-url",
            &url,
            "--no-os",
            "--auto-approve",
            "--state-dir",
            state_arg,
        ],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("another apply holds the lock"), "{err}");
    assert!(err.contains("20261127T224800Z-0005"), "{err}");
    assert_eq!(rig.sim().request_count(), requests, "nothing was read");
    drop(held);
    let _ = &rig.runtime;
}

//! `apply` (issue 9): a saved plan carried out against the in-process simulator, then planned
//! again; stale hosts refused; plans from another commit refused before any write.

use bmfleet::engine::{
    ExecuteOptions, FailStage, HostOutcome, NullReporter, Provider, RecordingReporter,
    RefreshOptions, StepStatus, execute, refresh,
};
use bmfleet::plan::op::Op;
use bmfleet::plan::{Plan, PlanOptions, plan};
use bmfleet::redfish::ClientOptions;
use bmfleet::redfish::provider::RedfishProvider;
use bmfleet::sim::from_spec::{Seeding, from_spec};
use bmfleet::sim::{BmcKind, SimHandle, SimServer, Timing};
use bmfleet::spec::{Host, LoadedFleet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const FLEET: &str = "examples/fleet";

/// Fast client options for the loopback simulator.
fn client() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(10),
        retries: 1,
        backoff_base: Duration::from_millis(20),
        ..ClientOptions::default()
    }
}

fn exec_opts() -> ExecuteOptions {
    ExecuteOptions {
        parallelism: 8,
        poll_interval: Duration::from_millis(20),
        ..ExecuteOptions::default()
    }
}

async fn start_sim(fleet: &LoadedFleet, drift_rate: f64) -> SimHandle {
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let (mut config, _drift) = from_spec(
        &hosts,
        Seeding {
            seed: 11,
            drift_rate,
            factory_rate: 0.2,
        },
    );
    config.timing = Timing::uniform(60);
    SimServer::start(config).await.unwrap()
}

fn providers(sim: &SimHandle, fleet: &LoadedFleet) -> Vec<Arc<dyn Provider>> {
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let targets = bmfleet::sim::targets::simulated_targets(sim, &hosts, Path::new(FLEET));
    vec![Arc::new(
        RedfishProvider::new(targets, client()).with_task_poll(Duration::from_millis(10)),
    )]
}

async fn plan_now(fleet: &LoadedFleet, providers: &[Arc<dyn Provider>]) -> Plan {
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let result = refresh(
        &hosts,
        &fleet.data_files,
        providers,
        &RefreshOptions::default(),
        Arc::new(NullReporter),
    )
    .await;
    plan(&hosts, &result.observed, &PlanOptions::for_fleet(fleet))
}

pub(crate) fn resets(sim: &SimHandle, host: &str) -> u64 {
    sim.with_host(host, |s| s.reset_count(BmcKind::Bmc))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifted_fleet_applied_plans_to_no_changes_with_one_reset_per_rebooted_host() {
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let sim = start_sim(&fleet, 0.8).await;
    let providers = providers(&sim, &fleet);
    let before = plan_now(&fleet, &providers).await;
    assert!(!before.has_errors());
    assert!(before.has_changes());
    let rebooted: Vec<&str> = before
        .hosts
        .iter()
        .filter(|h| h.steps.iter().any(|s| matches!(s.op, Op::Reset { .. })))
        .map(|h| h.name.as_str())
        .collect();
    assert!(!rebooted.is_empty(), "the drift needs at least one reboot");
    // Save and read back, as `plan --out` and `apply PLANFILE` do.
    let saved = bmfleet::render::plan_json::render(&before);
    let loaded = Plan::from_json(&saved).unwrap();

    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let reporter = Arc::new(RecordingReporter::default());
    let report = execute(
        &loaded,
        &hosts,
        &fleet.data_files,
        &providers,
        &exec_opts(),
        reporter.clone(),
    )
    .await
    .unwrap();
    for h in &report.hosts {
        assert!(
            matches!(
                h.outcome,
                HostOutcome::Succeeded | HostOutcome::Skipped { .. }
            ),
            "{h:#?}"
        );
    }
    assert_eq!(
        report.succeeded(),
        before.hosts.iter().filter(|h| h.has_changes()).count()
    );
    for ph in &before.hosts {
        let r = report.host(&ph.name).unwrap();
        let needs_reset = rebooted.contains(&ph.name.as_str());
        let powers = ph.steps.iter().any(|s| matches!(s.op, Op::Power { .. }));
        assert_eq!(r.resets, u32::from(needs_reset), "{}", ph.name);
        // The simulator counts every power operation it started (power-on included).
        let want = u64::from(needs_reset || powers);
        assert_eq!(resets(&sim, &ph.name), want, "{}: {:#?}", ph.name, ph.steps);
        assert!(
            r.steps
                .iter()
                .all(|s| matches!(s.status, StepStatus::Applied(_)))
        );
    }
    let after = plan_now(&fleet, &providers).await;
    let left: Vec<_> = after.hosts.iter().flat_map(|h| &h.changes).collect();
    assert!(left.is_empty(), "{left:#?}");
    assert!(!after.has_changes());
    let events = reporter.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, bmfleet::engine::Event::ApplyFinished { failed: 0, .. }))
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_changed_after_the_plan_is_refused_and_the_others_are_applied() {
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let sim = start_sim(&fleet, 0.8).await;
    let providers = providers(&sim, &fleet);
    let mut p = plan_now(&fleet, &providers).await;
    // Let every failure through so that the other hosts go on.
    p.rollout.max_failures = usize::MAX;
    let victim = p
        .hosts
        .iter()
        .find(|h| h.steps.iter().any(|s| matches!(s.op, Op::BiosStage { .. })))
        .map(|h| h.name.clone())
        .unwrap();
    let bios = p
        .host(&victim)
        .unwrap()
        .changes
        .iter()
        .find(|c| c.kind == bmfleet::plan::resource::ResourceKind::Bios)
        .unwrap()
        .clone();
    // Someone changes the BMC between plan and apply: another value for an attribute the
    // plan changes.
    let before_resets = resets(&sim, &victim);
    sim.with_host(&victim, |s| {
        s.config
            .bios
            .insert(bios.setting.clone(), serde_json::json!("SomethingElse"));
    })
    .unwrap();
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let report = execute(
        &p,
        &hosts,
        &fleet.data_files,
        &providers,
        &exec_opts(),
        Arc::new(NullReporter),
    )
    .await
    .unwrap();
    let r = report.host(&victim).unwrap();
    let HostOutcome::Failed {
        stage,
        step,
        message,
        ..
    } = &r.outcome
    else {
        panic!("{r:#?}")
    };
    assert_eq!(*stage, FailStage::Stale);
    assert_eq!(step.as_deref(), Some(bios.address.to_string().as_str()));
    assert!(message.contains(&victim), "{message}");
    assert!(message.contains(&bios.address.to_string()), "{message}");
    assert!(
        message.contains(&format!("{}: planned against", bios.setting))
            && message.contains("\"SomethingElse\""),
        "{message}"
    );
    assert!(r.steps.iter().all(|s| s.status == StepStatus::Skipped));
    assert_eq!(resets(&sim, &victim), before_resets, "nothing was reset");
    let others = p
        .hosts
        .iter()
        .filter(|h| h.has_changes() && h.name != victim)
        .count();
    assert!(others > 0);
    assert_eq!(report.succeeded(), others);
    assert_eq!(report.failed(), 1);
    sim.shutdown().await;
}

/// The example fleet committed to a fresh Git repository, and a simulator seeded from it
/// (with drift) on its own runtime, as the CLI runs it.
pub(crate) struct OpsRig {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) dir: std::path::PathBuf,
    repo: git2::Repository,
    pub(crate) runtime: tokio::runtime::Runtime,
    sim: Option<SimHandle>,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl OpsRig {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fleet");
        copy_dir(Path::new(FLEET), &dir);
        let repo = git2::Repository::init(&dir).unwrap();
        let rig_fleet = bmfleet::spec::load::load_dir(&dir).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sim = runtime.block_on(start_sim(&rig_fleet, 0.8));
        let rig = Self {
            tmp,
            dir,
            repo,
            runtime,
            sim: Some(sim),
        };
        rig.commit("fleet");
        rig
    }

    pub(crate) fn sim(&self) -> &SimHandle {
        self.sim.as_ref().unwrap()
    }

    pub(crate) fn commit(&self, message: &str) {
        let mut index = self.repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("bmfleet tests", "tests@bmfleet.invalid").unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap();
    }

    pub(crate) fn fleet(&self) -> LoadedFleet {
        bmfleet::ops::load_valid(&bmfleet::spec::LoadOptions {
            fleet_dir: self.dir.clone(),
            revision: None,
        })
        .unwrap()
    }

    pub(crate) fn source(&self, fleet: &LoadedFleet) -> bmfleet::ops::LiveSource {
        let hosts: Vec<&Host> = fleet.hosts.iter().collect();
        bmfleet::ops::LiveSource::Redirected {
            overrides: bmfleet::sim::targets::overrides(self.sim(), &hosts),
            credential: bmfleet::sim::targets::credential(),
        }
    }

    pub(crate) fn plan(&self, out: Option<std::path::PathBuf>) -> Plan {
        let fleet = self.fleet();
        let req = bmfleet::ops::PlanRequest {
            selector: None,
            hosts: Vec::new(),
            exclude: Vec::new(),
            parallelism: None,
            source: self.source(&fleet),
            os: bmfleet::ops::OsSource::Skip("not read in this test".into()),
            out,
            deadline: None,
        };
        bmfleet::ops::plan_fleet(&fleet, &self.dir, &req, Arc::new(NullReporter))
            .unwrap()
            .plan
    }

    pub(crate) fn apply(
        &self,
        plan_file: &Path,
        allow_dirty: bool,
    ) -> miette::Result<bmfleet::ops::ApplyOutcome> {
        let fleet = self.fleet();
        let req = bmfleet::ops::ApplyRequest {
            plan: bmfleet::ops::PlanInput::File(plan_file.to_path_buf()),
            allow_dirty,
            parallelism: Some(8),
            source: self.source(&fleet),
            os: bmfleet::ops::OsSource::Skip("not read in this test".into()),
            poll_interval: Duration::from_millis(10),
        };
        bmfleet::ops::apply_plan(&fleet, &self.dir, &req, None, Arc::new(NullReporter))
    }
}

impl Drop for OpsRig {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.runtime.block_on(sim.shutdown());
        }
    }
}

#[test]
fn ops_apply_carries_out_a_saved_plan_and_the_next_plan_is_empty() {
    let rig = OpsRig::new();
    let file = rig.tmp.path().join("plan.json");
    let before = rig.plan(Some(file.clone()));
    assert!(before.has_changes());
    let outcome = rig.apply(&file, false).unwrap();
    assert_eq!(outcome.plan, before);
    assert_eq!(outcome.report.failed(), 0, "{:#?}", outcome.report);
    assert_eq!(
        outcome.report.succeeded(),
        before.hosts.iter().filter(|h| h.has_changes()).count()
    );
    let after = rig.plan(None);
    assert!(!after.has_changes(), "{:#?}", after.hosts);
}

#[test]
fn a_plan_from_another_commit_or_a_dirty_tree_is_refused_before_any_request() {
    let rig = OpsRig::new();
    let file = rig.tmp.path().join("plan.json");
    let planned = rig.plan(Some(file.clone()));
    assert!(planned.has_changes());

    // Uncommitted changes under the fleet root: refused unless --allow-dirty.
    std::fs::write(rig.dir.join("NOTES.md"), "maintenance window on Tuesday\n").unwrap();
    let requests = rig.sim().request_count();
    let e = rig.apply(&file, false).unwrap_err();
    assert!(format!("{e}").contains("uncommitted changes"), "{e}");
    assert_eq!(rig.sim().request_count(), requests, "nothing was sent");

    // Committed: the fleet is at another commit now, which --allow-dirty does not excuse.
    rig.commit("notes");
    let e = rig.apply(&file, true).unwrap_err();
    let text = format!("{e}");
    let planned_sha = planned.source.commit.clone().unwrap();
    assert!(text.contains(&planned_sha[..12]), "{text}");
    assert!(text.contains("nothing was applied"), "{text}");
    assert_eq!(rig.sim().request_count(), requests, "nothing was sent");
    assert_eq!(
        rig.sim()
            .host_names()
            .map(|h| resets(rig.sim(), h))
            .sum::<u64>(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_os_steps_is_refused_naming_them_before_any_request() {
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let sim = start_sim(&fleet, 0.8).await;
    let providers = providers(&sim, &fleet);
    let mut p = plan_now(&fleet, &providers).await;
    let host = p.hosts.iter_mut().find(|h| h.has_changes()).unwrap();
    let name = host.name.clone();
    host.steps.push(bmfleet::plan::model::Step {
        address: bmfleet::plan::address::Address::new(
            &name,
            bmfleet::plan::resource::ResourceKind::Sysctl,
            None,
        ),
        kind: bmfleet::plan::resource::ResourceKind::Sysctl,
        disruption: bmfleet::plan::resource::Disruption::None,
        op: Op::Sysctl {
            values: [("vm.swappiness".to_string(), serde_json::json!(10))].into(),
            persist: None,
        },
        precondition: None,
    });
    let requests = sim.request_count();
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let e = execute(
        &p,
        &hosts,
        &fleet.data_files,
        &providers,
        &exec_opts(),
        Arc::new(NullReporter),
    )
    .await
    .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, bmfleet::engine::ExecuteError::NotExecutable(ref s) if s.len() == 1),
        "{text}"
    );
    assert!(
        text.contains(&format!("host/{name}/os/sysctl: set 1 sysctl")),
        "{text}"
    );
    assert!(text.contains("nothing was applied"), "{text}");
    assert_eq!(sim.request_count(), requests, "no host was touched");
    sim.shutdown().await;
}

pub(crate) fn bmfleet_cli(dir: &Path, args: &[&str]) -> (String, String, Option<i32>) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bmfleet"))
        .args(args)
        .arg("--fleet")
        .arg(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn cli_plan_apply_plan_against_a_running_simulator_converges() {
    let rig = OpsRig::new();
    let url = format!("http://{}", rig.sim().addr());
    let file = rig.tmp.path().join("plan.json");
    let file_arg = file.to_str().unwrap();
    let (_, err, code) = bmfleet_cli(
        &rig.dir,
        &[
            "plan",
            "--sim-url",
            &url,
            "--out",
            file_arg,
            "--detailed-exitcode",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    let (out, err, code) = bmfleet_cli(
        &rig.dir,
        &["apply", file_arg, "--sim-url", &url, "--progress", "ndjson"],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains(" 0 failed, 0 not started"), "{out}");
    assert!(err.contains(r#""type":"step_finished""#), "{err}");
    let (out, err, code) = bmfleet_cli(
        &rig.dir,
        &["plan", "--sim-url", &url, "--detailed-exitcode"],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    // The same plan again: every host it changed is now stale, and the exit status says so.
    let (out, _, code) = bmfleet_cli(&rig.dir, &["apply", file_arg, "--sim-url", &url]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAILED") && out.contains("(stale)"), "{out}");
}

#[test]
fn cli_apply_without_a_plan_file_and_without_a_terminal_refuses_unless_auto_approved() {
    let (_, err, code) = bmfleet_cli(Path::new(FLEET), &["apply"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("stdin is not a"), "{err}");
    assert!(err.contains("--auto-approve"), "{err}");
    assert!(err.contains("nothing was planned or applied"), "{err}");
}

/// iDRAC leaves staged values pending across a reset when no configuration job was created
/// (dell/iDRAC-Redfish-Scripting #84): the reset is accepted, but the host is not verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_still_pending_after_the_reset_fails_the_host() {
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let sim = start_sim(&fleet, 0.0).await;
    let (name, attr, want) = fleet
        .hosts
        .iter()
        .find_map(|h| {
            let dell = bmfleet::sim::from_spec::vendor_for(
                h.settings.bmc.as_ref().and_then(|b| b.system_id.as_deref()),
            ) == bmfleet::sim::Vendor::Dell;
            let (k, v) = h.settings.bios.as_ref()?.attributes.iter().next()?;
            dell.then(|| (h.name.clone(), k.clone(), v.to_json()))
        })
        .unwrap();
    sim.with_host(&name, |s| {
        s.config
            .bios
            .insert(attr.clone(), serde_json::json!("SomethingElse"));
        s.config.pending_bios.insert(attr.clone(), want.clone());
        s.bios_job_scheduled = false;
    })
    .unwrap();
    let providers = providers(&sim, &fleet);
    let p = plan_now(&fleet, &providers).await;
    let ph = p.host(&name).unwrap();
    // Already staged: the plan only resets the host.
    assert_eq!(ph.steps.len(), 1, "{:#?}", ph.steps);
    assert!(matches!(ph.steps[0].op, Op::Reset { .. }));
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let report = execute(
        &p,
        &hosts,
        &fleet.data_files,
        &providers,
        &exec_opts(),
        Arc::new(NullReporter),
    )
    .await
    .unwrap();
    let r = report.host(&name).unwrap();
    assert_eq!(r.resets, 1);
    assert_eq!(resets(&sim, &name), 1);
    let HostOutcome::Failed { stage, message, .. } = &r.outcome else {
        panic!("{r:#?}")
    };
    assert_eq!(*stage, FailStage::Verify);
    assert!(
        message.contains(&format!(
            "host/{name}/bios: {attr} is still pending ({want})"
        )),
        "{message}"
    );
    assert!(matches!(r.steps[0].status, StepStatus::Applied(_)));
    sim.shutdown().await;
}

//! The engine reads the live state of the example fleet from the simulator, seeded from the
//! same specs with drift, and sees exactly the drift the simulator applied.

use crate::plan_support::{current, refresh_redfish, staged};
use bmfleet::engine::targets::{Credential, EndpointOverrides};
use bmfleet::engine::{
    CredentialSource, Event, NullReporter, RecordingReporter, RefreshOptions, refresh, targets_for,
};
use bmfleet::plan::ResourceKind;
use bmfleet::secret::Secret;
use bmfleet::sim::from_spec::{SIM_PASSWORD, SIM_USERNAME, Seeding, from_spec};
use bmfleet::sim::{BmcKind, DriftKind, SimServer};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_sees_the_simulated_drift() {
    let fleet = bmfleet::spec::load::load_dir(Path::new("examples/fleet")).unwrap();
    let hosts: Vec<&bmfleet::spec::Host> = fleet.hosts.iter().collect();
    let seeding = Seeding {
        seed: 7,
        drift_rate: 0.6,
        factory_rate: 0.0,
    };
    let (config, drift) = from_spec(&hosts, seeding);
    assert!(!drift.is_empty());
    let sim = SimServer::start(config).await.unwrap();
    let targets =
        bmfleet::sim::targets::simulated_targets(&sim, &hosts, Path::new("examples/fleet"));
    let reporter = Arc::new(RecordingReporter::default());
    let result = refresh_redfish(&hosts, targets, Default::default(), reporter.clone()).await;
    assert_eq!(result.observed.len(), hosts.len());
    for h in result.observed.values() {
        assert!(
            h.first_error().is_none(),
            "{}: {:?}",
            h.name,
            h.first_error()
        );
    }
    for d in &drift {
        let host = &result.observed[&d.host];
        match &d.kind {
            DriftKind::PowerOff => {
                assert_eq!(
                    current(host, ResourceKind::Power, "PowerState"),
                    Some(json!("Off"))
                )
            }
            DriftKind::BootOverridePxeOnce => {
                // Boot is observed when the spec sets it.
                if let Some(b) = host.of_kind(ResourceKind::Boot) {
                    assert_eq!(b.current("BootSourceOverrideTarget"), Some(&json!("Pxe")));
                    assert_eq!(b.current("BootSourceOverrideEnabled"), Some(&json!("Once")));
                }
            }
            DriftKind::BiosFlipped { attribute, to, .. } => {
                assert_eq!(
                    current(host, ResourceKind::Bios, attribute).as_ref(),
                    Some(to)
                );
            }
            DriftKind::BiosStaged { attribute, value } => {
                assert_eq!(
                    staged(host, ResourceKind::Bios, attribute).as_ref(),
                    Some(value)
                );
            }
            // Factory BIOS hosts are checked like flipped attributes elsewhere.
            DriftKind::FactoryBios { .. } => {}
            DriftKind::DpuNicMode => {
                assert_eq!(
                    current(host, ResourceKind::DpuMode, "mode"),
                    Some(json!("nic"))
                );
            }
        }
    }
    // Request economy: at most 6 requests per BMC, logout included.
    let bmcs = hosts.len() + hosts.iter().filter(|h| h.settings.dpu.is_some()).count();
    assert!(
        result.requests <= 6 * bmcs as u64 + 2,
        "{} requests for {bmcs} BMCs",
        result.requests
    );
    // Sessions were logged out.
    for h in &hosts {
        let open = sim
            .with_host(&h.name, |s| s.session_count(BmcKind::Bmc))
            .unwrap();
        assert_eq!(open, 0, "{} left a session open", h.name);
    }
    let events = reporter.events();
    assert!(matches!(
        events.first(),
        Some(Event::RefreshStarted { hosts: 14, .. })
    ));
    assert!(matches!(
        events.last(),
        Some(Event::RefreshFinished { failed: 0, .. })
    ));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bmc_is_an_error_for_its_host_only() {
    let fleet = bmfleet::spec::load::load_dir(Path::new("examples/fleet")).unwrap();
    let hosts: Vec<&bmfleet::spec::Host> = fleet.hosts.iter().take(3).collect();
    let (config, _) = from_spec(
        &hosts,
        Seeding {
            drift_rate: 0.0,
            ..Seeding::default()
        },
    );
    let sim = SimServer::start(config).await.unwrap();
    let mut overrides: EndpointOverrides = hosts
        .iter()
        .map(|h| (h.name.clone(), (sim.endpoint(&h.name, BmcKind::Bmc), None)))
        .collect();
    // Nothing listens on port 9 of loopback.
    overrides.insert(hosts[1].name.clone(), ("http://127.0.0.1:9".into(), None));
    let creds = CredentialSource::Fixed(Credential {
        username: SIM_USERNAME.into(),
        password: Secret::new(SIM_PASSWORD),
    });
    let targets = targets_for(
        &hosts,
        &creds,
        Path::new("examples/fleet"),
        Some(&overrides),
    );
    let client = bmfleet::redfish::ClientOptions {
        retries: 0,
        ..Default::default()
    };
    let result = refresh_redfish(
        &hosts,
        targets,
        client,
        Arc::new(bmfleet::engine::NullReporter),
    )
    .await;
    let bad = &result.observed[&hosts[1].name];
    let err = bad.first_error().unwrap();
    assert!(err.endpoint.contains("127.0.0.1:9"), "{err:?}");
    assert_eq!(err.code, "bmfleet::redfish::connect");
    assert!(!err.help.is_empty());
    assert!(result.observed[&hosts[0].name].first_error().is_none());
    assert!(result.observed[&hosts[2].name].first_error().is_none());
    sim.shutdown().await;
}

/// A provider that answers at once, except for one host whose peer never answers.
struct Slow(&'static str);

impl bmfleet::engine::Provider for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }
    fn kinds(&self) -> &'static [bmfleet::plan::resource::ResourceKind] {
        &[bmfleet::plan::resource::ResourceKind::Power]
    }
    fn read<'a>(
        &'a self,
        host: &'a bmfleet::spec::Host,
        _resources: &'a [bmfleet::plan::resource::Resource],
    ) -> futures::future::BoxFuture<'a, bmfleet::engine::provider::ProviderRead> {
        Box::pin(async move {
            if host.name == self.0 {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
            bmfleet::engine::provider::ProviderRead::default()
        })
    }
    fn apply<'a>(
        &'a self,
        _host: &'a bmfleet::spec::Host,
        _step: &'a bmfleet::plan::model::Step,
    ) -> futures::future::BoxFuture<
        'a,
        Result<bmfleet::engine::provider::StepOutcome, bmfleet::engine::provider::ApplyError>,
    > {
        Box::pin(async { Ok(Default::default()) })
    }
}

#[tokio::test(start_paused = true)]
async fn a_deadline_ends_the_read_the_slow_host_is_an_error_and_the_others_are_kept() {
    let fleet = crate::plan_support::fleet();
    let hosts: Vec<&bmfleet::spec::Host> = fleet.hosts.iter().collect();
    let slow = hosts[0].name.clone();
    let slow_static: &'static str = Box::leak(slow.clone().into_boxed_str());
    let providers: Vec<Arc<dyn bmfleet::engine::Provider>> = vec![Arc::new(Slow(slow_static))];
    let started = tokio::time::Instant::now();
    let result = refresh(
        &hosts,
        &fleet.data_files,
        &providers,
        &RefreshOptions {
            parallelism: 4,
            deadline: Some(std::time::Duration::from_secs(30)),
        },
        Arc::new(NullReporter),
    )
    .await;
    // Bounded by the deadline, not by the hour the slow peer takes.
    assert!(started.elapsed() <= std::time::Duration::from_secs(31));
    let e = result.observed[&slow]
        .first_error()
        .expect("the slow host is an error");
    assert_eq!(e.code, bmfleet::engine::refresh::DEADLINE_CODE);
    assert!(e.message.contains("deadline (30 s)"), "{}", e.message);
    for h in hosts.iter().skip(1) {
        assert!(
            result.observed[&h.name].first_error().is_none(),
            "{}",
            h.name
        );
    }
}

//! The Redfish simulator over real HTTP: auth, sessions, pending BIOS, resets and tasks,
//! ETags, `$expand`, DPU modes, errors and faults.

use std::time::Duration;

use crate::sim_common::{Bmc, client, message_id};
use bmfleet::sim::{
    BmcKind, DpuGeneration, DpuMode, Faults, HostFailure, HostFaults, SimDpuConfig, SimFleetConfig,
    SimHandle, SimHostConfig, SimServer, Timing, Vendor,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn fleet(hosts: Vec<SimHostConfig>) -> SimFleetConfig {
    SimFleetConfig {
        hosts,
        faults: Faults::default(),
        timing: Timing::uniform(500),
    }
}

async fn start(hosts: Vec<SimHostConfig>) -> SimHandle {
    SimServer::start(fleet(hosts)).await.unwrap()
}

/// Follows root -> Systems -> first member; returns the system's `@odata.id`.
async fn system_path(bmc: &Bmc) -> String {
    let (root, _) = bmc.get("").await;
    let (systems, _) = bmc
        .get(root["Systems"]["@odata.id"].as_str().unwrap())
        .await;
    systems["Members"][0]["@odata.id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Follows system -> Bios -> `@Redfish.Settings.SettingsObject`; returns (bios, settings).
async fn bios_paths(bmc: &Bmc, system: &str) -> (String, String) {
    let (sys, _) = bmc.get(system).await;
    let bios = sys["Bios"]["@odata.id"].as_str().unwrap().to_owned();
    let (b, _) = bmc.get(&bios).await;
    let settings = b["@Redfish.Settings"]["SettingsObject"]["@odata.id"]
        .as_str()
        .unwrap()
        .to_owned();
    (bios, settings)
}

#[tokio::test]
async fn service_root_is_open_and_every_link_carries_the_host_prefix() {
    let sim = start(vec![
        SimHostConfig::new("g1", Vendor::Generic),
        SimHostConfig::new("d1", Vendor::Dell),
    ])
    .await;
    let http = client();
    let root: Value = http
        .get(format!("{}/redfish/v1", sim.endpoint("g1", BmcKind::Bmc)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root["@odata.id"], "/h/g1/bmc/redfish/v1");
    assert_eq!(
        root["Links"]["Sessions"]["@odata.id"],
        "/h/g1/bmc/redfish/v1/SessionService/Sessions"
    );
    let expand = &root["ProtocolFeaturesSupported"]["ExpandQuery"];
    assert_eq!(expand["ExpandAll"], true);
    assert_eq!(expand["Levels"], true);
    assert_eq!(expand["MaxLevels"], 1);
    assert_eq!(expand["NoLinks"], true);

    let version: Value = http
        .get(format!("{}/redfish", sim.endpoint("g1", BmcKind::Bmc)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(version, json!({"v1": "/h/g1/bmc/redfish/v1/"}));
    // `$expand` on the open service root inlines nothing for anonymous callers...
    let anon: Value = http
        .get(format!(
            "{}/redfish/v1?$expand=*",
            sim.endpoint("g1", BmcKind::Bmc)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anon["Systems"].as_object().unwrap().len(), 1);
    // ...but does for authenticated ones.
    let authed: Value = http
        .get(format!(
            "{}/redfish/v1?$expand=*",
            sim.endpoint("g1", BmcKind::Bmc)
        ))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(authed["Systems"]["Members@odata.count"], 1);

    let dell_root: Value = http
        .get(format!("{}/redfish/v1/", sim.endpoint("d1", BmcKind::Bmc)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(dell_root["ProtocolFeaturesSupported"]["ExpandQuery"].is_null());

    let bmc = Bmc::login(&sim, "d1", BmcKind::Bmc).await;
    let system = system_path(&bmc).await;
    assert_eq!(system, "/h/d1/bmc/redfish/v1/Systems/System.Embedded.1");
    let (sys, etag) = bmc.get(&system).await;
    assert!(!etag.is_empty(), "iDRAC sends an ETag header");
    assert!(
        sys.get("@odata.etag").is_none(),
        "but no @odata.etag in the body"
    );
    assert_eq!(sys["PowerState"], "On");
    assert_eq!(
        sys["Actions"]["#ComputerSystem.Reset"]["target"],
        "/h/d1/bmc/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset"
    );
    assert!(
        sys["Boot"]["BootSourceOverrideTarget@Redfish.AllowableValues"]
            .as_array()
            .unwrap()
            .contains(&json!("Pxe"))
    );
    let manager = sys["Links"]["ManagedBy"][0]["@odata.id"].as_str().unwrap();
    assert_eq!(manager, "/h/d1/bmc/redfish/v1/Managers/iDRAC.Embedded.1");
    let (m, _) = bmc.get(manager).await;
    assert_eq!(m["Id"], "iDRAC.Embedded.1");
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_without_valid_credentials_get_401() {
    let sim = start(vec![SimHostConfig::new("g1", Vendor::Generic)]).await;
    let http = client();
    let ep = sim.endpoint("g1", BmcKind::Bmc);
    let systems = format!("{ep}/redfish/v1/Systems");

    let r = http.get(&systems).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert!(message_id(&body).ends_with(".NoValidSession"), "{body}");

    let r = http
        .post(format!("{ep}/redfish/v1/SessionService/Sessions"))
        .json(&json!({"UserName": "admin", "Password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("X-Auth-Token").is_none());

    let r = http
        .get(&systems)
        .header("X-Auth-Token", "0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = http
        .get(&systems)
        .basic_auth("admin", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = http
        .get(&systems)
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn session_limit_gets_503_and_logout_frees_a_slot() {
    let mut config = fleet(vec![
        SimHostConfig::new("d1", Vendor::Dell),
        SimHostConfig::new("g1", Vendor::Generic),
    ]);
    config.faults.session_limit = 2;
    let sim = SimServer::start(config).await.unwrap();
    let http = client();
    for (host, user, pass, expected) in [
        ("d1", "root", "calvin", "IDRAC.2.8.RAC0218"),
        ("g1", "admin", "password", "Base.1.16.SessionLimitExceeded"),
    ] {
        let sessions = format!(
            "{}/redfish/v1/SessionService/Sessions",
            sim.endpoint(host, BmcKind::Bmc)
        );
        let creds = json!({"UserName": user, "Password": pass});
        let mut locations = Vec::new();
        for _ in 0..2 {
            let r = http.post(&sessions).json(&creds).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let loc = r.headers()["Location"].to_str().unwrap().to_owned();
            assert!(loc.starts_with(&format!(
                "/h/{host}/bmc/redfish/v1/SessionService/Sessions/"
            )));
            let token = r.headers()["X-Auth-Token"].to_str().unwrap().to_owned();
            locations.push((loc, token));
        }
        let r = http.post(&sessions).json(&creds).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = r.json().await.unwrap();
        assert_eq!(message_id(&body), expected, "{body}");
        assert!(
            body["error"]["code"]
                .as_str()
                .unwrap()
                .ends_with("GeneralError")
        );

        // Basic auth still works with a full session table.
        let r = http
            .get(format!(
                "{}/redfish/v1/Systems",
                sim.endpoint(host, BmcKind::Bmc)
            ))
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        let (loc, token) = &locations[0];
        let r = http
            .delete(format!("{}{loc}", sim.base_url()))
            .header("X-Auth-Token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        // The deleted session's token no longer works.
        let r = http
            .get(format!("{}{loc}", sim.base_url()))
            .header("X-Auth-Token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = http.post(&sessions).json(&creds).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(
            sim.with_host(host, |s| s.session_count(BmcKind::Bmc)),
            Some(2)
        );
    }
    sim.shutdown().await;
}

/// PATCH pending, check `/Bios` is unchanged until the reset task completes, and that the
/// power state goes through the transitions.
async fn pending_applies_only_after_reset(sim: &SimHandle, host: &str, attr: &str) {
    let bmc = Bmc::login(sim, host, BmcKind::Bmc).await;
    let system = system_path(&bmc).await;
    let (bios, settings) = bios_paths(&bmc, &system).await;
    let (b, _) = bmc.get(&bios).await;
    let before = b["Attributes"][attr].clone();
    assert_eq!(before, "Enabled");

    let (_, settings_etag) = bmc.get(&settings).await;
    let r = bmc
        .patch(
            &settings,
            json!({
                "Attributes": {attr: "Disabled"},
                "@Redfish.SettingsApplyTime": {"ApplyTime": "OnReset"},
            }),
            Some(&settings_etag),
        )
        .await;
    assert!(r.status().is_success(), "PATCH settings: {}", r.status());

    let (b, _) = bmc.get(&bios).await;
    assert_eq!(
        b["Attributes"][attr], before,
        "current value unchanged before reset"
    );
    let (s, _) = bmc.get(&settings).await;
    assert_eq!(s["Attributes"][attr], "Disabled", "value is pending");

    let task = bmc.reset(&system, "ForceRestart").await;
    assert!(task.starts_with(&format!("/h/{host}/bmc/redfish/v1/TaskService/Tasks/")));
    let mut powers = Vec::new();
    let mut applied_early = false;
    for _ in 0..400 {
        let (sys, _) = bmc.get(&system).await;
        let power = sys["PowerState"].as_str().unwrap().to_owned();
        // Read /Bios before the task: if the value already changed, the task read after it
        // must be complete.
        let (b, _) = bmc.get(&bios).await;
        let (t, _) = bmc.get(&task).await;
        let done = t["TaskState"] == "Completed";
        if !done && b["Attributes"][attr] != before {
            applied_early = true;
        }
        if powers.last() != Some(&power) {
            powers.push(power);
        }
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!applied_early, "applied before the task completed");
    let (sys, _) = bmc.get(&system).await;
    let power = sys["PowerState"].as_str().unwrap().to_owned();
    if powers.last() != Some(&power) {
        powers.push(power);
    }
    assert_eq!(powers.last().map(String::as_str), Some("On"), "{powers:?}");
    assert!(powers.iter().any(|p| p == "PoweringOn"), "{powers:?}");
    assert!(
        powers.iter().any(|p| p == "PoweringOff" || p == "Off"),
        "{powers:?}"
    );
    let (t, _) = bmc.get(&task).await;
    assert_eq!(t["TaskState"], "Completed");
    assert_eq!(t["PercentComplete"], 100);

    let (b, _) = bmc.get(&bios).await;
    assert_eq!(b["Attributes"][attr], "Disabled", "applied after the reset");
    let (s, _) = bmc.get(&settings).await;
    if host.starts_with('l') {
        // XCC lists every writable attribute; now equal to current.
        assert_eq!(s["Attributes"], b["Attributes"]);
    } else {
        assert_eq!(s["Attributes"], json!({}));
    }
}

#[tokio::test]
async fn pending_bios_is_applied_only_when_the_reset_task_completes() {
    let sim = start(vec![
        SimHostConfig::new("g1", Vendor::Generic),
        SimHostConfig::new("d1", Vendor::Dell),
        SimHostConfig::new("l1", Vendor::Lenovo),
    ])
    .await;
    pending_applies_only_after_reset(&sim, "g1", "ProcTurboMode").await;
    pending_applies_only_after_reset(&sim, "d1", "ProcTurboMode").await;
    pending_applies_only_after_reset(&sim, "l1", "Processors_TurboMode").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn power_on_from_off_applies_pending_and_task_goes_through_states() {
    let mut host = SimHostConfig::new("g1", Vendor::Generic);
    host.power = bmfleet::sim::PowerState::Off;
    host.pending_bios
        .insert("ProcHyperthreading".into(), json!("Disabled"));
    let sim = start(vec![host]).await;
    let bmc = Bmc::login(&sim, "g1", BmcKind::Bmc).await;
    let system = system_path(&bmc).await;
    let (bios, settings) = bios_paths(&bmc, &system).await;
    let (s, _) = bmc.get(&settings).await;
    assert_eq!(s["Attributes"]["ProcHyperthreading"], "Disabled");
    assert_eq!(s["@Redfish.SettingsApplyTime"]["ApplyTime"], "OnReset");
    let task = bmc.reset(&system, "On").await;
    let states = bmc.wait_task(&task).await;
    assert_eq!(states.last().map(String::as_str), Some("Completed"));
    assert!(states.iter().any(|s| s == "Running"), "{states:?}");
    let (b, _) = bmc.get(&bios).await;
    assert_eq!(b["Attributes"]["ProcHyperthreading"], "Disabled");
    let (sys, _) = bmc.get(&system).await;
    assert_eq!(sys["PowerState"], "On");
    // A no-op reset answers 204 without a task.
    let r = bmc
        .post(
            &format!("{system}/Actions/ComputerSystem.Reset"),
            json!({"ResetType": "On"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_bios_attribute_gets_400_property_unknown_and_stages_nothing() {
    let sim = start(vec![SimHostConfig::new("d1", Vendor::Dell)]).await;
    let bmc = Bmc::login(&sim, "d1", BmcKind::Bmc).await;
    let system = system_path(&bmc).await;
    let (_, settings) = bios_paths(&bmc, &system).await;
    let r = bmc
        .patch(
            &settings,
            json!({"Attributes": {"ProcTurboMode": "Disabled", "NoSuchKnob": "Enabled"}}),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["code"]
            .as_str()
            .unwrap()
            .starts_with("Base.1.")
    );
    assert!(
        body["error"]["code"]
            .as_str()
            .unwrap()
            .ends_with(".GeneralError")
    );
    assert!(body["error"]["message"].is_string());
    let info = &body["error"]["@Message.ExtendedInfo"][0];
    assert!(
        info["MessageId"]
            .as_str()
            .unwrap()
            .ends_with(".PropertyUnknown")
    );
    assert!(info["Message"].as_str().unwrap().contains("NoSuchKnob"));
    let (s, _) = bmc.get(&settings).await;
    assert_eq!(s["Attributes"], json!({}));

    let r = bmc
        .patch(
            &settings,
            json!({"Attributes": {"AcPwrRcvryUserDelay": "soon"}}),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(message_id(&body).ends_with(".PropertyValueTypeError"));

    let r = bmc.send(Method::PATCH, &settings, None).await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "no body is malformed JSON"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn dell_without_settings_apply_time_leaves_values_pending_across_resets() {
    let sim = start(vec![SimHostConfig::new("d1", Vendor::Dell)]).await;
    let bmc = Bmc::login(&sim, "d1", BmcKind::Bmc).await;
    let system = system_path(&bmc).await;
    let (bios, settings) = bios_paths(&bmc, &system).await;
    let r = bmc
        .patch(
            &settings,
            json!({"Attributes": {"MemTest": "Enabled"}}),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let task = bmc.reset(&system, "GracefulRestart").await;
    bmc.wait_task(&task).await;
    let (b, _) = bmc.get(&bios).await;
    assert_eq!(b["Attributes"]["MemTest"], "Disabled");
    let (s, _) = bmc.get(&settings).await;
    assert_eq!(
        s["Attributes"]["MemTest"], "Enabled",
        "still pending: no job"
    );
    assert_eq!(sim.with_host("d1", |s| s.bios_job_scheduled), Some(false));
    sim.shutdown().await;
}

#[tokio::test]
async fn etags_change_with_the_resource_and_stale_if_match_gets_412() {
    let sim = start(vec![SimHostConfig::new("g1", Vendor::Generic)]).await;
    let bmc = Bmc::login(&sim, "g1", BmcKind::Bmc).await;
    let system = system_path(&bmc).await;
    let (sys, etag) = bmc.get(&system).await;
    assert_eq!(sys["@odata.etag"], etag.as_str());
    assert!(etag.starts_with('"') && etag.ends_with('"'));

    let (_, again) = bmc.get(&system).await;
    assert_eq!(again, etag, "stable while unchanged");

    let r = bmc
        .http
        .get(bmc.url(&system))
        .header("X-Auth-Token", &bmc.token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    let once_pxe =
        json!({"Boot": {"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe"}});
    let r = bmc.patch(&system, once_pxe.clone(), Some(&etag)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (sys, new_etag) = bmc.get(&system).await;
    assert_ne!(new_etag, etag);
    assert_eq!(sys["Boot"]["BootSourceOverrideTarget"], "Pxe");

    let r = bmc.patch(&system, once_pxe, Some(&etag)).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    let body: Value = r.json().await.unwrap();
    assert!(message_id(&body).ends_with(".PreconditionFailed"));

    let r = bmc
        .patch(
            &system,
            json!({"Boot": {"BootSourceOverrideTarget": "Floppy"}}),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(message_id(&body).ends_with(".PropertyValueNotInList"));
    let r = bmc.patch(&system, json!({"PowerState": "Off"}), None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // The Once override is consumed by the next boot.
    let task = bmc.reset(&system, "ForceRestart").await;
    bmc.wait_task(&task).await;
    let (sys, _) = bmc.get(&system).await;
    assert_eq!(sys["Boot"]["BootSourceOverrideEnabled"], "Disabled");
    sim.shutdown().await;
}

#[tokio::test]
async fn weak_etags_option_sends_w_prefix_and_if_match_still_matches() {
    let mut config = fleet(vec![SimHostConfig::new("g1", Vendor::Generic)]);
    config.faults.weak_etags = true;
    let sim = SimServer::start(config).await.unwrap();
    let bmc = Bmc::login(&sim, "g1", BmcKind::Bmc).await;
    let system = system_path(&bmc).await;
    let (_, etag) = bmc.get(&system).await;
    assert!(etag.starts_with("W/\""), "{etag}");
    let r = bmc
        .patch(
            &system,
            json!({"Boot": {"BootSourceOverrideMode": "Legacy"}}),
            Some(&etag),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    sim.shutdown().await;
}

#[tokio::test]
async fn lenovo_requires_if_match_on_patch_and_lists_all_attributes_as_pending() {
    let sim = start(vec![SimHostConfig::new("l1", Vendor::Lenovo)]).await;
    let bmc = Bmc::login(&sim, "l1", BmcKind::Bmc).await;
    let system = system_path(&bmc).await;
    assert_eq!(system, "/h/l1/bmc/redfish/v1/Systems/1");
    let (bios, settings) = bios_paths(&bmc, &system).await;
    assert!(settings.ends_with("/Bios/Pending"), "{settings}");
    let (b, _) = bmc.get(&bios).await;
    let (p, etag) = bmc.get(&settings).await;
    assert_eq!(
        p["Attributes"], b["Attributes"],
        "XCC lists all writable attributes"
    );
    assert_eq!(p["@odata.etag"], etag.as_str());
    assert_eq!(etag.len(), 24, "22 hex digits, quoted: {etag}");

    let change = json!({"Attributes": {"Processors_CStates": "Disabled"}});
    let r = bmc.patch(&settings, change.clone(), None).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_REQUIRED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(message_id(&body), "Base.1.8.PreconditionRequired");

    let r = bmc.patch(&settings, change.clone(), Some(&etag)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["Attributes"]["Processors_CStates"], "Disabled");

    let r = bmc.patch(&settings, change, Some(&etag)).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    sim.shutdown().await;
}

#[tokio::test]
async fn dell_rejects_if_match_on_actions() {
    let sim = start(vec![SimHostConfig::new("d1", Vendor::Dell)]).await;
    let bmc = Bmc::login(&sim, "d1", BmcKind::Bmc).await;
    let system = system_path(&bmc).await;
    let (_, etag) = bmc.get(&system).await;
    let r = bmc
        .http
        .post(bmc.url(&format!("{system}/Actions/ComputerSystem.Reset")))
        .header("X-Auth-Token", &bmc.token)
        .header("If-Match", &etag)
        .json(&json!({"ResetType": "ForceRestart"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(sim.with_host("d1", |s| s.reset_in_progress()), Some(false));

    let r = bmc
        .post(
            &format!("{system}/Actions/ComputerSystem.Reset"),
            json!({"ResetType": "Explode"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(message_id(&body).ends_with(".ActionParameterValueNotInList"));

    let task = bmc.reset(&system, "PowerCycle").await;
    let r = bmc
        .post(
            &format!("{system}/Actions/ComputerSystem.Reset"),
            json!({"ResetType": "ForceRestart"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "one reset at a time");
    bmc.wait_task(&task).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn expand_inlines_bios_where_advertised_and_is_501_elsewhere() {
    let sim = start(vec![
        SimHostConfig::new("g1", Vendor::Generic),
        SimHostConfig::new("l1", Vendor::Lenovo),
        SimHostConfig::new("d1", Vendor::Dell),
    ])
    .await;
    for host in ["g1", "l1"] {
        let bmc = Bmc::login(&sim, host, BmcKind::Bmc).await;
        let system = system_path(&bmc).await;
        for query in [
            "$expand=.($levels=1)",
            "%24expand=.%28%24levels%3D1%29",
            "$expand=*",
        ] {
            let (sys, _) = bmc.get(&format!("{system}?{query}")).await;
            assert!(
                sys["Bios"]["Attributes"].is_object(),
                "{host} {query}: {}",
                sys["Bios"]
            );
            assert_eq!(sys["Bios"]["@odata.id"], format!("{system}/Bios"));
            assert_eq!(sys["PowerState"], "On");
        }
        let (sys, _) = bmc.get(&format!("{system}?$expand=.")).await;
        assert!(
            sys["Links"]["ManagedBy"][0].as_object().unwrap().len() == 1,
            "'.' leaves Links alone"
        );
        let (sys, _) = bmc.get(&format!("{system}?$expand=~")).await;
        assert!(sys["Bios"].as_object().unwrap().len() == 1);
        assert_eq!(sys["Links"]["ManagedBy"][0]["ManagerType"], "BMC");
        let r = bmc
            .send(Method::GET, &format!("{system}?$expand=.($levels=3)"), None)
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let (systems, _) = bmc.get("Systems?$expand=.").await;
        assert_eq!(systems["Members"][0]["@odata.id"], system.as_str());
        assert!(systems["Members"][0]["PowerState"].is_string());
    }
    let bmc = Bmc::login(&sim, "d1", BmcKind::Bmc).await;
    let system = system_path(&bmc).await;
    let r = bmc
        .send(Method::GET, &format!("{system}?$expand=.($levels=1)"), None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED);
    let body: Value = r.json().await.unwrap();
    assert!(message_id(&body).ends_with(".QueryNotSupported"));
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_get_404_and_wrong_methods_405_with_redfish_bodies() {
    let sim = start(vec![SimHostConfig::new("g1", Vendor::Generic)]).await;
    let bmc = Bmc::login(&sim, "g1", BmcKind::Bmc).await;
    let r = bmc.send(Method::GET, "Chassis/Nope", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: Value = r.json().await.unwrap();
    assert!(message_id(&body).ends_with(".ResourceMissingAtURI"));

    let system = system_path(&bmc).await;
    let r = bmc.send(Method::DELETE, &system, None).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["Allow"], "GET, HEAD, PATCH");
    let body: Value = r.json().await.unwrap();
    assert!(message_id(&body).ends_with(".OperationNotAllowed"));

    let r = bmc
        .send(
            Method::GET,
            &format!("{system}/Actions/ComputerSystem.Reset"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);

    let http = client();
    for url in [
        format!("{}/h/nope/bmc/redfish/v1", sim.base_url()),
        format!("{}/redfish/v1", sim.endpoint("g1", BmcKind::Dpu)),
        format!("{}/elsewhere", sim.base_url()),
    ] {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{url}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"]["@Message.ExtendedInfo"].is_array());
    }
    sim.shutdown().await;
}

fn host_with_dpu(name: &str, vendor: Vendor, generation: DpuGeneration) -> SimHostConfig {
    SimHostConfig::new(name, vendor).with_dpu(SimDpuConfig::new(generation))
}

async fn host_reset(bmc: &Bmc, kind: &str) {
    let system = system_path(bmc).await;
    let task = bmc.reset(&system, kind).await;
    bmc.wait_task(&task).await;
}

/// The mode in `Oem/Nvidia`, checked equal to the one inlined in the system.
async fn dpu_mode(dpu: &Bmc, oem: &str, system: &str) -> String {
    let (nv, _) = dpu.get(oem).await;
    let (sys, _) = dpu.get(system).await;
    assert_eq!(nv["Mode"], sys["Oem"]["Nvidia"]["Mode"]);
    nv["Mode"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bf3_mode_set_needs_a_dpu_reset_and_then_a_host_power_cycle() {
    let sim = start(vec![host_with_dpu("d1", Vendor::Dell, DpuGeneration::Bf3)]).await;
    let host = Bmc::login(&sim, "d1", BmcKind::Bmc).await;
    let dpu = Bmc::login(&sim, "d1", BmcKind::Dpu).await;
    let dpu_system = system_path(&dpu).await;
    assert_eq!(dpu_system, "/h/d1/dpu/redfish/v1/Systems/Bluefield");
    let (sys, _) = dpu.get(&dpu_system).await;
    let oem = sys["Oem"]["Nvidia"]["@odata.id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (nv, _) = dpu.get(&oem).await;
    assert_eq!(nv["Mode"], "DpuMode");
    let target = nv["Actions"]["#Mode.Set"]["target"].as_str().unwrap();
    let r = dpu.post(target, json!({"Mode": "NicMode"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = dpu.post(target, json!({"Mode": "Bogus"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    assert_eq!(dpu_mode(&dpu, &oem, &dpu_system).await, "DpuMode");
    host_reset(&host, "PowerCycle").await;
    assert_eq!(
        dpu_mode(&dpu, &oem, &dpu_system).await,
        "DpuMode",
        "power cycle alone is not enough"
    );

    let task = dpu.reset(&dpu_system, "ForceRestart").await;
    dpu.wait_task(&task).await;
    assert_eq!(
        dpu_mode(&dpu, &oem, &dpu_system).await,
        "DpuMode",
        "DPU reset alone is not enough"
    );
    let pending = sim
        .with_host("d1", |s| s.dpu_pending_mode)
        .unwrap()
        .unwrap();
    assert_eq!(pending.mode, DpuMode::NicMode);
    assert!(pending.dpu_reset_done);

    host_reset(&host, "GracefulRestart").await;
    assert_eq!(
        dpu_mode(&dpu, &oem, &dpu_system).await,
        "DpuMode",
        "a warm restart is not a power cycle"
    );
    host_reset(&host, "PowerCycle").await;
    assert_eq!(dpu_mode(&dpu, &oem, &dpu_system).await, "NicMode");
    let (bios, _) = dpu.get(&format!("{dpu_system}/Bios")).await;
    assert_eq!(bios["Attributes"]["NicMode"], "NicMode");
    assert_eq!(sim.with_host("d1", |s| s.dpu_pending_mode), Some(None));

    // On BF3 the BIOS attribute is read only.
    let r = dpu
        .patch(
            &format!("{dpu_system}/Bios/Settings"),
            json!({"Attributes": {"NicMode": "DpuMode"}}),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await;
}

#[tokio::test]
async fn bf2_nic_mode_bios_attribute_applies_after_dpu_reset_and_host_power_cycle() {
    let sim = start(vec![host_with_dpu(
        "g1",
        Vendor::Generic,
        DpuGeneration::Bf2,
    )])
    .await;
    let host = Bmc::login(&sim, "g1", BmcKind::Bmc).await;
    let dpu = Bmc::login(&sim, "g1", BmcKind::Dpu).await;
    let dpu_system = system_path(&dpu).await;
    let (sys, _) = dpu.get(&dpu_system).await;
    assert!(
        sys["Oem"]["Nvidia"].get("@odata.id").is_none(),
        "no Oem/Nvidia on BF2"
    );
    let r = dpu
        .send(Method::GET, &format!("{dpu_system}/Oem/Nvidia"), None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (bios, settings) = bios_paths(&dpu, &dpu_system).await;
    let r = dpu
        .patch(
            &settings,
            json!({"Attributes": {"NicMode": "NicMode"}}),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, _) = dpu.get(&settings).await;
    assert_eq!(s["Attributes"]["NicMode"], "NicMode");

    let task = dpu.reset(&dpu_system, "GracefulRestart").await;
    dpu.wait_task(&task).await;
    let (b, _) = dpu.get(&bios).await;
    assert_eq!(b["Attributes"]["NicMode"], "DpuMode");
    host_reset(&host, "PowerCycle").await;
    let (b, _) = dpu.get(&bios).await;
    assert_eq!(b["Attributes"]["NicMode"], "NicMode");
    let (sys, _) = dpu.get(&dpu_system).await;
    assert_eq!(sys["Oem"]["Nvidia"]["Mode"], "NicMode");
    sim.shutdown().await;
}

fn faulty(seed: u64) -> SimFleetConfig {
    let mut config = fleet(vec![
        SimHostConfig::new("a", Vendor::Generic),
        SimHostConfig::new("b", Vendor::Generic),
        SimHostConfig::new("hang", Vendor::Generic),
        SimHostConfig::new("gone", Vendor::Dell),
    ]);
    config.faults.seed = seed;
    config.faults.error_rate = 0.4;
    config.faults.hang_ms = 30_000;
    config.faults.overrides = vec![
        HostFaults {
            hosts: vec!["hang".into()],
            failure: Some(HostFailure::Timeout),
            ..HostFaults::default()
        },
        HostFaults {
            hosts: vec!["gone".into()],
            failure: Some(HostFailure::Unreachable),
            ..HostFaults::default()
        },
        HostFaults {
            hosts: vec!["b".into()],
            error_rate: Some(0.0),
            ..HostFaults::default()
        },
    ];
    config
}

async fn statuses(sim: &SimHandle, host: &str, n: usize) -> Vec<u16> {
    let http = client();
    let mut out = Vec::new();
    for _ in 0..n {
        let r = http
            .get(format!("{}/redfish/v1", sim.endpoint(host, BmcKind::Bmc)))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(r.headers().get("Retry-After").is_some());
        }
        out.push(r.status().as_u16());
    }
    out
}

#[tokio::test]
async fn injected_errors_are_seeded_and_per_host() {
    let one = SimServer::start(faulty(7)).await.unwrap();
    let two = SimServer::start(faulty(7)).await.unwrap();
    let other = SimServer::start(faulty(8)).await.unwrap();
    let a1 = statuses(&one, "a", 60).await;
    let a2 = statuses(&two, "a", 60).await;
    let a3 = statuses(&other, "a", 60).await;
    assert_eq!(a1, a2, "same seed, same faults");
    assert_ne!(a1, a3, "different seed, different faults");
    assert!(a1.contains(&200) && a1.iter().any(|s| *s == 500 || *s == 503));
    assert!(statuses(&one, "b", 30).await.iter().all(|s| *s == 200));
    assert_eq!(one.host_request_count("a"), Some(60));
    assert_eq!(one.host_request_count("b"), Some(30));
    assert_eq!(one.request_count(), 90);
    for sim in [one, two, other] {
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn hanging_and_unreachable_hosts_fail_like_real_networks() {
    let sim = SimServer::start(faulty(1)).await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = quick
        .get(format!("{}/redfish/v1", sim.endpoint("hang", BmcKind::Bmc)))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");

    let gone = sim.endpoint("gone", BmcKind::Bmc);
    assert!(
        !gone.starts_with(&sim.base_url()),
        "unreachable hosts live elsewhere"
    );
    let err = quick
        .get(format!("{gone}/redfish/v1"))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status(), "{err:?}");
    let r = quick
        .get(format!("{}/h/gone/bmc/redfish/v1", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A request still hanging does not hold up shutdown.
    let url = format!("{}/redfish/v1", sim.endpoint("hang", BmcKind::Bmc));
    let pending = tokio::spawn(async move { client().get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::time::timeout(Duration::from_secs(10), sim.shutdown())
        .await
        .expect("shutdown waits only for cut-short sleeps");
    let status = pending.await.unwrap();
    assert!(status.is_err() || status.unwrap() == StatusCode::SERVICE_UNAVAILABLE);
}

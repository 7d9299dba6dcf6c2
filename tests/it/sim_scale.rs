//! A 2,000-host simulator answers for every host with little memory. Correctness only: no
//! timing assertions.

use crate::sim_common::client;
use bmfleet::sim::{BmcKind, SimFleetConfig, SimServer};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

/// Resident set size of this process in KiB (Linux), if known.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_hosts_answer_on_one_server() {
    let before = rss_kib();
    let config = SimFleetConfig::generated(2_000);
    let hosts = config.hosts.clone();
    let sim = SimServer::start(config).await.unwrap();
    assert_eq!(sim.host_count(), 2_000);
    let http = client();

    // Every host's service root answers (unauthenticated), concurrently in batches.
    for chunk in hosts.chunks(250) {
        let calls = chunk.iter().map(|h| {
            let url = format!("{}/redfish/v1", sim.endpoint(&h.name, BmcKind::Bmc));
            let http = http.clone();
            async move {
                let r = http.get(url).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                r.json::<Value>().await.unwrap()
            }
        });
        for (root, h) in join_all(calls).await.into_iter().zip(chunk) {
            assert_eq!(
                root["@odata.id"],
                format!("/h/{}/bmc/redfish/v1", h.name).as_str()
            );
        }
    }

    // A sample gets the full authenticated walk, BMC and DPU.
    for h in hosts.iter().step_by(97) {
        let ep = sim.endpoint(&h.name, BmcKind::Bmc);
        let sys: Value = http
            .get(format!("{ep}/redfish/v1/Systems/{}", h.system_id))
            .basic_auth(&h.username, Some(&h.password))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(sys["Id"], h.system_id.as_str());
        assert_eq!(sys["HostName"], h.name.as_str());
        let bios: Value = http
            .get(format!("{ep}/redfish/v1/Systems/{}/Bios", h.system_id))
            .basic_auth(&h.username, Some(&h.password))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(bios["Attributes"].as_object().unwrap().len(), h.bios.len());
        let dpu = http
            .get(format!(
                "{}/redfish/v1/Systems/Bluefield",
                sim.endpoint(&h.name, BmcKind::Dpu)
            ))
            .basic_auth(&h.username, Some(&h.password))
            .send()
            .await
            .unwrap();
        if let Some(d) = &h.dpu {
            assert_eq!(dpu.status(), StatusCode::OK);
            let body: Value = dpu.json().await.unwrap();
            assert_eq!(body["Oem"]["Nvidia"]["Mode"], d.mode.as_str());
        } else {
            assert_eq!(dpu.status(), StatusCode::NOT_FOUND);
        }
    }
    assert!(sim.request_count() >= 2_000);
    for h in hosts.iter().step_by(97) {
        assert!(sim.host_request_count(&h.name).unwrap() >= 3);
    }

    if let (Some(before), Some(after)) = (before, rss_kib()) {
        // Generous bound: the point is "no per-host router or thread", which would be far
        // larger.
        let grown_mib = after.saturating_sub(before) / 1024;
        eprintln!("RSS grew {grown_mib} MiB for 2,000 hosts");
        assert!(grown_mib < 200, "grew {grown_mib} MiB for 2,000 hosts");
    }
    sim.shutdown().await;
}

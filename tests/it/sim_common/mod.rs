//! Helpers shared by the `sim_*` integration tests: a reqwest client and small Redfish calls.
#![allow(dead_code)]

use std::time::Duration;

use bmfleet::sim::{BmcKind, SimHandle};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

/// A reqwest client (reqwest is built without a TLS provider; install ring so `build` works).
pub fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A client logged in to one BMC with a session token.
pub struct Bmc {
    pub http: Client,
    /// `http://127.0.0.1:PORT/h/{host}/{bmc|dpu}`
    pub endpoint: String,
    pub origin: String,
    pub token: String,
}

impl Bmc {
    /// Logs in with the host's credentials.
    pub async fn login(sim: &SimHandle, host: &str, kind: BmcKind) -> Bmc {
        let (user, pass) = sim
            .with_host(host, |s| {
                (s.config.username.clone(), s.config.password.clone())
            })
            .unwrap();
        let http = client();
        let endpoint = sim.endpoint(host, kind);
        let r = http
            .post(format!("{endpoint}/redfish/v1/SessionService/Sessions"))
            .json(&json!({"UserName": user, "Password": pass}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "login to {endpoint}");
        let token = r.headers()["X-Auth-Token"].to_str().unwrap().to_owned();
        Bmc {
            http,
            endpoint,
            origin: sim.base_url(),
            token,
        }
    }

    /// A URL for an `@odata.id` (origin-relative) or a path below `/redfish/v1`.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("/h/") {
            format!("{}{path}", self.origin)
        } else {
            format!(
                "{}/redfish/v1/{}",
                self.endpoint,
                path.trim_start_matches('/')
            )
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut rb = self
            .http
            .request(method, self.url(path))
            .header("X-Auth-Token", &self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.unwrap()
    }

    /// GET, asserting 200; returns `(body, ETag header)`.
    pub async fn get(&self, path: &str) -> (Value, String) {
        let r = self.send(Method::GET, path, None).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        let etag = r
            .headers()
            .get("ETag")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.json().await.unwrap(), etag)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value, if_match: Option<&str>) -> Response {
        let mut rb = self
            .http
            .patch(self.url(path))
            .header("X-Auth-Token", &self.token)
            .json(&body);
        if let Some(tag) = if_match {
            rb = rb.header("If-Match", tag);
        }
        rb.send().await.unwrap()
    }

    /// Polls a task until `Completed` (bounded); returns the states seen.
    pub async fn wait_task(&self, location: &str) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for _ in 0..400 {
            let (task, _) = self.get(location).await;
            let state = task["TaskState"].as_str().unwrap().to_owned();
            if seen.last() != Some(&state) {
                seen.push(state.clone());
            }
            if state == "Completed" {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("task {location} did not complete: {seen:?}");
    }

    /// POSTs a reset and returns the task `Location`.
    pub async fn reset(&self, system_path: &str, reset_type: &str) -> String {
        let r = self
            .post(
                &format!("{system_path}/Actions/ComputerSystem.Reset"),
                json!({"ResetType": reset_type}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "reset {reset_type}");
        r.headers()["Location"].to_str().unwrap().to_owned()
    }
}

/// The first `MessageId` of a Redfish error body.
pub fn message_id(body: &Value) -> &str {
    body["error"]["@Message.ExtendedInfo"][0]["MessageId"]
        .as_str()
        .unwrap_or_default()
}

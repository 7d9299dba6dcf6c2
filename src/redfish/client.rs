//! The HTTP side of the Redfish client: one [`RedfishClient`] per BMC, holding one session,
//! a per-BMC in-flight limit, retries with backoff, ETag bookkeeping and request counting.
//!
//! Protocol sources: DSP0266 (Redfish Specification) §8 "Service requests" (headers,
//! `If-Match`, `$expand`), §9.6 "Error responses", §12.2 "Asynchronous operations" (202 +
//! `Location` task monitor), §13.3 "Authentication" (basic auth and sessions: `POST` to the
//! session collection, `X-Auth-Token`, `DELETE` of the session at logout).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};
use url::Url;

use super::error::{ErrorDetails, RedfishError};
use super::model::{ComputerSystem, ServiceRoot};
use super::tls::{self, TlsOptions};
use super::write::IfMatchForms;
use crate::secret::Secret;

/// The BMC to talk to.
///
/// `endpoint` is a base URL and may carry a path prefix (a simulator serving many BMCs uses
/// `http://127.0.0.1:8000/h/r1-n01/bmc`); the service root is `endpoint + "/redfish/v1/"`.
/// `@odata.id` links returned by the BMC are absolute paths and are resolved against the
/// endpoint's origin (`scheme://host:port`), not against the prefix, because a service that
/// lives under a prefix puts the prefix into its links itself.
///
/// `Debug` never shows the password (it is a [`Secret`]).
#[derive(Debug, Clone)]
pub struct BmcTarget {
    /// Label used in every log line and error, e.g. `r1-n01/bmc`.
    pub label: String,
    /// Base URL (`http` or `https`); must not carry `user:password@`.
    pub endpoint: Url,
    /// `Id` of the ComputerSystem to manage; `None` = the single member of `Systems`.
    pub system_id: Option<String>,
    /// BMC account name.
    pub username: String,
    /// BMC account password.
    pub password: Secret,
    /// TLS trust options.
    pub tls: TlsOptions,
}

/// Tuning of a [`RedfishClient`]. Defaults: 30 s per request, 10 s to connect, 3 retries,
/// 500 ms exponential backoff base capped at 10 s, `Retry-After` honoured up to 30 s,
/// 2 requests in flight per BMC, no global limiter.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout (connect + send + receive), per attempt.
    pub timeout: Duration,
    /// TCP + TLS connect timeout, per attempt.
    pub connect_timeout: Duration,
    /// Retries after the first attempt (so `3` means at most 4 attempts). Reads (GET,
    /// DELETE) are retried on connection errors, timeouts, 5xx and 503/429; writes (PATCH,
    /// POST: actions and the session login) only when the request provably was not sent
    /// (connection refused, DNS, connect timeout) and on 503/429 carrying `Retry-After`.
    pub retries: u32,
    /// First backoff delay; doubled per retry, with jitter (half fixed, half random).
    pub backoff_base: Duration,
    /// Largest backoff delay.
    pub backoff_max: Duration,
    /// Largest `Retry-After` (seconds on 503/429) that is honoured; larger values are capped.
    pub retry_after_max: Duration,
    /// Requests in flight at once to this BMC (a tokio `Semaphore` per client); BMCs are
    /// small embedded systems and iDRAC/XCC degrade above a few concurrent requests. `0` is
    /// treated as `1`.
    pub per_bmc_in_flight: usize,
    /// Limiter shared by all clients of a run (`--parallelism`): a permit is held for every
    /// request in flight, after the per-BMC permit.
    pub global_limiter: Option<Arc<Semaphore>>,
    /// Largest response body read, in bytes (default 16 MiB, [`MAX_BODY`]). A larger answer
    /// (by `Content-Length`, or while streaming one without it) is refused as soon as the
    /// limit is passed, so a BMC cannot exhaust the operator's memory.
    pub max_body: usize,
}

/// The default limit on a Redfish response body: 16 MiB (the largest real payloads, full
/// `AttributeRegistry` documents, are 1-3 MiB).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(10),
            retry_after_max: Duration::from_secs(30),
            per_bmc_in_flight: 2,
            global_limiter: None,
            max_body: MAX_BODY,
        }
    }
}

/// How the client authenticates (DSP0266 §13.3).
#[derive(Default)]
enum AuthState {
    /// No login yet (or logged out).
    #[default]
    None,
    /// A Redfish session: token and the session's URI (for the logout `DELETE`).
    Session {
        token: Secret,
        location: Option<Url>,
        generation: u64,
    },
    /// HTTP basic auth (the BMC has no SessionService).
    Basic,
}

/// The credentials to attach to one request.
#[derive(Clone)]
pub(crate) enum Auth {
    /// No credentials (service root, session login).
    Anonymous,
    /// `X-Auth-Token`.
    Session { token: Secret, generation: u64 },
    /// `Authorization: Basic`.
    Basic,
}

/// Retry class of a request (DSP0266 leaves retries to clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryClass {
    /// GET, DELETE (reads and the logout): retried on connection errors, timeouts, 5xx,
    /// 503/429.
    Read,
    /// PATCH, POST, PUT (writes, actions, the session login): retried only when the request
    /// provably was not sent (the connection, or its connect timeout, failed before it) and
    /// on 503/429 with `Retry-After` (the service says it did not process it). A PATCH is
    /// idempotent in theory, but on iDRAC a PATCH whose answer was lost has already created
    /// a BIOS job, and a second one fails or queues another.
    Write,
}

impl RetryClass {
    fn of(method: &Method) -> Self {
        if matches!(
            *method,
            Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
        ) {
            Self::Read
        } else {
            Self::Write
        }
    }
}

/// A request to send.
pub(crate) struct Req<'a> {
    pub method: Method,
    pub url: Url,
    pub body: Option<&'a Value>,
    pub if_match: Option<&'a str>,
}

/// A received response (body fully read).
#[derive(Debug)]
pub(crate) struct Resp {
    pub method: Method,
    pub status: StatusCode,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    /// The `ETag` header, if present and non-empty.
    pub fn etag(&self) -> Option<String> {
        header_str(&self.headers, "etag")
    }

    /// The `Location` header, if present.
    pub fn location(&self) -> Option<String> {
        header_str(&self.headers, "location")
    }

    /// Parses the body as JSON (an empty body is `null`).
    pub fn json_value(&self, host: &str) -> Result<Value, RedfishError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| RedfishError::Parse {
            host: host.to_string(),
            url: self.url.to_string(),
            reason: format!("invalid JSON: {e}"),
        })
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// What the client remembers about the system between reads and writes, so writes do not
/// re-read what a read already fetched.
#[derive(Debug, Default, Clone)]
pub(crate) struct Known {
    /// Path of the ComputerSystem.
    pub system_path: Option<String>,
    /// The ComputerSystem as last read (without the inline Bios).
    pub system: Option<ComputerSystem>,
    /// Bios path, settings-object path and supported apply times, as last read.
    pub bios: Option<BiosMeta>,
    /// `Oem/Nvidia` path and its `#Mode.Set` target, when the system is a BlueField-3 DPU.
    pub nvidia: Option<NvidiaMeta>,
}

/// BIOS write metadata learned from a read.
#[derive(Debug, Default, Clone)]
pub(crate) struct BiosMeta {
    pub path: String,
    pub settings_path: Option<String>,
    pub supported_apply_times: Vec<String>,
}

/// BlueField OEM metadata learned from a read.
#[derive(Debug, Default, Clone)]
pub(crate) struct NvidiaMeta {
    pub oem_path: String,
    pub mode_set_target: Option<String>,
}

/// A Redfish client for one BMC. See the [module docs](super) for the request economy.
///
/// Create one per BMC per run with [`RedfishClient::new`]; it is `Send + Sync` and its
/// methods take `&self`, so reads can be issued concurrently (bounded by
/// [`ClientOptions::per_bmc_in_flight`]). Call [`RedfishClient::logout`] at the end.
/// Dropping a client that still holds a session does a best-effort logout: it spawns the
/// `DELETE` on the current tokio runtime (never blocking in `Drop`); if there is no runtime,
/// or the runtime shuts down first, the session is left to expire on the BMC (a warning is
/// logged).
pub struct RedfishClient {
    pub(crate) label: String,
    pub(crate) system_id: Option<String>,
    username: String,
    password: Secret,
    origin: Url,
    base: Url,
    pub(crate) opts: ClientOptions,
    http: reqwest::Client,
    per_bmc: Semaphore,
    requests: AtomicU64,
    auth: tokio::sync::Mutex<AuthState>,
    generation: AtomicU64,
    root: OnceCell<Arc<ServiceRoot>>,
    etags: Mutex<HashMap<String, String>>,
    pub(crate) known: Mutex<Known>,
    /// `If-Match` forms this BMC accepted (see [`IfMatchForms`]).
    pub(crate) if_match: Mutex<IfMatchForms>,
}

impl std::fmt::Debug for RedfishClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedfishClient")
            .field("label", &self.label)
            .field("endpoint", &self.base.as_str())
            .field("username", &self.username)
            .field("password", &self.password)
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl RedfishClient {
    /// Builds a client for `target`. No request is sent until the first call.
    ///
    /// # Errors
    /// [`RedfishError::Config`] when the endpoint is not `http`/`https`, carries user-info
    /// (`user:password@`, which would leak into logs), or when `tls.ca_file` is unreadable or
    /// holds no certificate.
    pub fn new(target: BmcTarget, opts: ClientOptions) -> Result<Self, RedfishError> {
        let label = target.label.clone();
        let config_err = |reason: String, help: &str| RedfishError::Config {
            host: label.clone(),
            reason,
            help: help.to_string(),
        };
        let mut endpoint = target.endpoint.clone();
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            return Err(config_err(
                "the endpoint URL carries user-info (user:password@)".into(),
                "put the account in credentials (username/password), not in the endpoint URL",
            ));
        }
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(config_err(
                format!("endpoint {endpoint} is not an http(s) URL with a host"),
                "use https://<bmc-address>[:port][/prefix]",
            ));
        }
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        if !endpoint.path().ends_with('/') {
            let path = format!("{}/", endpoint.path());
            endpoint.set_path(&path);
        }
        let mut origin = endpoint.clone();
        origin.set_path("/");

        let tls_config = tls::client_config(&label, &target.tls)?;
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json"));
        headers.insert("odata-version", HeaderValue::from_static("4.0"));
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config)
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            // Redirects could carry X-Auth-Token to another origin; a BMC has no reason to
            // redirect API calls, so a 3xx surfaces as an http_status error instead.
            .redirect(reqwest::redirect::Policy::none())
            // Our own retry loop counts every attempt; reqwest's must not add hidden ones.
            .retry(reqwest::retry::never())
            .default_headers(headers)
            .user_agent(concat!("bmfleet/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(opts.per_bmc_in_flight.max(1))
            .build()
            .map_err(|e| {
                config_err(
                    format!("cannot build the HTTP client: {}", error_chain(&e)),
                    "this is a bug in bmfleet's HTTP setup; please report it",
                )
            })?;
        let per_bmc = Semaphore::new(opts.per_bmc_in_flight.max(1));
        Ok(Self {
            label: target.label,
            system_id: target.system_id,
            username: target.username,
            password: target.password,
            origin,
            base: endpoint,
            opts,
            http,
            per_bmc,
            requests: AtomicU64::new(0),
            auth: tokio::sync::Mutex::new(AuthState::None),
            generation: AtomicU64::new(0),
            root: OnceCell::new(),
            etags: Mutex::new(HashMap::new()),
            known: Mutex::new(Known::default()),
            if_match: Mutex::new(IfMatchForms::ALL),
        })
    }

    /// The host label given in the [`BmcTarget`].
    pub fn label(&self) -> &str {
        &self.label
    }

    /// HTTP requests sent so far (every attempt counts, retries and the logout included).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The last ETag seen for `path` (an `@odata.id`), from the `ETag` header or, failing
    /// that, the body's `@odata.etag`; updated by every GET and successful PATCH.
    pub fn etag_of(&self, path: &str) -> Option<String> {
        let key = self.link_url(path).ok()?.path().to_string();
        lock(&self.etags).get(&key).cloned()
    }

    pub(crate) fn remember_etag(&self, url: &Url, etag: Option<String>) {
        let mut etags = lock(&self.etags);
        match etag {
            Some(e) => {
                etags.insert(url.path().to_string(), e);
            }
            None => {
                etags.remove(url.path());
            }
        }
    }

    /// Resolves an `@odata.id` (absolute path) or a URL against the endpoint's origin.
    ///
    /// Absolute URLs are reduced to their path and query and put on our origin: BMCs often
    /// put an internal address or name in `Location`, and credentials must never be sent to
    /// another origin. A relative reference (no leading `/`) is resolved against the
    /// endpoint base.
    pub(crate) fn link_url(&self, link: &str) -> Result<Url, RedfishError> {
        let link = link.trim();
        let parse_err = |reason: String| RedfishError::Parse {
            host: self.label.clone(),
            url: link.to_string(),
            reason,
        };
        // One real URL parser for every form a body can carry: `/path`, `path`, `HTTP://x`,
        // scheme-relative `//other:port/x`, `/\other` (a backslash is a slash in http(s)
        // URLs), tabs and newlines inside (stripped by the WHATWG parser).
        let joined = self
            .base
            .join(link)
            .map_err(|e| parse_err(format!("bad link: {e}")))?;
        if same_origin(&joined, &self.origin) {
            return Ok(joined);
        }
        // Another origin (an internal address in a Location header, or a hostile link):
        // keep the path and query, on our origin. Credentials never leave the endpoint.
        let mut url = self.origin.clone();
        url.set_path(joined.path());
        url.set_query(joined.query());
        Ok(url)
    }

    /// A path under the endpoint (with its prefix), e.g. `redfish/v1/Systems` — used only
    /// for well-known fallbacks when the service root does not link a resource.
    pub(crate) fn endpoint_path(&self, rel: &str) -> String {
        format!("{}{}", self.base.path(), rel.trim_start_matches('/'))
    }

    /// The service root (`GET endpoint/redfish/v1/`, unauthenticated as DSP0266 §13.3.1
    /// allows), read once and cached for the client's life.
    ///
    /// A service that answers 401 (some require auth even there) gets an empty root, so the
    /// client falls back to the well-known paths and no `$expand`.
    ///
    /// # Errors
    /// Transport errors ([`RedfishError::Connect`], [`RedfishError::Tls`],
    /// [`RedfishError::Timeout`]), [`RedfishError::HttpStatus`] for other failures,
    /// [`RedfishError::Parse`] for a body that is not a service root.
    pub async fn service_root(&self) -> Result<Arc<ServiceRoot>, RedfishError> {
        self.root
            .get_or_try_init(|| async {
                let url = self.link_url(&self.endpoint_path("redfish/v1/"))?;
                let resp = self
                    .execute(
                        &Req {
                            method: Method::GET,
                            url,
                            body: None,
                            if_match: None,
                        },
                        &Auth::Anonymous,
                    )
                    .await?;
                if resp.status == StatusCode::UNAUTHORIZED {
                    tracing::debug!(host = %self.label, "service root requires auth; using well-known paths");
                    return Ok(Arc::new(ServiceRoot::default()));
                }
                let value = self.check(&resp)?;
                let root: ServiceRoot = self.decode(&resp.url, value)?;
                Ok(Arc::new(root))
            })
            .await
            .cloned()
    }

    /// `GET` of an `@odata.id`, parsed as `T`; records the ETag. Returns the typed value and
    /// the raw JSON (for OEM members).
    ///
    /// # Errors
    /// [`RedfishError::NotFound`] on 404, [`RedfishError::Unauthorized`] when the credentials
    /// are refused, [`RedfishError::HttpStatus`] for other statuses, [`RedfishError::Parse`]
    /// when the body is not JSON or not a `T`, and transport errors.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<(T, Value), RedfishError> {
        let url = self.link_url(path)?;
        let (value, _) = self.get_url(url.clone(), true).await?;
        let typed = self.decode(&url, value.clone())?;
        Ok((typed, value))
    }

    /// `GET` of an `@odata.id` as raw JSON; records the ETag.
    ///
    /// # Errors
    /// As [`RedfishClient::get`].
    pub async fn get_json(&self, path: &str) -> Result<Value, RedfishError> {
        let url = self.link_url(path)?;
        Ok(self.get_url(url, true).await?.0)
    }

    /// GET a URL with auth; returns the JSON body and the ETag (header, else `@odata.etag`).
    /// `header_first`: prefer the header ETag (false for `$expand`ed reads, whose header
    /// ETag may describe the expanded representation).
    pub(crate) async fn get_url(
        &self,
        url: Url,
        header_first: bool,
    ) -> Result<(Value, Option<String>), RedfishError> {
        let resp = self
            .request(Req {
                method: Method::GET,
                url,
                body: None,
                if_match: None,
            })
            .await?;
        let value = self.check(&resp)?;
        let body_etag = value
            .get("@odata.etag")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from);
        let etag = if header_first {
            resp.etag().or(body_etag)
        } else {
            body_etag.or_else(|| resp.etag())
        };
        let mut key = resp.url.clone();
        key.set_query(None);
        self.remember_etag(&key, etag.clone());
        Ok((value, etag))
    }

    /// Deserializes `value` as `T`, mapping failures to [`RedfishError::Parse`].
    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        url: &Url,
        value: Value,
    ) -> Result<T, RedfishError> {
        if !value.is_object() {
            return Err(RedfishError::Parse {
                host: self.label.clone(),
                url: url.to_string(),
                reason: "expected a JSON object".into(),
            });
        }
        serde_json::from_value(value).map_err(|e| RedfishError::Parse {
            host: self.label.clone(),
            url: url.to_string(),
            reason: e.to_string(),
        })
    }

    /// Maps a non-2xx response to an error; returns the JSON body of a 2xx.
    pub(crate) fn check(&self, resp: &Resp) -> Result<Value, RedfishError> {
        if resp.status.is_success() {
            return resp.json_value(&self.label);
        }
        Err(self.status_error(resp))
    }

    /// The error for a non-2xx response.
    pub(crate) fn status_error(&self, resp: &Resp) -> RedfishError {
        let details = Box::new(ErrorDetails::from_body(&resp.body));
        let host = self.label.clone();
        let url = resp.url.to_string();
        let method = resp.method.to_string();
        let status = resp.status.as_u16();
        match status {
            401 => RedfishError::Unauthorized {
                host,
                method,
                url,
                status,
                details,
            },
            403 => {
                let (privilege, help) = forbidden_help(&host, &resp.method, &resp.url);
                RedfishError::Forbidden {
                    host,
                    method,
                    url,
                    privilege,
                    details,
                    help,
                }
            }
            404 => RedfishError::NotFound {
                help: format!(
                    "the BMC at {host} does not have this resource; check the endpoint URL and systemId, or the firmware version"
                ),
                host,
                url,
                what: "resource".into(),
                details,
            },
            412 | 428 => RedfishError::Precondition {
                host,
                method,
                url,
                status,
                tried: Vec::new(),
                details,
            },
            _ => {
                let help = match status {
                    300..=399 => format!(
                        "the BMC at {host} redirected the request; use the final URL (often https://) as the endpoint"
                    ),
                    400 | 405 | 501 => format!(
                        "the BMC at {host} rejected the request; its firmware may not support this operation (see the MessageIds)"
                    ),
                    409 => format!(
                        "the BMC at {host} has a conflicting operation (often a pending job); wait or clear it, then retry"
                    ),
                    429 | 503 => {
                        format!("the BMC at {host} is busy; retry later or lower --parallelism")
                    }
                    500..=599 => format!(
                        "the BMC at {host} failed internally; retry, and reset the BMC if it persists"
                    ),
                    _ => format!("see the MessageIds returned by {host}"),
                };
                RedfishError::HttpStatus {
                    host,
                    method,
                    url,
                    status,
                    details,
                    help,
                }
            }
        }
    }

    /// The error for a non-2xx answer to a write (PATCH, action POST): a 5xx means the BMC
    /// may have applied it ([`RedfishError::WriteOutcomeUnknown`]), except 501/505 (not
    /// supported) and 503 with `Retry-After` (the service says it did not process it); other
    /// statuses as [`RedfishClient::status_error`].
    pub(crate) fn write_status_error(&self, resp: &Resp) -> RedfishError {
        let status = resp.status.as_u16();
        let busy = status == 503 && resp.headers.contains_key("retry-after");
        if (500..=599).contains(&status) && !matches!(status, 501 | 505) && !busy {
            return RedfishError::WriteOutcomeUnknown {
                host: self.label.clone(),
                method: resp.method.to_string(),
                url: resp.url.to_string(),
                reason: format!("the BMC answered HTTP {status}"),
                status: Some(status),
                details: Box::new(ErrorDetails::from_body(&resp.body)),
            };
        }
        self.status_error(resp)
    }

    /// Sends an authenticated request: logs in first if needed, and on a 401 with a session
    /// token (session expired or reaped by the BMC) creates a new session once and resends.
    /// Returns the response whatever its status (callers map errors).
    ///
    /// # Errors
    /// Transport errors; [`RedfishError::Unauthorized`] when the login fails or a fresh
    /// session is refused too (401 with basic auth is returned as a response).
    pub(crate) async fn request(&self, req: Req<'_>) -> Result<Resp, RedfishError> {
        let mut auth = self.ensure_auth().await?;
        let mut renewed = false;
        loop {
            let resp = self.execute(&req, &auth).await?;
            if resp.status == StatusCode::UNAUTHORIZED
                && !renewed
                && let Auth::Session { generation, .. } = &auth
            {
                tracing::info!(host = %self.label, url = %resp.url, "session rejected (expired?); logging in again");
                renewed = true;
                auth = self.renew_session(*generation).await?;
                continue;
            }
            return Ok(resp);
        }
    }

    /// The credentials for the next request, logging in if nobody has yet.
    async fn ensure_auth(&self) -> Result<Auth, RedfishError> {
        let mut state = self.auth.lock().await;
        if matches!(*state, AuthState::None) {
            *state = self.login().await?;
        }
        Ok(snapshot(&state))
    }

    /// Replaces the session of generation `stale` (rejected with 401) by a new one, unless
    /// another task already did.
    async fn renew_session(&self, stale: u64) -> Result<Auth, RedfishError> {
        let mut state = self.auth.lock().await;
        let is_stale = match &*state {
            AuthState::Session { generation, .. } => *generation == stale,
            AuthState::None => true,
            AuthState::Basic => false,
        };
        if is_stale {
            *state = self.login().await?;
        }
        Ok(snapshot(&state))
    }

    /// Logs in: `POST {"UserName","Password"}` to the service root's `Links.Sessions`
    /// (fallback `redfish/v1/SessionService/Sessions` under the endpoint). Falls back to HTTP
    /// basic auth when the service has no SessionService (404/405/501).
    async fn login(&self) -> Result<AuthState, RedfishError> {
        // DSP0266 fixes the Sessions collection at /redfish/v1/SessionService/Sessions: try it
        // first unless the service root is already known, and read the root only when the
        // well-known path is refused (one request saved per BMC).
        let standard = self.endpoint_path("redfish/v1/SessionService/Sessions");
        let sessions_of = |root: &ServiceRoot| {
            root.links
                .as_ref()
                .and_then(|l| l.sessions.as_ref())
                .and_then(|s| s.path())
                .map(String::from)
        };
        let first = self
            .cached_root()
            .and_then(|r| sessions_of(&r))
            .unwrap_or_else(|| standard.clone());
        match self.login_at(&first).await? {
            Some(state) => Ok(state),
            None if self.cached_root().is_none() => {
                let root = self.service_root().await?;
                match sessions_of(&root) {
                    Some(listed) if listed != first => {
                        Ok(self.login_at(&listed).await?.unwrap_or(AuthState::Basic))
                    }
                    _ => {
                        tracing::info!(host = %self.label, "no SessionService; using HTTP basic auth");
                        Ok(AuthState::Basic)
                    }
                }
            }
            None => {
                tracing::info!(host = %self.label, "no SessionService; using HTTP basic auth");
                Ok(AuthState::Basic)
            }
        }
    }

    /// The service root if it was already read.
    pub(crate) fn cached_root(&self) -> Option<Arc<ServiceRoot>> {
        self.root.get().cloned()
    }

    /// `POST` of the credentials to `sessions`; `Ok(None)` when the service has no sessions
    /// there (404/405/501).
    async fn login_at(&self, sessions: &str) -> Result<Option<AuthState>, RedfishError> {
        let url = self.link_url(sessions)?;
        let body = serde_json::json!({
            "UserName": self.username,
            "Password": self.password.expose(),
        });
        let resp = self
            .execute(
                &Req {
                    method: Method::POST,
                    url: url.clone(),
                    body: Some(&body),
                    if_match: None,
                },
                &Auth::Anonymous,
            )
            .await?;
        drop(body);
        match resp.status.as_u16() {
            200..=299 => {}
            404 | 405 | 501 => {
                tracing::debug!(host = %self.label, status = resp.status.as_u16(), url = %url, "no sessions here");
                return Ok(None);
            }
            429 | 503 => {
                let details = ErrorDetails::from_body(&resp.body);
                if details.mentions("session") {
                    return Err(RedfishError::SessionLimit {
                        host: self.label.clone(),
                        url: url.to_string(),
                        details: Box::new(details),
                    });
                }
                return Err(self.status_error(&resp));
            }
            _ => return Err(self.status_error(&resp)),
        }
        let Some(token) = header_str(&resp.headers, "x-auth-token") else {
            tracing::warn!(host = %self.label, "session created without X-Auth-Token; using HTTP basic auth");
            return Ok(Some(AuthState::Basic));
        };
        let location = match resp.location() {
            Some(loc) => Some(loc),
            None => resp
                .json_value(&self.label)
                .ok()
                .and_then(|v| v.get("@odata.id").and_then(Value::as_str).map(String::from)),
        };
        let location = match location {
            Some(loc) => {
                Some(resolve_against(&resp.url, &loc).and_then(|u| self.link_url(u.as_str()))?)
            }
            None => {
                tracing::warn!(host = %self.label, "session created without Location; it cannot be deleted at logout");
                None
            }
        };
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(host = %self.label, generation, "Redfish session created");
        Ok(Some(AuthState::Session {
            token: Secret::new(token),
            location,
            generation,
        }))
    }

    /// Ends the session: `DELETE` of its URI with its token (DSP0266 §13.3.4). Does nothing
    /// with basic auth or when no session was opened. A 401/404 answer (session already
    /// expired) counts as success. Later calls log in again.
    ///
    /// # Errors
    /// Transport errors and [`RedfishError::HttpStatus`] for other failures; the client
    /// forgets the session either way.
    pub async fn logout(&self) -> Result<(), RedfishError> {
        let mut state = self.auth.lock().await;
        let previous = std::mem::take(&mut *state);
        let AuthState::Session {
            token,
            location: Some(url),
            generation,
        } = previous
        else {
            return Ok(());
        };
        let resp = self
            .execute(
                &Req {
                    method: Method::DELETE,
                    url,
                    body: None,
                    if_match: None,
                },
                &Auth::Session { token, generation },
            )
            .await?;
        match resp.status.as_u16() {
            200..=299 | 401 | 404 => {
                tracing::debug!(host = %self.label, "Redfish session deleted");
                Ok(())
            }
            _ => Err(self.status_error(&resp)),
        }
    }

    /// Sends one request with retries (see [`ClientOptions::retries`] and [`RetryClass`]),
    /// holding the per-BMC and global permits only while a request is in flight (not while
    /// backing off).
    ///
    /// A write (any method but GET/HEAD/DELETE/OPTIONS) that may have reached the BMC but got
    /// no answer (timeout, connection broken after sending) ends in
    /// [`RedfishError::WriteOutcomeUnknown`]; the session login (the only anonymous write)
    /// ends in the plain transport error, since it changes nothing on the hardware.
    pub(crate) async fn execute(&self, req: &Req<'_>, auth: &Auth) -> Result<Resp, RedfishError> {
        let class = RetryClass::of(&req.method);
        let max_attempts = self.opts.retries.saturating_add(1);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let outcome = self.send_once(req, auth).await;
            let last = attempt >= max_attempts;
            let delay = match &outcome {
                Ok(resp) => {
                    tracing::debug!(
                        host = %self.label, method = %req.method, url = %req.url,
                        status = resp.status.as_u16(), attempt,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "redfish request"
                    );
                    self.status_retry_delay(class, resp, attempt)
                }
                Err(Transport::Tls(_)) => None,
                // The request was not sent: safe to resend whatever it is.
                Err(Transport::Connect(_) | Transport::ConnectTimeout(_)) => {
                    Some(self.backoff(attempt))
                }
                Err(Transport::TooLarge(_)) => None,
                Err(Transport::Timeout | Transport::Other(_)) if class == RetryClass::Read => {
                    Some(self.backoff(attempt))
                }
                Err(Transport::Timeout | Transport::Other(_)) => None,
            };
            match (delay, last) {
                (Some(delay), false) => {
                    tracing::warn!(
                        host = %self.label, method = %req.method, url = %req.url, attempt,
                        delay_ms = delay.as_millis() as u64,
                        outcome = %describe(&outcome),
                        "retrying redfish request"
                    );
                    tokio::time::sleep(delay).await;
                }
                _ => {
                    let login = matches!(auth, Auth::Anonymous);
                    return outcome.map_err(|t| {
                        if class == RetryClass::Write && !login && t.may_have_been_sent() {
                            self.write_unknown_error(t, req)
                        } else {
                            self.transport_error(t, req, attempt)
                        }
                    });
                }
            }
        }
    }

    /// The retry delay for an answer, or `None` when it is final. 429/503 are retried for
    /// every request when they carry `Retry-After` (seconds, capped; an HTTP-date or
    /// unparsable value waits the backoff), and for reads also without it; other 5xx only for
    /// reads.
    fn status_retry_delay(&self, class: RetryClass, resp: &Resp, attempt: u32) -> Option<Duration> {
        match resp.status.as_u16() {
            429 | 503 => {
                let has_retry_after = resp.headers.contains_key("retry-after");
                if class == RetryClass::Write && !has_retry_after {
                    return None;
                }
                Some(
                    retry_after(&resp.headers, self.opts.retry_after_max)
                        .unwrap_or_else(|| self.backoff(attempt)),
                )
            }
            500..=599 if class == RetryClass::Read => Some(self.backoff(attempt)),
            _ => None,
        }
    }

    /// One attempt: acquire permits, send, read the body.
    async fn send_once(&self, req: &Req<'_>, auth: &Auth) -> Result<Resp, Transport> {
        let _bmc: SemaphorePermit<'_> = self
            .per_bmc
            .acquire()
            .await
            .map_err(|_| Transport::Other("per-BMC limiter closed".into()))?;
        let _global = match &self.opts.global_limiter {
            Some(g) => Some(
                g.clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| Transport::Other("global limiter closed".into()))?,
            ),
            None => None,
        };
        if !same_origin(&req.url, &self.origin) {
            // The one place requests leave: nothing carrying our credentials goes to another
            // scheme, host or port, whatever built the URL.
            return Err(Transport::Other(format!(
                "refused to send to {} (not the endpoint's origin {})",
                req.url.as_str(),
                self.origin.origin().ascii_serialization()
            )));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut rb = self.http.request(req.method.clone(), req.url.clone());
        if let Some(body) = req.body {
            rb = rb.json(body);
        } else if matches!(req.method, Method::POST | Method::PATCH) {
            rb = rb.json(&serde_json::json!({}));
        }
        if let Some(etag) = req.if_match {
            rb = rb.header("if-match", etag);
        }
        rb = match auth {
            Auth::Anonymous => rb,
            Auth::Session { token, .. } => rb.header("x-auth-token", token.expose()),
            Auth::Basic => rb.basic_auth(&self.username, Some(self.password.expose())),
        };
        let resp = rb.send().await.map_err(|e| classify(&e))?;
        let status = resp.status();
        let url = resp.url().clone();
        let headers = resp.headers().clone();
        let max = self.opts.max_body;
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(Transport::TooLarge(max));
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
            if body.len() + chunk.len() > max {
                return Err(Transport::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Resp {
            method: req.method.clone(),
            status,
            url,
            headers,
            body,
        })
    }

    fn transport_error(&self, t: Transport, req: &Req<'_>, attempts: u32) -> RedfishError {
        let host = self.label.clone();
        let url = req.url.to_string();
        match t {
            Transport::Tls(reason) => RedfishError::Tls { host, url, reason },
            Transport::TooLarge(max) => RedfishError::Parse {
                host,
                url,
                reason: format!(
                    "the response body is larger than {} MiB and was not read (a BMC answer this size is a fault or an attack)",
                    max / (1024 * 1024)
                ),
            },
            Transport::Timeout | Transport::ConnectTimeout(_) => RedfishError::Timeout {
                host,
                method: req.method.to_string(),
                url,
                timeout_secs: self.opts.timeout.as_secs(),
                attempts,
            },
            Transport::Connect(reason) | Transport::Other(reason) => RedfishError::Connect {
                host,
                url,
                attempts,
                reason,
            },
        }
    }

    /// [`RedfishError::WriteOutcomeUnknown`] for a write that may have reached the BMC.
    fn write_unknown_error(&self, t: Transport, req: &Req<'_>) -> RedfishError {
        let reason = match t {
            Transport::Timeout => format!(
                "no answer within {} s (not retried)",
                self.opts.timeout.as_secs()
            ),
            other => format!(
                "the connection failed after the request was sent (not retried): {}",
                describe(&Err(other))
            ),
        };
        RedfishError::WriteOutcomeUnknown {
            host: self.label.clone(),
            method: req.method.to_string(),
            url: req.url.to_string(),
            reason,
            status: None,
            details: Box::default(),
        }
    }

    /// Exponential backoff with jitter: `base * 2^(attempt-1)`, capped at `backoff_max`, of
    /// which half is fixed and half random.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(16);
        let full = self
            .opts
            .backoff_base
            .saturating_mul(1u32 << exp)
            .min(self.opts.backoff_max);
        let half = full / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let seed = self.requests.load(Ordering::Relaxed)
            ^ u64::from(attempt)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos().into())
                .unwrap_or(0);
        let jitter = if nanos == 0 {
            0
        } else {
            splitmix64(seed) % nanos
        };
        half + Duration::from_nanos(jitter)
    }

    /// The service root's `$expand` support as the query to use on a ComputerSystem GET:
    /// `$expand=.($levels=1)` when `ExpandQuery.ExpandAll` or `NoLinks` is true (without
    /// `($levels=1)` when `Levels` is false; one level is the default then).
    pub(crate) fn expand_query(root: &ServiceRoot) -> Option<&'static str> {
        let eq = root.expand_query()?;
        let supported = eq.expand_all == Some(true) || eq.no_links == Some(true);
        match (supported, eq.levels) {
            (false, _) => None,
            (true, Some(false)) => Some("$expand=."),
            (true, _) => Some("$expand=.($levels=1)"),
        }
    }
}

impl Drop for RedfishClient {
    fn drop(&mut self) {
        let state = std::mem::take(self.auth.get_mut());
        let AuthState::Session {
            token,
            location: Some(url),
            ..
        } = state
        else {
            return;
        };
        let label = self.label.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let http = self.http.clone();
                tracing::debug!(host = %label, "client dropped with an open session; logging out in the background");
                handle.spawn(async move {
                    let result = http
                        .delete(url)
                        .header("x-auth-token", token.expose())
                        .send()
                        .await;
                    if let Err(e) = result {
                        tracing::debug!(host = %label, error = %error_chain(&e), "background logout failed");
                    }
                });
            }
            Err(_) => {
                tracing::warn!(host = %label, "client dropped outside a tokio runtime; the BMC session will expire on its own");
            }
        }
    }
}

fn snapshot(state: &AuthState) -> Auth {
    match state {
        AuthState::None => Auth::Anonymous,
        AuthState::Session {
            token, generation, ..
        } => Auth::Session {
            token: token.clone(),
            generation: *generation,
        },
        AuthState::Basic => Auth::Basic,
    }
}

/// True when `a` and `b` have the same scheme, host and port (RFC 6454 origin).
fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

fn resolve_against(base: &Url, reference: &str) -> Result<Url, RedfishError> {
    base.join(reference).map_err(|e| RedfishError::Parse {
        host: String::new(),
        url: reference.to_string(),
        reason: format!("bad Location header: {e}"),
    })
}

/// Locks a std mutex, recovering from poisoning (the data is simple caches).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Classified transport failure of one attempt.
#[derive(Debug)]
enum Transport {
    /// TLS handshake failure (never retried).
    Tls(String),
    /// The connection could not be established (refused, unreachable, DNS): not sent.
    Connect(String),
    /// The connect timeout expired before a connection existed: not sent.
    ConnectTimeout(String),
    /// No answer within the request timeout once connected: may have been processed.
    Timeout,
    /// Anything else (connection reset after sending, body read error): may have been
    /// processed.
    Other(String),
    /// The answer's body passed the limit (bytes); never retried.
    TooLarge(usize),
}

impl Transport {
    /// True when the BMC may have received (and acted on) the request.
    fn may_have_been_sent(&self) -> bool {
        matches!(self, Self::Timeout | Self::Other(_) | Self::TooLarge(_))
    }
}

fn describe(outcome: &Result<Resp, Transport>) -> String {
    match outcome {
        Ok(resp) => format!("HTTP {}", resp.status.as_u16()),
        Err(Transport::Tls(r)) => format!("TLS error: {r}"),
        Err(Transport::Connect(r)) => format!("connect error: {r}"),
        Err(Transport::ConnectTimeout(r)) => format!("connect timeout: {r}"),
        Err(Transport::Timeout) => "timeout".into(),
        Err(Transport::Other(r)) => r.clone(),
        Err(Transport::TooLarge(max)) => format!("response body over {max} bytes"),
    }
}

/// Classifies a reqwest error. `is_connect` is true only for failures of hyper's connector
/// (DNS, TCP connect, TLS handshake, connect timeout), i.e. before any byte of the request
/// was written; the whole-request timeout is `is_timeout` without `is_connect`.
fn classify(e: &reqwest::Error) -> Transport {
    if let Some(tls) = find_rustls_error(e) {
        return Transport::Tls(tls);
    }
    let chain = error_chain(e);
    if e.is_connect() {
        // rustls alerts sometimes arrive only as text in the chain.
        let lower = chain.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("handshake") {
            return Transport::Tls(chain);
        }
        if e.is_timeout() {
            return Transport::ConnectTimeout(chain);
        }
        return Transport::Connect(chain);
    }
    if e.is_timeout() {
        Transport::Timeout
    } else {
        Transport::Other(chain)
    }
}

/// The Redfish privilege a 403 most likely lacks (DSP8011 "Redfish Privilege Mapping": `Login`
/// for reading, `ConfigureComponents` for systems, BIOS and their actions, `ConfigureManager`
/// under `Managers`, `ConfigureUsers` under `AccountService`, `ConfigureSelf` for deleting
/// one's own session) and the help text for it.
fn forbidden_help(host: &str, method: &Method, url: &Url) -> (&'static str, String) {
    let path = url.path();
    let login = *method == Method::POST && path.trim_end_matches('/').ends_with("/Sessions");
    if login {
        return (
            "Login",
            format!(
                "the BMC at {host} refused to open a session for the configured account (HTTP 403, not 401): the account may be disabled or locked, or its role lacks the Redfish privilege Login; check the account on the BMC or use another one (credentialsRef)"
            ),
        );
    }
    let privilege = if matches!(*method, Method::GET | Method::HEAD) {
        "Login"
    } else if path.contains("/SessionService/Sessions/") && *method == Method::DELETE {
        "ConfigureSelf"
    } else if path.contains("/AccountService") {
        "ConfigureUsers"
    } else if path.contains("/Managers/") {
        "ConfigureManager"
    } else {
        "ConfigureComponents"
    };
    let role = if privilege == "Login" {
        "ReadOnly, Operator or Administrator"
    } else {
        "Operator or Administrator"
    };
    (
        privilege,
        format!(
            "the account configured for {host} authenticated fine, but its role lacks the Redfish privilege {privilege} needed for {method} on this resource; give it a role that has it (on most BMCs {role}) or use another account (credentialsRef)"
        ),
    )
}

/// Finds a `rustls::Error` in the source chain; `io::Error` hides its inner error from
/// `source()`, so it is unwrapped with `get_ref`.
fn find_rustls_error(e: &reqwest::Error) -> Option<String> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(r) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(r.to_string());
        }
        cur = err.source();
    }
    None
}

/// `a: b: c` for an error and its sources, skipping repeats.
fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// `Retry-After` in seconds (the HTTP-date form is ignored), capped at `max`.
fn retry_after(headers: &HeaderMap, max: Duration) -> Option<Duration> {
    let secs: u64 = header_str(headers, "retry-after")?.parse().ok()?;
    Some(Duration::from_secs(secs).min(max))
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn client(endpoint: &str) -> RedfishClient {
        RedfishClient::new(
            BmcTarget {
                label: "r1-n01/bmc".into(),
                endpoint: Url::parse(endpoint).unwrap(),
                system_id: None,
                username: "root".into(),
                password: Secret::new("calvin"),
                tls: TlsOptions::default(),
            },
            ClientOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn links_resolve_against_origin_and_fallbacks_against_prefix() {
        let c = client("http://127.0.0.1:8000/h/r1-n01/bmc");
        assert_eq!(
            c.link_url("/h/r1-n01/bmc/redfish/v1/Systems/1")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8000/h/r1-n01/bmc/redfish/v1/Systems/1"
        );
        assert_eq!(
            c.link_url(&c.endpoint_path("redfish/v1/SessionService/Sessions"))
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8000/h/r1-n01/bmc/redfish/v1/SessionService/Sessions"
        );
        // Absolute URLs with another authority are pinned to our origin.
        assert_eq!(
            c.link_url("https://10.0.0.5/redfish/v1/SessionService/Sessions/7")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8000/redfish/v1/SessionService/Sessions/7"
        );
        // Every spelling that could reach another host stays on ours (issue 10): scheme-
        // relative, upper-case scheme, backslash, embedded tab, https down to http.
        for hostile in [
            "//evil.example:9/redfish/v1/SessionService/Sessions",
            "HTTP://evil.example/redfish/v1/SessionService/Sessions",
            "/\\evil.example/redfish/v1/SessionService/Sessions",
            "ht\ttp://evil.example/redfish/v1/SessionService/Sessions",
            "https://evil.example:8000/redfish/v1/SessionService/Sessions",
        ] {
            let u = c.link_url(hostile).unwrap();
            assert_eq!(
                u.origin().ascii_serialization(),
                "http://127.0.0.1:8000",
                "{hostile} -> {u}"
            );
            assert!(!u.as_str().contains("evil"), "{hostile} -> {u}");
        }
    }

    #[test]
    fn endpoint_with_credentials_is_rejected_without_echoing_them() {
        let err = RedfishClient::new(
            BmcTarget {
                label: "h".into(),
                endpoint: Url::parse("https://root:calvin@10.0.0.1").unwrap(),
                system_id: None,
                username: "root".into(),
                password: Secret::new("calvin"),
                tls: TlsOptions::default(),
            },
            ClientOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.code_str(), "bmfleet::redfish::config");
        assert!(!format!("{err} {err:?}").contains("calvin"));
    }

    #[test]
    fn debug_hides_password() {
        let c = client("http://127.0.0.1:1");
        let dbg = format!("{c:?}");
        assert!(
            dbg.contains("r1-n01/bmc") && !dbg.contains("calvin"),
            "{dbg}"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = client("http://127.0.0.1:1");
        for attempt in 1..10 {
            let d = c.backoff(attempt);
            let full = Duration::from_millis(500)
                .saturating_mul(1 << (attempt - 1))
                .min(Duration::from_secs(10));
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn writes_are_retried_only_when_not_processed() {
        let c = client("http://127.0.0.1:1");
        let resp = |status: u16, retry_after: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(v) = retry_after {
                headers.insert("retry-after", HeaderValue::from_static(v));
            }
            Resp {
                method: Method::PATCH,
                status: StatusCode::from_u16(status).unwrap(),
                url: Url::parse("http://127.0.0.1:1/x").unwrap(),
                headers,
                body: Vec::new(),
            }
        };
        assert_eq!(RetryClass::of(&Method::GET), RetryClass::Read);
        assert_eq!(RetryClass::of(&Method::DELETE), RetryClass::Read);
        assert_eq!(RetryClass::of(&Method::PATCH), RetryClass::Write);
        assert_eq!(RetryClass::of(&Method::POST), RetryClass::Write);
        for status in [500, 502, 504] {
            assert!(
                c.status_retry_delay(RetryClass::Read, &resp(status, None), 1)
                    .is_some()
            );
            assert!(
                c.status_retry_delay(RetryClass::Write, &resp(status, None), 1)
                    .is_none()
            );
        }
        for status in [429, 503] {
            assert!(
                c.status_retry_delay(RetryClass::Read, &resp(status, None), 1)
                    .is_some()
            );
            assert!(
                c.status_retry_delay(RetryClass::Write, &resp(status, None), 1)
                    .is_none()
            );
            assert_eq!(
                c.status_retry_delay(RetryClass::Write, &resp(status, Some("2")), 1),
                Some(Duration::from_secs(2))
            );
        }
        // What a write's final answer becomes.
        let code = |status, ra| c.write_status_error(&resp(status, ra)).code_str();
        assert_eq!(code(500, None), "bmfleet::redfish::write_outcome_unknown");
        assert_eq!(code(503, None), "bmfleet::redfish::write_outcome_unknown");
        assert_eq!(code(503, Some("1")), "bmfleet::redfish::http_status");
        assert_eq!(code(501, None), "bmfleet::redfish::http_status");
        assert_eq!(code(400, None), "bmfleet::redfish::http_status");
        assert_eq!(code(403, None), "bmfleet::redfish::forbidden");
        assert!(Transport::Timeout.may_have_been_sent());
        assert!(Transport::Other("reset".into()).may_have_been_sent());
        assert!(!Transport::Connect("refused".into()).may_have_been_sent());
        assert!(!Transport::ConnectTimeout("connect".into()).may_have_been_sent());
    }

    #[test]
    fn forbidden_names_the_privilege() {
        let url = |p: &str| Url::parse(&format!("https://bmc{p}")).unwrap();
        let cases = [
            (Method::GET, "/redfish/v1/Systems/1", "Login"),
            (
                Method::PATCH,
                "/redfish/v1/Systems/1/Bios/Settings",
                "ConfigureComponents",
            ),
            (
                Method::POST,
                "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
                "ConfigureComponents",
            ),
            (Method::PATCH, "/redfish/v1/Managers/1", "ConfigureManager"),
            (
                Method::PATCH,
                "/redfish/v1/AccountService/Accounts/2",
                "ConfigureUsers",
            ),
            (
                Method::DELETE,
                "/redfish/v1/SessionService/Sessions/7",
                "ConfigureSelf",
            ),
        ];
        for (method, path, privilege) in cases {
            let (p, help) = forbidden_help("r1-n01/bmc", &method, &url(path));
            assert_eq!(p, privilege, "{method} {path}");
            assert!(
                help.contains(privilege) && help.contains("authenticated fine"),
                "{help}"
            );
        }
        // The login itself: the account is not known to be fine.
        let (p, help) = forbidden_help(
            "h",
            &Method::POST,
            &url("/redfish/v1/SessionService/Sessions"),
        );
        assert_eq!(p, "Login");
        assert!(
            !help.contains("authenticated fine") && help.contains("disabled"),
            "{help}"
        );
    }

    #[test]
    fn retry_after_seconds_capped() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("120"));
        assert_eq!(
            retry_after(&h, Duration::from_secs(30)),
            Some(Duration::from_secs(30))
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h, Duration::from_secs(30)), None);
    }
}

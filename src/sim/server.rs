//! The HTTP side: one shared axum router for every host, fault injection, authentication,
//! conditional requests and the request handlers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::errors::{self, Flavor, RfError, SimError, json_response};
use super::model::{HostFailure, Jitter, Latency, PowerState, SimFleetConfig, Timing, Vendor};
use super::resources::{self, ExpandMode, Res, View};
use super::state::{BmcKind, HostState, OpKind, PendingDpuMode};

/// Fault settings resolved for one host.
#[derive(Clone, Copy, Debug)]
struct HostProfile {
    latency: Latency,
    error_rate: f64,
    session_limit: usize,
    failure: Option<HostFailure>,
}

/// One host: name, counters, resolved faults and its state behind its own lock.
struct HostSlot {
    name: String,
    vendor: Vendor,
    requests: AtomicU64,
    profile: HostProfile,
    state: Mutex<HostState>,
}

/// Everything the handlers share.
struct Fleet {
    hosts: Vec<HostSlot>,
    index: HashMap<String, usize>,
    timing: Timing,
    seed: u64,
    hang_ms: u64,
    retry_after_secs: u32,
    weak_etags: bool,
    total: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

impl Fleet {
    /// Sleeps `d`, or less if the server shuts down; false when cut short.
    async fn sleep(&self, d: Duration) -> bool {
        let mut rx = self.shutdown.clone();
        if *rx.borrow() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = stopped(&mut rx) => false,
        }
    }
}

/// Entry point of the simulator. See the [module documentation](super) for the URL layout.
pub struct SimServer;

impl SimServer {
    /// Starts serving `config` on `127.0.0.1` at a free port.
    ///
    /// Errors: [`SimError::DuplicateHost`] / [`SimError::InvalidHost`] for a bad configuration,
    /// [`SimError::Bind`] if no loopback socket can be bound.
    pub async fn start(config: SimFleetConfig) -> Result<SimHandle, SimError> {
        Self::start_on(config, 0).await
    }

    /// Starts serving `config` on `127.0.0.1:port` (`0` = any free port). Must be called inside
    /// a tokio runtime; the server runs on spawned tasks until [`SimHandle::shutdown`] or drop.
    ///
    /// Errors: as [`SimServer::start`].
    pub async fn start_on(config: SimFleetConfig, port: u16) -> Result<SimHandle, SimError> {
        validate(&config)?;
        let SimFleetConfig {
            hosts,
            faults,
            timing,
        } = config;
        let (tx, rx) = watch::channel(false);
        let mut slots = Vec::with_capacity(hosts.len());
        let mut index = HashMap::with_capacity(hosts.len());
        let mut any_unreachable = false;
        for (i, host) in hosts.into_iter().enumerate() {
            let mut profile = HostProfile {
                latency: faults.latency,
                error_rate: faults.error_rate,
                session_limit: faults.session_limit,
                failure: None,
            };
            for o in faults
                .overrides
                .iter()
                .filter(|o| o.hosts.contains(&host.name))
            {
                if let Some(l) = o.latency {
                    profile.latency = l;
                }
                if let Some(r) = o.error_rate {
                    profile.error_rate = r;
                }
                if let Some(s) = o.session_limit {
                    profile.session_limit = s;
                }
                if o.failure.is_some() {
                    profile.failure = o.failure;
                }
            }
            profile.error_rate = if profile.error_rate.is_nan() {
                0.0
            } else {
                profile.error_rate.clamp(0.0, 1.0)
            };
            any_unreachable |= profile.failure == Some(HostFailure::Unreachable);
            index.insert(host.name.clone(), i);
            slots.push(HostSlot {
                name: host.name.clone(),
                vendor: host.vendor,
                requests: AtomicU64::new(0),
                profile,
                state: Mutex::new(HostState::new(host)),
            });
        }
        let fleet = Arc::new(Fleet {
            hosts: slots,
            index,
            timing,
            seed: faults.seed,
            hang_ms: faults.hang_ms,
            retry_after_secs: faults.retry_after_secs,
            weak_etags: faults.weak_etags,
            total: AtomicU64::new(0),
            shutdown: rx.clone(),
        });
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| SimError::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { port, source })?;
        let (blackhole_addr, blackhole) = if any_unreachable {
            let l = TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|source| SimError::Bind { port: 0, source })?;
            let a = l
                .local_addr()
                .map_err(|source| SimError::Bind { port: 0, source })?;
            (Some(a), Some(tokio::spawn(blackhole_loop(l, rx.clone()))))
        } else {
            (None, None)
        };
        let app = Router::new()
            .route("/h/{host}/{kind}/{*rest}", any(handle))
            .fallback(fallback)
            .with_state(Arc::clone(&fleet));
        let mut stop = rx;
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "simulator server stopped with an error");
            }
        });
        tracing::debug!(%addr, hosts = fleet.hosts.len(), "Redfish simulator listening");
        Ok(SimHandle {
            fleet,
            addr,
            blackhole_addr,
            stop: tx,
            server: Some(server),
            blackhole,
        })
    }
}

/// Host names and ids become URL path segments.
fn valid_segment(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty".to_owned());
    }
    if let Some(c) = s
        .chars()
        .find(|c| matches!(c, '/' | '?' | '#' | '%') || c.is_whitespace() || c.is_control())
    {
        return Err(format!("contains {c:?}"));
    }
    Ok(())
}

fn validate(config: &SimFleetConfig) -> Result<(), SimError> {
    let mut seen = std::collections::HashSet::with_capacity(config.hosts.len());
    for h in &config.hosts {
        let bad = |what: &str, e: String| SimError::InvalidHost {
            host: h.name.clone(),
            reason: format!("{what} {e}"),
        };
        valid_segment(&h.name).map_err(|e| bad("name", e))?;
        valid_segment(&h.system_id).map_err(|e| bad("system_id", e))?;
        if let Some(d) = &h.dpu {
            valid_segment(&d.system_id).map_err(|e| bad("dpu.system_id", e))?;
        }
        if !seen.insert(h.name.as_str()) {
            return Err(SimError::DuplicateHost(h.name.clone()));
        }
    }
    Ok(())
}

/// Resolves once the stop flag is set (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Accepts connections on the "unreachable" port and resets them at once.
async fn blackhole_loop(listener: TcpListener, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_zero_linger();
                    drop(stream);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            () = stopped(&mut stop) => return,
        }
    }
}

/// A running simulator. Dropping it stops the server (in the background); prefer
/// [`SimHandle::shutdown`] to wait for it.
pub struct SimHandle {
    fleet: Arc<Fleet>,
    addr: SocketAddr,
    blackhole_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    blackhole: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Redfish endpoint of `host`'s BMC or DPU BMC, e.g.
    /// `http://127.0.0.1:PORT/h/r1-n01/bmc`; append `/redfish/v1` for the service root. For an
    /// [`HostFailure::Unreachable`] host the URL points at a port that resets every connection.
    /// Unknown hosts get a URL that answers 404.
    pub fn endpoint(&self, host: &str, kind: BmcKind) -> String {
        let unreachable = self
            .slot(host)
            .is_some_and(|s| s.profile.failure == Some(HostFailure::Unreachable));
        let addr = match (unreachable, self.blackhole_addr) {
            (true, Some(a)) => a,
            _ => self.addr,
        };
        format!("http://{addr}/h/{host}/{}", kind.segment())
    }

    /// Names of all simulated hosts, in configuration order.
    pub fn host_names(&self) -> impl Iterator<Item = &str> {
        self.fleet.hosts.iter().map(|s| s.name.as_str())
    }

    /// Number of simulated hosts.
    pub fn host_count(&self) -> usize {
        self.fleet.hosts.len()
    }

    fn slot(&self, host: &str) -> Option<&HostSlot> {
        self.fleet
            .index
            .get(host)
            .and_then(|&i| self.fleet.hosts.get(i))
    }

    /// Runs `f` on `host`'s state under its lock, after completing any reset whose time has
    /// passed; `None` for an unknown host. Keep `f` short: it blocks that host's requests.
    pub fn with_host<R>(&self, host: &str, f: impl FnOnce(&mut HostState) -> R) -> Option<R> {
        let slot = self.slot(host)?;
        let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.settle(Instant::now());
        Some(f(&mut state))
    }

    /// Requests received under `/h/` since start (all hosts, including unknown ones).
    pub fn request_count(&self) -> u64 {
        self.fleet.total.load(Ordering::Relaxed)
    }

    /// Requests received for `host` (both BMCs); `None` for an unknown host.
    pub fn host_request_count(&self, host: &str) -> Option<u64> {
        self.slot(host).map(|s| s.requests.load(Ordering::Relaxed))
    }

    /// Stops accepting connections, cuts injected sleeps short, waits for in-flight requests
    /// and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(b) = self.blackhole.take() {
            let _ = b.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .field("hosts", &self.fleet.hosts.len())
            .finish_non_exhaustive()
    }
}

/// The per-request generator: ChaCha8 keyed by the fleet seed, on stream `host`, at a word
/// position given by the host's request number, so each request's draws are independent of
/// other hosts' traffic.
fn request_rng(seed: u64, host: usize, seq: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(host as u64);
    rng.set_word_pos(u128::from(seq) * 64);
    rng
}

fn sample_latency(l: &Latency, rng: &mut ChaCha8Rng) -> Duration {
    let jitter = match l.jitter {
        Jitter::None => 0,
        Jitter::Uniform { max_ms } => rng.random_range(0..=max_ms),
        Jitter::Exponential { mean_ms, max_ms } => {
            let u: f64 = rng.random();
            let x = -(mean_ms as f64) * (1.0 - u).ln();
            if x.is_finite() && x >= 0.0 {
                (x as u64).min(max_ms)
            } else {
                max_ms
            }
        }
    };
    Duration::from_millis(l.base_ms.saturating_add(jitter))
}

/// What the handlers need from the request.
struct Req<'a> {
    method: &'a Method,
    headers: &'a HeaderMap,
    query: Option<&'a str>,
    body: &'a Bytes,
    rest: &'a str,
    path: String,
}

async fn fallback(State(fleet): State<Arc<Fleet>>, uri: Uri) -> Response {
    if uri.path().starts_with("/h/") {
        fleet.total.fetch_add(1, Ordering::Relaxed);
    }
    errors::not_found(uri.path()).into_response(Flavor::Generic)
}

async fn handle(
    State(fleet): State<Arc<Fleet>>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    uri: Uri,
    body: Bytes,
) -> Response {
    fleet.total.fetch_add(1, Ordering::Relaxed);
    let Ok(Path((host, kind, rest))) = path else {
        return errors::not_found(uri.path()).into_response(Flavor::Generic);
    };
    let kind = match kind.as_str() {
        "bmc" => BmcKind::Bmc,
        "dpu" => BmcKind::Dpu,
        _ => return errors::not_found(uri.path()).into_response(Flavor::Generic),
    };
    let Some((idx, slot)) = fleet
        .index
        .get(&host)
        .and_then(|&i| fleet.hosts.get(i).map(|s| (i, s)))
    else {
        return errors::not_found(uri.path()).into_response(Flavor::Generic);
    };
    let flavor = Flavor::of(slot.vendor, kind);
    let seq = slot.requests.fetch_add(1, Ordering::Relaxed);
    let mut rng = request_rng(fleet.seed, idx, seq);
    let profile = slot.profile;
    if profile.failure == Some(HostFailure::Unreachable) {
        return errors::not_found(uri.path()).into_response(flavor);
    }
    let delay = sample_latency(&profile.latency, &mut rng);
    if !delay.is_zero() && !fleet.sleep(delay).await {
        return errors::unavailable(fleet.retry_after_secs).into_response(flavor);
    }
    if profile.failure == Some(HostFailure::Timeout) {
        fleet.sleep(Duration::from_millis(fleet.hang_ms)).await;
        return errors::unavailable(fleet.retry_after_secs).into_response(flavor);
    }
    let fail: bool = rng.random_bool(profile.error_rate);
    let fail_with_500: bool = rng.random();
    if fail {
        let e = if fail_with_500 {
            errors::internal_error()
        } else {
            errors::unavailable(fleet.retry_after_secs)
        };
        return e.into_response(flavor);
    }
    let req = Req {
        method: &method,
        headers: &headers,
        query: query.as_deref(),
        body: &body,
        rest: &rest,
        path: uri.path().to_owned(),
    };
    let prefix = format!("/h/{host}/{}/redfish/v1", kind.segment());
    let now = Instant::now();
    let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
    state.settle(now);
    let view = View {
        prefix: &prefix,
        kind,
        flavor,
        now,
        weak_etags: fleet.weak_etags,
    };
    let ctx = Ctx {
        timing: &fleet.timing,
        session_limit: profile.session_limit,
    };
    match process(&ctx, &mut state, &view, &req, &mut rng) {
        Ok(r) => r,
        Err(e) => e.into_response(flavor),
    }
}

struct Ctx<'a> {
    timing: &'a Timing,
    session_limit: usize,
}

fn process(
    ctx: &Ctx<'_>,
    state: &mut HostState,
    view: &View<'_>,
    req: &Req<'_>,
    rng: &mut ChaCha8Rng,
) -> Result<Response, RfError> {
    if view.kind == BmcKind::Dpu && state.config.dpu.is_none() {
        return Err(errors::not_found(&req.path));
    }
    let res = resources::parse(view, state, req.rest);
    let is_get = *req.method == Method::GET || *req.method == Method::HEAD;
    // DSP0266 "Authentication requirements": the service root (and `/redfish`) and the
    // login POST are open; everything else needs a session token or basic credentials.
    match res {
        Some(r @ (Res::Version | Res::Root)) if is_get => {
            // Open to all, but `$expand` must not inline protected resources for anonymous
            // callers: expand only for authenticated requests.
            let authed = authenticate(state, view.kind, req.headers).is_ok();
            return get(view, state, r, req, authed);
        }
        Some(Res::Sessions) if *req.method == Method::POST => {
            return login(ctx, state, view, req, rng);
        }
        _ => {}
    }
    authenticate(state, view.kind, req.headers)?;
    let Some(res) = res else {
        return Err(errors::not_found(&req.path));
    };
    let m = req.method;
    match res {
        _ if is_get && !matches!(res, Res::SystemReset | Res::NvidiaModeSet) => {
            get(view, state, res, req, true)
        }
        Res::System if *m == Method::PATCH && view.kind == BmcKind::Bmc => {
            patch(ctx, state, view, req, res)
        }
        Res::BiosSettings if *m == Method::PATCH => patch(ctx, state, view, req, res),
        Res::SystemReset if *m == Method::POST => reset(ctx, state, view, req),
        Res::NvidiaModeSet if *m == Method::POST => mode_set(state, view, req),
        Res::Session(id) if *m == Method::DELETE => logout(state, view, req, id),
        _ => Err(errors::method_not_allowed(res.allow(view.kind))),
    }
}

fn authenticate(state: &HostState, kind: BmcKind, headers: &HeaderMap) -> Result<(), RfError> {
    if let Some(token) = headers.get("X-Auth-Token") {
        let ok = token.to_str().is_ok_and(|t| {
            state
                .runtime(kind)
                .sessions
                .iter()
                .any(|s| s.token.as_str() == t)
        });
        return if ok {
            Ok(())
        } else {
            Err(errors::no_valid_session())
        };
    }
    if let Some(auth) = headers.get(header::AUTHORIZATION)
        && let Ok(auth) = auth.to_str()
        && let Some(b64) = auth
            .strip_prefix("Basic ")
            .or_else(|| auth.strip_prefix("basic "))
        && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim())
        && let Ok(raw) = String::from_utf8(raw)
        && let Some((user, pass)) = raw.split_once(':')
        && user == state.config.username
        && pass == state.config.password
    {
        return Ok(());
    }
    Err(errors::no_valid_session())
}

fn with_etag(mut response: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// Compares the opaque parts of the tags in an `If-Match` / `If-None-Match` list.
fn etag_list_matches(list: &str, current: &str) -> bool {
    let opaque = |t: &str| -> String { t.trim().trim_start_matches("W/").to_owned() };
    let current = opaque(current);
    list.split(',')
        .any(|t| t.trim() == "*" || opaque(t) == current)
}

/// GET (and HEAD). `may_expand` is false for anonymous requests to the open resources.
fn get(
    view: &View<'_>,
    state: &HostState,
    res: Res,
    req: &Req<'_>,
    may_expand: bool,
) -> Result<Response, RfError> {
    let mut expand_mode: Option<ExpandMode> = None;
    if let Some(q) = req.query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if k == "$expand" {
                if !view.supports_expand() {
                    return Err(errors::query_not_supported("$expand"));
                }
                let mode = resources::parse_expand(&v)
                    .ok_or_else(|| errors::query_value_error(&v, "$expand"))?;
                expand_mode = Some(mode);
            } else if k.starts_with('$') {
                return Err(errors::query_not_supported(&k));
            }
        }
    }
    let (mut body, etag) =
        resources::render_stamped(view, state, res).ok_or_else(|| errors::not_found(&req.path))?;
    if let Some(none_match) = req.headers.get(header::IF_NONE_MATCH)
        && let Ok(list) = none_match.to_str()
        && etag_list_matches(list, &etag)
    {
        let response = StatusCode::NOT_MODIFIED.into_response();
        return Ok(with_etag(response, &etag));
    }
    if let Some(mode) = expand_mode.filter(|_| may_expand) {
        resources::expand(view, state, &mut body, mode);
    }
    Ok(with_etag(json_response(StatusCode::OK, &body), &etag))
}

fn parse_body(body: &Bytes) -> Result<Map<String, Value>, RfError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(errors::malformed_json()),
    }
}

/// `If-Match` rules (DSP0266 "ETags"): a stale tag gets 412; XCC requires the header on PATCH
/// (428 without it).
fn check_if_match(view: &View<'_>, headers: &HeaderMap, etag: &str) -> Result<(), RfError> {
    match headers.get(header::IF_MATCH) {
        Some(v) => {
            let ok = v.to_str().is_ok_and(|list| etag_list_matches(list, etag));
            if ok {
                Ok(())
            } else {
                Err(errors::precondition_failed())
            }
        }
        None if view.flavor == Flavor::Lenovo => Err(errors::precondition_required()),
        None => Ok(()),
    }
}

fn patch(
    ctx: &Ctx<'_>,
    state: &mut HostState,
    view: &View<'_>,
    req: &Req<'_>,
    res: Res,
) -> Result<Response, RfError> {
    let (_, etag) =
        resources::render_stamped(view, state, res).ok_or_else(|| errors::not_found(&req.path))?;
    check_if_match(view, req.headers, &etag)?;
    let body = parse_body(req.body)?;
    let immediate = match res {
        Res::System => {
            patch_system(state, view, &body)?;
            false
        }
        Res::BiosSettings => patch_bios(state, view, &body)?,
        _ => return Err(errors::method_not_allowed(res.allow(view.kind))),
    };
    if immediate {
        let now = view.now;
        let kind = if state.config.power == PowerState::Off {
            OpKind::PowerOn
        } else {
            OpKind::Restart { cold: false }
        };
        let id = state.start_host_op(kind, "GracefulRestart", now, ctx.timing);
        return Ok(task_accepted(view, state, id));
    }
    patch_success(view, state, res)
}

/// The success answer to a PATCH, per vendor: iDRAC 200 with a `Success` message, XCC 200 with
/// the updated resource, others 204. All carry the new `ETag`.
fn patch_success(view: &View<'_>, state: &HostState, res: Res) -> Result<Response, RfError> {
    let (body, etag) = resources::render_stamped(view, state, res)
        .ok_or_else(|| errors::not_found(view.prefix))?;
    let response = match view.flavor {
        Flavor::Dell => json_response(StatusCode::OK, &success_body(view)),
        Flavor::Lenovo => json_response(StatusCode::OK, &body),
        Flavor::Generic | Flavor::BlueField => StatusCode::NO_CONTENT.into_response(),
    };
    Ok(with_etag(response, &etag))
}

fn success_body(view: &View<'_>) -> Value {
    json!({
        "@Message.ExtendedInfo": [{
            "MessageId": format!("{}.Success", view.flavor.base()),
            "Message": "Successfully Completed Request",
            "MessageArgs": [],
            "Severity": "OK",
            "MessageSeverity": "OK",
            "Resolution": "None",
        }]
    })
}

const SYSTEM_READ_ONLY: &[&str] = &[
    "@odata.id",
    "@odata.type",
    "@odata.etag",
    "@odata.context",
    "Id",
    "Name",
    "SystemType",
    "HostName",
    "Manufacturer",
    "Model",
    "SerialNumber",
    "UUID",
    "PowerState",
    "Status",
    "Bios",
    "Links",
    "Actions",
];

/// PATCH of the host `ComputerSystem`: only the boot override fields are writable. Validates
/// everything before changing anything.
fn patch_system(
    state: &mut HostState,
    view: &View<'_>,
    body: &Map<String, Value>,
) -> Result<(), RfError> {
    let mut boot = None;
    for (k, v) in body {
        match k.as_str() {
            "Boot" => boot = Some(v),
            k if SYSTEM_READ_ONLY.contains(&k) => return Err(errors::property_not_writable(k)),
            k => return Err(errors::property_unknown(k)),
        }
    }
    let Some(boot) = boot else {
        return Ok(());
    };
    let Value::Object(boot) = boot else {
        return Err(errors::value_type_error(&boot.to_string(), "Boot"));
    };
    let mut enabled = None;
    let mut target = None;
    let mut mode = None;
    for (k, v) in boot {
        let name = format!("Boot/{k}");
        let allowed: &[&str] = match k.as_str() {
            "BootSourceOverrideEnabled" => resources::boot_enabled_values(view.flavor),
            "BootSourceOverrideTarget" => resources::boot_targets(view.flavor),
            "BootSourceOverrideMode" => &["UEFI", "Legacy"],
            "BootOrder" | "UefiTargetBootSourceOverride" | "BootOptions" => {
                return Err(errors::property_not_writable(&name));
            }
            _ => return Err(errors::property_unknown(&name)),
        };
        let Some(s) = v.as_str() else {
            return Err(errors::value_type_error(&v.to_string(), &name));
        };
        if !allowed.contains(&s) {
            return Err(errors::value_not_in_list(s, &name));
        }
        match k.as_str() {
            "BootSourceOverrideEnabled" => enabled = Some(s.to_owned()),
            "BootSourceOverrideTarget" => target = Some(s.to_owned()),
            _ => mode = Some(s.to_owned()),
        }
    }
    if let Some(e) = enabled {
        state.config.boot_override.enabled = e;
    }
    if let Some(t) = target {
        state.config.boot_override.target = t;
    }
    if let Some(m) = mode {
        state.config.boot_mode = m;
    }
    Ok(())
}

/// PATCH of a BIOS settings object: stages attributes as pending. Unknown attributes (not in
/// the current `Attributes`) get 400 `PropertyUnknown` and nothing is staged. Returns whether
/// the apply time was `Immediate` (the caller then starts a restart).
fn patch_bios(
    state: &mut HostState,
    view: &View<'_>,
    body: &Map<String, Value>,
) -> Result<bool, RfError> {
    let current =
        resources::current_bios(state, view.kind).ok_or_else(|| errors::not_found(view.prefix))?;
    let mut attrs = None;
    let mut apply_time = None;
    for (k, v) in body {
        match k.as_str() {
            "Attributes" => attrs = Some(v),
            "@Redfish.SettingsApplyTime" => apply_time = Some(v),
            k => return Err(errors::property_unknown(k)),
        }
    }
    let mut immediate = false;
    if let Some(at) = apply_time {
        let name = "@Redfish.SettingsApplyTime/ApplyTime";
        let Some(value) = at.get("ApplyTime") else {
            return Err(errors::property_unknown("@Redfish.SettingsApplyTime"));
        };
        let Some(s) = value.as_str() else {
            return Err(errors::value_type_error(&value.to_string(), name));
        };
        if !resources::bios_apply_times(view.flavor).contains(&s) {
            return Err(errors::value_not_in_list(s, name));
        }
        immediate = s == "Immediate";
    }
    let staged: Map<String, Value> = match attrs {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => return Err(errors::value_type_error(&other.to_string(), "Attributes")),
    };
    let bf3 = state
        .config
        .dpu
        .as_ref()
        .is_some_and(|d| d.generation == super::model::DpuGeneration::Bf3);
    for (name, value) in &staged {
        let pointer = format!("Attributes/{name}");
        let Some(cur) = current.get(name) else {
            return Err(errors::property_unknown(&pointer));
        };
        if !resources::same_json_type(cur, value) || value.is_null() {
            return Err(errors::value_type_error(&value.to_string(), &pointer));
        }
        if view.kind == BmcKind::Dpu && name == "NicMode" {
            if bf3 {
                return Err(errors::property_not_writable(&pointer));
            }
            if resources::parse_mode(value).is_none() {
                return Err(errors::value_not_in_list(
                    value.as_str().unwrap_or_default(),
                    &pointer,
                ));
            }
        }
    }
    if immediate && state.bmc.op.is_some() {
        return Err(errors::resource_in_use());
    }
    match view.kind {
        BmcKind::Bmc => {
            for (k, v) in staged {
                state.config.pending_bios.insert(k, v);
            }
            if view.flavor == Flavor::Dell && apply_time.is_some() {
                state.bios_job_scheduled = true;
            }
        }
        BmcKind::Dpu => {
            for (k, v) in staged {
                state.dpu_pending_bios.insert(k, v);
            }
        }
    }
    Ok(immediate && view.kind == BmcKind::Bmc)
}

/// 202 Accepted with `Location` of the task monitor (here the Task resource itself, as iDRAC
/// does) and the task as body (DSP0266 "Asynchronous operations").
fn task_accepted(view: &View<'_>, state: &HostState, id: u32) -> Response {
    let location = format!("{}/TaskService/Tasks/{id}", view.prefix);
    let body = resources::task(view, state, id).unwrap_or_else(|| json!({}));
    let mut response = json_response(StatusCode::ACCEPTED, &body);
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Reads the single string parameter `param` of `action`; other parameters are refused.
fn action_param(
    body: &Map<String, Value>,
    action: &str,
    param: &str,
    allowed: &[&str],
) -> Result<String, RfError> {
    if let Some(k) = body.keys().find(|k| k.as_str() != param) {
        return Err(errors::action_parameter_unknown(action, k));
    }
    let Some(v) = body.get(param) else {
        return Err(errors::action_parameter_missing(action, param));
    };
    let s = v.as_str().unwrap_or_default();
    if !allowed.contains(&s) {
        return Err(errors::action_value_not_in_list(
            v.to_string().trim_matches('"'),
            param,
            action,
        ));
    }
    Ok(s.to_owned())
}

/// `#ComputerSystem.Reset` on the host or the DPU. Starts an asynchronous reset (202 + task);
/// a reset that changes nothing (`On` while on, `ForceOff` while off, `Nmi`) answers 204.
fn reset(
    ctx: &Ctx<'_>,
    state: &mut HostState,
    view: &View<'_>,
    req: &Req<'_>,
) -> Result<Response, RfError> {
    if view.flavor == Flavor::Dell && req.headers.contains_key(header::IF_MATCH) {
        // iDRAC refuses conditional requests on actions.
        return Err(errors::precondition_failed());
    }
    let body = parse_body(req.body)?;
    let action = "ComputerSystem.Reset";
    let reset_type = action_param(
        &body,
        action,
        "ResetType",
        resources::reset_types(view.flavor),
    )?;
    let now = view.now;
    if view.kind == BmcKind::Dpu {
        if state.dpu.op.is_some() {
            return Err(errors::resource_in_use());
        }
        let id = state.start_dpu_reset(&reset_type, now, ctx.timing);
        return Ok(task_accepted(view, state, id));
    }
    if state.bmc.op.is_some() {
        return Err(errors::resource_in_use());
    }
    let on = state.config.power != PowerState::Off;
    let kind = match (reset_type.as_str(), on) {
        ("Nmi", _) | ("On" | "ForceOn", true) | ("ForceOff" | "GracefulShutdown", false) => None,
        ("On" | "ForceOn", false) => Some(OpKind::PowerOn),
        ("ForceOff" | "GracefulShutdown", true) | ("PushPowerButton", true) => {
            Some(OpKind::PowerOff)
        }
        ("PowerCycle", true) => Some(OpKind::Restart { cold: true }),
        (_, true) => Some(OpKind::Restart { cold: false }),
        (_, false) => Some(OpKind::PowerOn),
    };
    let Some(kind) = kind else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let id = state.start_host_op(kind, &reset_type, now, ctx.timing);
    Ok(task_accepted(view, state, id))
}

/// BF3 `Oem/Nvidia/Actions/Mode.Set`: records the requested mode as pending (it takes effect
/// after a DPU reset and then a host power cycle). 200 with a `Success` message.
fn mode_set(state: &mut HostState, view: &View<'_>, req: &Req<'_>) -> Result<Response, RfError> {
    let body = parse_body(req.body)?;
    let mode = action_param(&body, "Mode.Set", "Mode", &["NicMode", "DpuMode"])?;
    let Some(mode) = super::model::DpuMode::parse(&mode) else {
        return Err(errors::action_value_not_in_list(&mode, "Mode", "Mode.Set"));
    };
    let current = state.dpu_mode();
    state.dpu_pending_mode = if current == Some(mode) {
        None
    } else {
        Some(PendingDpuMode {
            mode,
            dpu_reset_done: false,
        })
    };
    Ok(json_response(StatusCode::OK, &success_body(view)))
}

/// POST `SessionService/Sessions` (DSP0266 "Session login"): 201 with `X-Auth-Token` and
/// `Location`; 401 on bad credentials; 503 when the BMC's session table is full.
fn login(
    ctx: &Ctx<'_>,
    state: &mut HostState,
    view: &View<'_>,
    req: &Req<'_>,
    rng: &mut ChaCha8Rng,
) -> Result<Response, RfError> {
    let body = parse_body(req.body)?;
    let user = body.get("UserName").and_then(Value::as_str);
    let pass = body.get("Password").and_then(Value::as_str);
    let (Some(user), Some(pass)) = (user, pass) else {
        let missing = if user.is_none() {
            "UserName"
        } else {
            "Password"
        };
        return Err(RfError::new(
            StatusCode::BAD_REQUEST,
            "CreateFailedMissingReqProperties",
            format!(
                "The create operation failed because the required property {missing} was missing from the request."
            ),
        )
        .args(&[missing])
        .related(format!("#/{missing}"))
        .resolution("Correct the body to include the required property with a valid value and resubmit the request if the operation failed."));
    };
    if user != state.config.username || pass != state.config.password {
        return Err(errors::bad_credentials(&req.path));
    }
    let runtime = state.runtime_mut(view.kind);
    if runtime.sessions.len() >= ctx.session_limit {
        return Err(errors::session_limit(view.flavor));
    }
    runtime.next_session = runtime.next_session.wrapping_add(1);
    let id = runtime.next_session;
    let token: String = (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect();
    runtime.sessions.push(super::state::SimSession {
        id,
        token: token.clone(),
        user: user.to_owned(),
    });
    let body = resources::session(view, id, user);
    let mut response = json_response(StatusCode::CREATED, &body);
    let location = format!("{}/SessionService/Sessions/{id}", view.prefix);
    if let (Ok(t), Ok(l)) = (
        HeaderValue::from_str(&token),
        HeaderValue::from_str(&location),
    ) {
        response.headers_mut().insert("X-Auth-Token", t);
        response.headers_mut().insert(header::LOCATION, l);
    }
    Ok(response)
}

/// DELETE of a session: frees its slot. 204, or 404 for an unknown id.
fn logout(
    state: &mut HostState,
    view: &View<'_>,
    req: &Req<'_>,
    id: u32,
) -> Result<Response, RfError> {
    let sessions = &mut state.runtime_mut(view.kind).sessions;
    let before = sessions.len();
    sessions.retain(|s| s.id != id);
    if sessions.len() == before {
        return Err(errors::not_found(&req.path));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

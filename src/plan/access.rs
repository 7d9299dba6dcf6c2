//! Changes to where bmfleet connects and what it trusts, between two revisions of the specs
//! (the `access` class of `bmfleet diff`, gated by `--fail-on access`).
//!
//! These settings change nothing on a host, so they are not resources and the planner never
//! sees them; but a commit that moves a BMC endpoint to another domain, turns TLS verification
//! off or points `passwordEnv` at another variable redirects the fleet's credentials, and a
//! reviewer must see it before anything else. Covered, field by field so that a field added
//! to the model later is covered too:
//!
//! | scope | settings |
//! |---|---|
//! | host | every field of `bmc` and `dpu.bmc` (`endpoint`, `systemId`, `credentialsRef`, `tls.caFile`, `tls.insecureSkipVerify`), every field of `os.ssh` (`host`, `port`, `user`, `identityFile`, `jumpHost`, `sudo`) |
//! | fleet | `credentials.<name>.usernameEnv` / `passwordEnv` (effective names, defaults included), every field of `concurrency` (timeouts, limits) and `rollout` |
//!
//! Values are what the spec holds: endpoints, paths and environment variable *names*; the
//! secrets themselves never live in the repo, and an endpoint's `user:password@` (which
//! validation refuses anyway) is masked.
//!
//! Pure and deterministic, like the rest of [`crate::plan`].

use super::hostlist;
use super::model::Action;
use super::spec_diff::Cause;
use super::value::{display, same_value};
use crate::spec::LoadedFleet;
use crate::spec::load::Host;
use crate::spec::merge::{lookup, parse_path};
use crate::spec::yaml::Node;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What an access setting decides, in the order a reviewer reads them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AccessTopic {
    /// Where a BMC is: `bmc.endpoint`, `bmc.systemId` (and the DPU BMC's).
    Endpoint,
    /// TLS trust towards a BMC: `tls.caFile`, `tls.insecureSkipVerify`.
    Tls,
    /// Which credential is sent and where its values are read from: `bmc.credentialsRef`,
    /// the Fleet's `credentials.<name>.usernameEnv` / `passwordEnv`.
    Credentials,
    /// How the OS is reached: `os.ssh.*`.
    Ssh,
    /// Timeouts and concurrency limits: the Fleet's `concurrency.*`.
    Limits,
    /// How many hosts may be disrupted at once: the Fleet's `rollout.*`.
    Rollout,
}

impl AccessTopic {
    /// The kebab-case name (`endpoint`, `tls`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessTopic::Endpoint => "endpoint",
            AccessTopic::Tls => "tls",
            AccessTopic::Credentials => "credentials",
            AccessTopic::Ssh => "ssh",
            AccessTopic::Limits => "limits",
            AccessTopic::Rollout => "rollout",
        }
    }
}

/// Whether a setting belongs to hosts or to the Fleet document.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AccessScope {
    /// A host's effective settings (fleet defaults, profiles and the host merged).
    Host,
    /// The Fleet document's `spec` (credentials, concurrency, rollout).
    Fleet,
}

/// One change to a setting of trust or reach, with the hosts it concerns (identical changes
/// on several hosts are one entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccessChange {
    /// What the setting decides.
    pub topic: AccessTopic,
    /// Host settings or the Fleet's `spec`.
    pub scope: AccessScope,
    /// The setting's path: in a host's settings for `host` scope (`bmc.endpoint`,
    /// `dpu.bmc.tls.insecureSkipVerify`, `os.ssh.host`), in the Fleet's `spec` for `fleet`
    /// scope (`credentials.bmc-default.passwordEnv`, `concurrency.requestTimeoutSeconds`).
    pub setting: String,
    /// Create (set in the head only, or a new host), update or delete (set in the base only).
    pub action: Action,
    /// Base value (`None` when unset): an endpoint, a path, an environment variable name, a
    /// number; never a secret.
    pub before: Option<Value>,
    /// Head value (`None` when unset).
    pub after: Option<Value>,
    /// The hosts concerned, sorted: for a credential, the hosts whose `bmc` or `dpu.bmc`
    /// references it; empty for `concurrency` and `rollout`, which concern every host.
    pub hosts: Vec<String>,
    /// The hosts folded into the pdsh/ClusterShell form (`r1-c[01-04]`), empty when `hosts`
    /// is.
    pub host_ranges: String,
    /// The `file:line` that set the value (head revision; base for a delete).
    pub causes: Vec<Cause>,
    /// What the change means for the credentials and the trust, in words, for the reviewer
    /// (`credentials "bmc-default" now go to evil.example.com (was 10.10.1.11)`); empty when
    /// the value says it all.
    pub notes: Vec<String>,
}

/// A setting's flattened value per path.
type Leaves = BTreeMap<String, Value>;

/// Adds the leaves of `v` under `prefix` (maps recurse; lists and scalars are leaves; nulls
/// are skipped).
fn leaves_into(prefix: &str, v: &Value, out: &mut Leaves) {
    match v {
        Value::Null => {}
        Value::Object(map) => {
            for (k, child) in map {
                leaves_into(&join(prefix, &path_key(k)), child, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// A map key as a path segment: bare when it has no `.`, `[` or `]`, else bracketed.
fn path_key(k: &str) -> String {
    if k.contains(['.', '[', ']']) {
        format!("[{k}]")
    } else {
        k.to_string()
    }
}

/// Joins a prefix and a key made by [`path_key`] (`a` + `[b.c]` = `a[b.c]`).
fn join(prefix: &str, key: &str) -> String {
    if key.starts_with('[') {
        format!("{prefix}{key}")
    } else {
        format!("{prefix}.{key}")
    }
}

/// The access leaves of a host: `bmc.*`, `dpu.bmc.*`, `os.ssh.*`.
fn host_leaves(host: &Host) -> Leaves {
    let s = &host.settings;
    let mut out = Leaves::new();
    let mut add = |prefix: &str, v: Option<Value>| {
        if let Some(v) = v {
            leaves_into(prefix, &v, &mut out);
        }
    };
    add(
        "bmc",
        s.bmc.as_ref().and_then(|b| serde_json::to_value(b).ok()),
    );
    add(
        "dpu.bmc",
        s.dpu
            .as_ref()
            .and_then(|d| d.bmc.as_ref())
            .and_then(|b| serde_json::to_value(b).ok()),
    );
    add(
        "os.ssh",
        s.os.as_ref()
            .and_then(|o| o.ssh.as_ref())
            .and_then(|x| serde_json::to_value(x).ok()),
    );
    out
}

/// The access leaves of the Fleet document: the effective environment variable names of
/// every declared credential, `concurrency.*` (defaults included) and `rollout.*`.
fn fleet_leaves(fleet: &LoadedFleet) -> Leaves {
    let mut out = Leaves::new();
    let Some(entry) = &fleet.fleet else {
        return out;
    };
    let spec = &entry.doc.spec;
    for (name, cred) in &spec.credentials {
        let base = join("credentials", &path_key(name));
        out.insert(
            format!("{base}.usernameEnv"),
            Value::String(cred.username_var(name)),
        );
        out.insert(
            format!("{base}.passwordEnv"),
            Value::String(cred.password_var(name)),
        );
    }
    if let Ok(v) = serde_json::to_value(&spec.concurrency) {
        leaves_into("concurrency", &v, &mut out);
    }
    if let Ok(v) = serde_json::to_value(&spec.rollout) {
        leaves_into("rollout", &v, &mut out);
    }
    out
}

/// The topic of a host- or fleet-scope setting path.
fn topic_of(scope: AccessScope, setting: &str) -> AccessTopic {
    match scope {
        AccessScope::Fleet => {
            if setting.starts_with("credentials") {
                AccessTopic::Credentials
            } else if setting.starts_with("rollout") {
                AccessTopic::Rollout
            } else {
                AccessTopic::Limits
            }
        }
        AccessScope::Host => {
            if setting.starts_with("os.ssh") {
                AccessTopic::Ssh
            } else if setting.contains(".tls.") {
                AccessTopic::Tls
            } else if setting.ends_with(".credentialsRef") {
                AccessTopic::Credentials
            } else {
                AccessTopic::Endpoint
            }
        }
    }
}

/// `https://10.0.0.1` with any `user:password@` masked (validation refuses them; this is
/// defence in depth, so that a diff never prints one).
fn mask_userinfo(v: &Value) -> Value {
    if let Value::String(s) = v
        && let Ok(mut url) = url::Url::parse(s)
        && (!url.username().is_empty() || url.password().is_some())
    {
        let _ = url.set_username("");
        let _ = url.set_password(None);
        return Value::String(format!("{url} (user-info removed)"));
    }
    v.clone()
}

/// Scheme, host and port of an endpoint URL, and how to name it (`evil.example.com`,
/// `10.0.0.1:8443`).
fn origin(v: Option<&Value>) -> Option<(String, String, Option<u16>, String)> {
    let Value::String(s) = v? else {
        return None;
    };
    let url = url::Url::parse(s).ok()?;
    let host = url.host_str()?.to_string();
    let shown = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    Some((
        url.scheme().to_string(),
        host,
        url.port_or_known_default(),
        shown,
    ))
}

/// The credential a host's BMC (`prefix` `bmc` or `dpu.bmc`) references, as shown in notes.
fn credential_of(host: Option<&Host>, prefix: &str) -> String {
    let bmc = host.and_then(|h| {
        if prefix == "dpu.bmc" {
            h.settings.dpu.as_ref().and_then(|d| d.bmc.as_ref())
        } else {
            h.settings.bmc.as_ref()
        }
    });
    match bmc.and_then(|b| b.credentials_ref.as_deref()) {
        Some(name) => format!("credentials {}", display(Some(&Value::from(name)))),
        None => "its credentials".to_string(),
    }
}

/// What a host-scope change means, in words. For a new host (`new_host`) only where its
/// credentials go and whether TLS is verified are worth words; its other settings are all
/// new.
fn host_notes(
    setting: &str,
    action: Action,
    before: Option<&Value>,
    after: Option<&Value>,
    head: Option<&Host>,
    new_host: bool,
) -> Vec<String> {
    let mut notes = Vec::new();
    let bmc_prefix = if setting.starts_with("dpu.bmc.") {
        "dpu.bmc"
    } else {
        "bmc"
    };
    let field = setting
        .strip_prefix(bmc_prefix)
        .and_then(|r| r.strip_prefix('.'))
        .unwrap_or(setting);
    let what = if bmc_prefix == "dpu.bmc" {
        "the DPU BMC"
    } else {
        "the BMC"
    };
    match (setting.starts_with("os.ssh."), field, action) {
        (false, "endpoint", Action::Update) => {
            let cred = credential_of(head, bmc_prefix);
            if let (Some(old), Some(new)) = (origin(before), origin(after)) {
                if (&old.1, old.2) != (&new.1, new.2) {
                    notes.push(format!("{cred} now go to {} (was {})", new.3, old.3));
                }
                if old.0 == "https" && new.0 == "http" {
                    notes.push(format!("{cred} are now sent over plain HTTP to {}", new.3));
                }
            }
        }
        (false, "endpoint", Action::Create) => {
            if let Some(new) = origin(after) {
                let cred = credential_of(head, bmc_prefix);
                let why = if new_host {
                    "a new host"
                } else {
                    "a new endpoint"
                };
                notes.push(format!("{cred} go to {} ({why})", new.3));
                if new.0 == "http" {
                    notes.push(format!("{cred} are sent over plain HTTP to {}", new.3));
                }
            }
        }
        (false, "tls.insecureSkipVerify", Action::Create | Action::Update)
            if after == Some(&Value::Bool(true)) =>
        {
            notes.push(format!(
                "TLS certificate verification is disabled for {what}: whoever answers at its address receives {}",
                credential_of(head, bmc_prefix)
            ));
        }
        _ if new_host => {}
        (false, "tls.caFile", Action::Create | Action::Update) => {
            notes.push(format!(
                "{what} is trusted when its certificate chains to the CA in {} (review that file)",
                display(after)
            ));
        }
        (false, "tls.caFile", Action::Delete) => {
            notes.push(format!(
                "{what} is now verified against the operator's system trust store"
            ));
        }
        (false, "credentialsRef", Action::Update | Action::Create) => {
            notes.push(format!(
                "{what} now receives {}",
                credential_of(head, bmc_prefix)
            ));
        }
        (true, "os.ssh.host" | "os.ssh.port" | "os.ssh.jumpHost", Action::Update) => {
            notes.push(format!(
                "SSH connections (and every OS command) now go to {} (was {})",
                display(after),
                display(before)
            ));
        }
        (true, "os.ssh.identityFile", Action::Update | Action::Create) => {
            notes.push(format!("SSH now offers the private key {}", display(after)));
        }
        (true, "os.ssh.sudo", _) if after == Some(&Value::Bool(true)) => {
            notes.push("OS commands now run as root through sudo".to_string());
        }
        _ => {}
    }
    notes
}

/// What a fleet-scope change means, in words.
fn fleet_notes(
    setting: &str,
    action: Action,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Vec<String> {
    let mut notes = Vec::new();
    if action == Action::Update && setting.starts_with("credentials") {
        let which = if setting.ends_with(".passwordEnv") {
            "password"
        } else {
            "username"
        };
        let name = setting
            .strip_prefix("credentials")
            .and_then(|r| r.rsplit_once('.'))
            .map(|(n, _)| n.trim_start_matches('.').trim_matches(['[', ']']))
            .unwrap_or_default();
        notes.push(format!(
            "the {which} of credential {} is now read from {} (was {})",
            display(Some(&Value::from(name))),
            display(after),
            display(before)
        ));
    }
    notes
}

/// The `file:line` (and layer) of the deepest node of `path` that exists under `root`.
fn cause_at(fleet: &LoadedFleet, root: &Node, path: &str, layer: Option<&str>) -> Option<Cause> {
    let segs = parse_path(path).ok()?;
    (1..=segs.len()).rev().find_map(|n| {
        lookup(root, &segs[..n]).map(|node| {
            let (line, _) = fleet.sources.line_col(node.span);
            Cause {
                location: format!("{}:{line}", fleet.sources.path(node.span)),
                layer: layer.map_or_else(|| fleet.layer_of(node.span), str::to_string),
            }
        })
    })
}

/// One entry before grouping: setting, action, before and after (as canonical JSON text, for
/// ordering), notes.
type Key = (String, Action, String, String, Vec<String>);

/// What a group collects: the values, the hosts and the causes.
type Members = (
    Option<Value>,
    Option<Value>,
    BTreeSet<String>,
    BTreeSet<Cause>,
);

/// Compares two leaf sets, calling `each` with every changed path, action, before, after.
fn compare(
    old: &Leaves,
    new: &Leaves,
    mut each: impl FnMut(&str, Action, Option<&Value>, Option<&Value>),
) {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for k in keys {
        match (old.get(k), new.get(k)) {
            (None, Some(a)) => each(k, Action::Create, None, Some(a)),
            (Some(b), None) => each(k, Action::Delete, Some(b), None),
            (Some(b), Some(a)) if !same_value(b, a) => each(k, Action::Update, Some(b), Some(a)),
            _ => {}
        }
    }
}

/// The hosts of `fleet` whose `bmc` or `dpu.bmc` references credential `name`.
fn users_of<'f>(fleet: &'f LoadedFleet, name: &str) -> impl Iterator<Item = &'f str> {
    fleet.hosts.iter().filter_map(move |h| {
        let s = &h.settings;
        let uses = s.bmc.as_ref().and_then(|b| b.credentials_ref.as_deref()) == Some(name)
            || s.dpu
                .as_ref()
                .and_then(|d| d.bmc.as_ref())
                .and_then(|b| b.credentials_ref.as_deref())
                == Some(name);
        uses.then_some(h.name.as_str())
    })
}

/// The credential name in a fleet-scope `credentials.<name>.<field>` path.
fn credential_in(setting: &str) -> Option<&str> {
    let rest = setting.strip_prefix("credentials")?;
    let (name, _) = rest.rsplit_once('.')?;
    Some(
        name.trim_start_matches('.')
            .trim_start_matches('[')
            .trim_end_matches(']'),
    )
}

/// Every change of trust or reach from `base` to `head`, sorted by topic, scope and setting.
/// Hosts only in the base are left out (bmfleet stops contacting them); a host only in the
/// head has every access setting as a create (its endpoints are new places the credentials
/// go).
pub fn access_changes(base: &LoadedFleet, head: &LoadedFleet) -> Vec<AccessChange> {
    // Host scope, grouped by identical change.
    let mut groups: BTreeMap<Key, Members> = BTreeMap::new();
    for h in &head.hosts {
        let b = base.host(&h.name);
        let old = b.map(host_leaves).unwrap_or_default();
        let new = host_leaves(h);
        compare(&old, &new, |setting, action, before, after| {
            let before = before.map(mask_userinfo);
            let after = after.map(mask_userinfo);
            let notes = host_notes(
                setting,
                action,
                before.as_ref(),
                after.as_ref(),
                Some(h),
                b.is_none(),
            );
            let cause = match (action, b) {
                (Action::Delete, Some(bh)) => cause_at(base, &bh.tree, setting, None),
                _ => cause_at(head, &h.tree, setting, None),
            };
            let key = (
                setting.to_string(),
                action,
                display(before.as_ref()),
                display(after.as_ref()),
                notes,
            );
            let entry = groups
                .entry(key)
                .or_insert_with(|| (before, after, BTreeSet::new(), BTreeSet::new()));
            entry.2.insert(h.name.clone());
            entry.3.extend(cause);
        });
    }
    let mut out: Vec<AccessChange> = groups
        .into_iter()
        .map(
            |((setting, action, _, _, notes), (before, after, hosts, causes))| {
                let hosts: Vec<String> = hosts.into_iter().collect();
                AccessChange {
                    topic: topic_of(AccessScope::Host, &setting),
                    scope: AccessScope::Host,
                    host_ranges: hostlist::compress(&hosts),
                    hosts,
                    causes: causes.into_iter().collect(),
                    setting,
                    action,
                    before,
                    after,
                    notes,
                }
            },
        )
        .collect();
    // Fleet scope.
    let old = fleet_leaves(base);
    let new = fleet_leaves(head);
    compare(&old, &new, |setting, action, before, after| {
        let (fleet, entry) = if action == Action::Delete {
            (base, base.fleet.as_ref())
        } else {
            (head, head.fleet.as_ref())
        };
        let cause =
            entry.and_then(|e| cause_at(fleet, &e.node, &format!("spec.{setting}"), Some("fleet")));
        let hosts: Vec<String> = match credential_in(setting) {
            Some(name) if setting.starts_with("credentials") => {
                let set: BTreeSet<&str> =
                    users_of(base, name).chain(users_of(head, name)).collect();
                set.into_iter().map(str::to_string).collect()
            }
            _ => Vec::new(),
        };
        out.push(AccessChange {
            topic: topic_of(AccessScope::Fleet, setting),
            scope: AccessScope::Fleet,
            setting: setting.to_string(),
            action,
            before: before.cloned(),
            after: after.cloned(),
            host_ranges: hostlist::compress(&hosts),
            hosts,
            causes: cause.into_iter().collect(),
            notes: fleet_notes(setting, action, before, after),
        });
    });
    out.sort_by(|a, b| {
        (a.topic, a.scope, &a.setting, &a.hosts).cmp(&(b.topic, b.scope, &b.setting, &b.hosts))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_dots_are_bracketed() {
        assert_eq!(path_key("bmc-default"), "bmc-default");
        assert_eq!(path_key("a.b"), "[a.b]");
        assert_eq!(join("credentials", "[a.b]"), "credentials[a.b]");
        assert_eq!(credential_in("credentials[a.b].passwordEnv"), Some("a.b"));
        assert_eq!(credential_in("credentials.ops.usernameEnv"), Some("ops"));
    }

    #[test]
    fn userinfo_is_masked() {
        let v = mask_userinfo(&Value::from("https://root:hunter2@bmc.example/"));
        assert!(!v.to_string().contains("hunter2"), "{v}");
        assert!(!v.to_string().contains("root"), "{v}");
    }

    #[test]
    fn topics() {
        assert_eq!(
            topic_of(AccessScope::Host, "bmc.endpoint"),
            AccessTopic::Endpoint
        );
        assert_eq!(
            topic_of(AccessScope::Host, "dpu.bmc.tls.caFile"),
            AccessTopic::Tls
        );
        assert_eq!(
            topic_of(AccessScope::Host, "bmc.credentialsRef"),
            AccessTopic::Credentials
        );
        assert_eq!(topic_of(AccessScope::Host, "os.ssh.port"), AccessTopic::Ssh);
        assert_eq!(
            topic_of(AccessScope::Fleet, "concurrency.requestTimeoutSeconds"),
            AccessTopic::Limits
        );
        assert_eq!(
            topic_of(AccessScope::Fleet, "rollout.maxUnavailable"),
            AccessTopic::Rollout
        );
    }
}

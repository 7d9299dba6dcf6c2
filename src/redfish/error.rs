//! Errors of the Redfish client.
//!
//! Every variant names the host (the caller's label, e.g. `r1-n01/bmc`) and the URL or path
//! involved, carries a stable diagnostic code `bmfleet::redfish::*`, and a `help` saying what
//! to do. Redfish error bodies (DSP0266 §9.6 "Error responses") are summarised in
//! [`ErrorDetails`]: `error.code`, `error.message`, and every `MessageId` + `Message` of
//! `@Message.ExtendedInfo`, whether the service sent an array or a single object.
//!
//! Secrets never appear here: URLs are stored without user-info, request bodies (which may
//! hold a password) are never copied into an error, and the session token is never rendered.

use std::fmt;

use serde_json::Value;

use super::model::{Message, RedfishErrorBody};

/// One `@Message.ExtendedInfo` entry, reduced to what an operator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedMessage {
    /// e.g. `Base.1.12.PropertyValueNotInList`, `IDRAC.2.8.LC068`.
    pub message_id: Option<String>,
    /// Human-readable message.
    pub message: Option<String>,
    /// `Severity`/`MessageSeverity`.
    pub severity: Option<String>,
    /// Suggested resolution.
    pub resolution: Option<String>,
}

impl From<&Message> for ExtendedMessage {
    fn from(m: &Message) -> Self {
        Self {
            message_id: m.message_id.clone(),
            message: m.message.clone(),
            severity: m.severity().map(String::from),
            resolution: m.resolution.clone(),
        }
    }
}

/// What a BMC said about a failed request: the Redfish error body if it sent one, else a
/// short excerpt of whatever it sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetails {
    /// `error.code`, e.g. `Base.1.12.GeneralError`.
    pub code: Option<String>,
    /// `error.message`.
    pub message: Option<String>,
    /// `error.@Message.ExtendedInfo` (array or single object on the wire).
    pub extended_info: Vec<ExtendedMessage>,
    /// First 200 characters of a non-Redfish body (HTML error pages, plain text), if any.
    pub raw_excerpt: Option<String>,
}

impl ErrorDetails {
    /// Builds details from a response body: a Redfish error body when it parses as one,
    /// otherwise a short excerpt (control characters removed).
    pub fn from_body(body: &[u8]) -> Self {
        if body.is_empty() {
            return Self::default();
        }
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            if let Ok(parsed) = serde_json::from_value::<RedfishErrorBody>(value) {
                return Self {
                    code: parsed.error.code.clone(),
                    message: parsed.error.message.clone(),
                    extended_info: parsed.error.extended_info.iter().map(Into::into).collect(),
                    raw_excerpt: None,
                };
            }
            return Self::default();
        }
        let text: String = String::from_utf8_lossy(body)
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        Self {
            raw_excerpt: Some(text.trim().to_string()).filter(|t| !t.is_empty()),
            ..Self::default()
        }
    }

    /// All MessageIds: `error.code` first, then the ExtendedInfo ones.
    pub fn message_ids(&self) -> Vec<&str> {
        self.code
            .as_deref()
            .into_iter()
            .chain(
                self.extended_info
                    .iter()
                    .filter_map(|m| m.message_id.as_deref()),
            )
            .collect()
    }

    /// True when any message text or id mentions `needle` (ASCII case-insensitive).
    pub fn mentions(&self, needle: &str) -> bool {
        let needle = needle.to_ascii_lowercase();
        let hit = |s: &Option<String>| {
            s.as_deref()
                .is_some_and(|s| s.to_ascii_lowercase().contains(&needle))
        };
        hit(&self.code)
            || hit(&self.message)
            || hit(&self.raw_excerpt)
            || self
                .extended_info
                .iter()
                .any(|m| hit(&m.message_id) || hit(&m.message))
    }

    fn is_empty(&self) -> bool {
        self.code.is_none()
            && self.message.is_none()
            && self.extended_info.is_empty()
            && self.raw_excerpt.is_none()
    }
}

impl fmt::Display for ErrorDetails {
    /// `code: message; [MessageId] Message; ...` or the raw excerpt; empty when nothing.
    ///
    /// Every text appears once: many BMCs (bmcweb on BlueField and OpenBMC, sushy-tools)
    /// repeat their only `@Message.ExtendedInfo` entry in `error.code`/`error.message`, and
    /// some list the same entry twice, so a top-level code or message that an ExtendedInfo
    /// entry repeats is left out, and so are repeated entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a.trim() == b.trim(),
            _ => false,
        };
        let repeated_message = self
            .extended_info
            .iter()
            .any(|m| same(&m.message, &self.message));
        let repeated_code = self
            .extended_info
            .iter()
            .any(|m| same(&m.message_id, &self.code));
        let code = self.code.as_ref().filter(|_| !repeated_code);
        let message = self.message.as_ref().filter(|_| !repeated_message);
        let mut parts: Vec<String> = Vec::new();
        match (code, message) {
            (Some(c), Some(m)) => parts.push(format!("{c}: {m}")),
            (Some(c), None) => parts.push(c.clone()),
            (None, Some(m)) => parts.push(m.clone()),
            (None, None) => {}
        }
        for m in &self.extended_info {
            let id = m.message_id.as_deref().unwrap_or("(no MessageId)");
            let part = match &m.message {
                Some(text) => format!("[{id}] {text}"),
                None => format!("[{id}]"),
            };
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
        if let Some(raw) = &self.raw_excerpt {
            parts.push(format!("body: {raw}"));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Renders details after a separator, or nothing when there are none.
struct Suffix<'a>(&'a ErrorDetails);

impl fmt::Display for Suffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " — {}", self.0)
        }
    }
}

fn suffix(d: &ErrorDetails) -> Suffix<'_> {
    Suffix(d)
}

/// `, If-Match "a", W/"a"` for the values tried, or nothing.
struct TriedIfMatch<'a>(&'a [String]);

impl fmt::Display for TriedIfMatch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, ", If-Match {}", self.0.join(", "))
        }
    }
}

/// An error of the Redfish client. See the module docs for what every variant carries.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RedfishError {
    /// The BMC rejected the credentials: 401 on session creation, on any request with HTTP
    /// basic auth, or again right after a fresh session. (A 403 is [`RedfishError::Forbidden`].)
    #[error("{host}: {method} {url} was refused with HTTP {status} (authentication){}", suffix(.details))]
    #[diagnostic(
        code(bmfleet::redfish::unauthorized),
        help(
            "check the username and password (credentialsRef) configured for {host}, and that the account has the Administrator or Operator role on the BMC"
        )
    )]
    Unauthorized {
        /// Host label.
        host: String,
        /// HTTP method.
        method: String,
        /// URL (without user-info).
        url: String,
        /// 401.
        status: u16,
        /// What the BMC said.
        details: Box<ErrorDetails>,
    },

    /// The BMC refused the operation with HTTP 403: the account authenticated (a bad password
    /// gets 401), but its role lacks the Redfish privilege the operation needs (DSP0266
    /// "Privilege model"; DSP8011 maps operations to privileges). On the session login
    /// itself a 403 means the account may not log in (disabled, locked, or without `Login`).
    #[error("{host}: {method} {url} was refused with HTTP 403 (insufficient privilege){}", suffix(.details))]
    #[diagnostic(code(bmfleet::redfish::forbidden), help("{help}"))]
    Forbidden {
        /// Host label.
        host: String,
        /// HTTP method.
        method: String,
        /// URL (without user-info).
        url: String,
        /// The Redfish privilege most likely missing: `Login` for reads and the session
        /// login, `ConfigureComponents` for writes to systems, BIOS and actions,
        /// `ConfigureManager` under `Managers`, `ConfigureUsers` under `AccountService`,
        /// `ConfigureSelf` for the session's own `DELETE`.
        privilege: &'static str,
        /// What the BMC said.
        details: Box<ErrorDetails>,
        /// What to do (names the privilege and, outside the login, that the account
        /// authenticated).
        help: String,
    },

    /// The TLS handshake failed: unknown issuer, name mismatch, expired certificate, or a
    /// protocol error.
    #[error("{host}: TLS handshake with {url} failed: {reason}")]
    #[diagnostic(
        code(bmfleet::redfish::tls),
        help(
            "if the BMC uses a private CA, set tls.caFile for {host} to that CA's PEM file; use tls.insecureSkipVerify: true only for lab hosts"
        )
    )]
    Tls {
        /// Host label.
        host: String,
        /// URL.
        url: String,
        /// The TLS error.
        reason: String,
    },

    /// A request did not finish within the per-request timeout, after all retries.
    #[error("{host}: {method} {url} timed out after {timeout_secs} s ({attempts} attempt(s))")]
    #[diagnostic(
        code(bmfleet::redfish::timeout),
        help(
            "the BMC at {host} is slow or unreachable; check the network path, or raise the request timeout / lower --parallelism"
        )
    )]
    Timeout {
        /// Host label.
        host: String,
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// Per-request timeout in seconds.
        timeout_secs: u64,
        /// Attempts made.
        attempts: u32,
    },

    /// The TCP connection could not be established (refused, unreachable, DNS), after all
    /// retries.
    #[error("{host}: cannot connect to {url} ({attempts} attempt(s)): {reason}")]
    #[diagnostic(
        code(bmfleet::redfish::connect),
        help(
            "check that {host} is powered, reachable from here, and that the endpoint URL and port are right"
        )
    )]
    Connect {
        /// Host label.
        host: String,
        /// URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The transport error.
        reason: String,
    },

    /// The BMC answered with an unexpected HTTP status (after retries for 5xx).
    #[error("{host}: {method} {url} returned HTTP {status}{}", suffix(.details))]
    #[diagnostic(code(bmfleet::redfish::http_status), help("{help}"))]
    HttpStatus {
        /// Host label.
        host: String,
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// Status code.
        status: u16,
        /// What the BMC said.
        details: Box<ErrorDetails>,
        /// What to do, depending on the status.
        help: String,
    },

    /// Session creation was refused because the BMC has no free session slot (503 mentioning
    /// sessions, e.g. `Base.1.x.SessionLimitExceeded`), after retries.
    #[error("{host}: the BMC refused a new session at {url}: session limit reached{}", suffix(.details))]
    #[diagnostic(
        code(bmfleet::redfish::session_limit),
        help(
            "log out stale sessions on {host} (BMC web UI or `DELETE` them under SessionService/Sessions), or wait for them to expire, then retry"
        )
    )]
    SessionLimit {
        /// Host label.
        host: String,
        /// Session collection URL.
        url: String,
        /// What the BMC said.
        details: Box<ErrorDetails>,
    },

    /// A response body was not the JSON or the shape expected.
    #[error("{host}: cannot parse the response of {url}: {reason}")]
    #[diagnostic(
        code(bmfleet::redfish::parse),
        help(
            "the BMC at {host} sent a payload that does not follow the Redfish schema; update its firmware or report the quirk to bmfleet"
        )
    )]
    Parse {
        /// Host label.
        host: String,
        /// URL.
        url: String,
        /// What was wrong.
        reason: String,
    },

    /// A resource does not exist (HTTP 404, or a link the resource should have is missing).
    #[error("{host}: {what} not found at {url}{}", suffix(.details))]
    #[diagnostic(code(bmfleet::redfish::not_found), help("{help}"))]
    NotFound {
        /// Host label.
        host: String,
        /// URL or path.
        url: String,
        /// What was looked for, e.g. `resource`, `ComputerSystem 'System.Embedded.1'`.
        what: String,
        /// What the BMC said.
        details: Box<ErrorDetails>,
        /// What to do.
        help: String,
    },

    /// No `system_id` was given and the Systems collection holds several members.
    #[error("{host}: {url} lists {} systems ({}); cannot pick one", .members.len(), .members.join(", "))]
    #[diagnostic(
        code(bmfleet::redfish::ambiguous_system),
        help("set systemId for {host} to one of the listed Ids")
    )]
    AmbiguousSystem {
        /// Host label.
        host: String,
        /// Systems collection URL.
        url: String,
        /// Member paths.
        members: Vec<String>,
    },

    /// A conditional write was refused and nothing was written: HTTP 412 on every `If-Match`
    /// form of the ETag that was read (the resource changed since it was read, or the BMC
    /// rejects the ETag it sent itself), or 428 (`If-Match` required) without a usable ETag.
    /// The client never falls back to a write without `If-Match` after a 412.
    #[error("{host}: {method} {url} failed its precondition (HTTP {status}{}){}", TriedIfMatch(.tried), suffix(.details))]
    #[diagnostic(
        code(bmfleet::redfish::precondition),
        help(
            "nothing was written: the resource on {host} changed since it was read, or the BMC rejects its own ETag; re-read it (bmfleet plan) and apply the new plan; if this repeats right after a fresh plan, report the BMC firmware to bmfleet"
        )
    )]
    Precondition {
        /// Host label.
        host: String,
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// 412 or 428.
        status: u16,
        /// The `If-Match` values sent, in order (empty when none was sent).
        tried: Vec<String>,
        /// What the BMC said.
        details: Box<ErrorDetails>,
    },

    /// A write (PATCH, or POST of an action) was sent, but whether the BMC applied it is
    /// unknown: it timed out or the connection broke after the request was sent, or the BMC
    /// answered 5xx (other than 501, or 503 with `Retry-After`). Writes are never retried in
    /// that case (on iDRAC a PATCH whose answer was lost has already created a BIOS job): the
    /// caller must re-read the resource and decide.
    #[error("{host}: {method} {url}: outcome unknown, {reason}{}", suffix(.details))]
    #[diagnostic(
        code(bmfleet::redfish::write_outcome_unknown),
        help(
            "the BMC may have applied the write; re-read the resource before retrying (bmfleet plan)"
        )
    )]
    WriteOutcomeUnknown {
        /// Host label.
        host: String,
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// What happened, e.g. `no answer within 30 s`, `HTTP 500`.
        reason: String,
        /// The 5xx status, when the BMC answered.
        status: Option<u16>,
        /// What the BMC said, when it answered.
        details: Box<ErrorDetails>,
    },

    /// The BMC does not offer what was asked: no Reset action, no BIOS settings object, an
    /// apply time or value outside the advertised allowable values.
    #[error("{host}: {what} ({url})")]
    #[diagnostic(code(bmfleet::redfish::unsupported), help("{help}"))]
    Unsupported {
        /// Host label.
        host: String,
        /// URL or path concerned.
        url: String,
        /// What is missing.
        what: String,
        /// What to do.
        help: String,
    },

    /// The target or options are unusable: unreadable `caFile`, an endpoint with credentials
    /// in it, an endpoint that cannot be a base URL.
    #[error("{host}: invalid client configuration: {reason}")]
    #[diagnostic(code(bmfleet::redfish::config), help("{help}"))]
    Config {
        /// Host label.
        host: String,
        /// What is wrong.
        reason: String,
        /// What to do.
        help: String,
    },
}

impl RedfishError {
    /// The stable diagnostic code, e.g. `bmfleet::redfish::unauthorized`.
    pub fn code_str(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "bmfleet::redfish::unauthorized",
            Self::Forbidden { .. } => "bmfleet::redfish::forbidden",
            Self::Tls { .. } => "bmfleet::redfish::tls",
            Self::Timeout { .. } => "bmfleet::redfish::timeout",
            Self::Connect { .. } => "bmfleet::redfish::connect",
            Self::HttpStatus { .. } => "bmfleet::redfish::http_status",
            Self::SessionLimit { .. } => "bmfleet::redfish::session_limit",
            Self::Parse { .. } => "bmfleet::redfish::parse",
            Self::NotFound { .. } => "bmfleet::redfish::not_found",
            Self::AmbiguousSystem { .. } => "bmfleet::redfish::ambiguous_system",
            Self::Precondition { .. } => "bmfleet::redfish::precondition",
            Self::WriteOutcomeUnknown { .. } => "bmfleet::redfish::write_outcome_unknown",
            Self::Unsupported { .. } => "bmfleet::redfish::unsupported",
            Self::Config { .. } => "bmfleet::redfish::config",
        }
    }

    /// The host label the error is about.
    pub fn host(&self) -> &str {
        match self {
            Self::Unauthorized { host, .. }
            | Self::Forbidden { host, .. }
            | Self::Tls { host, .. }
            | Self::Timeout { host, .. }
            | Self::Connect { host, .. }
            | Self::HttpStatus { host, .. }
            | Self::SessionLimit { host, .. }
            | Self::Parse { host, .. }
            | Self::NotFound { host, .. }
            | Self::AmbiguousSystem { host, .. }
            | Self::Precondition { host, .. }
            | Self::WriteOutcomeUnknown { host, .. }
            | Self::Unsupported { host, .. }
            | Self::Config { host, .. } => host,
        }
    }

    /// The HTTP status the BMC answered with, for status-derived errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { status, .. }
            | Self::HttpStatus { status, .. }
            | Self::Precondition { status, .. } => Some(*status),
            Self::Forbidden { .. } => Some(403),
            Self::WriteOutcomeUnknown { status, .. } => *status,
            Self::SessionLimit { .. } => Some(503),
            Self::NotFound { details, .. } if !details.is_empty() => Some(404),
            _ => None,
        }
    }

    /// The Redfish error details, for status-derived errors.
    pub fn details(&self) -> Option<&ErrorDetails> {
        match self {
            Self::Unauthorized { details, .. }
            | Self::Forbidden { details, .. }
            | Self::WriteOutcomeUnknown { details, .. }
            | Self::HttpStatus { details, .. }
            | Self::SessionLimit { details, .. }
            | Self::NotFound { details, .. }
            | Self::Precondition { details, .. } => Some(details),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn details_from_array_object_and_html() {
        let arr = br#"{"error":{"code":"Base.1.0.GeneralError","message":"m","@Message.ExtendedInfo":[{"MessageId":"A.1","Message":"one"},{"MessageId":"B.2"}]}}"#;
        let d = ErrorDetails::from_body(arr);
        assert_eq!(d.message_ids(), vec!["Base.1.0.GeneralError", "A.1", "B.2"]);
        assert_eq!(d.to_string(), "Base.1.0.GeneralError: m; [A.1] one; [B.2]");
        let obj = br#"{"error":{"@Message.ExtendedInfo":{"MessageId":"C.3","Message":"x"}}}"#;
        assert_eq!(ErrorDetails::from_body(obj).message_ids(), vec!["C.3"]);
        let html = b"<html>\n<body>Service Unavailable</body></html>";
        let d = ErrorDetails::from_body(html);
        assert_eq!(
            d.raw_excerpt.as_deref(),
            Some("<html><body>Service Unavailable</body></html>")
        );
        assert!(d.mentions("unavailable"));
    }

    #[test]
    fn details_do_not_repeat_what_extended_info_says() {
        // bmcweb (BlueField, OpenBMC) repeats its only ExtendedInfo entry at the top level.
        let bmcweb = br#"{"error":{"code":"Base.1.18.1.InsufficientPrivilege","message":"There are insufficient privileges.","@Message.ExtendedInfo":[{"MessageId":"Base.1.18.1.InsufficientPrivilege","Message":"There are insufficient privileges."}]}}"#;
        let text = ErrorDetails::from_body(bmcweb).to_string();
        assert_eq!(
            text,
            "[Base.1.18.1.InsufficientPrivilege] There are insufficient privileges."
        );
        // A generic top level with the detail in ExtendedInfo keeps both.
        let idrac = br#"{"error":{"code":"Base.1.12.GeneralError","message":"A general error has occurred. See ExtendedInfo for more information","@Message.ExtendedInfo":[{"MessageId":"IDRAC.2.8.SYS402","Message":"Privilege required."},{"MessageId":"IDRAC.2.8.SYS402","Message":"Privilege required."}]}}"#;
        assert_eq!(
            ErrorDetails::from_body(idrac).to_string(),
            "Base.1.12.GeneralError: A general error has occurred. See ExtendedInfo for more information; [IDRAC.2.8.SYS402] Privilege required."
        );
    }
}

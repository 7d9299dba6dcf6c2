//! Errors: [`SimError`] for starting the simulator, and Redfish error responses
//! (DSP0266 "Error responses": `{"error": {"code", "message", "@Message.ExtendedInfo": [...]}}`
//! with messages from the DMTF Base message registry, or iDRAC's own where iDRAC uses them).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::Vendor;
use super::state::BmcKind;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SimError {
    /// Binding or serving the loopback socket failed.
    #[error("cannot listen on 127.0.0.1:{port}")]
    #[diagnostic(
        code(bmfleet::sim::bind),
        help("pick another port, or 0 for any free port")
    )]
    Bind {
        /// The requested port (0 = any).
        port: u16,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Two hosts have the same name.
    #[error("duplicate simulated host name {0:?}")]
    #[diagnostic(code(bmfleet::sim::duplicate_host))]
    DuplicateHost(String),
    /// A host name or system id cannot be used as a URL path segment.
    #[error("invalid simulated host {host:?}: {reason}")]
    #[diagnostic(
        code(bmfleet::sim::invalid_host),
        help("names and ids must be non-empty and free of '/', '?', '#', '%' and whitespace")
    )]
    InvalidHost {
        /// The host's name.
        host: String,
        /// What is wrong.
        reason: String,
    },
}

/// The response "dialect" of one BMC: a host BMC's vendor, or the BlueField DPU BMC (OpenBMC
/// bmcweb based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    Dell,
    Lenovo,
    Generic,
    BlueField,
}

impl Flavor {
    pub fn of(vendor: Vendor, kind: BmcKind) -> Self {
        match (kind, vendor) {
            (BmcKind::Dpu, _) => Flavor::BlueField,
            (BmcKind::Bmc, Vendor::Dell) => Flavor::Dell,
            (BmcKind::Bmc, Vendor::Lenovo) => Flavor::Lenovo,
            (BmcKind::Bmc, Vendor::Generic) => Flavor::Generic,
        }
    }

    /// Base registry version in message ids, as each firmware reports it (iDRAC9 6.00:
    /// `Base.1.12`; XCC: `Base.1.8`; bmcweb on BlueField: `Base.1.18.1`).
    pub fn base(self) -> &'static str {
        match self {
            Flavor::Dell => "Base.1.12",
            Flavor::Lenovo => "Base.1.8",
            Flavor::Generic => "Base.1.16",
            Flavor::BlueField => "Base.1.18.1",
        }
    }
}

/// A Redfish error about to be sent (boxed: errors are the rare path).
#[derive(Debug)]
pub(crate) struct RfError(Box<RfErrorBody>);

#[derive(Debug)]
pub(crate) struct RfErrorBody {
    status: StatusCode,
    /// Message key: a Base registry key such as `PropertyUnknown`, or a full id (containing a
    /// `.`) such as `IDRAC.2.8.RAC0218`.
    key: &'static str,
    message: String,
    args: Vec<String>,
    resolution: &'static str,
    severity: &'static str,
    related: Vec<String>,
    headers: Vec<(HeaderName, String)>,
}

impl RfError {
    pub fn new(status: StatusCode, key: &'static str, message: impl Into<String>) -> Self {
        Self(Box::new(RfErrorBody {
            status,
            key,
            message: message.into(),
            args: Vec::new(),
            resolution: "None.",
            severity: "Critical",
            related: Vec::new(),
            headers: Vec::new(),
        }))
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.0.args = args.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    pub fn resolution(mut self, r: &'static str) -> Self {
        self.0.resolution = r;
        self
    }

    pub fn warning(mut self) -> Self {
        self.0.severity = "Warning";
        self
    }

    pub fn related(mut self, pointer: impl Into<String>) -> Self {
        self.0.related.push(pointer.into());
        self
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.0.headers.push((name, value.into()));
        self
    }

    /// Renders the DSP0266 error body for `flavor` and turns it into a response.
    pub fn into_response(self, flavor: Flavor) -> Response {
        let this = *self.0;
        let message_id = if this.key.contains('.') {
            this.key.to_owned()
        } else {
            format!("{}.{}", flavor.base(), this.key)
        };
        let mut info = json!({
            "@odata.type": "#Message.v1_1_1.Message",
            "MessageId": message_id,
            "Message": this.message,
            "MessageArgs": this.args,
            "Severity": this.severity,
            "MessageSeverity": this.severity,
            "Resolution": this.resolution,
        });
        if !this.related.is_empty()
            && let Some(obj) = info.as_object_mut()
        {
            obj.insert("RelatedProperties".to_owned(), json!(this.related));
        }
        let body = json!({
            "error": {
                "code": format!("{}.GeneralError", flavor.base()),
                "message": "A general error has occurred. See ExtendedInfo for more information.",
                "@Message.ExtendedInfo": [info],
            }
        });
        let mut response = json_response(this.status, &body);
        for (name, value) in this.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// `status` with a JSON body and `Content-Type: application/json; charset=utf-8`
/// (DSP0266 "Media types"), plus `OData-Version: 4.0`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert("OData-Version", HeaderValue::from_static("4.0"));
    response
}

/// 404 for a URI the service does not have. iDRAC answers with its `SYS403` message plus
/// `Base.ResourceMissingAtURI` (fixture `dell-idrac/Error-SYS403-ResourceNotFound.json`).
pub(crate) fn not_found(path: &str) -> RfError {
    RfError::new(
        StatusCode::NOT_FOUND,
        "ResourceMissingAtURI",
        format!("The resource at the URI '{path}' was not found."),
    )
    .args(&[path])
    .resolution("Place a valid resource at the URI or correct the URI and resubmit the request.")
}

/// 405 with `Allow` (DSP0266 "HTTP methods"; Base `OperationNotAllowed`).
pub(crate) fn method_not_allowed(allow: &str) -> RfError {
    RfError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "OperationNotAllowed",
        "The HTTP method is not allowed on this resource.",
    )
    .header(header::ALLOW, allow)
}

/// 401 for a request without a valid session token or basic credentials (Base
/// `NoValidSession`).
pub(crate) fn no_valid_session() -> RfError {
    RfError::new(
        StatusCode::UNAUTHORIZED,
        "NoValidSession",
        "There is no valid session established with the implementation.",
    )
    .resolution("Establish a session before attempting any operations.")
    .header(header::WWW_AUTHENTICATE, "Basic realm=\"Redfish\"")
}

/// 400 `MalformedJSON`.
pub(crate) fn malformed_json() -> RfError {
    RfError::new(
        StatusCode::BAD_REQUEST,
        "MalformedJSON",
        "The request body submitted was malformed JSON and could not be parsed by the receiving service.",
    )
    .resolution("Ensure that the request body is valid JSON and resubmit the request.")
}

/// 400 `PropertyUnknown` for `name`.
pub(crate) fn property_unknown(name: &str) -> RfError {
    RfError::new(
        StatusCode::BAD_REQUEST,
        "PropertyUnknown",
        format!("The property {name} is not in the list of valid properties for the resource."),
    )
    .args(&[name])
    .warning()
    .related(format!("#/{name}"))
    .resolution(
        "Remove the unknown property from the request body and resubmit the request if the operation failed.",
    )
}

/// 400 `PropertyNotWritable` for `name`.
pub(crate) fn property_not_writable(name: &str) -> RfError {
    RfError::new(
        StatusCode::BAD_REQUEST,
        "PropertyNotWritable",
        format!("The property {name} is a read only property and cannot be assigned a value."),
    )
    .args(&[name])
    .warning()
    .related(format!("#/{name}"))
    .resolution("Remove the property from the request body and resubmit the request if the operation failed.")
}

/// 400 `PropertyValueNotInList`.
pub(crate) fn value_not_in_list(value: &str, name: &str) -> RfError {
    RfError::new(
        StatusCode::BAD_REQUEST,
        "PropertyValueNotInList",
        format!("The value '{value}' for the property {name} is not in the list of acceptable values."),
    )
    .args(&[value, name])
    .warning()
    .related(format!("#/{name}"))
    .resolution("Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.")
}

/// 400 `PropertyValueTypeError`.
pub(crate) fn value_type_error(value: &str, name: &str) -> RfError {
    RfError::new(
        StatusCode::BAD_REQUEST,
        "PropertyValueTypeError",
        format!("The value '{value}' for the property {name} is of a different type than the property can accept."),
    )
    .args(&[value, name])
    .warning()
    .related(format!("#/{name}"))
    .resolution("Correct the value for the property in the request body and resubmit the request if the operation failed.")
}

/// 412 `PreconditionFailed` (stale `If-Match`).
pub(crate) fn precondition_failed() -> RfError {
    RfError::new(
        StatusCode::PRECONDITION_FAILED,
        "PreconditionFailed",
        "The ETag supplied did not match the ETag required to change this resource.",
    )
    .resolution("Try the operation again using the appropriate ETag.")
}

/// 428 `PreconditionRequired` (PATCH without `If-Match` on a service that requires it).
pub(crate) fn precondition_required() -> RfError {
    RfError::new(
        StatusCode::PRECONDITION_REQUIRED,
        "PreconditionRequired",
        "A precondition header or annotation is required to change this resource.",
    )
    .resolution(
        "Try the operation again using an If-Match or If-None-Match header and appropriate ETag.",
    )
}

/// 409 `ResourceInUse`: a reset is already in progress.
pub(crate) fn resource_in_use() -> RfError {
    RfError::new(
        StatusCode::CONFLICT,
        "ResourceInUse",
        "The change to the requested resource failed because the resource is in use or in transition.",
    )
    .resolution("Remove the condition and resubmit the request if the operation failed.")
}

/// 400 `ActionParameterMissing`.
pub(crate) fn action_parameter_missing(action: &str, param: &str) -> RfError {
    RfError::new(
        StatusCode::BAD_REQUEST,
        "ActionParameterMissing",
        format!("The action {action} requires the parameter {param} to be present in the request body."),
    )
    .args(&[action, param])
    .related(format!("#/{param}"))
    .resolution("Supply the action with the required parameter in the request body when the request is resubmitted.")
}

/// 400 `ActionParameterUnknown`.
pub(crate) fn action_parameter_unknown(action: &str, param: &str) -> RfError {
    RfError::new(
        StatusCode::BAD_REQUEST,
        "ActionParameterUnknown",
        format!("The action {action} was submitted with the invalid parameter {param}."),
    )
    .args(&[action, param])
    .warning()
    .related(format!("#/{param}"))
    .resolution(
        "Correct the invalid action parameter and resubmit the request if the operation failed.",
    )
}

/// 400 `ActionParameterValueNotInList`.
pub(crate) fn action_value_not_in_list(value: &str, param: &str, action: &str) -> RfError {
    RfError::new(
        StatusCode::BAD_REQUEST,
        "ActionParameterValueNotInList",
        format!("The value '{value}' for the parameter {param} in the action {action} is not in the list of acceptable values."),
    )
    .args(&[value, param, action])
    .warning()
    .related(format!("#/{param}"))
    .resolution("Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.")
}

/// 501 `QueryNotSupported` for a `$` query parameter the service does not support
/// (DSP0266 "Query parameters").
pub(crate) fn query_not_supported(param: &str) -> RfError {
    RfError::new(
        StatusCode::NOT_IMPLEMENTED,
        "QueryNotSupported",
        format!("Querying with {param} is not supported by the implementation."),
    )
    .args(&[param])
    .warning()
    .resolution("Remove the query parameters and resubmit the request if the operation failed.")
}

/// 400 for a malformed or out-of-range `$expand`.
pub(crate) fn query_value_error(value: &str, param: &str) -> RfError {
    RfError::new(
        StatusCode::BAD_REQUEST,
        "QueryParameterValueFormatError",
        format!("The value '{value}' for the parameter {param} is of a different format than the parameter can accept."),
    )
    .args(&[value, param])
    .warning()
    .resolution("Correct the value for the query parameter in the request and resubmit the request if the operation failed.")
}

/// 503 for a full session table: iDRAC's `RAC0218` (as reported in stmcginnis/gofish #75), or
/// Base `SessionLimitExceeded` on other services.
pub(crate) fn session_limit(flavor: Flavor) -> RfError {
    if flavor == Flavor::Dell {
        RfError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "IDRAC.2.8.RAC0218",
            "The maximum number of user sessions is reached.",
        )
        .resolution("Close one or more sessions before opening another session.")
    } else {
        RfError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SessionLimitExceeded",
            "The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.",
        )
        .resolution("Reduce the number of other sessions before trying to establish the session or increase the limit of simultaneous sessions (if supported).")
    }
}

/// 401 for a login with wrong credentials (Base `ResourceAtUriUnauthorized`).
pub(crate) fn bad_credentials(uri: &str) -> RfError {
    RfError::new(
        StatusCode::UNAUTHORIZED,
        "ResourceAtUriUnauthorized",
        format!("While accessing the resource at {uri}, the service received an authorization error: invalid user name or password."),
    )
    .args(&[uri, "Unauthorized"])
    .resolution("Ensure that the appropriate access is provided for the service in order for it to access the URI.")
}

/// Injected 500 `InternalError`.
pub(crate) fn internal_error() -> RfError {
    RfError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "The request failed due to an internal service error.  The service is still operational.",
    )
    .resolution("Resubmit the request.  If the problem persists, consider resetting the service.")
}

/// Injected (or hang-ending) 503 `ServiceTemporarilyUnavailable` with `Retry-After` seconds.
pub(crate) fn unavailable(retry_after_secs: u32) -> RfError {
    RfError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceTemporarilyUnavailable",
        format!("The service is temporarily unavailable.  Retry in {retry_after_secs} seconds."),
    )
    .args(&[&retry_after_secs.to_string()])
    .resolution("Wait for the indicated retry duration and retry the operation.")
    .header(header::RETRY_AFTER, retry_after_secs.to_string())
}

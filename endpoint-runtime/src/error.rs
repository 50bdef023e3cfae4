//! Errors: [`EndpointError`], what a request fails with, and [`Error`], what start-up fails with.

use std::borrow::Cow;
use std::fmt;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::env::{ConfigError, Env, chosen};

/// A request that failed, answered with a status code and a JSend body.
///
/// The kinds follow the exceptions of the Directus/CairnCMS seeds (`InvalidPayloadException`
/// 400, `ForbiddenException` 403, `RouteNotFoundException` 404, `MethodNotAllowedException`
/// 405, `ServiceUnavailableException` 503) plus the other statuses a web API needs. Each kind
/// has a stable machine-readable `code`.
///
/// # Body
///
/// A 4xx status is a JSend *fail*:
/// `{"status":"fail","data":{"code":"FORBIDDEN","message":"...","details":...}}`.
/// A 5xx status is a JSend *error*:
/// `{"status":"error","code":"INTERNAL","message":"internal server error","data":{"request_id":"..."}}`.
/// With `ENDPOINT_ERROR_FORMAT=problem` the body is RFC 9457 `application/problem+json`
/// instead: `{"type":"about:blank","title","status","detail","code"}` (and `request_id` for a
/// 5xx).
///
/// A 4xx may list the fields it is about ([`with_errors`](Self::with_errors), what failed
/// validation gives): JSend `data.errors`, RFC 9457 `errors` (an extension member, as RFC 9457
/// §3.2 allows), each a [`FieldError`].
///
/// # What the client reads, what the log says
///
/// - A **4xx** body carries the [`message`](Self::message) (and
///   [`with_details`](Self::with_details)): write it for the caller.
/// - A **5xx** body never carries the handler's text. Its message is the generic one of the
///   status (`internal server error`, `service unavailable`, `bad gateway`, …) and its only
///   data is the request id. The [`message`](Self::message) and the whole
///   [`source`](std::error::Error::source) chain go to the log instead: the runtime's pipeline
///   writes **one** `ERROR` line per 5xx response, inside the request's span (so with its
///   request id), when the response leaves the pipeline. A handler that wants a 5xx caller to
///   read a specific text says so explicitly with
///   [`with_client_message`](Self::with_client_message).
/// - Constructors and conversions never log: an error a handler creates and then recovers
///   from leaves no trace, and one that becomes the response is logged exactly once.
///
/// Keep the cause with [`internal_from`](Self::internal_from) or
/// [`with_source`](Self::with_source); the `From` conversions of I/O, database and boxed
/// errors keep theirs.
///
/// ```
/// use endpoint_runtime::EndpointError;
///
/// let error = EndpointError::forbidden("only editors may publish");
/// assert_eq!(error.status().as_u16(), 403);
/// assert_eq!(error.code(), "FORBIDDEN");
///
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// let error = EndpointError::internal("cannot load the ledger").with_source(refused);
/// assert_eq!(error.message(), "cannot load the ledger");
/// assert_eq!(error.client_message(), "internal server error");
/// assert!(std::error::Error::source(&error).is_some());
///
/// let error = EndpointError::service_unavailable("replica db-7 is down")
///     .with_client_message("maintenance until 14:00 UTC");
/// assert_eq!(error.client_message(), "maintenance until 14:00 UTC");
/// ```
#[derive(Debug)]
pub struct EndpointError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    /// `details` and `errors`, boxed together: most errors have neither, and a small error
    /// keeps `Result<T, EndpointError>` small.
    data: Option<Box<ErrorData>>,
    headers: Option<Box<HeaderMap>>,
    /// What the client reads instead of the generic text of a 5xx (or of `message`).
    client_message: Option<Cow<'static, str>>,
    /// The cause, for [`std::error::Error::source`] and the log line.
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl EndpointError {
    /// An error with any status and code. `code` should be `SCREAMING_SNAKE_CASE` and stable.
    /// For a 5xx status `message` is logged, not sent (see [the type](Self)).
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        EndpointError {
            status,
            code: code.into(),
            message: message.into(),
            data: None,
            headers: None,
            client_message: None,
            source: None,
        }
    }

    /// 400 `INVALID_PAYLOAD` (Directus `InvalidPayloadException`).
    pub fn invalid_payload(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PAYLOAD", message)
    }

    /// 400 `INVALID_PATH_PARAMETER`: a route parameter that does not parse into its type.
    pub fn invalid_path_parameter(name: &str, expected: &str, value: &str, reason: &str) -> Self {
        let mut shown: String = value.chars().take(64).collect();
        if shown.len() < value.len() {
            shown.push('…');
        }
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PATH_PARAMETER",
            format!(
                "invalid path parameter `{name}`: expected {expected}, got `{shown}` ({reason})"
            ),
        )
        .with_details(json!({ "parameter": name, "expected": expected }))
    }

    /// 401 `UNAUTHORIZED` with `WWW-Authenticate: Bearer` (RFC 6750 §3): an anonymous caller
    /// on an endpoint that needs authentication.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 401 `INVALID_CREDENTIALS` with `WWW-Authenticate: Bearer error="invalid_token"`
    /// (RFC 6750 §3.1): a credential was sent but is invalid, expired or malformed. The
    /// reason is for the log, not for the caller.
    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_CREDENTIALS",
            "invalid credentials",
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        )
    }

    /// 403 `FORBIDDEN` (Directus `ForbiddenException`).
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    /// 404 `ROUTE_NOT_FOUND` (Directus `RouteNotFoundException`).
    pub fn route_not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ROUTE_NOT_FOUND",
            format!("route `{path}` not found"),
        )
    }

    /// 404 `NOT_FOUND`: the route exists but the thing asked for does not.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 405 `METHOD_NOT_ALLOWED` (Directus `MethodNotAllowedException`). The router adds the
    /// `Allow` header.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("method {method} is not allowed on `{path}`"),
        )
    }

    /// 413 `PAYLOAD_TOO_LARGE`.
    pub fn payload_too_large(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
    }

    /// 415 `UNSUPPORTED_MEDIA_TYPE`.
    pub fn unsupported_media_type(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            message,
        )
    }

    /// 422 `UNPROCESSABLE_ENTITY`: well-formed input of the wrong shape.
    pub fn unprocessable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            message,
        )
    }

    /// 422 `FAILED_VALIDATION`: input that parsed but breaks its type's rules, with every
    /// failing field in `errors` (at least one; the message names the first and counts the
    /// rest). What the runtime answers when a `garde::Validate` body, query or path parameter
    /// fails; a handler's own checks may answer it too.
    ///
    /// ```
    /// use endpoint_runtime::{EndpointError, FieldError, FieldLocation};
    ///
    /// let error = EndpointError::failed_validation(vec![
    ///     FieldError::new(FieldLocation::Body, "title", "length", "length is lower than 1"),
    ///     FieldError::new(FieldLocation::Body, "tags[2]", "pattern", "does not match"),
    /// ]);
    /// assert_eq!(error.status().as_u16(), 422);
    /// assert_eq!(error.message(), "`title`: length is lower than 1 (and 1 more field error)");
    /// assert_eq!(error.body()["data"]["errors"][1]["path"], "tags[2]");
    /// ```
    pub fn failed_validation(errors: Vec<FieldError>) -> Self {
        let message = match errors.as_slice() {
            [] => "the input failed validation".to_string(),
            [only] => format!("{}: {}", shown(&only.path), only.message),
            [first, rest @ ..] => format!(
                "{}: {} (and {} more field error{})",
                shown(&first.path),
                first.message,
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            ),
        };
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "FAILED_VALIDATION",
            message,
        )
        .with_errors(errors)
    }

    /// 429 `TOO_MANY_REQUESTS`.
    pub fn too_many_requests(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", message)
    }

    /// 500 `INTERNAL`. `detail` is the [`message`](Self::message): logged (once, by the
    /// pipeline), never sent.
    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            detail.to_string(),
        )
    }

    /// 500 `INTERNAL` caused by `error`, which becomes the [`source`](std::error::Error::source):
    /// the log line carries it and its own chain, the body carries neither.
    pub fn internal_from(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::internal("internal error").with_source(error)
    }

    /// 503 `REQUEST_TIMEOUT`: the request took longer than `ENDPOINT_REQUEST_TIMEOUT`. The
    /// client reads the message too: it names only the configured limit.
    pub fn timeout(limit: std::time::Duration) -> Self {
        let message = format!(
            "the request did not complete within {}",
            humantime::format_duration(limit)
        );
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "REQUEST_TIMEOUT",
            message.clone(),
        )
        .with_client_message(message)
    }

    /// 503 `SERVICE_UNAVAILABLE` (Directus `ServiceUnavailableException`). `message` is
    /// logged; the client reads `service unavailable` unless
    /// [`with_client_message`](Self::with_client_message) says otherwise.
    pub fn service_unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            message,
        )
    }

    /// Adds a response header, such as `Retry-After` on a 429.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers
            .get_or_insert_with(Default::default)
            .insert(name, value);
        self
    }

    /// Sets the cause: [`std::error::Error::source`] returns it, and the log line of a 5xx
    /// carries it and its own sources. Never sent to the client.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets the message the client reads, explicitly: for a 5xx the only way a text of the
    /// handler reaches the body (see [the type](Self)); for a 4xx it replaces
    /// [`message`](Self::message) in the body. Write nothing internal in it.
    pub fn with_client_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.client_message = Some(message.into());
        self
    }

    /// Attaches extra data, sent as `data.details` of a 4xx body (never sent for a 5xx).
    pub fn with_details(mut self, details: Value) -> Self {
        self.data.get_or_insert_default().details = Some(details);
        self
    }

    /// Attaches the fields the error is about, sent as `data.errors` (JSend) or `errors`
    /// (RFC 9457) of a 4xx body (never sent for a 5xx).
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.data.get_or_insert_default().errors = errors;
        self
    }

    /// The fields the error is about ([`with_errors`](Self::with_errors)); empty when none.
    pub fn errors(&self) -> &[FieldError] {
        self.data
            .as_deref()
            .map_or(&[], |data| data.errors.as_slice())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable machine-readable code, such as `"FORBIDDEN"`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The human-readable message: what a 4xx body says, and what the log line of a 5xx says.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message the body carries: the one set by
    /// [`with_client_message`](Self::with_client_message); else, for a 5xx, the generic text
    /// of the status (`internal server error`), and for a 4xx the [`message`](Self::message).
    pub fn client_message(&self) -> &str {
        match &self.client_message {
            Some(message) => message,
            None if self.status.is_server_error() => generic_message(self.status),
            None => &self.message,
        }
    }

    /// The JSend body this error is answered with (without a request id).
    pub fn body(&self) -> Value {
        serde_json::from_slice(&render(&self.info(), ErrorFormat::JSend, None).1)
            .unwrap_or(Value::Null)
    }

    fn info(&self) -> ErrorInfo {
        let server_error = self.status.is_server_error();
        ErrorInfo {
            status: self.status,
            code: self.code.clone(),
            message: match &self.client_message {
                Some(message) => message.clone(),
                None if server_error => Cow::Borrowed(generic_message(self.status)),
                None => self.message.clone(),
            },
            details: if server_error {
                None
            } else {
                self.data.as_deref().and_then(|data| data.details.clone())
            },
            errors: if server_error {
                None
            } else {
                self.data
                    .as_deref()
                    .filter(|data| !data.errors.is_empty())
                    .map(|data| data.errors.clone())
            },
            detail: server_error.then(|| self.message.clone()),
            source: None,
        }
    }
}

/// A field path in a message: `` `items[2].sku` ``, or `the input` for the input as a whole.
fn shown(path: &str) -> String {
    if path.is_empty() {
        "the input".into()
    } else {
        format!("`{path}`")
    }
}

/// What an [`EndpointError`] may carry beside its message.
#[derive(Debug, Default)]
struct ErrorData {
    details: Option<Value>,
    errors: Vec<FieldError>,
}

/// The text a 5xx body carries when the handler did not choose one explicitly.
fn generic_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        500 => "internal server error",
        501 => "not implemented",
        502 => "bad gateway",
        503 => "service unavailable",
        504 => "gateway timeout",
        507 => "insufficient storage",
        _ => "server error",
    }
}

/// Logs a 5xx response: once per response, by the pipeline, inside the request's span, at
/// `error` (a 503, load shed or a timeout, at `warn`). The
/// line carries the status, the code, and the error's message followed by each of its
/// sources (`message: source: source of the source`), or only the status when the response
/// is not an [`EndpointError`].
pub(crate) fn log_server_error(status: StatusCode, info: Option<&ErrorInfo>) {
    macro_rules! log_at {
        ($level:expr) => {
            match info {
                Some(info) => tracing::event!(
                    $level,
                    status = status.as_u16(),
                    code = &*info.code,
                    error = %Chain(info),
                    "request failed"
                ),
                None => tracing::event!($level, status = status.as_u16(), "request failed"),
            }
        };
    }
    // A 503 is load shed or a timeout: the server works as designed, and a flood of them
    // must not flood the error log.
    if status == StatusCode::SERVICE_UNAVAILABLE {
        log_at!(tracing::Level::WARN);
    } else {
        log_at!(tracing::Level::ERROR);
    }
}

/// An error's message and its source chain, `: `-separated; a source whose text repeats the
/// text before it is skipped.
struct Chain<'a>(&'a ErrorInfo);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.0.detail.as_deref().unwrap_or(&self.0.message);
        f.write_str(first)?;
        let mut previous = first.to_string();
        let mut next = self
            .0
            .source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static));
        // Bounded: a cycle in a hand-written `source` cannot loop forever.
        for _ in 0..32 {
            let Some(error) = next else { break };
            let text = error.to_string();
            if text != previous {
                write!(f, ": {text}")?;
            }
            previous = text;
            next = error.source();
        }
        Ok(())
    }
}

/// What an error response was rendered from, kept in the response's extensions so that the
/// runtime's middleware can render it again in the configured format with the request id,
/// and log a 5xx.
#[derive(Debug, Clone)]
pub(crate) struct ErrorInfo {
    pub(crate) status: StatusCode,
    pub(crate) code: Cow<'static, str>,
    /// The message the body carries ([`EndpointError::client_message`]).
    pub(crate) message: Cow<'static, str>,
    pub(crate) details: Option<Value>,
    /// The fields a 4xx is about.
    pub(crate) errors: Option<Vec<FieldError>>,
    /// A 5xx's own message, for the log line only.
    pub(crate) detail: Option<Cow<'static, str>>,
    /// A 5xx's cause, for the log line only.
    pub(crate) source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The body format of error responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorFormat {
    /// JSend: `{"status":"fail","data":{"code","message"}}` for 4xx,
    /// `{"status":"error","code","message","data":{"request_id"}}` for 5xx (Factor's format).
    #[default]
    JSend,
    /// RFC 9457 `application/problem+json`: `{"type","title","status","detail","code"}`.
    Problem,
}

impl ErrorFormat {
    /// `ENDPOINT_ERROR_FORMAT`: `jsend` (the default) or `problem` (also `problem+json`,
    /// `rfc9457`).
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Option<Self>, ConfigError> {
        chosen(
            env,
            "ENDPOINT_ERROR_FORMAT",
            &[
                ("jsend", ErrorFormat::JSend),
                ("problem", ErrorFormat::Problem),
                ("problem+json", ErrorFormat::Problem),
                ("rfc9457", ErrorFormat::Problem),
            ],
            "`jsend` or `problem`",
        )
    }
}

/// Renders an error body: the content type and the bytes.
pub(crate) fn render(
    info: &ErrorInfo,
    format: ErrorFormat,
    request_id: Option<&str>,
) -> (&'static str, Vec<u8>) {
    let body = match format {
        ErrorFormat::JSend if info.status.is_server_error() => serde_json::to_vec(&JSendError {
            status: "error",
            code: &info.code,
            message: &info.message,
            data: request_id.map(|request_id| RequestIdData { request_id }),
        }),
        ErrorFormat::JSend => serde_json::to_vec(&JSendFail {
            status: "fail",
            data: FailData {
                code: &info.code,
                message: &info.message,
                details: info.details.as_ref(),
                errors: info.errors.as_deref(),
            },
        }),
        ErrorFormat::Problem => serde_json::to_vec(&Problem {
            kind: "about:blank",
            title: info.status.canonical_reason().unwrap_or("Error"),
            status: info.status.as_u16(),
            detail: &info.message,
            code: &info.code,
            details: info.details.as_ref(),
            errors: info.errors.as_deref(),
            request_id: if info.status.is_server_error() {
                request_id
            } else {
                None
            },
        }),
    };
    let content_type = match format {
        ErrorFormat::JSend => "application/json",
        ErrorFormat::Problem => "application/problem+json",
    };
    (content_type, body.unwrap_or_else(|_| b"{}".to_vec()))
}

#[derive(Serialize)]
struct JSendFail<'a> {
    status: &'static str,
    data: FailData<'a>,
}

#[derive(Serialize)]
struct FailData<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

#[derive(Serialize)]
struct JSendError<'a> {
    status: &'static str,
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<RequestIdData<'a>>,
}

#[derive(Serialize)]
struct RequestIdData<'a> {
    request_id: &'a str,
}

/// RFC 9457 problem details, with the stable `code` as an extension member.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// One field an error is about: where it was read from, its path in the input, a
/// machine-readable rule code and a message. Serialized as
/// `{"in":"body","path":"items[2].email","code":"email","message":"not a valid email: ..."}`.
///
/// Codes of failed validation are garde's rule names: `length`, `range`, `pattern`, `email`,
/// `url`, `ip`, `contains`, `prefix`, `suffix`, `matches`, `ascii`, `alphanumeric`,
/// `required`, `credit_card`, `phone_number`; `custom` for a `#[garde(custom(...))]` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldError {
    /// Where the input was read from.
    #[serde(rename = "in")]
    pub location: FieldLocation,
    /// The path in that input: `items[2].email` in a body, `limit` in a query, the parameter's
    /// name for a path parameter; empty for the input as a whole.
    pub path: String,
    /// The rule that failed, such as `length`.
    pub code: Cow<'static, str>,
    /// What is wrong, for people.
    pub message: String,
}

impl FieldError {
    /// A field error; see [the type](Self).
    pub fn new(
        location: FieldLocation,
        path: impl Into<String>,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            location,
            path: path.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Where a [`FieldError`]'s input was read from (its `in`, named as OpenAPI names parameter
/// locations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldLocation {
    /// The request body.
    Body,
    /// The query string.
    Query,
    /// A path parameter.
    Path,
    /// A request header.
    Header,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for EndpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl IntoResponse for EndpointError {
    /// A JSend body; the runtime's middleware re-renders it in the configured format, adds
    /// the request id to a 5xx body and logs a 5xx with its source chain.
    fn into_response(mut self) -> Response {
        let mut info = self.info();
        if self.status.is_server_error() {
            info.source = self.source.take().map(Arc::from);
        }
        let (content_type, body) = render(&info, ErrorFormat::JSend, None);
        let mut response = (self.status, body).into_response();
        if let Some(headers) = self.headers {
            response.headers_mut().extend(*headers);
        }
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response.extensions_mut().insert(Arc::new(info));
        response
    }
}

impl From<serde_json::Error> for EndpointError {
    /// Malformed JSON is 400 `INVALID_PAYLOAD`; well-formed JSON of the wrong shape is 422.
    fn from(error: serde_json::Error) -> Self {
        match error.classify() {
            serde_json::error::Category::Data => {
                Self::unprocessable(format!("invalid JSON: {error}"))
            }
            serde_json::error::Category::Io => Self::internal("JSON I/O error").with_source(error),
            _ => Self::invalid_payload(format!("malformed JSON: {error}")),
        }
    }
}

impl From<std::io::Error> for EndpointError {
    /// 500: an I/O failure is the server's problem (logged with its source chain, not sent).
    fn from(error: std::io::Error) -> Self {
        Self::internal("I/O error").with_source(error)
    }
}

impl From<std::num::ParseIntError> for EndpointError {
    /// 400 `INVALID_PAYLOAD`.
    fn from(error: std::num::ParseIntError) -> Self {
        Self::invalid_payload(format!("invalid integer: {error}"))
    }
}

impl From<std::num::ParseFloatError> for EndpointError {
    /// 400 `INVALID_PAYLOAD`.
    fn from(error: std::num::ParseFloatError) -> Self {
        Self::invalid_payload(format!("invalid number: {error}"))
    }
}

impl From<std::str::Utf8Error> for EndpointError {
    /// 400 `INVALID_PAYLOAD`.
    fn from(error: std::str::Utf8Error) -> Self {
        Self::invalid_payload(format!("invalid UTF-8: {error}"))
    }
}

impl From<std::string::FromUtf8Error> for EndpointError {
    /// 400 `INVALID_PAYLOAD`.
    fn from(error: std::string::FromUtf8Error) -> Self {
        Self::invalid_payload(format!("invalid UTF-8: {error}"))
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::Error> for EndpointError {
    /// - `RowNotFound` (from `fetch_one`) is 404 `NOT_FOUND`.
    /// - `PoolTimedOut` (no connection free within `ENDPOINT_DATABASE_TIMEOUT`) is 503
    ///   `SERVICE_UNAVAILABLE` with `Retry-After: 1`.
    /// - A value PostgreSQL refuses to store is 400 `INVALID_PAYLOAD` with the database's
    ///   message, which may quote the value: a NUL or another character the encoding refuses
    ///   (SQLSTATE `22021`, `22P05`), a string longer than its `varchar(n)` (`22001`), a number
    ///   out of range (`22003`), text that does not parse as the column's type or as a date
    ///   (`22P02`, `22007`, `22008`). These come from the values bound to the query.
    /// - Any other database error is a 500 whose detail is logged, not sent: the rest of the
    ///   data exceptions (a division by zero is more often the query's fault than the
    ///   caller's) and constraint violations included. To answer a unique violation with 409,
    ///   match [`sqlx::error::ErrorKind::UniqueViolation`] before converting.
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => Self::not_found("not found"),
            sqlx::Error::Database(database) if is_refused_value(&*database) => {
                Self::invalid_payload(format!(
                    "the database refused a value: {}",
                    database.message()
                ))
            }
            // Every pooled connection stayed busy for `ENDPOINT_DATABASE_TIMEOUT`: load,
            // not a fault.
            sqlx::Error::PoolTimedOut => Self::service_unavailable(
                "no database connection became free within ENDPOINT_DATABASE_TIMEOUT",
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")),
            other => Self::internal("database error").with_source(other),
        }
    }
}

/// A PostgreSQL error about a value it cannot store (SQLSTATEs of class `22`, "data
/// exception", PostgreSQL manual, appendix A). SQLite stores what it is given.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn is_refused_value(error: &dyn sqlx::error::DatabaseError) -> bool {
    const REFUSED_VALUE: [&str; 7] = [
        "22001", "22003", "22007", "22008", "22021", "22P02", "22P05",
    ];
    #[cfg(feature = "postgres")]
    let postgres = error
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some();
    #[cfg(not(feature = "postgres"))]
    let postgres = false;
    postgres
        && error
            .code()
            .is_some_and(|code| REFUSED_VALUE.contains(&code.as_ref()))
}

impl From<Box<dyn std::error::Error + Send + Sync>> for EndpointError {
    /// 500: an opaque error (logged with its source chain, not sent).
    fn from(error: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Self::internal_from(error)
    }
}

/// Two endpoints that cannot both be routed, each with its `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// What collides, such as ``` `GET /greet/intro` is defined twice ```.
    pub what: String,
    /// `module::handler at file:line` of the first endpoint (in sorted order).
    pub first: String,
    /// `module::handler at file:line` of the other endpoint.
    pub second: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}` and `{}`", self.what, self.first, self.second)
    }
}

/// The envelope's `code` for a 4xx status chosen by someone else (an axum extractor's
/// rejection, a confined handler): the runtime's own code for that status, else
/// `INVALID_PAYLOAD`.
pub(crate) fn client_error_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        422 => "UNPROCESSABLE_ENTITY",
        429 => "TOO_MANY_REQUESTS",
        _ => "INVALID_PAYLOAD",
    }
}

/// Why the application could not start.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration variable has a value the runtime cannot use.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Endpoints whose routes collide; every conflict is listed.
    #[error("{} route conflict(s):\n{}", .0.len(), ConflictList(.0))]
    Conflicts(Vec<Conflict>),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr} (set ENDPOINT_HOST / ENDPOINT_PORT)")]
    Bind {
        /// The address from the configuration.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("database: {message}")]
    Database {
        /// What failed; it names the URL without its password.
        message: String,
        /// The driver's error. A failed connection keeps none: the driver's text can quote
        /// the URL, so the message carries it with the URL's secrets scrubbed.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A permission rule that cannot be used (feature `services`): malformed, or not fitting
    /// the database's schema; the message names the rule's file and line (or
    /// `App::permissions`) and what is wrong.
    #[error("permissions: {0}")]
    Permissions(String),
    /// A folder given to [`App::static_files`](crate::App::static_files) that cannot be served:
    /// a mount that is not a literal path, a directory that does not exist; the message names
    /// it.
    #[error("static files: {0}")]
    StaticFiles(String),
    /// A part of the application needs a Cargo feature of endpoint-runtime that is off: the
    /// message names what and where (`rate_limit` of an endpoint, with its `file:line`).
    #[error("{what} needs the `{feature}` feature of endpoint-runtime")]
    MissingFeature {
        /// The feature.
        feature: &'static str,
        /// What needs it, and where.
        what: String,
    },
    /// Trace export asked for by the `OTEL_*` variables (feature `otel`) cannot start: the
    /// OTLP exporter refused its settings; the message is the exporter's, naming the variable.
    #[error("trace export: {0}")]
    TraceExport(String),
    /// A command-line request that cannot be carried out; the message says why.
    #[error("{0}")]
    Usage(String),
    /// Confined endpoints cannot run: the kernel cannot enforce the sandbox under
    /// `ENDPOINT_CONFINED_HARDENING=required`, or workers cannot start; the message says why.
    #[error("confined endpoints: {message}")]
    Confined {
        /// What failed.
        message: String,
        /// The operating system's error, when one caused it.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The `build` command could not prerender an endpoint; the message names it (handler,
    /// `file:line`, URL) and says why. No output directory was written.
    #[error("build failed: {message}")]
    Prerender {
        /// What failed, naming the endpoint or the directory.
        message: String,
        /// The operating system's error, when writing the output failed.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Scheduled jobs (`#[schedule]`, feature `schedule`) that cannot run: two jobs of one name
    /// (both `file:line` named), `run-job` naming no job, a job that failed when run by hand, or
    /// one that is running elsewhere; the message says which.
    #[error("scheduled jobs: {0}")]
    Schedule(String),
    /// Another I/O failure while serving.
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    /// `check --strict`: endpoints that change state (`POST`, `PUT`, `PATCH`, `DELETE`,
    /// `method = all`) are public only because their attribute states no access and
    /// `ENDPOINT_DEFAULT_ACCESS` is `public`; the message lists each with its `file:line` and
    /// says how to state the access.
    #[error("{0}")]
    AccessNotStated(String),
    /// `check --api FILE`: the live OpenAPI document differs from the committed lock; the
    /// message lists each change, breaking ones first (see `openapi::compare`), and says how to
    /// update the lock.
    #[error("{0}")]
    ApiChanged(String),
    /// A test client was asked for while this binary has no endpoint. In an integration test
    /// (`tests/*.rs`) of a binary crate, the binary's endpoints are not linked: move them into
    /// the package's library (`src/lib.rs`) and name it in the test with
    /// `endpoint_runtime::link!(my_crate);`.
    #[error(
        "no endpoints are registered in this test binary. An integration test in `tests/` does \
         not see the endpoints of the package's binary (`src/main.rs`): move them into its \
         library (`src/lib.rs`, with `mod` declarations for their modules) and add \
         `endpoint_runtime::link!(my_crate);` to the test, naming the library"
    )]
    NoEndpoints,
}

struct ConflictList<'a>(&'a [Conflict]);

impl fmt::Display for ConflictList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, conflict) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {conflict}")?;
        }
        Ok(())
    }
}

/// `Debug` prints the message and its causes (`message: cause: cause`), so that
/// `fn main() -> Result<(), Error>` reports a readable reason.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)?;
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

impl Error {
    /// [`Error::Database`] with no cause kept.
    pub(crate) fn database(message: impl Into<String>) -> Self {
        Error::Database {
            message: message.into(),
            source: None,
        }
    }

    /// [`Error::Database`] caused by `source`.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn database_from(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Database {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// [`Error::Confined`] with no cause.
    #[cfg(feature = "confined")]
    pub(crate) fn confined(message: impl Into<String>) -> Self {
        Error::Confined {
            message: message.into(),
            source: None,
        }
    }

    /// [`Error::Prerender`], caused by `source` when writing failed.
    #[cfg(feature = "prerender")]
    pub(crate) fn prerender(message: impl Into<String>, source: Option<std::io::Error>) -> Self {
        Error::Prerender {
            message: message.into(),
            source,
        }
    }
}

/// Answers an extractor's rejection in the runtime's envelope. The runtime's own extractors
/// already reject with an [`EndpointError`]; an axum extractor
/// (`Bytes`, `String`, `Form`…) rejects with plain text, which is wrapped here:
/// its status is kept and its text becomes the message (of a 4xx; a 5xx text is logged).
#[doc(hidden)] // for generated code, through `__private`
pub async fn reject(response: Response) -> Response {
    let status = response.status();
    if response
        .extensions()
        .get::<std::sync::Arc<ErrorInfo>>()
        .is_some()
        || !(status.is_client_error() || status.is_server_error())
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let error = if status.is_server_error() {
        EndpointError::internal(format_args!("extractor rejected the request: {text}"))
    } else {
        let code = client_error_code(status);
        EndpointError::new(
            status,
            code,
            if text.is_empty() {
                "invalid request".to_string()
            } else {
                text
            },
        )
    };
    let mut enveloped = error.into_response();
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            enveloped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    enveloped
}

#[cfg(all(test, any(feature = "sqlite", feature = "postgres")))]
mod tests {
    use super::*;

    #[test]
    fn a_busy_database_pool_is_503_with_retry_after() {
        let error = EndpointError::from(sqlx::Error::PoolTimedOut);
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code(), "SERVICE_UNAVAILABLE");
        let response = error.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let error = EndpointError::from(sqlx::Error::PoolClosed);
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}

#[cfg(test)]
mod start_up_tests {
    use super::*;

    /// The cause is the error's `source()`, not repeated in its message, and `Debug` (what
    /// `fn main() -> Result<(), Error>` prints) shows the whole chain.
    #[test]
    fn start_up_errors_keep_their_cause() {
        let error = Error::Prerender {
            message: "writing the output directory `dist` failed".into(),
            source: Some(std::io::Error::other("disk full")),
        };
        assert_eq!(
            error.to_string(),
            "build failed: writing the output directory `dist` failed"
        );
        let source = std::error::Error::source(&error).expect("a cause");
        assert_eq!(source.to_string(), "disk full");
        assert_eq!(
            format!("{error:?}"),
            "build failed: writing the output directory `dist` failed: disk full"
        );
        let bind = Error::Bind {
            addr: ([127, 0, 0, 1], 80).into(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        assert_eq!(
            format!("{bind:?}"),
            "cannot listen on 127.0.0.1:80 (set ENDPOINT_HOST / ENDPOINT_PORT): address in use"
        );
    }
}

//! Typed calls of an application's own endpoints, built from the registry rather than from
//! URLs written by hand (Rocket's `uri!`, made a whole request). `#[endpoint]` gives each
//! `async fn` endpoint a type of the same name (in the type namespace, beside the function, as
//! Rocket's route structs are) whose `request` function takes the route's parameters (in the
//! function's argument order), then the `Query<Q>` value (`query`) and the `Json<T>` body
//! (`body`) when the endpoint reads them, and returns a [`Call`] typed by the endpoint's return
//! type. `#[endpoint(..., client = false)]` leaves the type out, for a function whose name is
//! taken in the type namespace (a module or a crate of that name). A versioned endpoint's call
//! sends the `api-version` that serves it (its `since`, else `0.0`); an endpoint of several
//! methods is called with the first listed (GET for `all`), [`Call::method`] picks another:
//!
//! ```standalone_crate
//! use endpoint_runtime::prelude::*;
//! use endpoint_runtime::testing::TestClient;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Greeting { name: String }
//!
//! #[endpoint(id = "hello", route = "/{times}", method = post)]
//! async fn hello(times: u8, Json(greeting): Json<Greeting>) -> JSend<Vec<String>> {
//!     JSend(vec![format!("hello {}", greeting.name); times.into()])
//! }
//!
//! # #[endpoint_runtime::main]
//! # async fn main() {
//! let client = TestClient::new().await.unwrap();
//! // POST /hello/2 with the body; the answer is JSend's `data`, typed.
//! let greetings: Vec<String> = client
//!     .call(hello::request(2, Greeting { name: "Ada".into() }))
//!     .await
//!     .unwrap();
//! assert_eq!(greetings, ["hello Ada", "hello Ada"]);
//! # }
//! ```
//!
//! A [`Call`] runs in process with the test client's `TestClient::call`, or over HTTP with
//! `Client::call` (Cargo feature `client`: service-to-service). Its answer is
//! decoded by the return type ([`Decode`]): `Json<T>` gives `T`, `JSend<T>` its `data`,
//! `String` the text, `()` and `NoContent` nothing, `Created<T>`, `Accepted<T>`,
//! `(StatusCode, T)` and `Result<T, E>` what `T` gives. An answer that is not a success is
//! [`CallError::Status`] with the envelope's code, message and field errors.
//!
//! A parameter is written into the path with `Display` (percent-encoded), a query with
//! `serde_urlencoded`, a body with `serde_json`; a value whose type cannot be written (no
//! `Display`, no `Serialize`) makes the call fail with [`CallError::Build`], not the build.

use std::fmt::Display;
use std::marker::PhantomData;

use axum::http::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::FieldError;

/// One request to one endpoint, typed by its return type `R` (see [the module](self)).
#[must_use = "a call does nothing until a client sends it"]
pub struct Call<R> {
    method: Method,
    path: String,
    query: Option<String>,
    body: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
    /// The first value that could not be written.
    error: Option<String>,
    response: PhantomData<fn() -> R>,
}

impl<R> Clone for Call<R> {
    fn clone(&self) -> Self {
        Call {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            body: self.body.clone(),
            headers: self.headers.clone(),
            error: self.error.clone(),
            response: PhantomData,
        }
    }
}

impl<R> std::fmt::Debug for Call<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("uri", &self.uri())
            .field("returns", &std::any::type_name::<R>())
            .finish_non_exhaustive()
    }
}

impl<R> Call<R> {
    /// A request of `method` to the route `route` of the group `id` (`""` at the root), as
    /// the endpoint's registration states them.
    #[doc(hidden)] // generated code builds calls
    pub fn new(method: Method, id: &str, route: &str) -> Self {
        Call {
            method,
            path: crate::registry::mount_path(id, route),
            query: None,
            body: None,
            headers: Vec::new(),
            error: None,
            response: PhantomData,
        }
    }

    /// Writes `{name}` (or `{*name}`, `{name}.json`) of the path.
    #[doc(hidden)]
    pub fn param(mut self, name: &str, value: Result<String, String>) -> Self {
        match value {
            Ok(text) => {
                let (single, rest) = (format!("{{{name}}}"), format!("{{*{name}}}"));
                let catch_all = self.path.contains(&rest);
                let segments: Vec<&str> = if catch_all {
                    text.split('/').collect()
                } else {
                    vec![text.as_str()]
                };
                // A URL parser would resolve `.` and `..` (the request would reach another
                // route), and an empty segment matches no route.
                if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
                    let reason = format!(
                        "path parameter `{name}`: the segment `{bad}` cannot be sent (empty, \
                         `.` and `..` are not segments of this route)"
                    );
                    self.fail(reason);
                    return self;
                }
                let encoded = segments
                    .into_iter()
                    .map(encode_segment)
                    .collect::<Vec<_>>()
                    .join("/");
                self.path = self
                    .path
                    .replace(&rest, &encoded)
                    .replace(&single, &encoded);
            }
            Err(reason) => self.fail(format!("path parameter `{name}`: {reason}")),
        }
        self
    }

    /// Sets the query string.
    #[doc(hidden)]
    pub fn query_string(mut self, query: Result<String, String>) -> Self {
        match query {
            Ok(query) if query.is_empty() => {}
            Ok(query) => self.query = Some(query),
            Err(reason) => self.fail(format!("query: {reason}")),
        }
        self
    }

    /// Marks a call whose body the endpoint reads with `extractor`, which typed calls do not
    /// write: sending it fails with [`CallError::Build`].
    #[doc(hidden)]
    pub fn unsupported_body(mut self, extractor: &str) -> Self {
        self.fail(format!(
            "the endpoint reads its body with `{extractor}`, which typed calls do not write \
             (they write `Json<T>`): send this request yourself"
        ));
        self
    }

    /// Sets the JSON body.
    #[doc(hidden)]
    pub fn json_body(mut self, body: Result<Vec<u8>, String>) -> Self {
        match body {
            Ok(body) => self.body = Some(body),
            Err(reason) => self.fail(format!("body: {reason}")),
        }
        self
    }

    fn fail(&mut self, reason: String) {
        self.error.get_or_insert(reason);
    }

    /// Adds a request header, such as `Idempotency-Key` or `api-version` (replacing one of
    /// that name). A name or value HTTP does not allow makes sending fail with
    /// [`CallError::Build`].
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || axum::http::HeaderValue::from_str(&value).is_err()
        {
            self.fail(format!("the header `{name}` is not a valid HTTP header"));
            return self;
        }
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
        self.headers.push((name, value));
        self
    }

    /// Another method, for an endpoint of several (`method = [get, post]`, `all`); the first
    /// one listed is the default.
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// The method.
    pub fn http_method(&self) -> &Method {
        &self.method
    }

    /// The path and query: `/products/2?limit=10`.
    pub fn uri(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }

    /// The JSON body, if the endpoint reads one.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// The headers added with [`header`](Self::header).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Why the request could not be built, if it could not.
    ///
    /// # Errors
    ///
    /// [`CallError::Build`] naming the value that could not be written.
    pub fn check(&self) -> Result<(), CallError> {
        match &self.error {
            Some(reason) => Err(CallError::Build(reason.clone())),
            None => Ok(()),
        }
    }
}

/// Percent-encodes one path segment: unreserved characters and RFC 3986's sub-delimiters,
/// `:` and `@` stay (they are allowed in a segment), everything else is `%XX`.
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
            | b':'
            | b'@' => {
                out.push(char::from(byte));
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Why a [`Call`] did not give its value.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// A parameter, query or body could not be written (its type has no `Display` or no
    /// `Serialize`).
    #[error("the request cannot be built: {0}")]
    Build(String),
    /// The request did not get an answer (connection refused, timeout).
    #[error("the request failed: {0}")]
    Transport(String),
    /// The endpoint answered something other than a success: the status, and the error
    /// envelope's code, message and field errors (JSend or RFC 9457).
    #[error("{status} {code}: {message}")]
    Status {
        /// The status, such as 422.
        status: StatusCode,
        /// The envelope's code, such as `FAILED_VALIDATION` (empty if the body had none).
        code: String,
        /// The envelope's message.
        message: String,
        /// The envelope's field errors.
        errors: Vec<FieldError>,
    },
    /// A success whose body is not what the return type says.
    #[error("the answer does not decode: {0}")]
    Decode(String),
}

impl CallError {
    /// The answer's error status, when the endpoint answered one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Turns an answer into the value an endpoint's return type promises (see [the module](self)).
#[diagnostic::on_unimplemented(
    message = "the answers of `{Self}` cannot be decoded by a typed call",
    note = "typed calls decode `Json<T>`, `JSend<T>`, `String`, `()`, `NoContent`, `Created<T>`, `Accepted<T>`, `(StatusCode, T)` and `Result<T, E>` of those; for another type, send the request yourself"
)]
pub trait Decode {
    /// The value the caller gets.
    type Output;
    /// Decodes a success's body.
    ///
    /// # Errors
    ///
    /// [`CallError::Decode`] when the body is not what the type says.
    fn decode(body: &[u8]) -> Result<Self::Output, CallError>;
}

fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, CallError> {
    serde_json::from_slice(body).map_err(|error| CallError::Decode(error.to_string()))
}

impl<T: DeserializeOwned> Decode for crate::extract::Json<T> {
    type Output = T;
    fn decode(body: &[u8]) -> Result<T, CallError> {
        json(body)
    }
}

impl<T: DeserializeOwned> Decode for crate::JSend<T> {
    type Output = T;
    fn decode(body: &[u8]) -> Result<T, CallError> {
        #[derive(serde::Deserialize)]
        struct Success<T> {
            data: T,
        }
        json::<Success<T>>(body).map(|success| success.data)
    }
}

impl Decode for String {
    type Output = String;
    fn decode(body: &[u8]) -> Result<String, CallError> {
        String::from_utf8(body.to_vec()).map_err(|error| CallError::Decode(error.to_string()))
    }
}

impl Decode for &'static str {
    type Output = String;
    fn decode(body: &[u8]) -> Result<String, CallError> {
        String::decode(body)
    }
}

impl Decode for () {
    type Output = ();
    fn decode(_: &[u8]) -> Result<(), CallError> {
        Ok(())
    }
}

impl Decode for crate::NoContent {
    type Output = ();
    fn decode(_: &[u8]) -> Result<(), CallError> {
        Ok(())
    }
}

impl<T: Decode> Decode for crate::Created<T> {
    type Output = T::Output;
    fn decode(body: &[u8]) -> Result<T::Output, CallError> {
        T::decode(body)
    }
}

impl<T: Decode> Decode for crate::Accepted<T> {
    type Output = T::Output;
    fn decode(body: &[u8]) -> Result<T::Output, CallError> {
        T::decode(body)
    }
}

impl<T: Decode> Decode for (StatusCode, T) {
    type Output = T::Output;
    fn decode(body: &[u8]) -> Result<T::Output, CallError> {
        T::decode(body)
    }
}

impl<T: Decode, E> Decode for Result<T, E> {
    type Output = T::Output;
    fn decode(body: &[u8]) -> Result<T::Output, CallError> {
        T::decode(body)
    }
}

/// What an opaque return type (`impl IntoResponse`) answers: the body's bytes.
#[doc(hidden)]
pub struct Opaque;

impl Decode for Opaque {
    type Output = Vec<u8>;
    fn decode(body: &[u8]) -> Result<Vec<u8>, CallError> {
        Ok(body.to_vec())
    }
}

/// The value of an answer: [`Decode`] for a success, [`CallError::Status`] otherwise.
///
/// # Errors
///
/// See [`CallError`].
pub fn answer<R: Decode>(status: StatusCode, body: &[u8]) -> Result<R::Output, CallError> {
    if status.is_success() {
        return R::decode(body);
    }
    let Ok(envelope) = serde_json::from_slice::<serde_json::Value>(body) else {
        // Not an envelope (a proxy's page): its text, shortened, is the message.
        let text = String::from_utf8_lossy(body);
        return Err(CallError::Status {
            status,
            code: String::new(),
            message: text.chars().take(200).collect(),
            errors: Vec::new(),
        });
    };
    // JSend fail (`data.code`), JSend error (`code`), RFC 9457 (`code`, `detail`).
    let fields = if envelope["data"]["code"].is_string() {
        &envelope["data"]
    } else {
        &envelope
    };
    let text = |key: &str| fields[key].as_str().unwrap_or_default().to_string();
    let message = match text("message") {
        message if message.is_empty() => text("detail"),
        message => message,
    };
    Err(CallError::Status {
        status,
        code: text("code"),
        message,
        errors: serde_json::from_value(fields["errors"].clone()).unwrap_or_default(),
    })
}

/// The autoref-specialization probes generated `request` functions call, on `&&&Value(&x)`: a
/// value whose type can be written is, any other gives the reason it cannot. Not public API.
#[doc(hidden)]
pub mod traits {
    use super::*;

    /// A value to write.
    pub struct Value<'a, T>(pub &'a T);

    pub trait Unwritable {
        fn __endpoint_segment(&self) -> Result<String, String>;
        fn __endpoint_query(&self) -> Result<String, String>;
        fn __endpoint_body(&self) -> Result<Vec<u8>, String>;
    }
    pub trait Segment {
        fn __endpoint_segment(&self) -> Result<String, String>;
    }
    pub trait Serialized {
        fn __endpoint_query(&self) -> Result<String, String>;
        fn __endpoint_body(&self) -> Result<Vec<u8>, String>;
    }

    impl<T: Display> Segment for &&Value<'_, T> {
        fn __endpoint_segment(&self) -> Result<String, String> {
            Ok(self.0.to_string())
        }
    }
    impl<T: serde::Serialize> Serialized for &&Value<'_, T> {
        fn __endpoint_query(&self) -> Result<String, String> {
            serde_urlencoded::to_string(self.0).map_err(|error| error.to_string())
        }
        fn __endpoint_body(&self) -> Result<Vec<u8>, String> {
            serde_json::to_vec(self.0).map_err(|error| error.to_string())
        }
    }
    impl<T> Unwritable for &Value<'_, T> {
        fn __endpoint_segment(&self) -> Result<String, String> {
            Err(format!(
                "`{}` has no `Display` to write it into the path",
                std::any::type_name::<T>()
            ))
        }
        fn __endpoint_query(&self) -> Result<String, String> {
            Err(format!(
                "`{}` has no `Serialize` to write it as a query",
                std::any::type_name::<T>()
            ))
        }
        fn __endpoint_body(&self) -> Result<Vec<u8>, String> {
            Err(format!(
                "`{}` has no `Serialize` to write it as a body",
                std::any::type_name::<T>()
            ))
        }
    }
}

/// Calls an application's endpoints over HTTP (Cargo feature `client`, with `reqwest`): a
/// service calling another built on the runtime, or a test against a running server.
///
/// ```no_run
/// # use endpoint_runtime::prelude::*;
/// # #[endpoint(id = "users", route = "/{id}")]
/// # async fn get_user(id: u64) -> JSend<String> { JSend(id.to_string()) }
/// # async fn run() -> Result<(), endpoint_runtime::client::CallError> {
/// use endpoint_runtime::client::Client;
///
/// let users = Client::new("http://127.0.0.1:3210").bearer("eyJ...");
/// let name: String = users.call(get_user::request(42)).await?;
/// # Ok(()) }
/// # fn main() {}
/// ```
#[cfg(feature = "client")]
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    bearer: Option<String>,
}

#[cfg(feature = "client")]
impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:3210`, without a trailing `/`),
    /// with a 30 s timeout per call.
    pub fn new(base: impl Into<String>) -> Self {
        Client {
            base: base.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            bearer: None,
        }
    }

    /// Sends `Authorization: Bearer <token>` with every call.
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// Sends `call` and decodes its answer.
    ///
    /// # Errors
    ///
    /// See [`CallError`].
    pub async fn call<R: Decode>(&self, call: Call<R>) -> Result<R::Output, CallError> {
        call.check()?;
        let mut request = self
            .http
            .request(call.method.clone(), format!("{}{}", self.base, call.uri()));
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        if let Some(body) = call.body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| CallError::Transport(error.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| CallError::Transport(error.to_string()))?;
        answer::<R>(status, &body)
    }
}

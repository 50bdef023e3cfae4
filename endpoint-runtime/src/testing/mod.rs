//! An in-process test client: requests go through the real router and middleware (the
//! authenticator chain, access checks, the error envelope) without a socket.
//!
//! ```standalone_crate
//! use endpoint_runtime::prelude::*;
//! use endpoint_runtime::testing::TestClient;
//!
//! #[endpoint(id = "reports", route = "/", access = admin)]
//! async fn reports() -> &'static str {
//!     "secret numbers"
//! }
//!
//! # #[endpoint_runtime::main]
//! # async fn main() {
//! let client = TestClient::new().await.unwrap();
//! assert_eq!(client.get("/reports").send().await.status(), 401);
//! assert_eq!(client.get("/reports").as_user("ann", Some("editor")).send().await.status(), 403);
//! assert_eq!(client.get("/reports").as_admin("root").send().await.text(), "secret numbers");
//! assert_eq!(client.get("/reports").with_token("garbage").send().await.status(), 401);
//! # }
//! ```

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt as _;

use crate::auth::Accountability;
use crate::auth::TestIdentity;
use crate::{App, Error};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod scratch;

/// Runs the body of an [`#[endpoint_runtime::test]`](crate::test): a current-thread Tokio
/// runtime, with the runtime's log lines going through libtest's output capture (shown when
/// the test fails). Not public API.
#[doc(hidden)]
pub fn run_test<F: std::future::Future>(future: F) -> F::Output {
    let _logs = tracing::subscriber::set_default(crate::logging::test_subscriber());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("failed to start the Tokio runtime")
        .block_on(future)
}

/// Calls the application in-process. Cheap to clone.
///
/// When the [`App`] has migrations, the client has a database of its own, created for it and
/// removed with its last clone (see [`App::test_client`]).
#[derive(Debug, Clone)]
pub struct TestClient {
    router: Router,
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    database: Option<crate::Database>,
    // Dropped after the router and the pool (fields drop in order).
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    _scratch: Option<std::sync::Arc<scratch::Scratch>>,
}

impl TestClient {
    /// A client for every registered endpoint, configured as `serve` would be: from the
    /// process environment ([`Config::from_env`](crate::Config::from_env)), so that the
    /// access levels, limits and formats the tests see are the ones the server enforces
    /// (`ENDPOINT_DEFAULT_ACCESS=authenticated` protects unstated endpoints here too). For a
    /// fixed configuration, whatever the shell says, use
    /// `App::new().config(config).test_client()`.
    ///
    /// # Errors
    ///
    /// - [`Error::Config`] when an `ENDPOINT_*` variable is malformed, as `serve` would refuse
    ///   it.
    /// - [`Error::Conflicts`] when the registry has conflicting routes.
    /// - [`Error::Database`] when a configured database cannot be opened.
    /// - [`Error::NoEndpoints`] when the test binary has no endpoint (the message says how
    ///   to link them).
    pub async fn new() -> Result<Self, Error> {
        App::new().test_client().await
    }

    pub(crate) fn from_router(
        router: Router,
        #[cfg(any(feature = "sqlite", feature = "postgres"))] database: Option<crate::Database>,
        #[cfg(any(feature = "sqlite", feature = "postgres"))] scratch: Option<scratch::Scratch>,
    ) -> Self {
        TestClient {
            router,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            database,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            _scratch: scratch.map(std::sync::Arc::new),
        }
    }

    /// The application's database, to seed or inspect it in a test (with migrations, the
    /// client's own; see [`App::test_client`]). `None` without a database.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub fn database(&self) -> Option<&crate::Database> {
        self.database.as_ref()
    }

    /// Sends a typed call of an endpoint (`get_user::request(42)`, see
    /// [`client`](crate::client)) anonymously, and decodes its answer.
    ///
    /// # Errors
    ///
    /// See [`CallError`](crate::client::CallError).
    pub async fn call<R: crate::client::Decode>(
        &self,
        call: crate::client::Call<R>,
    ) -> Result<R::Output, crate::client::CallError> {
        self.call_with(call, |request| request).await
    }

    /// [`call`](Self::call), the request first given to `configure`: `|r| r.as_admin("root")`.
    ///
    /// # Errors
    ///
    /// See [`CallError`](crate::client::CallError).
    pub async fn call_with<R: crate::client::Decode>(
        &self,
        call: crate::client::Call<R>,
        configure: impl FnOnce(TestRequest) -> TestRequest,
    ) -> Result<R::Output, crate::client::CallError> {
        call.check()?;
        let mut request = self.request(call.http_method().clone(), &call.uri());
        for (name, value) in call.headers() {
            request = request.header(name, value);
        }
        if let Some(body) = call.body() {
            request = request
                .header("content-type", "application/json")
                .body(body.to_vec());
        }
        let response = configure(request).send().await;
        crate::client::answer::<R>(response.status(), response.bytes())
    }

    /// Starts a request with any method.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            router: self.router.clone(),
            method,
            path: path.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            identity: None,
            peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }

    /// Starts a GET request.
    pub fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }

    /// Starts a POST request.
    pub fn post(&self, path: &str) -> TestRequest {
        self.request(Method::POST, path)
    }

    /// Starts a PUT request.
    pub fn put(&self, path: &str) -> TestRequest {
        self.request(Method::PUT, path)
    }

    /// Starts a PATCH request.
    pub fn patch(&self, path: &str) -> TestRequest {
        self.request(Method::PATCH, path)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, path: &str) -> TestRequest {
        self.request(Method::DELETE, path)
    }
}

/// A request being built. Anonymous unless one of the `as_*` / `with_token` helpers is used.
#[derive(Debug)]
#[must_use = "a request does nothing until `.send().await`"]
pub struct TestRequest {
    router: Router,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    identity: Option<Accountability>,
    peer: SocketAddr,
}

impl TestRequest {
    /// Sends the request as if from the socket peer `peer` (default `127.0.0.1`, a local
    /// client of `serve`): the address [`Accountability::ip`](crate::Accountability::ip) is
    /// computed from, through `ENDPOINT_TRUSTED_PROXIES` and `ENDPOINT_FORWARDED_HEADER` as on
    /// a real connection.
    pub fn peer(mut self, peer: SocketAddr) -> Self {
        self.peer = peer;
        self
    }

    /// Adds a header.
    ///
    /// # Panics
    ///
    /// If `name` or `value` is not a valid header name or value.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).expect("a valid header name");
        let value = HeaderValue::try_from(value).expect("a valid header value");
        self.headers.append(name, value);
        self
    }

    /// Sends `value` as a JSON body with `Content-Type: application/json`.
    ///
    /// # Panics
    ///
    /// If `value` cannot be serialized.
    pub fn json<T: Serialize>(mut self, value: &T) -> Self {
        self.body = serde_json::to_vec(value)
            .expect("a serializable body")
            .into();
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self
    }

    /// Sends raw bytes as the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Calls as an anonymous caller (the default).
    pub fn as_anonymous(mut self) -> Self {
        self.identity = None;
        self
    }

    /// Calls as the authenticated `user`, with an optional role.
    pub fn as_user(mut self, user: &str, role: Option<&str>) -> Self {
        self.identity = Some(Accountability::user(user, role));
        self
    }

    /// Calls as the admin `user`.
    pub fn as_admin(mut self, user: &str) -> Self {
        self.identity = Some(Accountability::admin(user));
        self
    }

    /// Calls as exactly this accountability (claims, app flag…).
    pub fn as_accountability(mut self, accountability: Accountability) -> Self {
        self.identity = Some(accountability);
        self
    }

    /// Sends `Authorization: Bearer <token>`, which goes through the real authenticator chain.
    pub fn with_token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// Sends the request through the application.
    ///
    /// # Panics
    ///
    /// If the path is not a valid URI path.
    pub async fn send(self) -> TestResponse {
        let mut request = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .body(Body::from(self.body))
            .expect("a valid request path");
        *request.headers_mut() = self.headers;
        request.extensions_mut().insert(ConnectInfo(self.peer));
        if let Some(identity) = self.identity {
            TestIdentity::attach(&mut request, identity);
        }
        let response = self
            .router
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// A response, with its body read.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    ///
    /// If the body is not JSON of that shape; the message shows the body.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not the expected JSON ({e}): {}", self.text()))
    }
}

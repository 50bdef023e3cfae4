//! Confined endpoints: handlers that run in sandboxed worker processes (CairnCMS's sandboxed
//! endpoints, with the kernel enforcing the boundary).
//!
//! ```no_run,standalone_crate
//! use endpoint_runtime::confined::{ConfinedError, ConfinedRequest, Host, Reply};
//! use endpoint_runtime::prelude::*;
//!
//! /// CairnCMS's sandboxed `greet`.
//! #[endpoint(id = "sandbox", route = "/greet", confined, capabilities(log))]
//! fn greet(request: ConfinedRequest, host: &mut Host) -> Result<Reply, ConfinedError> {
//!     host.log(format!("greeting on {}", request.path))?;
//!     Ok(Reply::ok(json!({ "message": "Hello from the sandbox" })))
//! }
//!
//! #[endpoint_runtime::main]
//! async fn main() -> Result<(), endpoint_runtime::Error> {
//!     endpoint_runtime::run().await
//! }
//! ```
//!
//! # The handler
//!
//! A confined handler is a plain `fn(request: ConfinedRequest, host: &mut Host) ->
//! Result<Reply, ConfinedError>`: it sees the method, path, path parameters, query and JSON
//! body ([`ConfinedRequest`]), never headers, cookies or tokens, and answers a status and a
//! JSON body ([`Reply`]). Its only way out is the [`Host`], and only for the capabilities the
//! attribute declares: `capabilities(log, request = ["https://api.example.com"])`. It cannot
//! be `async`, take other arguments or contain `unsafe` (compile errors at the token).
//!
//! # How it runs
//!
//! The server checks the access level first, with the caller's accountability as for every
//! endpoint; no worker is involved in a 401 or 403. The call then waits for a free worker
//! slot (`ENDPOINT_CONFINED_WORKERS`, default 2, calls at once over all confined endpoints)
//! in a bounded queue (`ENDPOINT_CONFINED_QUEUE`, default 32 waiting calls; past it `503`
//! with `Retry-After: 1`, before the body is read). Only with a slot is the body read
//! (up to `ENDPOINT_BODY_LIMIT`) and parsed, so the server holds at most a slot's worth of
//! bodies, whatever the number of clients. A slot is held while its body arrives, for
//! `ENDPOINT_CONFINED_TIMEOUT` at most (then `408 BODY_TIMEOUT`), so a slow upload cannot
//! keep a worker slot longer than a call may run.
//!
//! The call then goes to a **worker**: this same application binary, started with an empty
//! environment, its standard input and output (a pipe to the server) and standard error as
//! its only open files, for **one endpoint**: a worker only ever runs that endpoint's
//! handler (it refuses any other), so a handler never sees another endpoint's requests or
//! what they left in memory, and its host calls are checked against its own endpoint's
//! capabilities. Idle workers are kept per endpoint (one started per confined endpoint at
//! start-up, at most `ENDPOINT_CONFINED_WORKERS` idle each). Before it runs any handler, the
//! worker applies:
//!
//! - `PR_SET_PDEATHSIG`: the kernel sends it `SIGKILL` when the server dies;
//! - a check that it inherited no descriptor (the server marks all of its own close-on-exec
//!   before starting a worker, including any it inherited itself);
//! - resource limits: address space `ENDPOINT_CONFINED_MEMORY` (default 256 MiB), no core
//!   files, no file writes, CPU time 300 s per worker, 16 descriptors;
//! - `no_new_privs`;
//! - **Landlock**: no filesystem access at all (`/proc` included: the server's
//!   `/proc/<pid>/environ` is out of reach), no TCP bind or connect, no signals or `ptrace`
//!   to processes outside the sandbox, no abstract Unix sockets: every right of Landlock ABI
//!   6 that the running kernel's ABI knows;
//! - **seccomp, an allow-list**: `read`, `write`, memory (`brk`, `mmap`, `munmap`,
//!   `mremap`), `futex`, `getrandom`, clocks and sleeps, `abort()`'s calls (`tgkill` to
//!   itself only) and `exit_group`. Every other system call fails with `EPERM`: opening any
//!   file, `chmod`, `chown`, extended attributes, timestamps, `truncate`, sockets, processes,
//!   `ptrace`, `io_uring`, priorities, SysV IPC, and whatever a future kernel adds. x32
//!   numbers are refused like any unlisted one; a system call of another architecture kills
//!   the worker.
//!
//! A call that runs past `ENDPOINT_CONFINED_TIMEOUT` (default 5 s, host calls included) is
//! answered 503 and its worker killed; a worker that crashes, panics or runs out of memory is
//! answered 500 and replaced. The server and every other request carry on.
//!
//! Every worker reports what it put in place. With `ENDPOINT_CONFINED_HARDENING=required`
//! (the default) a worker, the first one or any replacement or on-demand one, whose report
//! falls short (seccomp, `no_new_privs`, Landlock complete for the kernel's ABI, the limits,
//! the parent-death signal, an inherited descriptor) is killed and never used: its call is
//! answered 503 and the reason logged once. At start-up a first worker also runs a
//! self-test (it must fail to read a file, the server's `/proc` entries included, open a
//! socket and start a process) and the server refuses to start when it fails; with `auto`
//! it runs anyway and says so in the route table and the log.
//!
//! # The host API, brokered by the server
//!
//! - [`Host::log`] (capability `log`): an `info` line in the server's log, inside the
//!   request's span (request id, endpoint id) and with the `handler` field; at most 100 per
//!   call, 4,096 characters each, escaped.
//! - [`Host::request`] (capability `request = [origins]`): performed **by the server**. The
//!   URL is parsed (WHATWG rules: IDNA, lower case, numeric IPv4 forms) and its scheme, host
//!   (trailing dot removed) and port must equal a declared origin exactly; user info is
//!   refused. Redirects are never followed (a 3xx is returned as is). Every address the host
//!   resolves to is checked when connecting: loopback, private, link-local, unique-local,
//!   shared, multicast, unspecified and cloud-metadata addresses are refused unless the
//!   declared origin itself names that address. At most 8 calls per invocation, 5 s and
//!   1 MiB per response.
//! - A capability the endpoint did not declare is refused with [`HostError::Undeclared`].
//!
//! # What the boundary does not stop
//!
//! The worker runs as the server's user: run the server as an unprivileged user, since a
//! worker of a root server keeps root's capabilities for whatever Landlock and seccomp do not
//! deny. Landlock and seccomp limit what it can reach, not
//! what it can compute: it can burn its CPU time and memory (both capped), and return any
//! status and body. What it sends to a declared origin through the host is up to it.
//! Landlock's protections depend on the kernel's ABI (the route table says which it is);
//! the seccomp allow-list does not. Side channels (timing, CPU caches) are out of scope.

mod outbound;
mod pool;
mod protocol;
#[cfg(target_os = "linux")]
mod sandbox;
mod worker;

use std::collections::BTreeMap;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::registry::Confinement;

pub use crate::config::{ConfinedConfig, Hardening};
pub use pool::{HardeningReport, self_test};
pub(crate) use pool::{Pool, pool_status};
pub use worker::enter_worker_if_requested;

/// What a confined handler sees of the request: no headers, cookies or tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfinedRequest {
    /// The method: `"GET"`.
    pub method: String,
    /// The path, without the query: `"/sandbox/greet"`.
    pub path: String,
    /// The route parameters by name, as strings.
    pub params: BTreeMap<String, String>,
    /// The query parameters (the last value of a repeated one).
    pub query: BTreeMap<String, String>,
    /// The JSON body; `Null` without a body.
    pub body: Value,
}

/// A confined handler's answer: a status and a JSON body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The HTTP status, 200–599.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl Reply {
    /// 200 with `body`.
    pub fn ok(body: Value) -> Self {
        Reply { status: 200, body }
    }

    /// `status` with `body`.
    pub fn new(status: u16, body: Value) -> Self {
        Reply { status, body }
    }
}

/// A confined handler's error: answered in the runtime's error envelope with its status.
/// A 5xx message is logged, not shown (the body carries the request id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfinedError {
    /// The HTTP status, 400–599.
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

impl ConfinedError {
    /// 400 `INVALID_PAYLOAD`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ConfinedError {
            status: 400,
            message: message.into(),
        }
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ConfinedError {
            status: 404,
            message: message.into(),
        }
    }

    /// 500, its message logged only.
    pub fn internal(message: impl Into<String>) -> Self {
        ConfinedError {
            status: 500,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConfinedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for ConfinedError {}

/// Why a host call failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The endpoint did not declare the capability (`log`, or `request` for this origin).
    #[error("capability not declared: {0}")]
    Undeclared(String),
    /// The call was refused: a URL outside the declared origins, a blocked address, a limit.
    #[error("refused: {0}")]
    Refused(String),
    /// The outbound request failed (connection, timeout, response too large).
    #[error("request failed: {0}")]
    Failed(String),
}

/// A host failure becomes a 502 (`request`) or 500 (`log`, undeclared) for the caller.
impl From<HostError> for ConfinedError {
    fn from(error: HostError) -> Self {
        let status = match error {
            HostError::Failed(_) => 502,
            _ => 500,
        };
        ConfinedError {
            status,
            message: error.to_string(),
        }
    }
}

/// An outbound response, as [`Host::request`] returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostResponse {
    /// The status, 3xx included (redirects are not followed).
    pub status: u16,
    /// The response headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, at most 1 MiB.
    pub body: Vec<u8>,
}

impl HostResponse {
    /// The body parsed as JSON.
    ///
    /// # Errors
    ///
    /// - [`HostError::Failed`] when it is not JSON.
    pub fn json(&self) -> Result<Value, HostError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HostError::Failed(format!("the response is not JSON: {e}")))
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The handle a confined handler reaches the outside through. Every call goes to the server,
/// which checks it against the endpoint's declared capabilities.
pub struct Host {
    pub(crate) channel: worker::Channel,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").finish_non_exhaustive()
    }
}

impl Host {
    /// Writes `message` to the server's log at `info`, with the endpoint (capability `log`).
    ///
    /// # Errors
    ///
    /// - [`HostError::Undeclared`] without the `log` capability.
    pub fn log(&mut self, message: impl Into<String>) -> Result<(), HostError> {
        match self.channel.host_call(protocol::HostCall::Log {
            message: message.into(),
        })? {
            protocol::HostResult::Logged => Ok(()),
            other => Err(HostError::Failed(format!("unexpected answer {other:?}"))),
        }
    }

    /// Sends `method url` with `headers` and `body` through the server (capability
    /// `request = [origins]`); see the [module docs](self) for what is checked.
    ///
    /// # Errors
    ///
    /// - [`HostError::Undeclared`] without the `request` capability;
    /// - [`HostError::Refused`] for a URL outside the declared origins, a blocked address,
    ///   more than 8 calls;
    /// - [`HostError::Failed`] when the request fails or its response is over 1 MiB.
    pub fn request(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<HostResponse, HostError> {
        let call = protocol::HostCall::Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            body: body.to_vec(),
        };
        match self.channel.host_call(call)? {
            protocol::HostResult::Response(response) => Ok(response),
            other => Err(HostError::Failed(format!("unexpected answer {other:?}"))),
        }
    }
}

/// What `#[endpoint(confined, ...)]` records for the worker: the declared capabilities and
/// the user's function. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct ConfinedSpec {
    /// The key and capabilities, also in the endpoint's registry record.
    pub confinement: Confinement,
    /// The user's function.
    pub run: fn(ConfinedRequest, &mut Host) -> Result<Reply, ConfinedError>,
}

impl std::ops::Deref for ConfinedSpec {
    type Target = Confinement;

    fn deref(&self) -> &Confinement {
        &self.confinement
    }
}

/// A confined handler in this binary, as a worker finds it by key. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct Registered(pub &'static ConfinedSpec);

inventory::collect!(Registered);

/// The confined handler whose key is `key`.
pub(crate) fn find(key: &str) -> Option<&'static ConfinedSpec> {
    inventory::iter::<Registered>
        .into_iter()
        .map(|registered| registered.0)
        .find(|spec| spec.key == key)
}

/// The generated handler of a confined endpoint: reads the request data, hands it to a worker
/// and answers its reply. Not public API.
#[doc(hidden)]
pub async fn handle(spec: &'static ConfinedSpec, request: Request) -> Response {
    match pool::call(spec, request).await {
        Ok(reply) => reply,
        Err(error) => error.into_response(),
    }
}

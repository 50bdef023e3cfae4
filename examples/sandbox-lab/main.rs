//! The test-bed of confined endpoints: handlers that try what the sandbox must stop (read a
//! file, open a connection, start a process, exhaust memory, loop forever, panic) and call
//! the host's outbound API with URLs chosen by the caller, so that `tests/confined.rs` can
//! check each is contained while the server keeps serving. Not a tutorial: see the showcase
//! for confined endpoints as an application writes them.
//!
//! ```text
//! ENDPOINT_CONFINED_TIMEOUT=1s cargo run --example sandbox-lab
//! ```

use endpoint_runtime::confined::{ConfinedError, ConfinedRequest, Host, Reply};
use endpoint_runtime::prelude::*;

/// A normal endpoint, to show the server is unaffected.
#[endpoint(id = "lab", route = "/health")]
async fn health() -> &'static str {
    "ok"
}

/// `Ok` as `{"outcome": "allowed"}`, an error as `{"outcome": "blocked", "error": ...}`.
fn outcome<T, E: std::fmt::Display>(result: Result<T, E>) -> Reply {
    match result {
        Ok(_) => Reply::ok(json!({ "outcome": "allowed" })),
        Err(error) => Reply::ok(json!({ "outcome": "blocked", "error": error.to_string() })),
    }
}

/// Reads the file named by `?path=`.
#[endpoint(id = "lab", route = "/read-file", confined)]
fn read_file(request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    let path = request
        .query
        .get("path")
        .cloned()
        .unwrap_or_else(|| "/etc/hostname".into());
    Ok(outcome(std::fs::read(path)))
}

/// Connects to `?addr=` (such as `127.0.0.1:8080`).
#[endpoint(id = "lab", route = "/connect", confined)]
fn connect(request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    let addr = request.query.get("addr").cloned().unwrap_or_default();
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|_| ConfinedError::bad_request("`addr` is not host:port"))?;
    Ok(outcome(std::net::TcpStream::connect_timeout(
        &addr,
        std::time::Duration::from_secs(1),
    )))
}

/// Starts `/bin/sh -c 'exit 0'`.
#[endpoint(id = "lab", route = "/spawn", confined)]
fn spawn(_request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    Ok(outcome(
        std::process::Command::new("/bin/sh")
            .args(["-c", "exit 0"])
            .status(),
    ))
}

/// Allocates and touches `?mib=` MiB (default 2048).
#[endpoint(id = "lab", route = "/allocate", confined)]
fn allocate(request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    let mib: usize = request
        .query
        .get("mib")
        .and_then(|m| m.parse().ok())
        .unwrap_or(2048);
    let mut blocks = Vec::new();
    for _ in 0..mib {
        blocks.push(vec![1u8; 1024 * 1024]);
    }
    Ok(Reply::ok(json!({ "allocated_mib": blocks.len() })))
}

/// Never returns.
#[endpoint(id = "lab", route = "/loop", confined)]
#[allow(clippy::empty_loop)]
fn spin(_request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Panics.
#[endpoint(id = "lab", route = "/panic", confined)]
fn panics(_request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    panic!("the handler gave up")
}

/// Echoes the request data it was given.
#[endpoint(id = "lab", route = "/echo/{name}", method = [get, post], confined, capabilities(log))]
fn echo(request: ConfinedRequest, host: &mut Host) -> Result<Reply, ConfinedError> {
    host.log(format!(
        "echo for {}",
        request.params.get("name").map_or("?", |n| n.as_str())
    ))?;
    Ok(Reply::ok(json!({
        "method": request.method,
        "path": request.path,
        "params": request.params,
        "query": request.query,
        "body": request.body,
    })))
}

/// For authenticated callers only: the server answers 401 before any worker is involved.
#[endpoint(id = "lab", route = "/private", access = authenticated, confined)]
fn private(_request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    Ok(Reply::ok(json!({ "secret": "for authenticated callers" })))
}

/// The allowed upstream's fixed port, as declared below: below Linux's ephemeral range
/// (32768-60999), so that no client socket of a running test holds it when the tests bind it.
pub const UPSTREAM_PORT: u16 = 31871;

/// Sends `GET ?url=` through the host: the outbound API under test. Declares the local
/// upstream on port 31871, and `localhost:31872` (a name that resolves to loopback).
#[endpoint(
    id = "lab",
    route = "/fetch",
    confined,
    capabilities(request = ["http://127.0.0.1:31871", "http://localhost:31872"])
)]
fn fetch(request: ConfinedRequest, host: &mut Host) -> Result<Reply, ConfinedError> {
    let url = request.query.get("url").cloned().unwrap_or_default();
    // A `traceparent` of the handler's own (the trace test checks the server replaces it).
    let headers: Vec<(&str, &str)> = request
        .query
        .get("traceparent")
        .map(|value| ("traceparent", value.as_str()))
        .into_iter()
        .collect();
    match host.request("GET", &url, &headers, &[]) {
        Ok(response) => Ok(Reply::ok(json!({
            "outcome": "sent",
            "status": response.status,
            "location": response.headers.iter().find(|(k, _)| k == "location").map(|(_, v)| v),
            "body": response.text(),
        }))),
        Err(error) => Ok(Reply::ok(
            json!({ "outcome": "refused", "error": error.to_string() }),
        )),
    }
}

/// Calls the host without declaring any capability.
#[endpoint(id = "lab", route = "/undeclared", confined)]
fn undeclared(_request: ConfinedRequest, host: &mut Host) -> Result<Reply, ConfinedError> {
    let log = host.log("not allowed").map_err(|e| e.to_string());
    let request = host
        .request("GET", "http://127.0.0.1:31871/", &[], &[])
        .map(|r| r.status)
        .map_err(|e| e.to_string());
    Ok(Reply::ok(
        json!({ "log": log.err(), "request": request.err() }),
    ))
}

/// Tries each system call the sandbox must refuse (chmod, chown, setxattr, utimensat,
/// truncate and open on `?file=`; ptrace, process_vm_writev and `/proc` reads on `?server=`;
/// io_uring_setup, setpriority, shmget, socket, connect, execve, an x32 call) and answers the
/// `errno` of each (`0`: it succeeded), with the descriptors open among 3..256. The raw calls
/// are in the `syscall-probes` test fixture (a dev-dependency: the workspace forbids
/// `unsafe`).
#[endpoint(id = "lab", route = "/probes", confined)]
fn probes(request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    let file = request.query.get("file").cloned().unwrap_or_default();
    let server = request
        .query
        .get("server")
        .and_then(|pid| pid.parse().ok())
        .ok_or_else(|| ConfinedError::bad_request("`server` is not a process id"))?;
    let report = syscall_probes::run(&file, server, 3..256);
    Ok(Reply::ok(json!({
        "errno": report.errno,
        "open_fds": report.open_fds,
    })))
}

/// What the handlers below have seen in this worker process.
static SEEN: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// Records its call in the worker's memory and answers the process id and every call this
/// process has served: a worker shared with `/tally-b` would show `b` here.
#[endpoint(id = "lab", route = "/tally-a", confined)]
fn tally_a(_request: ConfinedRequest, host: &mut Host) -> Result<Reply, ConfinedError> {
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    seen.push("a");
    Ok(Reply::ok(json!({
        "pid": std::process::id(),
        "seen": *seen,
        "log": host.log("a has no log capability").err().map(|e| e.to_string()),
    })))
}

/// Like `/tally-a`, with the `log` capability.
#[endpoint(id = "lab", route = "/tally-b", confined, capabilities(log))]
fn tally_b(_request: ConfinedRequest, host: &mut Host) -> Result<Reply, ConfinedError> {
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    seen.push("b");
    Ok(Reply::ok(json!({
        "pid": std::process::id(),
        "seen": *seen,
        "log": host.log("b may log").err().map(|e| e.to_string()),
    })))
}

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    endpoint_runtime::run().await
}

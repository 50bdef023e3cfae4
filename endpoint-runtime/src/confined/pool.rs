//! The server side: a pool of warm workers, the conversation of one call, the start-up
//! self-test.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{FromRequestParts as _, RawPathParams, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::outbound::Outbound;
use super::protocol::{self, FromWorker, Hardening, HostCall, HostResult, ToWorker, WORKER_ARG};
use super::{ConfinedRequest, ConfinedSpec, HostError};
use crate::config::{ConfinedConfig, Hardening as Mode};
use crate::error::{EndpointError, Error};
use crate::pipeline::RequestState;

/// How long a new worker may take to report its sandbox.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Lines of a worker's standard error forwarded to the log; the rest is dropped.
const MAX_STDERR_LINES: usize = 200;

/// Log lines one confined call may write through the host.
const MAX_LOG_LINES: u32 = 100;

/// A worker serves at most this many calls, then is replaced (its CPU-time limit is for its
/// whole life).
const CALLS_PER_WORKER: u32 = 10_000;

/// What the start-up self-test found.
#[derive(Debug, Clone)]
pub struct HardeningReport {
    /// What the worker put in place.
    pub hardening: Hardening,
    /// Whether reading a file failed in the worker.
    pub file_read_blocked: bool,
    /// Whether opening a socket failed in the worker.
    pub socket_blocked: bool,
    /// Whether starting a process failed in the worker.
    pub exec_blocked: bool,
    /// How long a cold worker took to start and report its sandbox.
    pub cold_start: Duration,
}

impl HardeningReport {
    /// Everything `ENDPOINT_CONFINED_HARDENING=required` needs.
    pub fn passed(&self) -> bool {
        self.hardening.complete()
            && self.file_read_blocked
            && self.socket_blocked
            && self.exec_blocked
    }

    /// One line for the route table and the log.
    pub fn summary(&self) -> String {
        let h = &self.hardening;
        format!(
            "Landlock {}, seccomp {}, no_new_privs {}, limits {}; self-test: file read {}, socket {}, exec {}; cold start {:.1} ms",
            h.landlock,
            on(h.seccomp),
            on(h.no_new_privs),
            on(h.limits),
            blocked(self.file_read_blocked),
            blocked(self.socket_blocked),
            blocked(self.exec_blocked),
            self.cold_start.as_secs_f64() * 1000.0
        )
    }
}

fn on(flag: bool) -> &'static str {
    if flag { "on" } else { "OFF" }
}

fn blocked(flag: bool) -> &'static str {
    if flag { "blocked" } else { "ALLOWED" }
}

static STATUS: OnceLock<String> = OnceLock::new();

/// The line the route table shows about confined workers, once a pool started.
pub(crate) fn pool_status() -> Option<&'static str> {
    STATUS.get().map(String::as_str)
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    calls: u32,
}

impl Worker {
    async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The warm workers of one application.
pub(crate) struct Pool {
    exe: PathBuf,
    config: ConfinedConfig,
    idle: Mutex<Vec<Worker>>,
    permits: tokio::sync::Semaphore,
    outbound: Outbound,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Starts a worker and waits for its sandbox report.
async fn spawn(exe: &PathBuf, config: &ConfinedConfig) -> Result<(Worker, Hardening), String> {
    let mut child = Command::new(exe)
        .arg(WORKER_ARG)
        .arg(config.memory.to_string())
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start a worker ({}): {e}", exe.display()))?;
    let (Some(stdin), Some(mut stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err("the worker's pipes are missing".into());
    };
    let pid = child.id().unwrap_or_default();
    // What a handler prints goes to the server's log, a line at a time.
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut forwarded = 0;
        while let Ok(Some(line)) = lines.next_line().await {
            forwarded += 1;
            if forwarded <= MAX_STDERR_LINES {
                let line: String = line.chars().take(1024).collect();
                tracing::warn!(
                    worker = pid,
                    "confined worker printed: {}",
                    line.escape_debug()
                );
            } else if forwarded == MAX_STDERR_LINES + 1 {
                tracing::warn!(
                    worker = pid,
                    "confined worker printed more; the rest is dropped"
                );
            }
        }
    });
    match tokio::time::timeout(START_TIMEOUT, protocol::receive(&mut stdout)).await {
        Ok(Ok(FromWorker::Ready { hardening })) => Ok((
            Worker {
                child,
                stdin,
                stdout,
                calls: 0,
            },
            hardening,
        )),
        Ok(Ok(other)) => Err(format!("the worker said {other:?} instead of `ready`")),
        Ok(Err(_)) => Err(
            "the worker exited before reporting: does `main` use `#[endpoint_runtime::main]` or call `endpoint_runtime::confined::enter_worker_if_requested()` first?"
                .into(),
        ),
        Err(_) => Err(format!("the worker did not report within {START_TIMEOUT:?}")),
    }
}

/// Starts a worker and checks that it can neither read a file, nor open a socket, nor start a
/// process; the worker is killed afterwards.
///
/// # Errors
///
/// - A message when the worker cannot be started or does not answer.
pub async fn self_test(config: &ConfinedConfig) -> Result<HardeningReport, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let (report, worker) = self_test_worker(&exe, config).await?;
    worker.kill().await;
    Ok(report)
}

async fn self_test_worker(
    exe: &PathBuf,
    config: &ConfinedConfig,
) -> Result<(HardeningReport, Worker), String> {
    let started = Instant::now();
    let (mut worker, hardening) = spawn(exe, config).await?;
    let cold_start = started.elapsed();
    let answer = async {
        protocol::send(&mut worker.stdin, &ToWorker::SelfTest).await?;
        protocol::receive(&mut worker.stdout).await
    };
    match tokio::time::timeout(START_TIMEOUT, answer).await {
        Ok(Ok(FromWorker::SelfTest {
            file_read_blocked,
            socket_blocked,
            exec_blocked,
        })) => Ok((
            HardeningReport {
                hardening,
                file_read_blocked,
                socket_blocked,
                exec_blocked,
                cold_start,
            },
            worker,
        )),
        other => {
            worker.kill().await;
            Err(format!("the worker's self-test failed: {other:?}"))
        }
    }
}

impl Pool {
    /// Runs the self-test, enforces `ENDPOINT_CONFINED_HARDENING`, and warms the pool.
    pub(crate) async fn start(config: &ConfinedConfig) -> Result<Arc<Pool>, Error> {
        if super::worker::is_worker_process() {
            return Err(Error::Confined(
                "this process was started as a confined worker but did not enter worker mode: call `endpoint_runtime::confined::enter_worker_if_requested()` first in `main`, or use `#[endpoint_runtime::main]`".into(),
            ));
        }
        let exe = std::env::current_exe()
            .map_err(|e| Error::Confined(format!("cannot find this binary: {e}")))?;
        let (report, worker) = self_test_worker(&exe, config)
            .await
            .map_err(Error::Confined)?;
        let summary = report.summary();
        if report.passed() {
            tracing::info!("confined workers: {summary}");
            let _ = STATUS.set(format!("confined workers: {summary}"));
        } else if config.hardening == Mode::Required {
            worker.kill().await;
            return Err(Error::Confined(format!(
                "the kernel cannot confine workers here ({summary}); ENDPOINT_CONFINED_HARDENING=required refuses to start: fix the kernel (Landlock, seccomp) or set ENDPOINT_CONFINED_HARDENING=auto to run without the boundary"
            )));
        } else {
            tracing::error!(
                "CONFINED ENDPOINTS RUN WITHOUT A KERNEL-ENFORCED BOUNDARY (ENDPOINT_CONFINED_HARDENING=auto): {summary}"
            );
            let _ = STATUS.set(format!(
                "WARNING: confined endpoints run WITHOUT a kernel-enforced boundary (ENDPOINT_CONFINED_HARDENING=auto): {summary}"
            ));
        }
        let pool = Arc::new(Pool {
            exe,
            config: *config,
            idle: Mutex::new(vec![worker]),
            permits: tokio::sync::Semaphore::new(config.workers),
            outbound: Outbound::new().map_err(Error::Confined)?,
        });
        for _ in 1..config.workers {
            pool.replace();
        }
        Ok(pool)
    }

    /// Starts a worker in the background and adds it to the idle ones.
    fn replace(self: &Arc<Self>) {
        let pool = Arc::clone(self);
        tokio::spawn(async move {
            match spawn(&pool.exe, &pool.config).await {
                Ok((worker, _)) => pool.keep(worker).await,
                Err(reason) => tracing::error!("cannot start a confined worker: {reason}"),
            }
        });
    }

    fn take_idle(&self) -> Option<Worker> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn put_back(self: &Arc<Self>, mut worker: Worker) {
        worker.calls += 1;
        if worker.calls >= CALLS_PER_WORKER {
            tokio::spawn(worker.kill());
            self.replace();
        } else {
            let pool = Arc::clone(self);
            tokio::spawn(async move { pool.keep(worker).await });
        }
    }

    /// Adds `worker` to the idle ones, unless `ENDPOINT_CONFINED_WORKERS` are idle already (a
    /// replacement and a worker started on demand can both arrive): the extra one is stopped.
    async fn keep(&self, worker: Worker) {
        let extra = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < self.config.workers {
                idle.push(worker);
                None
            } else {
                Some(worker)
            }
        };
        if let Some(worker) = extra {
            worker.kill().await;
        }
    }
}

/// How a call ended, besides a reply.
#[derive(Debug)]
enum Failure {
    /// The worker broke the protocol or died: it is killed and replaced.
    Broken(String),
    /// The handler panicked: the worker survived (unwinding), but is replaced anyway.
    Panicked(String),
}

/// Reads the request data a confined handler sees: method, path, parameters, query and a JSON
/// body (415 for another content type, 400 for bad JSON, 413 over `ENDPOINT_BODY_LIMIT`).
pub(crate) async fn request_data(
    request: Request,
) -> Result<(Arc<Pool>, ConfinedRequest), EndpointError> {
    let (mut parts, body) = request.into_parts();
    let Some(shared) = parts
        .extensions
        .get::<RequestState>()
        .map(|state| Arc::clone(&state.shared))
    else {
        return Err(EndpointError::internal(
            "a confined endpoint was called without the runtime's middleware",
        ));
    };
    let Some(pool) = shared.confined.clone() else {
        return Err(EndpointError::internal(
            "the confined worker pool is not running",
        ));
    };
    let params: BTreeMap<String, String> =
        match RawPathParams::from_request_parts(&mut parts, &()).await {
            Ok(raw) => raw
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            Err(_) => BTreeMap::new(),
        };
    let query: BTreeMap<String, String> = match parts.uri.query() {
        None => BTreeMap::new(),
        Some(query) => serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .map_err(|e| EndpointError::invalid_payload(format!("invalid query string: {e}")))?
            .into_iter()
            .collect(),
    };
    let limit = shared.config.body_limit;
    let bytes = axum::body::to_bytes(Body::new(body), limit)
        .await
        .map_err(|_| {
            EndpointError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("the body is over {limit} bytes"),
            )
        })?;
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else if crate::extract::is_json(&parts.headers) {
        serde_json::from_slice(&bytes)
            .map_err(|e| EndpointError::invalid_payload(format!("malformed JSON: {e}")))?
    } else {
        return Err(EndpointError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "a confined endpoint reads JSON bodies only: send `Content-Type: application/json`",
        ));
    };
    Ok((
        pool,
        ConfinedRequest {
            method: parts.method.as_str().to_string(),
            path: parts.uri.path().to_string(),
            params,
            query,
            body,
        },
    ))
}

/// Runs one call on a worker and turns its reply into a response.
pub(crate) async fn call(
    spec: &'static ConfinedSpec,
    (pool, request): (Arc<Pool>, ConfinedRequest),
) -> Result<Response, EndpointError> {
    let Ok(_permit) = pool.permits.acquire().await else {
        return Err(EndpointError::internal(
            "the confined worker pool is closed",
        ));
    };
    let mut worker = match pool.take_idle() {
        Some(worker) => worker,
        None => match spawn(&pool.exe, &pool.config).await {
            Ok((worker, _)) => worker,
            Err(reason) => {
                return Err(EndpointError::internal(format!(
                    "cannot start a confined worker: {reason}"
                )));
            }
        },
    };
    let limit = pool.config.timeout;
    let outcome =
        tokio::time::timeout(limit, conversation(&pool, spec, &mut worker, request)).await;
    match outcome {
        Ok(Ok(result)) => {
            pool.put_back(worker);
            match result {
                Ok(reply) => {
                    let status = StatusCode::from_u16(reply.status)
                        .ok()
                        .filter(|s| (200..600).contains(&s.as_u16()));
                    match status {
                        Some(status) => Ok((status, axum::Json(reply.body)).into_response()),
                        None => Err(EndpointError::internal(format!(
                            "confined endpoint `{}` answered the invalid status {}",
                            spec.key, reply.status
                        ))),
                    }
                }
                Err(error) => {
                    let status = StatusCode::from_u16(error.status)
                        .ok()
                        .filter(|s| s.is_client_error() || s.is_server_error())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    if status.is_server_error() {
                        // The message stays in the log (written by the pipeline); the body
                        // carries the request id.
                        let code = if status == StatusCode::BAD_GATEWAY {
                            "BAD_GATEWAY"
                        } else {
                            "INTERNAL"
                        };
                        Err(EndpointError::new(
                            status,
                            code,
                            format!("confined endpoint `{}` failed: {}", spec.key, error.message),
                        ))
                    } else {
                        let code = crate::error::client_error_code(status);
                        Err(EndpointError::new(status, code, error.message))
                    }
                }
            }
        }
        Ok(Err(failure)) => {
            tokio::spawn(worker.kill());
            pool.replace();
            let what = match failure {
                Failure::Panicked(message) => format!("panicked: {message}"),
                Failure::Broken(reason) => format!("the worker failed ({reason}) and was replaced"),
            };
            Err(EndpointError::internal(format!(
                "confined endpoint `{}` {what}",
                spec.key
            )))
        }
        Err(_) => {
            tokio::spawn(worker.kill());
            pool.replace();
            // Logged once by the pipeline, as every 5xx; the client reads the timeout's text.
            let timeout = EndpointError::timeout(limit);
            let client_message = timeout.client_message().to_string();
            Err(EndpointError::new(
                timeout.status(),
                "REQUEST_TIMEOUT",
                format!(
                    "confined endpoint `{}` did not answer within {}; worker killed",
                    spec.key,
                    humantime::format_duration(limit)
                ),
            )
            .with_client_message(client_message))
        }
    }
}

/// Sends the call, answers the worker's host calls, and returns the handler's result.
async fn conversation(
    pool: &Pool,
    spec: &'static ConfinedSpec,
    worker: &mut Worker,
    request: ConfinedRequest,
) -> Result<Result<super::Reply, super::ConfinedError>, Failure> {
    let call = ToWorker::Call {
        endpoint: spec.key.to_string(),
        request,
    };
    protocol::send(&mut worker.stdin, &call)
        .await
        .map_err(|e| Failure::Broken(format!("cannot send the call: {e}")))?;
    let mut budget = Budget {
        requests: super::outbound::MAX_REQUESTS,
        logs: MAX_LOG_LINES,
    };
    loop {
        let message = protocol::receive(&mut worker.stdout).await.map_err(|e| {
            Failure::Broken(match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    "it exited (crashed, killed, or out of memory)".to_string()
                }
                _ => e.to_string(),
            })
        })?;
        match message {
            FromWorker::Done { result } => return Ok(result),
            FromWorker::Panicked { message } => return Err(Failure::Panicked(message)),
            FromWorker::Host { call } => {
                let result = host_call(pool, spec, call, &mut budget).await;
                protocol::send(&mut worker.stdin, &ToWorker::HostReply { result })
                    .await
                    .map_err(|e| Failure::Broken(format!("cannot answer a host call: {e}")))?;
            }
            other => return Err(Failure::Broken(format!("unexpected message {other:?}"))),
        }
    }
}

/// What one call may still ask of the host.
struct Budget {
    requests: u32,
    logs: u32,
}

/// Performs a host call if the endpoint declared its capability and its budget allows.
async fn host_call(
    pool: &Pool,
    spec: &'static ConfinedSpec,
    call: HostCall,
    budget: &mut Budget,
) -> Result<HostResult, HostError> {
    match call {
        HostCall::Log { message } => {
            if !spec.log {
                return Err(HostError::Undeclared(
                    "`log` is not among this endpoint's capabilities".into(),
                ));
            }
            if budget.logs == 0 {
                return Err(HostError::Refused(format!(
                    "at most {MAX_LOG_LINES} log lines per call"
                )));
            }
            budget.logs -= 1;
            let message: String = message.chars().take(4096).collect();
            tracing::info!(
                handler = spec.key,
                confined = true,
                "{}",
                message.escape_debug()
            );
            Ok(HostResult::Logged)
        }
        HostCall::Request {
            method,
            url,
            headers,
            body,
        } => {
            if spec.origins.is_empty() {
                return Err(HostError::Undeclared(
                    "`request` is not among this endpoint's capabilities".into(),
                ));
            }
            if budget.requests == 0 {
                return Err(HostError::Refused(format!(
                    "at most {} requests per call",
                    super::outbound::MAX_REQUESTS
                )));
            }
            budget.requests -= 1;
            pool.outbound
                .send(spec.origins, &method, &url, &headers, body)
                .await
                .map(HostResult::Response)
        }
    }
}

//! The server side: a pool of warm workers, the conversation of one call, the start-up
//! self-test.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{FromRequestParts as _, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::outbound::Outbound;
use super::protocol::{
    self, FromWorker, HostCall, HostResult, SandboxLayers, ToWorker, WORKER_ARG,
};
use super::{ConfinedRequest, ConfinedSpec, HostError};
use crate::config::{ConfinedConfig, Hardening as Mode};
use crate::context::Context;
use crate::error::{EndpointError, Error};

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
    pub hardening: SandboxLayers,
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
            "Landlock {}, seccomp allow-list {}, no_new_privs {}, limits {}, parent-death signal {}, inherited descriptors {}; self-test: file read {}, socket {}, exec {}; cold start {:.1} ms",
            h.landlock,
            on(h.seccomp),
            on(h.no_new_privs),
            on(h.limits),
            on(h.parent_death_signal),
            if h.inherited_fds.is_empty() {
                "none".to_string()
            } else {
                format!("{:?}", h.inherited_fds)
            },
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
    /// The one endpoint this worker serves (`""` for the self-test's).
    endpoint: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    calls: u32,
    /// Counts the worker in `endpoint_confined_workers` while it lives (feature `metrics`).
    _alive: Gauged,
}

/// A unit of a gauge, held for as long as what it counts lives: `endpoint_confined_workers`
/// (workers alive) or `endpoint_confined_busy` (calls running). Nothing without the `metrics`
/// feature or a recorder.
struct Gauged(#[cfg_attr(not(feature = "metrics"), allow(dead_code))] &'static str);

impl Gauged {
    fn enter(name: &'static str) -> Self {
        #[cfg(feature = "metrics")]
        metrics::gauge!(name).increment(1.0);
        Gauged(name)
    }
}

impl Drop for Gauged {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        metrics::gauge!(self.0).decrement(1.0);
    }
}

impl Worker {
    async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The warm workers of one application.
///
/// A worker serves **one endpoint** for its whole life: it is started for that endpoint (its
/// argument names it, and it refuses calls for any other), kept idle under that endpoint's
/// name, and only ever handed that endpoint's calls. So a handler never sees another
/// endpoint's requests (nor what they left in the process's memory), and the host calls a
/// worker makes are checked against the capabilities of the only endpoint it runs.
pub(crate) struct Pool {
    exe: PathBuf,
    config: ConfinedConfig,
    /// Idle workers by endpoint key, at most `ENDPOINT_CONFINED_WORKERS` each.
    idle: Mutex<HashMap<&'static str, Vec<Worker>>>,
    /// Calls running at once, all endpoints together: `ENDPOINT_CONFINED_WORKERS`.
    permits: tokio::sync::Semaphore,
    /// Calls waiting for a permit; past `ENDPOINT_CONFINED_QUEUE` a call is answered 503.
    waiting: AtomicUsize,
    /// Whether a worker falling short of `required` was logged already (once per server).
    shortfall_logged: AtomicBool,
    /// The client of the endpoints' outbound requests; `None` when no confined endpoint
    /// declares an origin (loading the system's root certificates costs about 19 million
    /// instructions and a few hundred KiB at start-up, callgrind, 2026-12-02).
    outbound: Option<Outbound>,
}

/// Why no worker could be had.
#[derive(Debug)]
enum SpawnError {
    /// It could not be started or did not report.
    Failed(String),
    /// Its sandbox report falls short of `ENDPOINT_CONFINED_HARDENING=required`: it was
    /// killed unused (the reason is logged once).
    Hardening,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Starts `command` on the one thread that starts workers, which lives as long as the
/// process: a worker asks for `SIGKILL` when the *thread* that started it exits
/// (`PR_SET_PDEATHSIG`), and a Tokio thread may exit while the server runs (one that called
/// `block_in_place` retires to the blocking pool, whose idle threads end after 10 s). Every
/// descriptor of the server above 2 is made close-on-exec first, including any it inherited
/// or a library opened without `O_CLOEXEC`; the worker checks and reports what it still
/// finds open.
async fn start(mut command: Command) -> std::io::Result<Child> {
    type Job = Box<dyn FnOnce() + Send>;
    static STARTER: OnceLock<Mutex<std::sync::mpsc::Sender<Job>>> = OnceLock::new();
    let starter = STARTER.get_or_init(|| {
        let (jobs, receive) = std::sync::mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("confined-starter".into())
            .spawn(move || {
                while let Ok(job) = receive.recv() {
                    job();
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the thread that starts confined workers");
        }
        Mutex::new(jobs)
    });
    let runtime = tokio::runtime::Handle::current();
    let (reply, started) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // The child's pipes and its reaping belong to the server's runtime.
        let _runtime = runtime.enter();
        #[cfg(target_os = "linux")]
        close_fds::set_fds_cloexec_threadsafe(3, &[]);
        let _ = reply.send(command.spawn());
    });
    starter
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send(job)
        .map_err(|_| std::io::Error::other("the thread that starts workers is gone"))?;
    started
        .await
        .map_err(|_| std::io::Error::other("the thread that starts workers is gone"))?
}

/// Starts a worker for `endpoint` and waits for its sandbox report.
async fn spawn(
    exe: &PathBuf,
    config: &ConfinedConfig,
    endpoint: &'static str,
) -> Result<(Worker, SandboxLayers), String> {
    let mut command = Command::new(exe);
    command
        .arg(WORKER_ARG)
        .arg(config.memory.to_string())
        .arg(std::process::id().to_string())
        .arg(endpoint)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = start(command)
        .await
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
                endpoint,
                child,
                stdin,
                stdout,
                calls: 0,
                _alive: Gauged::enter("endpoint_confined_workers"),
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
    let (mut worker, hardening) = spawn(exe, config, "").await?;
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
            return Err(Error::confined(
                "this process was started as a confined worker but did not enter worker mode: call `endpoint_runtime::confined::enter_worker_if_requested()` first in `main`, or use `#[endpoint_runtime::main]`",
            ));
        }
        let exe = std::env::current_exe().map_err(|e| Error::Confined {
            message: "cannot find this binary".into(),
            source: Some(e),
        })?;
        let (report, worker) = self_test_worker(&exe, config)
            .await
            .map_err(Error::confined)?;
        let summary = report.summary();
        if report.passed() {
            tracing::info!("confined workers: {summary}");
            let _ = STATUS.set(format!("confined workers: {summary}"));
        } else if config.hardening == Mode::Required {
            worker.kill().await;
            return Err(Error::confined(format!(
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
        // The self-test's worker serves no endpoint: it goes.
        worker.kill().await;
        let pool = Arc::new(Pool {
            exe,
            config: *config,
            idle: Mutex::new(HashMap::new()),
            permits: tokio::sync::Semaphore::new(config.workers),
            waiting: AtomicUsize::new(0),
            shortfall_logged: AtomicBool::new(false),
            outbound: if crate::registry::endpoints()
                .iter()
                .filter_map(|endpoint| endpoint.confined())
                .any(|spec| !spec.origins.is_empty())
            {
                Some(Outbound::new().map_err(Error::confined)?)
            } else {
                None
            },
        });
        // One warm worker per confined endpoint; more are started on demand and kept, up to
        // `ENDPOINT_CONFINED_WORKERS` idle per endpoint.
        for endpoint in crate::registry::endpoints() {
            if let Some(spec) = endpoint.confined() {
                pool.replace(spec.key);
            }
        }
        Ok(pool)
    }

    /// Starts a worker for `endpoint` and checks its sandbox report against
    /// `ENDPOINT_CONFINED_HARDENING`: under `required`, a worker that falls short is killed
    /// and never used (logged once per server).
    async fn spawn_checked(&self, endpoint: &'static str) -> Result<Worker, SpawnError> {
        let (worker, hardening) = spawn(&self.exe, &self.config, endpoint)
            .await
            .map_err(SpawnError::Failed)?;
        match hardening.shortfall() {
            Some(shortfall) if self.config.hardening == Mode::Required => {
                worker.kill().await;
                if !self.shortfall_logged.swap(true, Ordering::SeqCst) {
                    tracing::error!(
                        endpoint,
                        "a confined worker was killed unused: {shortfall}; ENDPOINT_CONFINED_HARDENING=required answers 503 until workers are confined again (logged once)"
                    );
                }
                Err(SpawnError::Hardening)
            }
            _ => Ok(worker),
        }
    }

    /// Starts a worker for `endpoint` in the background and adds it to the idle ones.
    fn replace(self: &Arc<Self>, endpoint: &'static str) {
        #[cfg(feature = "metrics")]
        metrics::counter!("endpoint_confined_restarts_total").increment(1);
        let pool = Arc::clone(self);
        tokio::spawn(async move {
            match pool.spawn_checked(endpoint).await {
                Ok(worker) => pool.keep(worker).await,
                Err(SpawnError::Failed(reason)) => {
                    tracing::error!(endpoint, "cannot start a confined worker: {reason}");
                }
                Err(SpawnError::Hardening) => {}
            }
        });
    }

    /// A permit to run a call, waiting in the bounded queue if every worker is busy.
    ///
    /// # Errors
    ///
    /// - 503 with `Retry-After: 1` when `ENDPOINT_CONFINED_QUEUE` calls are waiting already.
    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, EndpointError> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        let waiting = Waiting::enter(&self.waiting);
        if waiting.ahead >= self.config.queue {
            return Err(EndpointError::service_unavailable(
                "every confined worker is busy and the queue is full; retry later",
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        let permit = self.permits.acquire().await;
        drop(waiting);
        permit.map_err(|_| EndpointError::internal("the confined worker pool is closed"))
    }

    fn take_idle(&self, endpoint: &'static str) -> Option<Worker> {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(endpoint)
            .and_then(Vec::pop)
    }

    fn put_back(self: &Arc<Self>, mut worker: Worker) {
        worker.calls += 1;
        if worker.calls >= CALLS_PER_WORKER {
            let endpoint = worker.endpoint;
            tokio::spawn(worker.kill());
            self.replace(endpoint);
        } else {
            let pool = Arc::clone(self);
            tokio::spawn(async move { pool.keep(worker).await });
        }
    }

    /// Adds `worker` to its endpoint's idle ones, unless `ENDPOINT_CONFINED_WORKERS` are idle
    /// there already (a replacement and a worker started on demand can both arrive): the
    /// extra one is stopped.
    async fn keep(&self, worker: Worker) {
        let extra = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            let idle = idle.entry(worker.endpoint).or_default();
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

/// A call waiting for a permit, counted in [`Pool::waiting`] while it lives.
struct Waiting<'a> {
    counter: &'a AtomicUsize,
    /// How many were waiting before this one.
    ahead: usize,
}

impl<'a> Waiting<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        let ahead = counter.fetch_add(1, Ordering::SeqCst);
        Waiting { counter, ahead }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The request's context and the pool (application state the bootstrap registers), from the
/// request's extensions.
async fn pool_of(parts: &mut Parts) -> Result<(Context, Arc<Pool>), EndpointError> {
    let Ok(context) = Context::from_request_parts(parts, &()).await else {
        return Err(EndpointError::internal(
            "a confined endpoint was called without the runtime's middleware",
        ));
    };
    let Ok(pool) = context.state::<Pool>() else {
        return Err(EndpointError::internal(
            "the confined worker pool is not running",
        ));
    };
    Ok((context, pool))
}

/// The request data a confined handler sees, but the body: method, path, parameters and query
/// (400 for a malformed query). Read before waiting for a worker: it costs nothing to keep.
async fn request_head(parts: &mut Parts) -> Result<ConfinedRequest, EndpointError> {
    let params: BTreeMap<String, String> = match RawPathParams::from_request_parts(parts, &()).await
    {
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
    Ok(ConfinedRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        params,
        query,
        body: serde_json::Value::Null,
    })
}

/// Reads the JSON body (415 for another content type, 400 for bad JSON, 413 over
/// `ENDPOINT_BODY_LIMIT`; `Null` without a body). Called only once the call holds a permit,
/// so bodies are read no faster than workers take them.
async fn request_body(
    parts: &Parts,
    body: Body,
    limit: usize,
) -> Result<serde_json::Value, EndpointError> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|error| {
        if crate::body_limit::is_over_limit(&error) {
            EndpointError::payload_too_large(format!(
                "the request body is larger than the limit of {limit} bytes (ENDPOINT_BODY_LIMIT)"
            ))
            .with_details(serde_json::json!({ "limit": limit }))
        } else {
            EndpointError::invalid_payload(format!("cannot read the body: {error}"))
        }
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
    Ok(body)
}

/// Runs one call on a worker of `spec`'s endpoint and turns its reply into a response: waits
/// for a permit (bounded queue), then reads the body, then takes or starts a worker.
pub(crate) async fn call(
    spec: &'static ConfinedSpec,
    request: Request,
) -> Result<Response, EndpointError> {
    let (mut parts, body) = request.into_parts();
    let (context, pool) = pool_of(&mut parts).await?;
    let mut request = request_head(&mut parts).await?;
    let _permit = pool.slot().await?;
    // The body arrives while the call holds a worker slot: a client that uploads slowly may
    // keep it no longer than a call may run.
    let limit = pool.config.timeout;
    request.body =
        tokio::time::timeout(limit, request_body(&parts, body, context.env().body_limit))
            .await
            .map_err(|_| {
                EndpointError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "BODY_TIMEOUT",
                    format!(
                        "the body did not arrive within {} (ENDPOINT_CONFINED_TIMEOUT)",
                        humantime::format_duration(limit)
                    ),
                )
            })??;
    run(&pool, spec, request).await
}

/// Runs `request` on a worker of `spec`'s endpoint; the caller holds a permit.
async fn run(
    pool: &Arc<Pool>,
    spec: &'static ConfinedSpec,
    request: ConfinedRequest,
) -> Result<Response, EndpointError> {
    let mut worker = match pool.take_idle(spec.key) {
        Some(worker) => worker,
        None => match pool.spawn_checked(spec.key).await {
            Ok(worker) => worker,
            Err(SpawnError::Failed(reason)) => {
                return Err(EndpointError::internal(format!(
                    "cannot start a confined worker: {reason}"
                )));
            }
            Err(SpawnError::Hardening) => {
                return Err(EndpointError::service_unavailable(
                    "confined endpoints are unavailable: this server cannot sandbox their workers",
                ));
            }
        },
    };
    let limit = pool.config.timeout;
    let busy = Gauged::enter("endpoint_confined_busy");
    let outcome = tokio::time::timeout(limit, conversation(pool, spec, &mut worker, request)).await;
    drop(busy);
    match outcome {
        Ok(Ok(result)) => {
            pool.put_back(worker);
            match result {
                Ok(reply) => {
                    let status = StatusCode::from_u16(reply.status)
                        .ok()
                        .filter(|s| (200..600).contains(&s.as_u16()));
                    match status {
                        Some(status) => {
                            Ok((status, crate::extract::Json(reply.body)).into_response())
                        }
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
            pool.replace(spec.key);
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
            pool.replace(spec.key);
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
            let Some(outbound) = pool.outbound.as_ref() else {
                // Made at start-up whenever an endpoint declares an origin.
                return Err(HostError::Refused(
                    "the server has no outbound client".into(),
                ));
            };
            outbound
                .send(spec.origins, &method, &url, &headers, body)
                .await
                .map(HostResult::Response)
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::Path;

    use super::*;
    use crate::confined::{ConfinedError, Host, Reply};

    fn never_called(_: ConfinedRequest, _: &mut Host) -> Result<Reply, ConfinedError> {
        Err(ConfinedError::internal(
            "a fake worker never runs a handler",
        ))
    }

    static SPEC: ConfinedSpec = ConfinedSpec {
        confinement: crate::registry::Confinement {
            key: "tests::fake",
            log: false,
            origins: &[],
        },
        run: never_called,
    };

    /// A complete report, as a confined worker on this kernel sends it.
    fn complete() -> SandboxLayers {
        SandboxLayers {
            landlock: "fully enforced (ABI 6)".into(),
            landlock_enforced: true,
            landlock_abi: 6,
            landlock_complete: true,
            seccomp: true,
            no_new_privs: true,
            limits: true,
            parent_death_signal: true,
            inherited_fds: Vec::new(),
        }
    }

    /// A "worker" that writes its process id to `dir/pid`, sends `Ready` with `hardening`,
    /// then waits: how a worker whose sandbox fell short looks to the server.
    fn fake_worker(dir: &Path, hardening: &SandboxLayers) -> PathBuf {
        let message = serde_json::to_vec(&FromWorker::Ready {
            hardening: hardening.clone(),
        })
        .unwrap();
        let mut bytes = u32::try_from(message.len()).unwrap().to_be_bytes().to_vec();
        bytes.extend(message);
        std::fs::write(dir.join("ready"), bytes).unwrap();
        let script = dir.join("worker");
        let dir = dir.display();
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho $$ > '{dir}/pid'\n/bin/cat '{dir}/ready'\nexec /bin/sleep 30\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    fn pool(exe: PathBuf, hardening: Mode) -> Arc<Pool> {
        Arc::new(Pool {
            exe,
            config: ConfinedConfig {
                hardening,
                ..ConfinedConfig::default()
            },
            idle: Mutex::new(HashMap::new()),
            permits: tokio::sync::Semaphore::new(1),
            waiting: AtomicUsize::new(0),
            shortfall_logged: AtomicBool::new(false),
            outbound: Some(Outbound::new().unwrap()),
        })
    }

    fn temp_dir(tag: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("endpoint-pool-{tag}-"))
            .tempdir()
            .unwrap()
    }

    /// Under `required`, every worker is checked, not only the first: a worker whose report
    /// falls short in any way is killed unused, and the call is answered 503 (the path of
    /// on-demand workers; replacements and warm-up go through the same `spawn_checked`).
    /// Under `auto` the same worker is used.
    #[tokio::test]
    async fn a_worker_short_of_required_is_killed_and_never_used() {
        type Weaken = fn(&mut SandboxLayers);
        let shortfalls: [(&str, Weaken); 6] = [
            ("seccomp", |h| h.seccomp = false),
            ("no_new_privs", |h| h.no_new_privs = false),
            ("landlock", |h| {
                h.landlock = "enforced for the kernel's ABI 2 (below 6)".into();
                h.landlock_complete = false;
            }),
            ("limits", |h| h.limits = false),
            ("pdeathsig", |h| h.parent_death_signal = false),
            ("fds", |h| h.inherited_fds = vec![7]),
        ];
        for (what, weaken) in shortfalls {
            let dir = temp_dir(what);
            let mut report = complete();
            weaken(&mut report);
            let exe = fake_worker(dir.path(), &report);

            let required = pool(exe.clone(), Mode::Required);
            assert!(
                matches!(
                    required.spawn_checked(SPEC.key).await,
                    Err(SpawnError::Hardening)
                ),
                "{what}: a worker short of `required` was accepted"
            );
            let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
            assert!(
                !Path::new(&format!("/proc/{}", pid.trim())).exists(),
                "{what}: the rejected worker {pid} is still running"
            );
            assert!(required.shortfall_logged.load(Ordering::SeqCst));
            let error = run(&required, &SPEC, ConfinedRequest::default())
                .await
                .unwrap_err();
            assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
            assert!(required.take_idle(SPEC.key).is_none());

            let auto = pool(exe, Mode::Auto);
            let worker = auto.spawn_checked(SPEC.key).await;
            assert!(worker.is_ok(), "{what}: `auto` uses the worker");
            if let Ok(worker) = worker {
                worker.kill().await;
            }
        }

        // The control: a complete report is accepted under `required`.
        let dir = temp_dir("complete");
        let required = pool(fake_worker(dir.path(), &complete()), Mode::Required);
        let worker = required.spawn_checked(SPEC.key).await;
        assert!(worker.is_ok());
        if let Ok(worker) = worker {
            worker.kill().await;
        }
        assert!(!required.shortfall_logged.load(Ordering::SeqCst));
    }
}

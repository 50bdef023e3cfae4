//! Prometheus metrics (feature `metrics`), recorded with the `metrics` facade and rendered by
//! `metrics-exporter-prometheus`, named after OpenTelemetry's HTTP semantic conventions in
//! their Prometheus form.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `http_server_request_duration_seconds` | histogram (OpenTelemetry's buckets, 5 ms to 10 s) | `http_request_method`, `http_route` (the endpoint's template, `/users/{id}`; an unknown path is `unmatched`, never the raw path), `http_response_status_code` |
//! | `http_server_active_requests` | gauge | |
//! | `endpoint_connections_open` | gauge | |
//! | `endpoint_connections_shed_total` | counter | |
//! | `endpoint_rate_limited_total` | counter | `http_route` |
//! | `endpoint_rate_limit_store_errors_total` | counter: rate-limit steps the shared store (Redis) did not answer | |
//! | `endpoint_events_emitted_total`, `endpoint_events_delivered_total`, `endpoint_events_failed_total` | counters: events emitted, deliveries to a hook or subscriber that succeeded, deliveries that failed | |
//! | `endpoint_db_pool_connections`, `endpoint_db_pool_idle` | gauges, read at each scrape | |
//! | `endpoint_db_pool_wait_seconds` | gauge: how long a connection took to acquire at the scrape (at most 1 s: 1 when none came) | |
//! | `endpoint_confined_workers`, `endpoint_confined_busy` | gauges: confined workers alive, confined calls running | |
//! | `endpoint_confined_restarts_total` | counter: workers replaced (after their call budget, a crash, a panic) | |
//!
//! Exposed on `ENDPOINT_METRICS_ADDR` (a listener of its own, the usual practice:
//! `127.0.0.1:9464`, `GET /metrics`) and/or at `ENDPOINT_METRICS_PATH` on the server's port,
//! where it is readable by admins only (a scraper with an admin static token). With neither,
//! nothing is recorded: the facade has no recorder and each call is a no-op.

use std::sync::OnceLock;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The request-duration histogram.
pub(crate) const REQUEST_DURATION: &str = "http_server_request_duration_seconds";
/// Requests being handled.
pub(crate) const ACTIVE_REQUESTS: &str = "http_server_active_requests";
// Recorded where they happen, by name (`serve`, `policy`, `events`): the modules that
// record them need not depend on this one.
const CONNECTIONS_OPEN: &str = "endpoint_connections_open";
const CONNECTIONS_SHED: &str = "endpoint_connections_shed_total";
const RATE_LIMITED: &str = "endpoint_rate_limited_total";

/// OpenTelemetry's advised buckets for `http.server.request.duration`, in seconds.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls reuse it) and keeps its histograms
/// drained every 5 s. `None` when another recorder was installed first (logged).
pub(crate) fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = match PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), BUCKETS)
            {
                Ok(builder) => builder,
                Err(error) => {
                    tracing::error!(%error, "metrics: the histogram buckets were refused");
                    return None;
                }
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if let Err(error) = metrics::set_global_recorder(recorder) {
                tracing::error!(%error, "metrics: another metrics recorder is installed; none exported");
                return None;
            }
            describe();
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok()?;
            Some(handle)
        })
        .clone()
}

fn describe() {
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Duration of HTTP server requests, until the response head is ready"
    );
    metrics::describe_gauge!(ACTIVE_REQUESTS, "HTTP server requests being handled");
    metrics::describe_gauge!(CONNECTIONS_OPEN, "Connections open");
    metrics::describe_counter!(
        CONNECTIONS_SHED,
        "Connections closed or refused to stay under ENDPOINT_MAX_CONNECTIONS"
    );
    metrics::describe_counter!(RATE_LIMITED, "Requests answered 429 by a rate limit");
    metrics::describe_counter!(
        "endpoint_rate_limit_store_errors_total",
        "Rate-limit steps the shared store (Redis) did not answer in time"
    );
    metrics::describe_counter!("endpoint_events_emitted_total", "Events emitted");
    metrics::describe_counter!(
        "endpoint_events_delivered_total",
        "Deliveries of an event to a hook or subscriber that succeeded"
    );
    metrics::describe_counter!(
        "endpoint_events_failed_total",
        "Deliveries of an event to a hook or subscriber that failed"
    );
    metrics::describe_gauge!(
        "endpoint_db_pool_wait_seconds",
        metrics::Unit::Seconds,
        "How long acquiring a database connection took at the last scrape (at most 1 s)"
    );
}

/// How long a scrape waits for a database connection before it reports the pool as full.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const POOL_PROBE: Duration = Duration::from_secs(1);

/// The one scrape probing the pool, while it lives (dropped with a scrape cut short too).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
struct Probing;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
static PROBING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Probing {
    /// The right to probe, unless another scrape holds it.
    fn start() -> Option<Probing> {
        (!PROBING.swap(true, std::sync::atomic::Ordering::Acquire)).then_some(Probing)
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Drop for Probing {
    fn drop(&mut self) {
        PROBING.store(false, std::sync::atomic::Ordering::Release);
    }
}

/// The exposition of `handle`, with the database pool's gauges read now: its size, its idle
/// connections, and the wait for one (a connection acquired and given back at once, the wait a
/// request starting now would have, its connect or ping included; [`POOL_PROBE`] when none came
/// within it). One scrape probes at a time: others keep the last wait, so a burst of scrapes
/// does not queue against requests. A database error leaves it too (`/readyz` reports those).
pub(crate) async fn render(handle: &PrometheusHandle, shared: &crate::context::Shared) -> Response {
    #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
    let _ = shared;
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    if let Some(database) = &shared.database {
        let (size, idle) = crate::with_pool!(database, |pool| (pool.size(), pool.num_idle()));
        metrics::gauge!("endpoint_db_pool_connections").set(f64::from(size));
        metrics::gauge!("endpoint_db_pool_idle").set(idle as f64);
        if let Some(_probing) = Probing::start() {
            let started = std::time::Instant::now();
            let acquired = crate::with_pool!(database, |pool| tokio::time::timeout(
                POOL_PROBE,
                pool.acquire()
            )
            .await
            .map(|connection| connection.is_ok()));
            match acquired {
                Ok(true) => metrics::gauge!("endpoint_db_pool_wait_seconds")
                    .set(started.elapsed().as_secs_f64()),
                Err(_) => {
                    metrics::gauge!("endpoint_db_pool_wait_seconds").set(POOL_PROBE.as_secs_f64());
                }
                Ok(false) => {}
            }
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// What the metrics listener serves (`ENDPOINT_METRICS_ADDR`).
pub(crate) struct Exposition {
    pub(crate) handle: PrometheusHandle,
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) shared: std::sync::Arc<crate::context::Shared>,
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Exposition {
    /// Serves `GET /metrics` on its address until the returned guard is dropped (when the
    /// server stops).
    ///
    /// # Errors
    ///
    /// - [`Error::Bind`](crate::Error::Bind) when the address cannot be bound.
    pub(crate) async fn listen(self) -> Result<Listening, crate::Error> {
        let Exposition {
            handle,
            addr,
            shared,
        } = self;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| crate::Error::Bind { addr, source })?;
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let (handle, shared) = (handle.clone(), std::sync::Arc::clone(&shared));
                async move { render(&handle, &shared).await }
            }),
        );
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
        Ok(Listening(task.abort_handle()))
    }
}

/// The metrics listener, stopped on drop.
pub(crate) struct Listening(tokio::task::AbortHandle);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The request-duration histogram's handles this thread has used, by route, then method and
/// status: the label sets are bounded (route templates, standard methods, status codes), and a
/// handle found here costs a hash of the route and a short scan, where the recorder's lookup
/// (building the key, hashing its labels, its registry's map) cost about 1,850 instructions per
/// request (`python3 bench/run.py policy --instructions`, 2026-12-02). Per thread, so no lock.
type Durations = std::collections::HashMap<
    std::borrow::Cow<'static, str>,
    Vec<(&'static str, u16, metrics::Histogram)>,
    foldhash::fast::RandomState,
>;

thread_local! {
    static DURATIONS: std::cell::RefCell<Durations> = std::cell::RefCell::default();
}

/// One finished request. A method outside HTTP's standard ones is `_OTHER`, as
/// OpenTelemetry's conventions say, so a client cannot grow the label set. The labels are
/// `'static` strings (the endpoint's path is made once), so recording allocates nothing.
pub(crate) fn request(
    method: &axum::http::Method,
    route: std::borrow::Cow<'static, str>,
    status: u16,
    seconds: f64,
) {
    let method = crate::registry::method_label(method);
    DURATIONS.with_borrow_mut(|durations| {
        let handles = match durations.get_mut(route.as_ref()) {
            Some(handles) => handles,
            None => durations.entry(route.clone()).or_default(),
        };
        let at = match handles
            .iter()
            .position(|(m, s, _)| *s == status && *m == method)
        {
            Some(at) => at,
            None => {
                let histogram = metrics::histogram!(
                    REQUEST_DURATION,
                    "http_request_method" => method,
                    "http_route" => route,
                    "http_response_status_code" => status_label(status),
                );
                handles.push((method, status, histogram));
                handles.len() - 1
            }
        };
        handles[at].2.record(seconds);
    });
}

/// `"200"` for 200: the status codes' labels, made once.
fn status_label(status: u16) -> &'static str {
    static LABELS: OnceLock<Vec<String>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| (0..1000).map(|code| code.to_string()).collect());
    labels
        .get(usize::from(status))
        .map_or("other", String::as_str)
}

/// The active-requests gauge, looked up once (the recorder is installed once).
pub(crate) fn active_requests() -> &'static metrics::Gauge {
    static GAUGE: OnceLock<metrics::Gauge> = OnceLock::new();
    GAUGE.get_or_init(|| metrics::gauge!(ACTIVE_REQUESTS))
}

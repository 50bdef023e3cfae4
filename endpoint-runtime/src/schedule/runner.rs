//! The scheduler: a loop per job that waits for the job's next tick, claims it and runs it;
//! and a run by hand (`run-job`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::FutureExt as _;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::Schedule;
use super::claim::{Claim, Claims};
use crate::auth::Accountability;
use crate::context::{Context, Shared};
use crate::error::Error;

/// How long a claim holds without renewal: a run whose instance dies blocks its job this long
/// at most.
const LEASE: Duration = Duration::from_secs(30);

/// How often a running job renews its claim.
const RENEW: Duration = Duration::from_secs(10);

/// How long the jobs stopped at the end of the shutdown grace have to release their claims.
const AFTER_HARD_STOP: Duration = Duration::from_secs(5);

/// The jobs of a serving instance, ready to start.
pub(crate) struct Scheduler {
    shared: Arc<Shared>,
    claims: Arc<Claims>,
    jobs: Vec<(&'static Schedule, croner::Cron)>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.jobs.iter().map(|(job, _)| job.name()).collect();
        f.debug_struct("Scheduler").field("jobs", &names).finish()
    }
}

impl Scheduler {
    /// The scheduler of the linked-in jobs, with their claims opened; `None` without jobs or
    /// with `ENDPOINT_SCHEDULES=off`.
    ///
    /// # Errors
    ///
    /// - [`Error::Schedule`] when two jobs share a name.
    /// - [`Error::Database`] when the jobs' table cannot be created.
    pub(crate) async fn prepare(shared: &Arc<Shared>) -> Result<Option<Scheduler>, Error> {
        let all = super::checked()?;
        if all.is_empty() || !shared.config.schedules {
            return Ok(None);
        }
        let jobs = all
            .into_iter()
            .map(|job| job.pattern().map(|cron| (job, cron)))
            .collect::<Result<Vec<_>, _>>()?;
        let claims = Claims::open(shared).await?;
        if claims.local() && shared.config.redis.is_some() {
            tracing::warn!(
                "scheduled jobs run on every instance: they are claimed once per tick in the \
                 application's database, and it has none (ENDPOINT_REDIS_URL is set, so there \
                 may be several instances)"
            );
        }
        Ok(Some(Scheduler {
            shared: Arc::clone(shared),
            claims: Arc::new(claims),
            jobs,
        }))
    }

    /// The token whose cancellation stops the ticks: the server's drain.
    pub(crate) fn stopping(&self) -> CancellationToken {
        self.shared.stopping.clone()
    }

    /// Runs the jobs on their ticks until the server drains, then lets the running ones
    /// finish for up to `grace`; the ones still running then are stopped.
    pub(crate) async fn run(self, grace: Duration) {
        let hard_stop = CancellationToken::new();
        let runs = tokio_util::task::TaskTracker::new();
        let loops = self
            .jobs
            .iter()
            .map(|(job, cron)| self.ticks(job, cron, &runs, &hard_stop));
        futures_util::future::join_all(loops).await;
        runs.close();
        if tokio::time::timeout(grace, runs.wait()).await.is_err() {
            tracing::warn!(
                running = runs.len(),
                "scheduled jobs still running at the end of the shutdown grace are stopped"
            );
            hard_stop.cancel();
            // A job stops at its next `.await`; one blocked in synchronous code does not, and
            // is left behind after this much.
            if tokio::time::timeout(AFTER_HARD_STOP, runs.wait())
                .await
                .is_err()
            {
                tracing::error!(
                    running = runs.len(),
                    "scheduled jobs did not stop at the end of the shutdown grace (blocked \
                     outside an `.await`); shutdown goes on without them"
                );
            }
        }
    }

    /// `job`'s ticks, until the server drains: each claimed, and run if this instance got it.
    async fn ticks(
        &self,
        job: &'static Schedule,
        cron: &croner::Cron,
        runs: &tokio_util::task::TaskTracker,
        hard_stop: &CancellationToken,
    ) {
        let stopping = &self.shared.stopping;
        loop {
            let now = now();
            let next = match cron.find_next_occurrence(&now, false) {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(job = job.name(), %error, "a scheduled job has no next time; it stops");
                    return;
                }
            };
            let wait = (next - now).to_std().unwrap_or_default();
            tokio::select! {
                biased;
                () = stopping.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            // The wall clock went back while this slept: wait for the tick again.
            if self::now() < next {
                continue;
            }
            let scheduled_at = next.to_rfc3339_opts(SecondsFormat::Secs, true);
            let at = millis(&self::now());
            let lease_until = lease_from(at);
            let claim = self
                .claims
                .claim(job.name(), Some(next.timestamp_millis()), at, lease_until)
                .await;
            match claim {
                // Draining started while the claim was made: the tick is not run, and the
                // claim is given back.
                Ok(Claim::Run(run)) if stopping.is_cancelled() => {
                    let _ = self.claims.finish(job.name(), &run, at, None).await;
                    return;
                }
                Ok(Claim::Run(run)) => {
                    let (shared, claims) = (Arc::clone(&self.shared), Arc::clone(&self.claims));
                    let hard_stop = hard_stop.clone();
                    runs.spawn(async move {
                        let (run, scheduled_at) = ((run, lease_until), Some(scheduled_at));
                        let _ = run_once(shared, claims, job, run, scheduled_at, hard_stop).await;
                    });
                }
                Ok(Claim::Taken) => {
                    tracing::debug!(
                        job = job.name(),
                        scheduled_at,
                        "another instance runs this tick"
                    );
                }
                Ok(Claim::Busy { on, since }) => {
                    tracing::warn!(
                        job = job.name(),
                        scheduled_at,
                        running_on = on,
                        started_at = rfc3339(since),
                        "a scheduled job's tick is skipped: its previous run is still running"
                    );
                    counted(job, "skipped");
                }
                Err(error) => {
                    tracing::warn!(
                        job = job.name(),
                        scheduled_at,
                        %error,
                        "a scheduled job's tick is skipped: it could not be claimed (a job \
                         does not run unclaimed)"
                    );
                    counted(job, "unclaimed");
                }
            }
        }
    }
}

/// `run-job NAME`: runs the job named `name` now, as [`App::run_job`](crate::App::run_job)
/// describes.
///
/// # Errors
///
/// [`Error::Schedule`] when no job has that name, the job is running elsewhere, it cannot be
/// claimed, or it fails; [`Error::Database`] as for the scheduler.
pub(crate) async fn run_by_hand(shared: &Arc<Shared>, name: &str) -> Result<(), Error> {
    let all = super::checked()?;
    let Some(job) = all.iter().copied().find(|job| job.name() == name) else {
        let names: Vec<&str> = all.iter().map(|job| job.name()).collect();
        return Err(Error::Schedule(if names.is_empty() {
            format!("no job named `{name}`: this binary has no `#[schedule]` job")
        } else {
            format!("no job named `{name}` (the jobs: {})", names.join(", "))
        }));
    };
    let claims = Arc::new(Claims::open(shared).await?);
    let at = millis(&now());
    let lease_until = lease_from(at);
    match claims.claim(name, None, at, lease_until).await {
        Ok(Claim::Run(run)) => run_once(
            Arc::clone(shared),
            claims,
            job,
            (run, lease_until),
            None,
            CancellationToken::new(),
        )
        .await
        .map_err(|error| Error::Schedule(format!("`{name}` failed: {error}"))),
        Ok(Claim::Busy { on, since }) => Err(Error::Schedule(format!(
            "`{name}` is running on {on} since {}: not run again",
            rfc3339(since)
        ))),
        Ok(Claim::Taken) => Err(Error::Schedule(format!(
            "`{name}` was running on another instance until just now: not run again"
        ))),
        Err(error) => Err(Error::Schedule(format!(
            "`{name}` could not be claimed (a job does not run unclaimed): {error}"
        ))),
    }
}

/// Runs `job` once under claim `run` (its id, and the end of the lease its claim took) as
/// [`Accountability::system`], renewing the claim while it runs and releasing it after; an
/// error or panic is logged and returned. Dropped at `hard_stop`, or when the claim is lost.
async fn run_once(
    shared: Arc<Shared>,
    claims: Arc<Claims>,
    job: &'static Schedule,
    (run, held_until): (String, i64),
    scheduled_at: Option<String>,
    hard_stop: CancellationToken,
) -> Result<(), String> {
    let name = job.name();
    let who = Accountability::system(name, scheduled_at.as_deref());
    let context = Context::new(shared, who, None);
    let span = tracing::info_span!("job", job = name);
    async move {
        tracing::info!(scheduled_at, "scheduled job started");
        let started = Instant::now();
        let body = std::panic::AssertUnwindSafe((job.spec.run)(context)).catch_unwind();
        // Polled beside the job, so a slow renewal never holds the job up.
        let claim_lost = renewing(&claims, name, &run, held_until);
        let outcome = tokio::select! {
            ended = body => match ended {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err("the job panicked".to_string()),
            },
            () = hard_stop.cancelled() => {
                Err("stopped at shutdown: still running at the end of the grace".into())
            }
            reason = claim_lost => Err(reason),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let error = outcome.as_ref().err().map(String::as_str);
        if let Err(reason) = claims.finish(name, &run, millis(&now()), error).await {
            tracing::warn!(error = %reason, "a scheduled job's claim could not be released; it expires by itself");
        }
        match &outcome {
            Ok(()) => {
                tracing::info!(elapsed_ms, "scheduled job finished");
                counted(job, "ok");
            }
            Err(error) => {
                tracing::error!(elapsed_ms, %error, "scheduled job failed");
                counted(job, "error");
            }
        }
        outcome
    }
    .instrument(span)
    .await
}

/// Renews run `run` of `job` every [`RENEW`] while it runs, its claim first held until
/// `held_until`; ends, with the reason, when the claim is lost: another run holds it, or it
/// could not be renewed before its lease ran out (another instance may have taken it). The run
/// is then stopped, so that two runs of a job never overlap.
async fn renewing(claims: &Claims, job: &str, run: &str, mut held_until: i64) -> String {
    let mut renew = tokio::time::interval_at((Instant::now() + RENEW).into(), RENEW);
    loop {
        renew.tick().await;
        let at = millis(&now());
        match claims.renew(job, run, lease_from(at)).await {
            Ok(true) => held_until = lease_from(at),
            Ok(false) => {
                return "stopped: its claim was taken by another run (the lease ran out)".into();
            }
            // The next renewal would come after the lease ends: stop while it still holds.
            Err(error) if millis(&now()).saturating_add(RENEW.as_millis() as i64) >= held_until => {
                return format!(
                    "stopped: its claim could not be renewed before it ran out: {error}"
                );
            }
            Err(error) => {
                tracing::warn!(%error, "a scheduled job's claim could not be renewed; retried in 10 s");
            }
        }
    }
}

/// Counts a tick of `job` in `endpoint_schedule_runs_total{job, outcome}`.
fn counted(job: &Schedule, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("endpoint_schedule_runs_total", "job" => job.name(), "outcome" => outcome)
        .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (job, outcome);
}

/// The wall clock, in UTC.
fn now() -> DateTime<Utc> {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    DateTime::from_timestamp_micros(since.as_micros() as i64).unwrap_or_default()
}

fn millis(time: &DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// The end of a lease taken at `at`.
fn lease_from(at: i64) -> i64 {
    at.saturating_add(LEASE.as_millis() as i64)
}

/// Unix milliseconds as RFC 3339.
fn rfc3339(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

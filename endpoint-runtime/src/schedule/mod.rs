//! Scheduled jobs: `#[schedule(cron = "*/15 * * * *")]` on an `async fn(ctx: Context)`, the
//! Directus and CairnCMS hooks' `schedule('*/15 * * * *', …)` (feature `schedule`).
//!
//! # When a job runs
//!
//! - **On its cron pattern, in UTC**, read by [`croner`](https://docs.rs/croner): five fields
//!   (`minute hour day-of-month month day-of-week`), six with a seconds field first, or an
//!   alias such as `@hourly`. The macro checks the pattern at compile time, at its token.
//! - **While the server serves**: [`Server::serve_until`](crate::Server::serve_until) (and so
//!   [`run()`](crate::run)) starts the jobs; a test client, `build`, `routes` and the other
//!   commands do not. Ticks that pass while no instance serves are not caught up.
//!   `ENDPOINT_SCHEDULES=off` keeps an instance from running any (a web tier beside worker
//!   instances).
//! - **As the caller [`Accountability::system`](crate::Accountability::system)**: user and role `system`, not an admin; its
//!   claims name the job and the tick (`scheduled_at`). Lines the job logs carry its name
//!   (the span `job`).
//! - **Once per tick across the instances that share a database.** With a database (SQLite or
//!   PostgreSQL, feature `sqlite` / `postgres`), each tick is claimed in the table
//!   `endpoint_schedules` (one row per job) by one upsert, `INSERT … ON CONFLICT (name) DO
//!   UPDATE … WHERE last_tick < $tick`: the instance whose statement moves `last_tick` runs
//!   it, the others see it taken (a row lock on PostgreSQL, the write lock on SQLite). A
//!   deleted row is written again by the next claim (the tick being claimed at that moment
//!   may run twice). Ticks and leases are the instances' wall-clock times: keep their clocks
//!   in sync (NTP); a skew of 30 s or more between two instances lets one take a job the
//!   other still runs. Without a database every instance runs every
//!   tick: one instance only (a warning at start-up says so when `ENDPOINT_REDIS_URL` suggests
//!   several).
//! - **Never twice at once.** A tick that comes while the job's previous run is still going
//!   (on any instance) is skipped, logged at `warn` naming where it runs, and counted in
//!   `endpoint_schedule_runs_total{outcome="skipped"}` (feature `metrics`). A claim is a
//!   lease of 30 s that the running instance renews every 10 s, beside the job (a slow
//!   database never holds the job up): an instance that dies frees its job after 30 s at
//!   most. A run whose claim is lost (renewals failing for 20 s, or its lease taken over) is
//!   stopped at its next `.await` and fails, so that two runs never overlap. A tick that
//!   cannot be claimed (the database is unreachable) is not run: logged at `warn`, counted
//!   with `outcome="unclaimed"`.
//! - **A failure is logged, not retried**: the next tick is the next attempt. An error or a
//!   panic is logged at `error` and kept in the row's `last_error`; every run's end is
//!   counted with `outcome="ok"` or `"error"`.
//! - **At shutdown** no new tick starts once the server drains; running jobs get
//!   [`Config::shutdown_grace`](crate::Config::shutdown_grace) to finish, then are stopped at
//!   their next `.await` and release their claims (a job blocked outside an `.await` is
//!   left behind after 5 s more, logged at `error`).
//! - **By hand**: `app run-job NAME` runs one job now, with the same claim (with a database,
//!   it refuses while the job runs on any instance; without one it cannot see the server's
//!   runs) and exits non-zero if the job fails; [`App::run_job`](crate::App::run_job)
//!   does the same from code.
//!
//! The route table (`app routes`, and at start-up) lists each job with its pattern, name and
//! `file:line`.

mod claim;
mod runner;

pub(crate) use runner::{Scheduler, run_by_hand};

use crate::context::Context;
use crate::events::HookFuture;

/// What the macro writes for a `#[schedule]`. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct ScheduleSpec {
    pub name: &'static str,
    pub cron: &'static str,
    pub handler: &'static str,
    pub module_path: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub run: fn(Context) -> HookFuture,
}

/// One registered `#[schedule]` job.
#[derive(Debug)]
pub struct Schedule {
    spec: ScheduleSpec,
}

impl Schedule {
    #[doc(hidden)]
    pub const fn __new(spec: ScheduleSpec) -> Self {
        Schedule { spec }
    }

    /// Its name: `name = "…"` of the attribute, else the function's name. What `run-job`
    /// takes and what the log lines and metrics call it.
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// Its cron pattern, as written.
    pub fn cron(&self) -> &'static str {
        self.spec.cron
    }

    /// `module::function`, without the crate's name.
    pub fn handler(&self) -> String {
        match self.spec.module_path.split_once("::") {
            Some((_, module)) => format!("{module}::{}", self.spec.handler),
            None => self.spec.handler.to_string(),
        }
    }

    /// `file:line` of the function.
    pub fn location(&self) -> String {
        format!("{}:{}", self.spec.file, self.spec.line)
    }

    /// The pattern, parsed as the macro checked it.
    pub(crate) fn pattern(&self) -> Result<croner::Cron, crate::Error> {
        croner::parser::CronParser::new()
            .parse(self.spec.cron)
            .map_err(|error| {
                crate::Error::Schedule(format!(
                    "`{}` at {}: invalid cron pattern `{}`: {error}",
                    self.name(),
                    self.location(),
                    self.cron()
                ))
            })
    }
}

inventory::collect!(Schedule);

/// Every `#[schedule]` job linked into the binary, sorted by name, then `file:line`.
pub fn schedules() -> Vec<&'static Schedule> {
    let mut all: Vec<&'static Schedule> = inventory::iter::<Schedule>.into_iter().collect();
    all.sort_by_key(|s| (s.spec.name, s.spec.file, s.spec.line));
    all
}

/// The jobs, refused when two share a name (`run-job` and the claims name them).
///
/// # Errors
///
/// [`Error::Schedule`](crate::Error::Schedule) naming both jobs' `file:line`.
pub(crate) fn checked() -> Result<Vec<&'static Schedule>, crate::Error> {
    let all = schedules();
    for pair in all.windows(2) {
        if pair[0].name() == pair[1].name() {
            return Err(crate::Error::Schedule(format!(
                "two jobs are named `{}`: {} and {}; give one another `name = \"…\"`",
                pair[0].name(),
                pair[0].location(),
                pair[1].location()
            )));
        }
    }
    Ok(all)
}

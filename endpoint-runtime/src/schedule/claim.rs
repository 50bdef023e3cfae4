//! Who runs a tick: the table `endpoint_schedules` that the instances on one database share,
//! or, without a database, this process alone.

use std::collections::HashMap;
use std::sync::Mutex;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::database::RuntimeTables;

/// What a claim came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// This instance runs it; the run's id.
    Run(String),
    /// Another instance claimed this tick (by hand: a run of the job ended just now).
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    Taken,
    /// The job's previous run still holds it: where, and since when (Unix milliseconds).
    Busy { on: String, since: i64 },
}

/// The jobs' table: one row per job; a running job's row holds its run id, instance and
/// lease. Times are Unix milliseconds.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) const TABLES: RuntimeTables = RuntimeTables {
    purpose: "scheduled jobs (`endpoint_schedules`)",
    last: "endpoint_schedules",
    sqlite: &[TABLE],
    postgres: &[TABLE],
};

/// The same text on both backends (`BIGINT` is an integer on SQLite).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const TABLE: &str = "CREATE TABLE IF NOT EXISTS endpoint_schedules (
    name TEXT PRIMARY KEY,
    last_tick BIGINT NOT NULL,
    run_id TEXT,
    running_on TEXT,
    started_at BIGINT,
    lease_until BIGINT,
    finished_at BIGINT,
    last_error TEXT
)";

/// Claims tick `$2` of job `$1` at `$3`: the statement that moves `last_tick` owns the tick,
/// and runs it (run `$4` on `$5`, leased until `$6`) unless a run holds an unexpired lease.
/// The `CASE`s read the row as it was. No row back: another instance took the tick. An upsert,
/// so that a job's first tick, or a tick after its row was deleted, writes the row.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const CLAIM_TICK: &str = "INSERT INTO endpoint_schedules AS job
    (name, last_tick, run_id, running_on, started_at, lease_until)
    VALUES ($1, $2, $4, $5, $3, $6)
    ON CONFLICT (name) DO UPDATE SET last_tick = excluded.last_tick,
    run_id = CASE WHEN job.run_id IS NULL OR job.lease_until < $3
        THEN excluded.run_id ELSE job.run_id END,
    running_on = CASE WHEN job.run_id IS NULL OR job.lease_until < $3
        THEN excluded.running_on ELSE job.running_on END,
    started_at = CASE WHEN job.run_id IS NULL OR job.lease_until < $3
        THEN excluded.started_at ELSE job.started_at END,
    lease_until = CASE WHEN job.run_id IS NULL OR job.lease_until < $3
        THEN excluded.lease_until ELSE job.lease_until END
    WHERE job.last_tick < excluded.last_tick
    RETURNING run_id, running_on, started_at";

/// Claims job `$1` now (`$2`), by hand: run `$3` on `$4`, leased until `$5`, unless a run
/// holds an unexpired lease. No row back: a run holds it.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const CLAIM_NOW: &str = "INSERT INTO endpoint_schedules AS job
    (name, last_tick, run_id, running_on, started_at, lease_until)
    VALUES ($1, 0, $3, $4, $2, $5)
    ON CONFLICT (name) DO UPDATE SET run_id = excluded.run_id,
    running_on = excluded.running_on, started_at = excluded.started_at,
    lease_until = excluded.lease_until
    WHERE job.run_id IS NULL OR job.lease_until < excluded.started_at
    RETURNING run_id, running_on, started_at";

/// Who holds job `$1`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const HOLDER: &str =
    "SELECT run_id, running_on, started_at FROM endpoint_schedules WHERE name = $1";

/// Run `$2` of job `$1`, still ours, leased until `$3`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const RENEW: &str =
    "UPDATE endpoint_schedules SET lease_until = $3 WHERE name = $1 AND run_id = $2";

/// Run `$2` of job `$1` ended at `$3`, with error `$4` or none.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const FINISH: &str = "UPDATE endpoint_schedules
    SET run_id = NULL, running_on = NULL, lease_until = NULL, finished_at = $3, last_error = $4
    WHERE name = $1 AND run_id = $2";

/// A claim's row as returned: run id, instance, start.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
type Holder = (Option<String>, Option<String>, Option<i64>);

/// Where the claims are kept.
pub(crate) struct Claims {
    backend: Backend,
    /// This instance, as a row names it: `host pid N`.
    instance: String,
}

enum Backend {
    /// No database: the runs of this process, by job.
    Local(Mutex<HashMap<String, (String, i64)>>),
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    Database(crate::Database),
}

impl Claims {
    /// The claims: in the application's database (the table created; a job's row is written
    /// at its first claim), else in this process.
    ///
    /// # Errors
    ///
    /// [`Error::Database`](crate::Error::Database) when the table cannot be created.
    pub(crate) async fn open(shared: &crate::context::Shared) -> Result<Claims, crate::Error> {
        let instance = format!("{} pid {}", hostname(), std::process::id());
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        if let Some(database) = &shared.database {
            database.ensure_tables(&TABLES).await?;
            return Ok(Claims {
                backend: Backend::Database(database.clone()),
                instance,
            });
        }
        let _ = shared;
        Ok(Claims {
            backend: Backend::Local(Mutex::default()),
            instance,
        })
    }

    /// Whether the claims are this process's only (no database).
    pub(crate) fn local(&self) -> bool {
        matches!(self.backend, Backend::Local(_))
    }

    /// Claims `job`'s `tick` (Unix milliseconds), or the job now (`None`, by hand), at `now`,
    /// with a lease until `lease_until`.
    ///
    /// # Errors
    ///
    /// The database's reason.
    pub(crate) async fn claim(
        &self,
        job: &str,
        tick: Option<i64>,
        now: i64,
        lease_until: i64,
    ) -> Result<Claim, String> {
        let run = uuid::Uuid::new_v4().to_string();
        match &self.backend {
            Backend::Local(running) => {
                // One process: every tick is its own, and a lease cannot outlive it.
                let _ = (tick, lease_until);
                let mut running = running.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((_, since)) = running.get(job) {
                    return Ok(Claim::Busy {
                        on: self.instance.clone(),
                        since: *since,
                    });
                }
                running.insert(job.to_string(), (run.clone(), now));
                Ok(Claim::Run(run))
            }
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Backend::Database(database) => {
                let claimed: Option<Holder> = crate::with_pool!(database, |pool| {
                    match tick {
                        Some(tick) => {
                            sqlx::query_as(CLAIM_TICK)
                                .bind(job)
                                .bind(tick)
                                .bind(now)
                                .bind(&run)
                                .bind(&self.instance)
                                .bind(lease_until)
                                .fetch_optional(pool)
                                .await
                        }
                        None => {
                            sqlx::query_as(CLAIM_NOW)
                                .bind(job)
                                .bind(now)
                                .bind(&run)
                                .bind(&self.instance)
                                .bind(lease_until)
                                .fetch_optional(pool)
                                .await
                        }
                    }
                })
                .map_err(|e| e.to_string())?;
                let holder = match (claimed, tick) {
                    (Some(holder), _) => holder,
                    (None, Some(_)) => return Ok(Claim::Taken),
                    (None, None) => crate::with_pool!(database, |pool| {
                        sqlx::query_as(HOLDER).bind(job).fetch_one(pool).await
                    })
                    .map_err(|e| e.to_string())?,
                };
                Ok(match holder {
                    (Some(id), ..) if id == run => Claim::Run(run),
                    (Some(_), Some(on), Some(since)) => Claim::Busy { on, since },
                    // By hand: the run that held the job ended between the claim and the read.
                    _ => Claim::Taken,
                })
            }
        }
    }

    /// Extends run `run` of `job` to `lease_until`; `false` when it is no longer this run's
    /// (its lease ran out and another instance claimed the job).
    ///
    /// # Errors
    ///
    /// The database's reason.
    pub(crate) async fn renew(
        &self,
        job: &str,
        run: &str,
        lease_until: i64,
    ) -> Result<bool, String> {
        match &self.backend {
            Backend::Local(_) => {
                let _ = (job, run, lease_until);
                Ok(true)
            }
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Backend::Database(database) => crate::with_pool!(database, |pool| {
                sqlx::query(RENEW)
                    .bind(job)
                    .bind(run)
                    .bind(lease_until)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected() == 1)
            })
            .map_err(|e| e.to_string()),
        }
    }

    /// Ends run `run` of `job` at `now`, keeping `error` (or clearing the last one).
    ///
    /// # Errors
    ///
    /// The database's reason.
    pub(crate) async fn finish(
        &self,
        job: &str,
        run: &str,
        now: i64,
        error: Option<&str>,
    ) -> Result<(), String> {
        match &self.backend {
            Backend::Local(running) => {
                let mut running = running.lock().unwrap_or_else(|e| e.into_inner());
                if running.get(job).is_some_and(|(id, _)| id == run) {
                    running.remove(job);
                }
                let _ = (now, error);
                Ok(())
            }
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Backend::Database(database) => crate::with_pool!(database, |pool| {
                sqlx::query(FINISH)
                    .bind(job)
                    .bind(run)
                    .bind(now)
                    .bind(error)
                    .execute(pool)
                    .await
                    .map(|_| ())
            })
            .map_err(|e| e.to_string()),
        }
    }
}

/// This machine's name (`/proc/sys/kernel/hostname`), or `localhost`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The claim statements, step by step with explicit times (Unix milliseconds), on an
    /// SQLite file and, when `ENDPOINT_TEST_POSTGRES_URL` is set, on PostgreSQL: a tick is
    /// claimed once; a later tick finds the job busy while the lease holds and takes it over
    /// once it ran out; the run that lost it can neither renew nor release it.
    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_tick_is_claimed_once_and_a_lease_holds_until_it_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}", dir.path().join("jobs.db").display());
        #[cfg(feature = "postgres")]
        let postgres = std::env::var("ENDPOINT_TEST_POSTGRES_URL").ok();
        #[cfg(not(feature = "postgres"))]
        let postgres = None;
        for url in std::iter::once(sqlite).chain(postgres) {
            let database = crate::Database::connect(&url, std::time::Duration::from_secs(10))
                .await
                .unwrap();
            database.ensure_tables(&TABLES).await.unwrap();
            let claims = |instance: &str| Claims {
                backend: Backend::Database(database.clone()),
                instance: instance.into(),
            };
            let (a, b) = (claims("a"), claims("b"));
            // A name of its own: the PostgreSQL table may be shared with other runs.
            let job = format!("job-{}", uuid::Uuid::new_v4().simple());
            let job = job.as_str();

            let Ok(Claim::Run(first)) = a.claim(job, Some(1_000), 1_000, 31_000).await else {
                panic!("{url}: the first claim of a tick runs it");
            };
            assert_eq!(
                b.claim(job, Some(1_000), 1_005, 31_005).await,
                Ok(Claim::Taken),
                "{url}: the same tick again"
            );
            assert_eq!(
                b.claim(job, Some(2_000), 2_000, 32_000).await,
                Ok(Claim::Busy {
                    on: "a".into(),
                    since: 1_000
                }),
                "{url}: a later tick while the lease holds"
            );
            assert_eq!(
                b.claim(job, None, 2_500, 32_500).await,
                Ok(Claim::Busy {
                    on: "a".into(),
                    since: 1_000
                }),
                "{url}: by hand while the lease holds"
            );
            assert_eq!(a.renew(job, &first, 40_000).await, Ok(true), "{url}");
            // The lease (renewed to 40 s) has run out at 41 s: the tick takes the job over.
            let Ok(Claim::Run(second)) = b.claim(job, Some(41_000), 41_000, 71_000).await else {
                panic!("{url}: an expired lease is taken over");
            };
            assert_ne!(first, second);
            assert_eq!(
                a.renew(job, &first, 80_000).await,
                Ok(false),
                "{url}: the run that lost its claim cannot renew it"
            );
            a.finish(job, &first, 42_000, Some("late")).await.unwrap();
            assert_eq!(
                a.claim(job, Some(43_000), 43_000, 73_000).await,
                Ok(Claim::Busy {
                    on: "b".into(),
                    since: 41_000
                }),
                "{url}: the lost run's end released nothing"
            );
            b.finish(job, &second, 44_000, None).await.unwrap();
            assert!(
                matches!(a.claim(job, None, 45_000, 75_000).await, Ok(Claim::Run(_))),
                "{url}: free once its run ended"
            );
            database.close().await;
        }
    }

    fn local() -> Claims {
        Claims {
            backend: Backend::Local(Mutex::default()),
            instance: "here pid 1".into(),
        }
    }

    /// Without a database, one process runs a job once at a time: a tick while it runs finds
    /// it busy, another job is free, and only the run's own end frees it.
    #[tokio::test]
    async fn without_a_database_a_job_runs_once_at_a_time() {
        let claims = local();
        let Ok(Claim::Run(run)) = claims.claim("a", Some(1000), 1, 2).await else {
            panic!("a free job is claimed");
        };
        let busy = claims.claim("a", Some(2000), 5, 6).await;
        assert_eq!(
            busy,
            Ok(Claim::Busy {
                on: "here pid 1".into(),
                since: 1
            })
        );
        assert!(matches!(
            claims.claim("b", Some(2000), 5, 6).await,
            Ok(Claim::Run(_))
        ));
        claims.finish("a", "another run", 7, None).await.unwrap();
        assert!(matches!(
            claims.claim("a", None, 8, 9).await,
            Ok(Claim::Busy { .. })
        ));
        assert_eq!(claims.renew("a", &run, 40).await, Ok(true));
        claims.finish("a", &run, 9, None).await.unwrap();
        assert!(matches!(
            claims.claim("a", Some(3000), 10, 11).await,
            Ok(Claim::Run(_))
        ));
    }
}

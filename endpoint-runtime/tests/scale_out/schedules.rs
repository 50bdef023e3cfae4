//! Scheduled jobs with a cron of one second, on SQLite and PostgreSQL: two instances on one
//! database run each tick once, as the system caller, and go on when the jobs' rows are
//! deleted; a run that overlaps the next ticks skips them (and `run_job` refuses it
//! meanwhile); a run whose claim another run took over is stopped; a job run by hand runs
//! once, and its failure is kept.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use endpoint_runtime::prelude::*;
use endpoint_runtime::{App, DatabaseUrl, Error};
use tokio::sync::{Notify, mpsc};

use crate::support::{TestServer, start_app, test_config};
use crate::{databases, execute, rows_when};

/// One run of a job, as the job saw it.
#[derive(Debug)]
struct Run {
    instance: &'static str,
    scheduled_at: Option<String>,
    who: Accountability,
}

/// `every-second`'s probe: the application's state. Without it the job does nothing (it runs
/// in the other tests' servers too).
struct Ticks {
    instance: &'static str,
    runs: mpsc::UnboundedSender<Run>,
}

#[schedule(cron = "* * * * * *", name = "every-second")]
async fn every_second(ctx: Context) -> Result<(), EndpointError> {
    if let Ok(ticks) = ctx.state::<Ticks>() {
        let who = ctx.accountability().clone();
        let _ = ticks.runs.send(Run {
            instance: ticks.instance,
            scheduled_at: who.claims["scheduled_at"].as_str().map(str::to_string),
            who,
        });
    }
    Ok(())
}

/// `slow`'s probe: each run says it started, then waits for `release`.
struct Held {
    started: mpsc::UnboundedSender<Option<String>>,
    release: Arc<Notify>,
}

#[schedule(cron = "* * * * * *")]
async fn slow(ctx: Context) {
    if let Ok(held) = ctx.state::<Held>() {
        let scheduled_at = ctx.accountability().claims["scheduled_at"]
            .as_str()
            .map(str::to_string);
        let _ = held.started.send(scheduled_at);
        held.release.notified().await;
    }
}

/// `taken`'s probe: each run says it started, then waits forever; `ended` hears when the
/// run is dropped.
struct Forever {
    started: mpsc::UnboundedSender<()>,
    ended: mpsc::UnboundedSender<()>,
}

/// Sends on its channel when dropped.
struct OnDrop(mpsc::UnboundedSender<()>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[schedule(cron = "* * * * * *")]
async fn taken(ctx: Context) {
    if let Ok(forever) = ctx.state::<Forever>() {
        let _ended = OnDrop(forever.ended.clone());
        let _ = forever.started.send(());
        std::future::pending::<()>().await;
    }
}

/// `failing`'s probe: with it the job fails.
struct Fail;

#[schedule(cron = "@yearly", name = "failing")]
async fn failing(ctx: Context) -> Result<(), EndpointError> {
    match ctx.state::<Fail>() {
        Ok(_) => Err(EndpointError::service_unavailable(
            "the mail server is down",
        )),
        Err(_) => Ok(()),
    }
}

/// An application on the database at `url` with `state`, its jobs on when `jobs`.
fn app<T: Send + Sync + 'static>(url: &str, state: T, jobs: bool) -> App {
    let mut config = test_config();
    config.database_url = Some(DatabaseUrl(url.to_string()));
    config.schedules = jobs;
    App::new().config(config).state(state)
}

async fn serving<T: Send + Sync + 'static>(url: &str, state: T) -> TestServer {
    start_app(app(url, state, true)).await
}

async fn next<T>(receiver: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a run within 10 s")
        .expect("the job's probe is alive")
}

#[tokio::test]
async fn two_instances_run_each_tick_once_as_the_system_caller() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, url) in databases(&dir).await {
        let (sender, mut runs) = mpsc::unbounded_channel();
        let mut a = serving(
            &url,
            Ticks {
                instance: "a",
                runs: sender.clone(),
            },
        )
        .await;
        let mut b = serving(
            &url,
            Ticks {
                instance: "b",
                runs: sender,
            },
        )
        .await;
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(next(&mut runs).await);
        }
        // A deleted row is written again by the next claim: the job goes on. The tick being
        // claimed as the row goes may run twice (its claim is what was deleted), so only
        // the ticks after the delete join the count.
        execute(&url, "DELETE FROM endpoint_schedules").await;
        let deleted_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let mut after = 0;
        for _ in 0..8 {
            let run = next(&mut runs).await;
            let at = run
                .scheduled_at
                .as_deref()
                .expect("a tick's run has its time");
            if chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .timestamp_millis()
                > deleted_at
            {
                seen.push(run);
                after += 1;
                if after == 3 {
                    break;
                }
            }
        }
        assert_eq!(after, 3, "{kind}: the job stopped once its row was deleted");
        for server in [&mut a, &mut b] {
            server.stop().await.unwrap().unwrap();
        }
        let ticks: HashSet<&str> = seen
            .iter()
            .map(|run| {
                run.scheduled_at
                    .as_deref()
                    .expect("a tick's run has its time")
            })
            .collect();
        assert_eq!(
            ticks.len(),
            seen.len(),
            "{kind}: a tick ran twice: {seen:#?}"
        );
        for run in &seen {
            assert_eq!(run.who.user.as_deref(), Some("system"), "{kind}");
            assert!(run.who.has_role("system") && run.who.app, "{kind}");
            assert!(!run.who.admin, "{kind}: the system caller is no admin");
            assert_eq!(run.who.authenticator, Some("schedule"), "{kind}");
            assert_eq!(run.who.claims["job"], "every-second", "{kind}");
            assert!(["a", "b"].contains(&run.instance), "{kind}");
        }
        // Every run ended: no claim is left.
        let held = rows_when(
            &url,
            "SELECT name FROM endpoint_schedules WHERE run_id IS NOT NULL",
            |rows| rows.is_empty(),
        )
        .await;
        assert!(held.is_empty(), "{kind}: claims left behind: {held:?}");
    }
}

#[tokio::test]
async fn a_run_that_overlaps_the_next_ticks_skips_them() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, url) in databases(&dir).await {
        let (started, mut starts) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let held = || Held {
            started: started.clone(),
            release: Arc::clone(&release),
        };
        let mut server = serving(&url, held()).await;
        let first = next(&mut starts).await.expect("a tick's run has its time");
        // Two later ticks are claimed (`last_tick` moves past the run's start) while the
        // first run holds the job.
        let past = |rows: &[String]| rows.iter().any(|ms| ms.parse::<i64>().unwrap() >= 1500);
        let later = rows_when(
            &url,
            "SELECT CAST(last_tick - started_at AS TEXT) FROM endpoint_schedules WHERE name = 'slow'",
            past,
        )
        .await;
        assert!(past(&later), "{kind}: {later:?}");
        assert!(
            starts.try_recv().is_err(),
            "{kind}: a tick ran during the first run"
        );
        // By hand, refused meanwhile, naming where it runs.
        let refused = app(&url, held(), false).run_job("slow").await;
        let Err(Error::Schedule(message)) = refused else {
            panic!("{kind}: run_job ran a held job: {refused:?}");
        };
        assert!(
            message.contains("`slow` is running on"),
            "{kind}: {message}"
        );
        release.notify_one();
        let second = next(&mut starts).await.expect("a tick's run has its time");
        // The same format: the later tick sorts after.
        assert!(second > first, "{kind}: {first} then {second}");
        release.notify_one();
        server.stop().await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_run_whose_claim_is_taken_over_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, url) in databases(&dir).await {
        let (started, mut starts) = mpsc::unbounded_channel();
        let (ended, mut ends) = mpsc::unbounded_channel();
        let mut server = serving(&url, Forever { started, ended }).await;
        next(&mut starts).await;
        // Another run takes the claim over (as after a lease that ran out): the running
        // one stops at its next renewal (10 s) instead of overlapping it.
        execute(
            &url,
            "UPDATE endpoint_schedules SET run_id = 'another', running_on = 'elsewhere' \
             WHERE name = 'taken'",
        )
        .await;
        tokio::time::timeout(Duration::from_secs(15), ends.recv())
            .await
            .unwrap_or_else(|_| panic!("{kind}: the run went on after its claim was lost"));
        assert!(
            starts.try_recv().is_err(),
            "{kind}: a tick ran while another run held the claim"
        );
        server.stop().await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_job_runs_by_hand_once_and_its_failure_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, url) in databases(&dir).await {
        let (sender, mut runs) = mpsc::unbounded_channel();
        let ticks = Ticks {
            instance: "hand",
            runs: sender,
        };
        app(&url, ticks, false)
            .run_job("every-second")
            .await
            .unwrap();
        let run = next(&mut runs).await;
        assert_eq!(run.scheduled_at, None, "{kind}");
        assert_eq!(run.who.claims["job"], "every-second", "{kind}");
        assert!(runs.try_recv().is_err(), "{kind}: ran more than once");

        let failed = app(&url, Fail, false).run_job("failing").await;
        let Err(Error::Schedule(message)) = failed else {
            panic!("{kind}: {failed:?}");
        };
        assert!(
            message.contains("the mail server is down"),
            "{kind}: {message}"
        );
        let kept = rows_when(
            &url,
            "SELECT last_error FROM endpoint_schedules WHERE name = 'failing'",
            |rows| !rows.is_empty(),
        )
        .await;
        assert!(
            kept[0].contains("the mail server is down"),
            "{kind}: {kept:?}"
        );

        let unknown = app(&url, Fail, false).run_job("nope").await;
        let Err(Error::Schedule(message)) = unknown else {
            panic!("{kind}: {unknown:?}");
        };
        assert!(
            message.contains("no job named `nope`")
                && message.contains("every-second, failing, slow, taken"),
            "{kind}: {message}"
        );
    }
}

//! Durable hooks through the transactional outbox: an event emitted in a transaction is
//! delivered after commit and never after a rollback; a failing hook is retried, then
//! dead-lettered; an event committed by an instance that stopped is delivered by another; two
//! instances on PostgreSQL deliver each event once.

use std::collections::HashMap;
use std::sync::Mutex;

use endpoint_runtime::prelude::*;
use endpoint_runtime::{App, sqlx, with_pool};

use crate::support::test_config;
use crate::{Instance, databases, instance, post, rows_when};

/// Writes `things (n)` and emits `outbox.made` in one transaction; a negative `n` fails after
/// the emit, so the transaction rolls back.
#[endpoint(id = "outbox", route = "/make/{n}", method = post)]
async fn make(n: i64, ctx: Context) -> Result<&'static str, EndpointError> {
    let mut tx = ctx.transaction().await?;
    with_pool!(&mut tx, |conn| {
        sqlx::query("INSERT INTO things (n) VALUES ($1)")
            .bind(n)
            .execute(conn)
            .await
            .map(|_| ())
    })?;
    tx.emit("outbox.made", json!({ "n": n })).await?;
    if n < 0 {
        return Err(EndpointError::invalid_payload("negative"));
    }
    tx.commit().await?;
    Ok("made")
}

/// Emits `event` outside a transaction.
#[endpoint(id = "outbox", route = "/emit/{event}", method = post)]
async fn emit(event: String, ctx: Context) -> Result<&'static str, EndpointError> {
    ctx.emit(&event, json!({})).await?;
    Ok("emitted")
}

/// Records a delivery: `deliveries (event_id, hook, n, instance)`.
async fn record(event: &Event, ctx: &Context, hook: &str) -> Result<(), EndpointError> {
    let instance = ctx.state::<Instance>()?.0;
    with_pool!(ctx.database()?, |pool| {
        sqlx::query("INSERT INTO deliveries (event_id, hook, n, instance) VALUES ($1, $2, $3, $4)")
            .bind(&event.id)
            .bind(hook)
            .bind(event.payload["n"].as_i64().unwrap_or(0))
            .bind(instance)
            .execute(pool)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

#[hook(event = "outbox.made", durable)]
async fn on_made(event: Event, ctx: Context) -> Result<(), EndpointError> {
    assert_eq!(event.accountability.user, None);
    record(&event, &ctx, "made").await
}

/// Attempts per event id of `outbox.flaky`.
static FLAKY: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

/// Fails twice per event, then records it.
#[hook(event = "outbox.flaky", durable)]
async fn on_flaky(event: Event, ctx: Context) -> Result<(), EndpointError> {
    let attempt = {
        let mut attempts = FLAKY.lock().unwrap();
        let attempt = attempts
            .get_or_insert_default()
            .entry(event.id.clone())
            .or_default();
        *attempt += 1;
        *attempt
    };
    if attempt <= 2 {
        return Err(EndpointError::service_unavailable(format!(
            "flaky attempt {attempt}"
        )));
    }
    record(&event, &ctx, "flaky").await
}

/// Always fails.
#[hook(event = "outbox.doomed", durable)]
async fn on_doomed(_event: Event) -> Result<(), EndpointError> {
    Err(EndpointError::internal("doomed to fail"))
}

/// Vetoes `outbox.vetoed` in the request.
#[hook(event = "outbox.vetoed")]
async fn veto(_event: Event) -> Result<(), EndpointError> {
    Err(EndpointError::forbidden("vetoed"))
}

/// Would record `outbox.vetoed`: never runs, the in-request hook vetoes first.
#[hook(event = "outbox.vetoed", durable)]
async fn on_vetoed(event: Event, ctx: Context) -> Result<(), EndpointError> {
    record(&event, &ctx, "vetoed").await
}

/// Each committed event reaches the durable hook once, with its own id; a rolled-back one
/// never does, and neither does one an in-request hook vetoed; the outbox is empty after.
#[tokio::test]
async fn committed_events_are_delivered_once_and_rolled_back_ones_never() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, url) in databases(&dir).await {
        let server = instance("a", &url, true).await;
        for n in 1..=5 {
            assert_eq!(
                post(&server, &format!("/outbox/make/{n}")).await,
                200,
                "{kind}"
            );
        }
        assert_eq!(post(&server, "/outbox/make/-1").await, 400, "{kind}");
        assert_eq!(
            post(&server, "/outbox/emit/outbox.vetoed").await,
            403,
            "{kind}"
        );
        let delivered = rows_when(
            &url,
            "SELECT hook || ':' || CAST(n AS TEXT) || ':' || event_id FROM deliveries ORDER BY n",
            |rows| rows.len() >= 5,
        )
        .await;
        let numbers: Vec<&str> = delivered
            .iter()
            .map(|row| row.split(':').take(2).last().unwrap())
            .collect();
        assert_eq!(numbers, ["1", "2", "3", "4", "5"], "{kind}: {delivered:?}");
        let mut ids: Vec<&str> = delivered
            .iter()
            .map(|row| row.rsplit(':').next().unwrap())
            .collect();
        ids.dedup();
        assert_eq!(ids.len(), 5, "{kind}: one id per event");
        let things = rows_when(
            &url,
            "SELECT CAST(n AS TEXT) FROM things ORDER BY n",
            |_| true,
        )
        .await;
        assert_eq!(
            things,
            ["1", "2", "3", "4", "5"],
            "{kind}: the rollback kept nothing"
        );
        // Nothing waits: the delivered rows are deleted, the rolled-back and vetoed ones were
        // never written. (Another delivery would have shown up in `deliveries` by now.)
        let waiting = rows_when(&url, "SELECT event FROM endpoint_outbox", |rows| {
            rows.is_empty()
        })
        .await;
        assert!(waiting.is_empty(), "{kind}: {waiting:?}");
        let all = rows_when(&url, "SELECT hook FROM deliveries", |_| true).await;
        assert_eq!(all.len(), 5, "{kind}: {all:?}");
    }
}

/// A hook that fails is retried with backoff until it succeeds; one that always fails is
/// dead-lettered after `attempts`, kept with its last error.
#[tokio::test]
async fn a_failing_hook_is_retried_then_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, url) in databases(&dir).await {
        let server = instance("a", &url, true).await;
        assert_eq!(
            post(&server, "/outbox/emit/outbox.flaky").await,
            200,
            "{kind}"
        );
        assert_eq!(
            post(&server, "/outbox/emit/outbox.doomed").await,
            200,
            "{kind}"
        );
        let flaky = rows_when(&url, "SELECT hook FROM deliveries", |rows| !rows.is_empty()).await;
        assert_eq!(flaky, ["flaky"], "{kind}: delivered on the third attempt");
        let dead = rows_when(
            &url,
            "SELECT event || ' ' || CAST(attempts AS TEXT) || ' ' || last_error FROM endpoint_outbox WHERE dead_at IS NOT NULL",
            |rows| !rows.is_empty(),
        )
        .await;
        assert_eq!(dead.len(), 1, "{kind}: {dead:?}");
        assert!(
            dead[0].starts_with("outbox.doomed 3 ") && dead[0].contains("doomed to fail"),
            "{kind}: {dead:?}"
        );
        let waiting = rows_when(
            &url,
            "SELECT event FROM endpoint_outbox WHERE dead_at IS NULL",
            |rows| rows.is_empty(),
        )
        .await;
        assert!(waiting.is_empty(), "{kind}: {waiting:?}");
    }
}

/// Events committed by an instance that does not deliver, and then stops, are delivered by
/// the next instance on the same database: the outbox survives the process.
#[tokio::test]
async fn events_committed_by_a_stopped_instance_are_delivered_by_another() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, url) in databases(&dir).await {
        let mut writer = instance("writer", &url, false).await;
        for n in 1..=3 {
            assert_eq!(
                post(&writer, &format!("/outbox/make/{n}")).await,
                200,
                "{kind}"
            );
        }
        writer.stop().await.unwrap().unwrap();
        let waiting = rows_when(&url, "SELECT event FROM endpoint_outbox", |_| true).await;
        assert_eq!(waiting.len(), 3, "{kind}: the events wait in the outbox");
        let _deliverer = instance("deliverer", &url, true).await;
        let delivered = rows_when(&url, "SELECT instance FROM deliveries", |rows| {
            rows.len() >= 3
        })
        .await;
        assert_eq!(delivered, ["deliverer"; 3], "{kind}");
    }
}

/// Two instances delivering from one PostgreSQL database: `FOR UPDATE SKIP LOCKED` gives each
/// event to one of them.
#[tokio::test]
async fn two_instances_on_postgres_deliver_each_event_once() {
    let Ok(url) = std::env::var("ENDPOINT_TEST_POSTGRES_URL") else {
        eprintln!("ENDPOINT_TEST_POSTGRES_URL is not set: PostgreSQL not tested");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = databases(&dir)
        .await
        .into_iter()
        .find(|(kind, _)| *kind == "postgres")
        .map(|(_, scoped)| scoped)
        .unwrap_or(url);
    let (a, b) = (
        instance("a", &url, true).await,
        instance("b", &url, true).await,
    );
    let sends = (1..=40).map(|n| {
        let server = if n % 2 == 0 { &a } else { &b };
        async move { post(server, &format!("/outbox/make/{n}")).await }
    });
    for status in futures_util::future::join_all(sends).await {
        assert_eq!(status, 200);
    }
    let delivered = rows_when(&url, "SELECT event_id FROM deliveries", |rows| {
        rows.len() >= 40
    })
    .await;
    let mut ids = delivered.clone();
    ids.sort();
    ids.dedup();
    assert_eq!((delivered.len(), ids.len()), (40, 40), "each event once");
}

/// Durable hooks without a database: the application refuses to start, naming them.
#[tokio::test]
async fn durable_hooks_without_a_database_refuse_to_start() {
    let Err(error) = App::new().config(test_config()).bind().await else {
        panic!("started without a database");
    };
    let message = error.to_string();
    assert!(
        message.contains("durable hooks") && message.contains("on_made"),
        "{message}"
    );
}

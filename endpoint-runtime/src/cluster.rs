//! Events to every instance: [`App::subscribe_cluster`](crate::App::subscribe_cluster)'s
//! subscribers receive the events emitted on any instance, over Redis pub/sub when
//! `ENDPOINT_REDIS_URL` is set (feature `redis`) on the channel `endpoint:events:<db>` (pub/sub
//! ignores the database number, so the URL's `/db` is in the channel's name: applications on
//! one Redis with their own databases do not hear each other), else over PostgreSQL
//! `LISTEN/NOTIFY` on the channel `endpoint_events` when the database is PostgreSQL (feature
//! `postgres`; a notification reaches the sessions of the same database only).
//!
//! Delivery is **at most once**: a message published while an instance is disconnected, or
//! that finds no instance listening, is lost, as Redis pub/sub loses it; durable hooks (the
//! outbox) are the at-least-once path. Only events the application subscribes to cluster-wide
//! are published. On the emitting instance its own cluster subscribers run at once, not
//! through Redis; a message is `{"origin", "id", "event", "payload", "chain"}` and an instance skips
//! its own. Other instances see the event with an anonymous accountability: the caller's
//! identity does not travel. A message over [`MAX_MESSAGE`] bytes (over PostgreSQL, 7999 bytes:
//! `NOTIFY`'s limit) is neither sent nor delivered, and at most [`MAX_RUNNING`] deliveries from
//! other instances run at once (the listener waits for room: the server buffers meanwhile).
//! Anyone who can publish on the Redis, or notify on the database, can make cluster subscribers
//! run: keep them private, as their other uses require anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::context::{Context, Shared};
use crate::events::{Event, Publisher};

/// How long a publish, or a subscription, may take.
const TIMEOUT: Duration = Duration::from_millis(250);

/// The largest message sent or delivered, in bytes (1 MiB).
pub(crate) const MAX_MESSAGE: usize = 1 << 20;

/// The most deliveries from other instances running at once.
pub(crate) const MAX_RUNNING: usize = 64;

/// The channel of the application's events on the Redis at `url`: `endpoint:events:<db>`.
#[cfg(feature = "redis")]
fn channel(url: &str) -> String {
    let db = url
        .strip_prefix("redis://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, path)| path.split(['?', '#']).next().unwrap_or_default())
        .filter(|db| !db.is_empty())
        .unwrap_or("0");
    format!("endpoint:events:{db}")
}

/// An instance's id among the others: random, one per application built (two applications in
/// one process are two instances).
pub(crate) fn instance_id() -> Arc<str> {
    uuid::Uuid::new_v4().to_string().into()
}

/// The message of one event: `{"origin", "id", "event", "payload", "chain"}`.
fn message(instance: &str, event: &str, payload: &Value, chain: &[String], id: &str) -> String {
    json!({ "origin": instance, "id": id, "event": event, "payload": payload, "chain": chain })
        .to_string()
}

/// Publishes each event on the application's channel through a lazily connected manager (a
/// Redis that is down costs at most [`TIMEOUT`] per event, and one `warn` line per outage).
///
/// # Errors
///
/// The `redis` crate's reason when `url` cannot be used.
#[cfg(feature = "redis")]
pub(crate) fn publisher(url: &str, instance: Arc<str>) -> Result<Publisher, String> {
    let connection = crate::policy::shared::connection(url, TIMEOUT)?;
    let channel: Arc<str> = channel(url).into();
    let failing = Arc::new(AtomicBool::new(false));
    Ok(Arc::new(
        move |event: String, payload: Value, chain: Vec<String>, id: String| {
            let mut connection = connection.clone();
            let failing = Arc::clone(&failing);
            let channel = Arc::clone(&channel);
            let message = message(&instance, &event, &payload, &chain, &id);
            Box::pin(async move {
                if oversized(&event, &message, MAX_MESSAGE) {
                    return;
                }
                let sent = tokio::time::timeout(
                    TIMEOUT,
                    redis::cmd("PUBLISH")
                        .arg(&*channel)
                        .arg(message)
                        .query_async::<i64>(&mut connection),
                )
                .await;
                published(&failing, &event, sent);
            })
        },
    ))
}

/// Whether `message` is over `limit` bytes (1 MiB on Redis, 7999 bytes, `NOTIFY`'s limit, on
/// PostgreSQL): then it is not sent, and a warning says so.
fn oversized(event: &str, message: &str, limit: usize) -> bool {
    let over = message.len() > limit;
    if over {
        tracing::warn!(
            event,
            bytes = message.len(),
            limit,
            "an event over the transport's limit was not sent to the other instances"
        );
    }
    over
}

/// Logs what a publish bounded by [`TIMEOUT`] came to: the first loss of an outage, and its
/// end.
fn published<T, E: std::fmt::Display>(
    failing: &AtomicBool,
    event: &str,
    outcome: Result<Result<T, E>, tokio::time::error::Elapsed>,
) {
    match outcome {
        Ok(Ok(_)) => recovered(failing, "events reach the other instances again"),
        Ok(Err(error)) => lost(failing, event, &error.to_string()),
        Err(_) => lost(failing, event, "no answer in time"),
    }
}

/// Logs the first event an outage loses.
fn lost(failing: &AtomicBool, event: &str, reason: &str) {
    if !failing.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            event,
            reason,
            "an event did not reach the other instances (at most once: it is lost)"
        );
    }
}

/// Logs the end of an outage.
fn recovered(failing: &AtomicBool, what: &'static str) {
    if failing.load(Ordering::Relaxed) && failing.swap(false, Ordering::Relaxed) {
        tracing::info!("{what}");
    }
}

/// Subscribes to the application's channel on the Redis at `url` and delivers what other
/// instances publish to this instance's cluster subscribers (see [`relay`]).
#[cfg(feature = "redis")]
pub(crate) async fn listen(
    url: &str,
    shared: &Arc<Shared>,
    instance: Arc<str>,
) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let channel: Arc<str> = channel(url).into();
    let connect = move || {
        let (client, channel) = (client.clone(), Arc::clone(&channel));
        async move {
            let pubsub = subscribe(&client, &channel)
                .await
                .map_err(|e| e.to_string())?;
            let texts = pubsub
                .into_on_message()
                .filter_map(|message| std::future::ready(message.get_payload::<String>().ok()));
            Ok(Box::pin(texts) as Messages)
        }
    };
    relay(shared, instance, connect).await;
    Ok(())
}

/// The messages of a subscription to the other instances, as text.
type Messages = std::pin::Pin<Box<dyn futures_util::Stream<Item = String> + Send>>;

/// Subscribes with `connect`, bounded in time; logs the first failure of an outage.
async fn subscribe_once<C, F>(connect: &C, failing: &AtomicBool) -> Option<Messages>
where
    C: Fn() -> F,
    F: std::future::Future<Output = Result<Messages, String>>,
{
    match tokio::time::timeout(TIMEOUT * 8, connect()).await {
        Ok(Ok(messages)) => Some(messages),
        Ok(Err(error)) => {
            unsubscribed(failing, &error);
            None
        }
        Err(_) => {
            unsubscribed(failing, "no answer in time");
            None
        }
    }
}

/// Delivers what other instances send to this instance's cluster subscribers, whatever the
/// transport (`connect` subscribes): the first subscription is tried before this returns (for
/// up to 2 s), so that events published once the server serves are received; then a task
/// reads the messages and subscribes again after a failure (one second between attempts, the
/// first failure of an outage logged). It holds the application weakly and ends at its next
/// message or subscription once the application is gone.
async fn relay<C, F>(shared: &Arc<Shared>, instance: Arc<str>, connect: C)
where
    C: Fn() -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Result<Messages, String>> + Send,
{
    let failing = AtomicBool::new(false);
    let mut first = subscribe_once(&connect, &failing).await;
    let shared = Arc::downgrade(shared);
    let room = Arc::new(tokio::sync::Semaphore::new(MAX_RUNNING));
    tokio::spawn(async move {
        while shared.strong_count() > 0 {
            let mut messages = match first.take() {
                Some(messages) => messages,
                None => match subscribe_once(&connect, &failing).await {
                    Some(messages) => {
                        recovered(&failing, "subscribed to the other instances' events again");
                        messages
                    }
                    None => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            while let Some(text) = messages.next().await {
                let Ok(permit) = Arc::clone(&room).acquire_owned().await else {
                    return;
                };
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                receive(&shared, &instance, &text, permit);
            }
            unsubscribed(&failing, "the subscription ended");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// Logs the first failure to subscribe of an outage.
fn unsubscribed(failing: &AtomicBool, reason: &str) {
    if !failing.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            reason,
            "not subscribed to the other instances' events; retrying every second"
        );
    }
}

#[cfg(feature = "redis")]
async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

/// Delivers one message from another instance (its subscribers hold `permit` until they have
/// all finished); ignores this instance's own, oversized and malformed ones.
pub(crate) fn receive(
    shared: &Arc<Shared>,
    instance: &str,
    text: &str,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    if text.len() > MAX_MESSAGE {
        tracing::debug!(
            bytes = text.len(),
            "an oversized message on the events channel was ignored"
        );
        return;
    }
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        tracing::debug!("a malformed message on the events channel was ignored");
        return;
    };
    if message["origin"].as_str() == Some(instance) {
        return;
    }
    let Some(name) = message["event"].as_str() else {
        return;
    };
    let chain: Vec<String> = message["chain"]
        .as_array()
        .map(|chain| {
            chain
                .iter()
                .filter_map(|link| link.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| vec![name.to_string()]);
    let event = Event {
        id: message["id"]
            .as_str()
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string),
        name: name.to_string(),
        payload: message["payload"].clone(),
        accountability: crate::auth::Accountability::default(),
    };
    let context = Context::new(Arc::clone(shared), event.accountability.clone(), None);
    shared
        .emitter
        .deliver_to_cluster_subscribers(&context, event, &chain, Some(permit));
}

/// The PostgreSQL channel of the application's events.
#[cfg(feature = "postgres")]
const PG_CHANNEL: &str = "endpoint_events";

/// The largest `NOTIFY` payload PostgreSQL accepts (its default build: under 8000 bytes).
#[cfg(feature = "postgres")]
const PG_MAX_MESSAGE: usize = 7999;

/// Publishes each event with `pg_notify('endpoint_events', message)` on a small pool of its
/// own (2 connections, opened on first use: a busy application pool does not hold the events
/// back), waiting at most [`TIMEOUT`] (an outage is logged once, and loses its events).
#[cfg(feature = "postgres")]
pub(crate) fn postgres_publisher(pool: sqlx::PgPool, instance: Arc<str>) -> Publisher {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_lazy_with((*pool.connect_options()).clone());
    let failing = Arc::new(AtomicBool::new(false));
    Arc::new(
        move |event: String, payload: Value, chain: Vec<String>, id: String| {
            let pool = pool.clone();
            let failing = Arc::clone(&failing);
            let message = message(&instance, &event, &payload, &chain, &id);
            Box::pin(async move {
                if oversized(&event, &message, PG_MAX_MESSAGE) {
                    return;
                }
                let sent = tokio::time::timeout(
                    TIMEOUT,
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(PG_CHANNEL)
                        .bind(message)
                        .execute(&pool),
                )
                .await;
                published(&failing, &event, sent);
            })
        },
    )
}

/// Listens on `endpoint_events` with a connection of its own (not one of the application's
/// pool) and delivers what other instances notify (see [`relay`]).
#[cfg(feature = "postgres")]
pub(crate) async fn listen_postgres(pool: &sqlx::PgPool, shared: &Arc<Shared>, instance: Arc<str>) {
    let own = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone());
    let connect = move || {
        let own = own.clone();
        async move {
            let listener = pg_listen(&own).await.map_err(|e| e.to_string())?;
            // The listener reconnects by itself after a dropped connection; an error means
            // it could not, and ends the stream.
            let texts = listener
                .into_stream()
                .take_while(|received| std::future::ready(received.is_ok()))
                .filter_map(|received| {
                    std::future::ready(received.ok().map(|n| n.payload().to_string()))
                });
            Ok(Box::pin(texts) as Messages)
        }
    };
    relay(shared, instance, connect).await;
}

/// `LISTEN endpoint_events` on the one connection of `own`.
#[cfg(feature = "postgres")]
async fn pg_listen(own: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(own).await?;
    listener.listen(PG_CHANNEL).await?;
    Ok(listener)
}

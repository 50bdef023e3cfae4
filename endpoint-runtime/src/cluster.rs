//! Events to every instance (feature `redis`, `ENDPOINT_REDIS_URL`):
//! [`App::subscribe_cluster`](crate::App::subscribe_cluster)'s subscribers receive the events
//! emitted on any instance, over Redis pub/sub on the channel [`CHANNEL`].
//!
//! Delivery is **at most once**: a message published while an instance is disconnected, or
//! that finds no instance listening, is lost, as Redis pub/sub loses it; durable hooks (the
//! outbox) are the at-least-once path. On the emitting instance its own cluster subscribers run
//! at once, not through Redis; a message is `{"origin", "event", "payload"}` and an instance
//! skips its own. Other instances see the event with an anonymous accountability: the caller's
//! identity does not travel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::context::{Context, Shared};
use crate::events::{Event, Publisher};

/// The pub/sub channel of the application's events.
pub(crate) const CHANNEL: &str = "endpoint:events";

/// How long a publish or the first subscription may take.
const TIMEOUT: Duration = Duration::from_millis(250);

/// An instance's id among the others: random, one per application built (two applications in
/// one process are two instances).
pub(crate) fn instance_id() -> Arc<str> {
    uuid::Uuid::new_v4().to_string().into()
}

/// Publishes each event on [`CHANNEL`] through a lazily connected manager (a Redis that is down
/// costs at most [`TIMEOUT`] per event, and one `warn` line per outage).
///
/// # Errors
///
/// The `redis` crate's reason when `url` cannot be used.
pub(crate) fn publisher(url: &str, instance: Arc<str>) -> Result<Publisher, String> {
    let connection = crate::policy::shared::connection(url, TIMEOUT)?;
    let failing = Arc::new(AtomicBool::new(false));
    Ok(Arc::new(move |event: String, payload: Value| {
        let mut connection = connection.clone();
        let failing = Arc::clone(&failing);
        let message = json!({ "origin": &*instance, "event": event, "payload": payload });
        Box::pin(async move {
            let sent = tokio::time::timeout(
                TIMEOUT,
                redis::cmd("PUBLISH")
                    .arg(CHANNEL)
                    .arg(message.to_string())
                    .query_async::<i64>(&mut connection),
            )
            .await;
            match sent {
                Ok(Ok(_)) => {
                    if failing.load(Ordering::Relaxed) && failing.swap(false, Ordering::Relaxed) {
                        tracing::info!("events reach the other instances again");
                    }
                }
                Ok(Err(error)) => lost(&failing, &event, &error.to_string()),
                Err(_) => lost(&failing, &event, "no answer in time"),
            }
        })
    }))
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

/// Subscribes to [`CHANNEL`] and delivers what other instances publish to this instance's
/// cluster subscribers, from a task that reconnects after a failure (one second between
/// attempts). The first subscription is made before this returns, so events published once
/// the server serves are received; a Redis that is down then is logged and retried.
pub(crate) async fn listen(
    url: &str,
    shared: Arc<Shared>,
    instance: Arc<str>,
) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let first = tokio::time::timeout(TIMEOUT * 8, subscribe(&client)).await;
    let mut subscription = match first {
        Ok(Ok(pubsub)) => Some(pubsub),
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot subscribe to the other instances' events yet; retrying");
            None
        }
        Err(_) => {
            tracing::warn!(
                "cannot subscribe to the other instances' events yet (no answer); retrying"
            );
            None
        }
    };
    tokio::spawn(async move {
        loop {
            let pubsub = match subscription.take() {
                Some(pubsub) => pubsub,
                None => match subscribe(&client).await {
                    Ok(pubsub) => {
                        tracing::info!("subscribed to the other instances' events");
                        pubsub
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                if let Ok(text) = message.get_payload::<String>() {
                    receive(&shared, &instance, &text);
                }
            }
            tracing::warn!("the subscription to the other instances' events ended; reconnecting");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(())
}

async fn subscribe(client: &redis::Client) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    Ok(pubsub)
}

/// Delivers one message from another instance; ignores this instance's own and malformed ones.
fn receive(shared: &Arc<Shared>, instance: &str, text: &str) {
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
    let event = Event {
        name: name.to_string(),
        payload: message["payload"].clone(),
        accountability: crate::auth::Accountability::default(),
    };
    let context = Context::new(Arc::clone(shared), event.accountability.clone(), None);
    shared
        .emitter
        .deliver_to_cluster_subscribers(&context, event);
}

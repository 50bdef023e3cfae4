//! Events to every instance (`App::subscribe_cluster`, over Redis pub/sub with
//! `ENDPOINT_REDIS_URL`): an event emitted on one instance reaches the cluster subscribers of
//! both, once each, and other instances see an anonymous accountability.
//!
//! Needs a Redis server (`ENDPOINT_TEST_REDIS_URL`), as `shared_limits.rs` says.

use std::time::Duration;

use endpoint_runtime::prelude::*;
use endpoint_runtime::{App, RedisConfig, StaticToken};
use serde_json::json;
use tokio::sync::mpsc;

use crate::support::{TestServer, client, start_app, test_config};

/// Emits `cluster.ping` with the body's `n`.
#[endpoint(id = "cluster", route = "/ping", method = post)]
async fn ping(
    ctx: Context,
    Json(body): Json<serde_json::Value>,
) -> Result<&'static str, EndpointError> {
    ctx.emit("cluster.ping", json!({ "n": body["n"] })).await?;
    Ok("sent")
}

/// One delivery: the instance, the event's `n`, its user.
type Delivery = (&'static str, i64, Option<String>);

/// The next delivery of one of `ours` (this run's values of `n`: another run on the same
/// Redis publishes on the same channel), within 10 s.
async fn next(received: &mut mpsc::UnboundedReceiver<Delivery>, ours: &[i64]) -> Delivery {
    loop {
        let delivery = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("a delivery within 10 s")
            .expect("the channel is open");
        if ours.contains(&delivery.1) {
            return delivery;
        }
    }
}

const TOKEN: &str = "cluster-token-ann-0123456789";

/// An instance named `name` whose cluster subscriber reports each `cluster.ping` it receives
/// as `(instance, n, user)`.
async fn instance(
    name: &'static str,
    url: &str,
    received: mpsc::UnboundedSender<Delivery>,
) -> TestServer {
    let mut config = test_config();
    config.redis = Some(RedisConfig::new(url));
    config.static_tokens = vec![
        serde_json::from_value::<StaticToken>(json!({ "token": TOKEN, "user": "ann" })).unwrap(),
    ];
    let app = App::new()
        .config(config)
        .subscribe_cluster("cluster.ping", move |event, _ctx| {
            let received = received.clone();
            async move {
                let n = event.payload["n"].as_i64().unwrap_or_default();
                let _ = received.send((name, n, event.accountability.user.clone()));
                Ok(())
            }
        });
    start_app(app).await
}

#[tokio::test]
async fn an_event_reaches_every_instance_once() {
    let Ok(url) = std::env::var("ENDPOINT_TEST_REDIS_URL") else {
        assert!(
            std::env::var_os("ENDPOINT_TEST_REQUIRE_REDIS").is_none(),
            "ENDPOINT_TEST_REDIS_URL is required here (bash .ci/redis.sh start)"
        );
        eprintln!("ENDPOINT_TEST_REDIS_URL is not set: cluster events are not tested");
        return;
    };
    let (sender, mut received) = mpsc::unbounded_channel();
    let a = instance("a", &url, sender.clone()).await;
    let b = instance("b", &url, sender).await;
    let send = |server: &TestServer, n: i64| {
        client()
            .post(server.url("/cluster/ping"))
            .bearer_auth(TOKEN)
            .json(&json!({ "n": n }))
            .send()
    };
    // This run's values of `n`.
    let base = i64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos(),
    ) * 10;
    let ours = [base + 1, base + 2];
    assert_eq!(send(&a, base + 1).await.unwrap().status(), 200);
    // Emitted on a: its own subscriber with the caller, b's through Redis, anonymous (in
    // either order).
    let mut first = vec![
        next(&mut received, &ours).await,
        next(&mut received, &ours).await,
    ];
    first.sort();
    assert_eq!(
        first,
        [
            ("a", base + 1, Some("ann".to_string())),
            ("b", base + 1, None)
        ]
    );
    assert_eq!(send(&b, base + 2).await.unwrap().status(), 200);
    let mut second = vec![
        next(&mut received, &ours).await,
        next(&mut received, &ours).await,
    ];
    second.sort();
    // Had a taken its own first event back through Redis, that copy (sent before b's) would
    // most likely be among these, as a third delivery of the first value.
    assert_eq!(
        second,
        [
            ("a", base + 2, None),
            ("b", base + 2, Some("ann".to_string()))
        ]
    );
}

//! Events to every instance over PostgreSQL `LISTEN/NOTIFY` (no `ENDPOINT_REDIS_URL`): an
//! event emitted on one instance reaches the cluster subscribers of both, once each.

use std::time::Duration;

use endpoint_runtime::prelude::*;
use endpoint_runtime::{App, DatabaseUrl};
use tokio::sync::mpsc;

use crate::support::{TestServer, client, start_app, test_config};

/// Emits `notify.ping` with the body's `n`.
#[endpoint(id = "notify", route = "/ping", method = post)]
async fn ping(ctx: Context, Json(body): Json<Value>) -> Result<&'static str, EndpointError> {
    ctx.emit("notify.ping", json!({ "n": body["n"] })).await?;
    Ok("sent")
}

/// An instance named `name` on the database at `url` whose cluster subscriber reports each
/// `notify.ping` as `(instance, n)`.
async fn instance(
    name: &'static str,
    url: &str,
    received: mpsc::UnboundedSender<(&'static str, i64)>,
) -> TestServer {
    let mut config = test_config();
    config.database_url = Some(DatabaseUrl(url.to_string()));
    let app = App::new()
        .config(config)
        .state(crate::Instance(name))
        .subscribe_cluster("notify.ping", move |event, _ctx| {
            let received = received.clone();
            async move {
                let _ = received.send((name, event.payload["n"].as_i64().unwrap_or_default()));
                Ok(())
            }
        });
    start_app(app).await
}

#[tokio::test]
async fn an_event_reaches_every_instance_over_postgres() {
    let Ok(admin) = std::env::var("ENDPOINT_TEST_POSTGRES_URL") else {
        eprintln!("ENDPOINT_TEST_POSTGRES_URL is not set: PostgreSQL not tested");
        return;
    };
    // A database of its own: a notification reaches every session of the database, so
    // another test's instances would hear these.
    let name = format!("notify_{}", uuid::Uuid::new_v4().simple());
    let server = endpoint_runtime::Database::connect(&admin, Duration::from_secs(10))
        .await
        .unwrap();
    endpoint_runtime::sqlx::query(endpoint_runtime::sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name}"
    )))
    .execute(server.postgres().unwrap())
    .await
    .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    let (sender, mut received) = mpsc::unbounded_channel();
    let a = instance("a", &url, sender.clone()).await;
    let b = instance("b", &url, sender).await;
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("a delivery within 10 s")
            .expect("open")
    };
    for (server, n) in [(&a, 1), (&b, 2)] {
        let sent = client()
            .post(server.url("/notify/ping"))
            .json(&json!({ "n": n }))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);
        let mut both = vec![next().await, next().await];
        both.sort();
        assert_eq!(both, [("a", n), ("b", n)]);
    }
    // Nothing more: each instance skipped its own notification.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), received.recv())
            .await
            .is_err()
    );
    drop((a, b));
    endpoint_runtime::sqlx::query(endpoint_runtime::sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(server.postgres().unwrap())
    .await
    .unwrap();
}

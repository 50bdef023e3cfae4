//! `/livez`, `/readyz` and the drain on shutdown, over real sockets.

use std::time::Duration;

use endpoint_runtime::{App, Error};
use serde_json::{Value, json};

use crate::support::{client, get, start_app, start_with, test_config};

#[tokio::test]
async fn liveness_and_readiness_answer_in_the_health_check_format() {
    let server = start_with(test_config()).await;
    let (status, content_type, body) = get(&server, "/livez").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/health+json")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "status": "pass" })
    );
    let (status, _, body) = get(&server, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "status": "pass", "checks": { "drain": [{ "status": "pass" }] } })
    );
    // Outside the access rules: a wrong method is the envelope's 405, like any route.
    let response = client().post(server.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

#[tokio::test]
async fn health_paths_are_configurable_or_off() {
    let mut config = test_config();
    config.livez_path = Some("/ops/alive".into());
    config.readyz_path = None;
    let server = start_with(config).await;
    assert_eq!(get(&server, "/ops/alive").await.0, 200);
    assert_eq!(get(&server, "/livez").await.0, 404);
    assert_eq!(get(&server, "/readyz").await.0, 404);

    let mut config = test_config();
    // An endpoint of this test binary already has the path.
    config.readyz_path = Some("/notes/audit".into());
    match App::new().config(config).bind().await {
        Err(Error::Conflicts(conflicts)) => {
            assert!(
                conflicts
                    .iter()
                    .any(|c| c.second == "ENDPOINT_READYZ_PATH" && c.what.contains("/notes/audit")),
                "{conflicts:?}"
            );
        }
        other => panic!(
            "expected a conflict, got {:?}",
            other.map(|s| s.local_addr())
        ),
    }
}

#[tokio::test]
async fn a_database_that_does_not_answer_fails_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.database_url = Some(endpoint_runtime::DatabaseUrl(format!(
        "sqlite://{}/ready.db",
        dir.path().display()
    )));
    let client = App::new()
        .config(config)
        .migrations(endpoint_runtime::migrations!("tests/migrations"))
        .test_client()
        .await
        .unwrap();
    let response = client.get("/readyz").send().await;
    assert_eq!(response.status(), 200, "{}", response.text());
    assert_eq!(
        response.json::<Value>()["checks"]["database"],
        json!([{ "status": "pass" }])
    );
    client.database().expect("a database").close().await;
    let response = client.get("/readyz").send().await;
    assert_eq!(response.status(), 503, "{}", response.text());
    let body: Value = response.json();
    assert_eq!(body["status"], "fail", "{body}");
    assert_eq!(
        body["checks"]["database"],
        json!([{ "status": "fail", "output": "the database does not answer" }])
    );
    assert_eq!(body["checks"]["drain"], json!([{ "status": "pass" }]));
    // Liveness does not depend on the database.
    assert_eq!(client.get("/livez").send().await.status(), 200);
}

/// On shutdown `/readyz` turns 503 at once while every route is still served, on kept-alive
/// and new connections, for `ENDPOINT_DRAIN_DELAY`; then the server stops.
#[tokio::test]
async fn the_drain_keeps_serving_while_readiness_fails() {
    let mut config = test_config();
    config.drain_delay = Duration::from_secs(2);
    let mut server = start_app(App::new().config(config)).await;
    let kept_alive = client();
    assert_eq!(
        kept_alive
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let serving = server.stop();
    // The signal is delivered to the serve task: readiness fails on its next look.
    let mut attempts = 0;
    loop {
        let status = kept_alive
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 503 {
            break;
        }
        assert_eq!(status, 200);
        attempts += 1;
        assert!(attempts < 1_000, "/readyz never turned 503");
        tokio::task::yield_now().await;
    }
    let body: Value = kept_alive
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["checks"]["drain"],
        json!([{ "status": "fail", "output": "shutting down" }])
    );
    // Everything else is still served, on this connection and on a new one.
    for http in [&kept_alive, &client()] {
        let response = http.get(server.url("/livez")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let response = http.get(server.url("/no-such-route")).send().await.unwrap();
        assert_eq!(response.status(), 404);
    }
    assert!(!serving.is_finished(), "still draining");
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("the server stops after the drain delay")
        .unwrap()
        .unwrap();
}

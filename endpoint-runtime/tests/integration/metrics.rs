//! Prometheus metrics (`ENDPOINT_METRICS_PATH`, `ENDPOINT_METRICS_ADDR`): scraped after
//! traffic, the numbers checked; the label set stays bounded under 10,000 unknown paths.
//!
//! The recorder is the process's: every test of this binary records into it, so the checks
//! compare a scrape before with one after, on labels only this test's traffic uses.

use std::collections::BTreeSet;

use endpoint_runtime::{App, StaticToken};
use serde_json::json;

use crate::support::{client, start_app, test_config};

const ADMIN: &str = "metrics-admin-token-0123456789";
const READER: &str = "metrics-reader-token-0123456789";

fn app() -> App {
    App::new().config(config())
}

/// Metrics at `/metrics`, an admin token for the scraper and a reader token.
fn config() -> endpoint_runtime::Config {
    let mut config = test_config();
    config.metrics_path = Some("/metrics".into());
    config.static_tokens = vec![
        serde_json::from_value::<StaticToken>(
            json!({ "token": ADMIN, "user": "prometheus", "admin": true }),
        )
        .unwrap(),
        serde_json::from_value::<StaticToken>(json!({ "token": READER, "user": "rob" })).unwrap(),
    ];
    config
}

/// The value of the sample `name{labels}` in `text`, 0 when absent.
fn sample(text: &str, name: &str, labels: &str) -> f64 {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

/// The value of the sample `name` (no labels) in `text`, 0 when absent.
fn unlabelled(text: &str, name: &str) -> f64 {
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

/// Every `http_route` label value of the duration histogram.
fn routes(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("http_server_request_duration_seconds_count{"))
        .filter_map(|l| l.split("http_route=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn request_metrics_count_by_route_template_and_stay_bounded() {
    let server = start_app(app()).await;
    let scrape = || async {
        let response = client()
            .get(server.url("/metrics"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        response.text().await.unwrap()
    };
    // Readable by admins only.
    let status = |token: Option<&'static str>| {
        let mut request = client().get(server.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(None).await, 401);
    assert_eq!(status(Some(READER)).await, 403);

    let before = scrape().await;
    for _ in 0..3 {
        let response = client()
            .get(server.url("/greet/intro"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    for id in [7, 8] {
        let response = client()
            .get(server.url(&format!("/users/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let after = scrape().await;
    let count = |text: &str, route: &str| {
        sample(
            text,
            "http_server_request_duration_seconds_count",
            &format!(
                "http_request_method=\"GET\",http_route=\"{route}\",http_response_status_code=\"200\""
            ),
        )
    };
    assert_eq!(
        count(&after, "/greet/intro") - count(&before, "/greet/intro"),
        3.0
    );
    // The template, never the path: both ids are one series.
    assert_eq!(
        count(&after, "/users/{id}") - count(&before, "/users/{id}"),
        2.0
    );
    assert!(after.contains("# TYPE http_server_request_duration_seconds histogram"));
    assert!(after.contains("http_server_request_duration_seconds_bucket{"));
    assert!(after.contains("le=\"0.005\""));
    assert!(after.contains("endpoint_connections_open"), "{after}");

    // 10,000 distinct unknown paths: all `unmatched`, the label set does not grow with them.
    let routes_before = routes(&after);
    let http = client();
    let mut answered = 0;
    for batch in 0..100 {
        let calls = (0..100).map(|i| {
            let url = server.url(&format!("/no-such/{batch}/{i}"));
            let http = http.clone();
            async move { http.get(url).send().await.unwrap().status().as_u16() }
        });
        for status in futures_util::future::join_all(calls).await {
            assert_eq!(status, 404);
            answered += 1;
        }
    }
    assert_eq!(answered, 10_000);
    let last = scrape().await;
    let routes_after = routes(&last);
    let added: Vec<_> = routes_after.difference(&routes_before).collect();
    // Other tests of this binary may add their own routes meanwhile, never these paths.
    assert!(
        !added.iter().any(|r| r.starts_with("/no-such")),
        "{added:?}"
    );
    assert!(routes_after.len() <= routes_before.len() + 5, "{added:?}");
    let unmatched = sample(
        &last,
        "http_server_request_duration_seconds_count",
        "http_request_method=\"GET\",http_route=\"unmatched\",http_response_status_code=\"404\"",
    );
    assert!(unmatched >= 10_000.0, "{unmatched}");
}

#[tokio::test]
async fn a_listener_of_its_own_serves_the_metrics() {
    // A free port, taken back at once.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = test_config();
    config.metrics_addr = Some(addr);
    let server = start_app(App::new().config(config)).await;
    assert_eq!(
        client()
            .get(server.url("/greet/intro"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let response = client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("http_route=\"/greet/intro\""), "{text}");
    // Not on the server's port.
    assert_eq!(
        client()
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// The events' and the database pool's metrics: a note created emits `note.created`, which
/// its hook and a subscriber receive; the pool's gauges are read at the scrape.
#[tokio::test]
async fn events_and_the_database_pool_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.database_url = Some(endpoint_runtime::DatabaseUrl(format!(
        "sqlite://{}/metrics.db",
        dir.path().display()
    )));
    let app = App::new()
        .config(config)
        .migrations(endpoint_runtime::migrations!("tests/migrations"))
        .subscribe("note.created", |_event, _ctx| async { Ok(()) });
    let server = start_app(app).await;
    let scrape = || async {
        client()
            .get(server.url("/metrics"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = scrape().await;
    for body in ["one", "two"] {
        let response = client()
            .post(server.url("/notes"))
            .json(&json!({ "body": body }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let after = scrape().await;
    let delta = |name: &str| unlabelled(&after, name) - unlabelled(&before, name);
    // Other tests of this binary emit events too: at least this test's.
    assert!(delta("endpoint_events_emitted_total") >= 2.0, "{after}");
    // Each note: the hook `audit_note` and the subscriber.
    assert!(delta("endpoint_events_delivered_total") >= 4.0, "{after}");
    assert!(
        after.contains("\nendpoint_db_pool_wait_seconds "),
        "{after}"
    );
    assert!(unlabelled(&after, "endpoint_db_pool_connections") >= 1.0);
    let wait = unlabelled(&after, "endpoint_db_pool_wait_seconds");
    assert!(
        (0.0..1.0).contains(&wait),
        "an idle pool answers at once: {wait}"
    );
}

//! Server-sent events over real sockets: the events in order, `Last-Event-ID`, the access
//! check before the first byte, the request timeout not applied to a live stream, keep-alive
//! comments, the stream's lifetime, a clean end at graceful shutdown, and the document.

use std::time::{Duration, Instant};

use endpoint_runtime::prelude::*;
use endpoint_runtime::sse::{Event, KeepAlive, Stream, StreamExt, stream};
use serde::Serialize;
use serde_json::json;

use crate::support::{client, get, json, start_with, test_config};

/// Three events, 150 ms apart, numbered after the client's `Last-Event-ID`: the stream
/// lasts longer than the endpoint's 100 ms timeout.
#[endpoint(id = "sse", route = "/count", timeout = "100ms")]
async fn count(LastEventId(last): LastEventId) -> Sse<impl Stream<Item = Event>> {
    let first = last
        .and_then(|id| id.parse::<u64>().ok())
        .map_or(1, |n| n + 1);
    let events = stream::iter(first..first + 3).then(|n| async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        Event::default()
            .id(n.to_string())
            .event("count")
            .data(format!("n={n}"))
    });
    Sse::new(events)
}

/// For admins only.
#[endpoint(id = "sse", route = "/admin", access = admin)]
async fn admin_only() -> Sse<impl Stream<Item = Event>> {
    Sse::new(stream::iter([Event::default().data("secret")]))
}

#[derive(Serialize, endpoint_runtime::schemars::JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct Tick {
    n: u64,
}

/// Never an event: only keep-alive comments, every 50 ms.
#[endpoint(id = "sse", route = "/quiet")]
async fn quiet() -> Result<Sse<impl Stream<Item = Json<Tick>>>, EndpointError> {
    Ok(
        Sse::new(stream::pending())
            .keep_alive(KeepAlive::new().interval(Duration::from_millis(50))),
    )
}

#[tokio::test]
async fn events_arrive_in_order_after_the_last_event_id_past_the_request_timeout() {
    let server = start_with(test_config()).await;
    let started = Instant::now();
    let response = client()
        .get(server.url("/sse/count"))
        .header("last-event-id", "4")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    assert!(response.headers().contains_key("x-request-id"));
    let body = response.text().await.unwrap();
    // The three events, whole, in order: longer than the 100 ms timeout, which did not cut it.
    assert!(started.elapsed() >= Duration::from_millis(450), "{body}");
    let events: Vec<&str> = body.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(
        events,
        [
            "id: 5\nevent: count\ndata: n=5",
            "id: 6\nevent: count\ndata: n=6",
            "id: 7\nevent: count\ndata: n=7"
        ],
        "{body:?}"
    );
}

#[tokio::test]
async fn a_caller_who_may_not_read_the_stream_gets_the_envelope_and_no_event() {
    let server = start_with(test_config()).await;
    let (status, content_type, body) = get(&server, "/sse/admin").await;
    assert_eq!(status, 401);
    assert_eq!(content_type, "application/json");
    assert_eq!(json(&body)["data"]["code"], "UNAUTHORIZED", "{body}");
}

#[tokio::test]
async fn a_quiet_stream_is_kept_alive_and_ends_cleanly_after_its_lifetime() {
    let mut config = test_config();
    config.stream_lifetime = Duration::from_millis(400);
    let server = start_with(config).await;
    let started = Instant::now();
    let response = client().get(server.url("/sse/quiet")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // The whole body: the stream ended (a clean end, or `text()` would fail).
    let body = tokio::time::timeout(Duration::from_secs(10), response.text())
        .await
        .expect("the stream ends")
        .unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert!(body.starts_with(":\n\n"), "{body:?}");
    assert!(
        body.split("\n\n")
            .filter(|e| !e.is_empty())
            .all(|e| e == ":"),
        "{body:?}"
    );
}

#[tokio::test]
async fn graceful_shutdown_ends_a_stream_cleanly_without_waiting_for_the_grace() {
    let mut server = start_with(test_config()).await;
    let mut response = client().get(server.url("/sse/quiet")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // The stream is live: its first keep-alive comment arrived.
    let first = response.chunk().await.unwrap().expect("a first comment");
    assert_eq!(&first[..], b":\n\n");
    let stopping = Instant::now();
    let serving = server.stop();
    // The body ends cleanly (no error), and the server stops well before its 5 s grace.
    let ended = async {
        while response.chunk().await.expect("a clean end").is_some() {}
        serving.await.unwrap().unwrap();
    };
    tokio::time::timeout(Duration::from_secs(10), ended)
        .await
        .expect("the stream and the server end");
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopping.elapsed()
    );
}

#[tokio::test]
async fn the_document_describes_event_streams() {
    let server = start_with(test_config()).await;
    let (_, _, body) = get(&server, "/openapi.json").await;
    let document = json(&body);
    let count = &document["paths"]["/sse/count"]["get"]["responses"]["200"];
    let event = &count["content"]["text/event-stream"]["schema"];
    assert_eq!(event["properties"]["id"]["type"], "string", "{count}");
    assert_eq!(
        event["properties"]["data"],
        json!({ "type": "string" }),
        "{count}"
    );
    let named = &document["paths"]["/sse/named"]["get"]["responses"]["200"];
    assert!(named["content"]["text/event-stream"].is_object(), "{named}");
    let quiet = &document["paths"]["/sse/quiet"]["get"]["responses"]["200"];
    let data = &quiet["content"]["text/event-stream"]["schema"]["properties"]["data"];
    assert_eq!(data["contentMediaType"], "application/json", "{quiet}");
    let tick = &data["contentSchema"];
    let tick = match tick["$ref"].as_str() {
        Some(reference) => {
            &document["components"]["schemas"][reference.rsplit('/').next().unwrap()]
        }
        None => tick,
    };
    assert_eq!(tick["properties"]["n"]["type"], "integer", "{quiet}");
}

/// An item that is an error: the stream ends there, cleanly.
#[endpoint(id = "sse", route = "/broken")]
async fn broken() -> Sse<impl Stream<Item = Result<Event, std::io::Error>>> {
    Sse::new(stream::iter([
        Ok(Event::default().data("first")),
        Err(std::io::Error::other("the source failed")),
        Ok(Event::default().data("never sent")),
    ]))
}

#[tokio::test]
async fn an_item_that_is_an_error_ends_the_stream_cleanly() {
    let server = start_with(test_config()).await;
    let response = client()
        .get(server.url("/sse/broken"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // `text()` fails on a body cut short: this one ends with its last chunk.
    let body = response.text().await.unwrap();
    assert_eq!(body, "data: first\n\n");
}

/// A stream type written out, without `impl Trait`.
#[endpoint(id = "sse", route = "/named")]
async fn named() -> Sse<stream::Iter<std::vec::IntoIter<Event>>> {
    Sse::new(stream::iter(vec![Event::default().data("x")]))
}

//! Serving: graceful shutdown, the header-read timeout, HTTP/2, configuration errors.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{client, start, start_with, test_config};

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut server = start().await;
    let url = server.url("/slow");
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    // Let the request reach the handler, then ask the server to stop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let serving = server.stop();
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.unwrap(), "finished");
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the server stops once drained")
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped after the drain, not after the grace"
    );
    // New connections are refused once stopped.
    assert!(client().get(server.url("/greet")).send().await.is_err());
}

#[tokio::test]
async fn shutdown_grace_bounds_the_wait() {
    let mut config = test_config();
    config.shutdown_grace = Duration::from_millis(100);
    let mut server = start_with(config).await;
    let url = server.url("/slow");
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.stop().await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        in_flight.await.unwrap().is_err(),
        "the slow request was cut at the grace"
    );
}

#[tokio::test]
async fn slow_headers_are_cut_by_the_header_read_timeout() {
    let mut config = test_config();
    config.header_read_timeout = Duration::from_millis(300);
    let server = start_with(config).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert_unfinished_head_is_cut(&mut stream, Duration::from_millis(250)).await;
}

/// Sends a request head that never ends and checks that the server closes the connection on
/// its own, no sooner than `at_least`, with nothing or a 408.
async fn assert_unfinished_head_is_cut(stream: &mut tokio::net::TcpStream, at_least: Duration) {
    stream
        .write_all(b"GET /greet/intro HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    // The bound only keeps a broken test finite.
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "connection still open after 5 s");
    let elapsed = started.elapsed();
    assert!(elapsed >= at_least, "closed too early: {elapsed:?}");
    let text = String::from_utf8_lossy(&buffer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_gets_a_fresh_header_read_timeout_per_request() {
    let mut config = test_config();
    config.header_read_timeout = Duration::from_millis(400);
    let server = start_with(config).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Requests well inside the timeout, over longer than it in total: none may be cut.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        stream
            .write_all(b"GET /greet/intro HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut response = Vec::new();
        while !response.ends_with(b"Nice to meet you.") {
            let mut chunk = [0u8; 512];
            let read = stream.read(&mut chunk).await.unwrap();
            assert!(read > 0, "closed: {}", String::from_utf8_lossy(&response));
            response.extend_from_slice(&chunk[..read]);
        }
        assert!(response.starts_with(b"HTTP/1.1 200"));
    }
    // Then a head that never ends: cut at its own deadline, not at an earlier request's.
    assert_unfinished_head_is_cut(&mut stream, Duration::from_millis(350)).await;
}

#[tokio::test]
async fn serves_http2_with_prior_knowledge() {
    let server = start().await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = client.get(server.url("/greet/intro")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.text().await.unwrap(), "Nice to meet you.");
}

#[tokio::test]
async fn bind_failure_names_the_address() {
    let first = start().await;
    let mut config = test_config();
    config.port = first.addr.port();
    let error = endpoint_runtime::App::new()
        .config(config)
        .bind()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&first.addr.to_string()) && message.contains("ENDPOINT_PORT"),
        "{message}"
    );
}

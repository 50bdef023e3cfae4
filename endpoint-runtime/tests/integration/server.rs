//! Serving: graceful shutdown, the header-read and keep-alive timeouts, the connection cap,
//! handlers that outlive their client, HTTP/2, configuration errors.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{client, start, start_with, test_config};

/// Sends `GET /slow` (`url`) in a task and returns once its handler runs; `key` tells this
/// request's signal from other tests'.
async fn slow_request_in_its_handler(
    url: String,
    key: &'static str,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let running = crate::endpoints::started(key);
    let in_flight =
        tokio::spawn(async move { client().get(url).header("x-started", key).send().await });
    running.notified().await;
    in_flight
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut server = start().await;
    // Once the request is in the handler, ask the server to stop.
    let in_flight = slow_request_in_its_handler(server.url("/slow"), "graceful_shutdown").await;
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
    let in_flight = slow_request_in_its_handler(server.url("/slow"), "shutdown_grace").await;
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
        let response = read_response(&mut stream, b"Nice to meet you.").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
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

/// A handler that reports when it starts, waits for its test to release it, then emits
/// `hold.finished`, whose hook reports that it finished (as the showcase's audit hook runs
/// after a publication). Keys keep concurrent tests apart.
#[endpoint_runtime::endpoint(id = "hold", route = "/{key}")]
async fn hold(key: String, ctx: endpoint_runtime::Context) -> &'static str {
    let gate = gate(&key);
    gate.started.add_permits(1);
    gate.release.acquire().await.unwrap().forget();
    ctx.emit("hold.finished", &key).await.unwrap();
    "released"
}

#[endpoint_runtime::hook(event = "hold.finished")]
async fn hold_finished(event: endpoint_runtime::Event) {
    gate(event.payload.as_str().unwrap())
        .finished
        .add_permits(1);
}

struct Gate {
    started: tokio::sync::Semaphore,
    release: tokio::sync::Semaphore,
    finished: tokio::sync::Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            started: tokio::sync::Semaphore::new(0),
            release: tokio::sync::Semaphore::new(0),
            finished: tokio::sync::Semaphore::new(0),
        }
    }
}

fn gate(key: &str) -> std::sync::Arc<Gate> {
    static GATES: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Gate>>>,
    > = std::sync::LazyLock::new(Default::default);
    GATES
        .lock()
        .unwrap()
        .entry(key.to_string())
        .or_default()
        .clone()
}

/// Waits for `n` permits of `semaphore`, failing the test after `within`.
async fn acquire(semaphore: &tokio::sync::Semaphore, n: u32, within: Duration, what: &str) {
    tokio::time::timeout(within, semaphore.acquire_many(n))
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within {within:?}"))
        .unwrap()
        .forget();
}

/// Reads until the server closes the connection, and returns what it sent and when it
/// closed, counted from `since`. Fails if it is still open after 5 s.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    since: Instant,
) -> (Vec<u8>, Duration) {
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "connection still open after 5 s");
    (buffer, since.elapsed())
}

#[tokio::test]
async fn a_silent_socket_is_closed_at_the_header_read_deadline() {
    let mut config = test_config();
    config.header_read_timeout = Duration::from_millis(300);
    let server = start_with(config).await;
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (sent, closed) = read_until_closed(&mut stream, started).await;
    assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));
    assert!(
        closed >= Duration::from_millis(250) && closed < Duration::from_secs(2),
        "closed after {closed:?}"
    );
}

#[tokio::test]
async fn a_half_sent_http2_preface_is_closed_at_the_header_read_deadline() {
    let mut config = test_config();
    config.header_read_timeout = Duration::from_millis(300);
    let server = start_with(config).await;
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let (_, closed) = read_until_closed(&mut stream, started).await;
    assert!(
        closed >= Duration::from_millis(250) && closed < Duration::from_secs(2),
        "closed after {closed:?}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let mut config = test_config();
    // Shorter than the keep-alive timeout: an idle connection must not be cut by it.
    config.header_read_timeout = Duration::from_millis(200);
    config.keep_alive_timeout = Duration::from_millis(800);
    let server = start_with(config).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /greet/intro HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_response(&mut stream, b"Nice to meet you.").await;
    let (more, idle) = read_until_closed(&mut stream, Instant::now()).await;
    assert!(more.is_empty(), "{}", String::from_utf8_lossy(&more));
    assert!(
        idle >= Duration::from_millis(750) && idle < Duration::from_secs(3),
        "closed after {idle:?} idle"
    );
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_keep_alive_timeout() {
    let mut config = test_config();
    config.header_read_timeout = Duration::from_millis(200);
    config.keep_alive_timeout = Duration::from_millis(800);
    let server = start_with(config).await;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let mut connection = tokio::spawn(connection);
    let request = hyper::Request::get(server.url("/greet/intro"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"Nice to meet you.");
    let idle = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), &mut connection).await;
    let idle = idle.elapsed();
    assert!(ended.is_ok(), "HTTP/2 connection still open after 5 s idle");
    assert!(
        idle >= Duration::from_millis(750) && idle < Duration::from_secs(3),
        "closed after {idle:?} idle"
    );
}

#[tokio::test]
async fn silent_connections_past_the_cap_are_closed_oldest_first_and_clients_are_served() {
    let mut config = test_config();
    config.max_connections = Some(8);
    let server = start_with(config).await;
    let mut silent = Vec::new();
    for _ in 0..30 {
        silent.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    // Real clients, each on a new connection, are served at once.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    for _ in 0..5 {
        let response = client.get(server.url("/greet/intro")).send().await;
        let response = response.expect("served within 1 s despite the silent flood");
        assert_eq!(response.text().await.unwrap(), "Nice to meet you.");
    }
    // The oldest silent sockets were closed to make room (the header-read timeout is 10 s,
    // so nothing else closed them).
    for stream in &mut silent[..20] {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "an old silent socket is still open"
        );
    }
}

#[tokio::test]
async fn when_every_connection_is_busy_a_new_one_gets_503_and_connection_close() {
    let mut config = test_config();
    config.max_connections = Some(2);
    let server = start_with(config).await;
    let key = "busy-cap";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(format!("GET /hold/{key} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        held.push(stream);
    }
    acquire(
        &gate(key).started,
        2,
        Duration::from_secs(5),
        "both held requests starting",
    )
    .await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Instant::now()).await;
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 503"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(
        answer.contains(r#""code":"service_unavailable""#),
        "{answer}"
    );
    // The busy connections were not touched.
    gate(key).release.add_permits(2);
    for stream in &mut held {
        let response = read_response(stream, b"released").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }
}

/// Reads one response, whose body ends with `end`, from a kept-alive connection.
async fn read_response(stream: &mut tokio::net::TcpStream, end: &[u8]) -> String {
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !response.ends_with(end) {
            let mut chunk = [0u8; 512];
            let read = stream.read(&mut chunk).await.unwrap();
            assert!(read > 0, "closed: {}", String::from_utf8_lossy(&response));
            response.extend_from_slice(&chunk[..read]);
        }
    })
    .await
    .expect("the response arrives");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn a_handler_and_its_hook_run_to_completion_when_its_client_disconnects() {
    let server = start().await;
    let key = "detached-disconnect";
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(format!("GET /hold/{key} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    acquire(
        &gate(key).started,
        1,
        Duration::from_secs(5),
        "the handler starting",
    )
    .await;
    // The client goes away mid-request. The server closing its side tells that it has seen
    // it (and, before handlers were detached, dropped the handler).
    stream.shutdown().await.unwrap();
    let (sent, _) = read_until_closed(&mut stream, Instant::now()).await;
    assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));
    gate(key).release.add_permits(1);
    acquire(
        &gate(key).finished,
        1,
        Duration::from_secs(5),
        "the handler and its hook finishing after the client left",
    )
    .await;
}

/// An HTTP/2 client that grants each stream `window` bytes of flow-control window.
async fn http2_client(
    server: &crate::support::TestServer,
    window: u32,
) -> (
    hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    tokio::task::JoinHandle<hyper::Result<()>>,
) {
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .initial_stream_window_size(window)
            .handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    (sender, tokio::spawn(connection))
}

#[tokio::test]
async fn a_client_that_reads_no_response_is_cut_by_the_send_timeout() {
    let mut config = test_config();
    config.header_read_timeout = Duration::from_millis(200);
    config.send_timeout = Duration::from_millis(300);
    let server = start_with(config).await;
    // A window of 0: the server may send the head of a response, never its body.
    let (mut sender, connection) = http2_client(&server, 0).await;
    let request = hyper::Request::get(server.url("/nope"))
        .body(http_body_util::Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 404);
    let stalled = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), connection).await;
    let stalled = stalled.elapsed();
    assert!(
        ended.is_ok(),
        "a stalled response kept its connection open for 5 s"
    );
    assert!(
        stalled >= Duration::from_millis(250) && stalled < Duration::from_secs(3),
        "closed after {stalled:?}"
    );
}

#[tokio::test]
async fn streams_reset_by_the_client_cannot_pile_up_handlers() {
    let server = start().await;
    let key = "reset-flood";
    let (mut sender, _connection) = http2_client(&server, 65_535).await;
    let gate = gate(key);
    let (mut started, mut refused) = (0, 0);
    for _ in 0..230 {
        let request = hyper::Request::get(server.url(&format!("/hold/{key}")))
            .body(http_body_util::Empty::new())
            .unwrap();
        let response = sender.send_request(request);
        tokio::select! {
            () = acquire(&gate.started, 1, Duration::from_secs(5), "a handler starting") => {
                // Dropping the response future resets the stream: the client walks away.
                started += 1;
            }
            response = response => {
                let response = response.unwrap();
                assert_eq!(response.status(), 503);
                assert_eq!(response.headers()["retry-after"], "1");
                refused += 1;
            }
        }
    }
    assert_eq!((started, refused), (200, 30));
    gate.release.add_permits(200);
    acquire(
        &gate.finished,
        200,
        Duration::from_secs(5),
        "the held handlers finishing",
    )
    .await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn bind_raises_the_soft_file_descriptor_limit_to_the_hard_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let Some(hard) = limit.maximum else {
        return; // unlimited: nothing to raise to
    };
    // One below the hard limit: enough for every other test running meanwhile.
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(hard - 1),
            maximum: Some(hard),
        },
    )
    .unwrap();
    let _server = start().await;
    assert_eq!(getrlimit(Resource::Nofile).current, Some(hard));
}

/// hyper's own limits on a request head answer their own status (with an empty body: hyper
/// answers them before any service runs) and close the connection.
#[tokio::test]
async fn an_over_long_uri_is_414_and_an_over_large_head_is_431() {
    let server = start().await;
    let many_headers: String = (0..150).map(|i| format!("x-h{i}: v\r\n")).collect();
    for (request, status) in [
        (
            format!(
                "GET /greet/{} HTTP/1.1\r\nHost: x\r\n\r\n",
                "a".repeat(70_000)
            ),
            "HTTP/1.1 414",
        ),
        (
            format!("GET /greet HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"),
            "HTTP/1.1 431",
        ),
        (
            format!(
                "GET /greet HTTP/1.1\r\nHost: x\r\nx-big: {}\r\n\r\n",
                "v".repeat(500_000)
            ),
            "HTTP/1.1 431",
        ),
    ] {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        // The server may answer and close before it has read everything: only the answer counts.
        let _ = stream.write_all(request.as_bytes()).await;
        let (answer, _) = read_until_closed(&mut stream, Instant::now()).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with(status), "{status}: {answer}");
    }
}

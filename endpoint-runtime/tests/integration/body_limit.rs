//! `ENDPOINT_BODY_LIMIT`: a body over the limit is 413 `PAYLOAD_TOO_LARGE` in the envelope on
//! every body path (fixed length, chunked, HTTP/2, `Expect: 100-continue`), whatever reads it:
//! axum's extractors, the runtime's `Json`, an application's own extractor that answers every
//! rejection with 400, or a handler that reads the raw body without a limit.

use std::convert::Infallible;
use std::time::Duration;

use endpoint_runtime::axum;
use endpoint_runtime::axum::body::Bytes;
use endpoint_runtime::axum::extract::{FromRequest, RawForm, Request};
use endpoint_runtime::prelude::*;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestServer, client, json, start_with, test_config};

/// The limit every test here serves with.
const LIMIT: usize = 64 * 1024;

/// What the bodies below are: three times the limit.
const OVER: usize = 3 * LIMIT;

/// axum's `Bytes`.
#[endpoint(id = "limits", route = "/bytes", method = post)]
async fn bytes(body: Bytes) -> String {
    format!("{} bytes", body.len())
}

/// axum's `Bytes` under a limit above axum's own default (2 MiB), which would cut it first
/// if the route did not raise it.
#[endpoint(id = "limits", route = "/large", method = post, body_limit = "4MiB")]
async fn large(body: Bytes) -> String {
    format!("{} bytes", body.len())
}

/// axum's `String` (through an alias: an argument written `String` is a path parameter).
type Text = String;

#[endpoint(id = "limits", route = "/string", method = post)]
async fn string(body: Text) -> String {
    format!("{} bytes", body.len())
}

/// axum's `RawForm` (`Form` needs axum's `form` feature, off here; it buffers the same way).
#[endpoint(id = "limits", route = "/form", method = post)]
async fn form(RawForm(body): RawForm) -> String {
    format!("{} bytes", body.len())
}

/// The runtime's `Json`.
#[endpoint(id = "limits", route = "/json", method = post)]
async fn json_body(Json(body): Json<Value>) -> String {
    format!("{} bytes", body.to_string().len())
}

/// An application's extractor built on `Bytes` that answers every rejection with 400, as the
/// showcase's `test-post.json` does.
struct Named(usize);

impl<S: Send + Sync> FromRequest<S> for Named {
    type Rejection = EndpointError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(request, state).await.map_err(|e| {
            EndpointError::invalid_payload(format!("cannot read the body: {}", e.body_text()))
        })?;
        Ok(Named(body.len()))
    }
}

#[endpoint(id = "limits", route = "/named", method = post)]
async fn named(Named(length): Named) -> String {
    format!("{length} bytes")
}

/// A handler that reads the raw body with no limit of its own and calls any failure a 400.
#[endpoint(id = "limits", route = "/raw", method = post)]
async fn raw(body: axum::body::Body) -> Result<String, EndpointError> {
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| EndpointError::invalid_payload(format!("cannot read the body: {e}")))?;
    Ok(format!("{} bytes", body.len()))
}

/// Every route above: each must answer 413 to every body path.
/// The two that today's main gets wrong come first.
const ROUTES: [&str; 6] = [
    "/limits/named",
    "/limits/raw",
    "/limits/bytes",
    "/limits/string",
    "/limits/form",
    "/limits/json",
];

/// The content type each route reads: a form for `/limits/form`, JSON for the others.
fn content_type(route: &str) -> &'static str {
    if route.ends_with("/form") {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    }
}

async fn server() -> TestServer {
    let mut config = test_config();
    config.body_limit = LIMIT;
    start_with(config).await
}

/// A JSON document of exactly `size` bytes (at least 16), which every route above accepts.
fn document(size: usize) -> Vec<u8> {
    let mut body = br#"{"padding":""#.to_vec();
    body.resize(size - 2, b'x');
    body.extend_from_slice(br#""}"#);
    body
}

/// The body of every 413 here.
fn too_large() -> serde_json::Value {
    json!({
        "status": "fail",
        "data": {
            "code": "PAYLOAD_TOO_LARGE",
            "message": format!("the request body is larger than the limit of {LIMIT} bytes (ENDPOINT_BODY_LIMIT)"),
            "details": { "limit": LIMIT },
        },
    })
}

/// A response read off a raw socket.
struct RawResponse {
    head: String,
    body: Vec<u8>,
}

impl RawResponse {
    fn status_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then_some(value.trim())
        })
    }
}

/// Reads one response with a `Content-Length` (an interim `100 Continue` included in `head` if
/// the server sent one first), within 10 s.
async fn read_response(stream: &mut (impl AsyncReadExt + Unpin)) -> RawResponse {
    let read = async {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                let response = RawResponse {
                    head,
                    body: Vec::new(),
                };
                let length: usize = response
                    .header("content-length")
                    .map(|v| v.parse().unwrap())
                    .unwrap_or(0);
                if buffer.len() >= end + 4 + length {
                    return RawResponse {
                        body: buffer[end + 4..end + 4 + length].to_vec(),
                        ..response
                    };
                }
            }
            let read = stream.read(&mut chunk).await.unwrap();
            assert!(
                read > 0,
                "closed before a whole response: {}",
                String::from_utf8_lossy(&buffer)
            );
            buffer.extend_from_slice(&chunk[..read]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a response within 10 s")
}

/// Sends `head` then `body` in chunked encoding (8 KiB chunks) from a task of its own, and
/// reads the response meanwhile: the server may answer, and stop reading, before the body ends.
async fn send_chunked(server: &TestServer, head: &str, body: Vec<u8>) -> RawResponse {
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = head.to_string();
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for chunk in body.chunks(8 * 1024) {
            writer
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            writer.write_all(chunk).await?;
            writer.write_all(b"\r\n").await?;
        }
        writer.write_all(b"0\r\n\r\n").await?;
        Ok::<_, std::io::Error>(writer)
    });
    let response = read_response(&mut reader).await;
    // The upload may have been cut short by the server: only the response matters.
    let _ = writing.await.unwrap();
    response
}

/// Posts a document of `size` bytes to `route` with a `Content-Length`.
async fn post(
    client: &reqwest::Client,
    server: &crate::support::TestServer,
    route: &str,
    size: usize,
) -> reqwest::Response {
    client
        .post(server.url(route))
        .header("content-type", content_type(route))
        .body(document(size))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn fixed_length_over_the_limit_is_413_before_the_body_is_read() {
    let server = server().await;
    for route in ROUTES {
        let response = post(&client(), &server, route, OVER).await;
        assert_eq!(response.status().as_u16(), 413, "{route}");
        assert_eq!(response.headers()["connection"], "close", "{route}");
        assert_eq!(
            json(&response.text().await.unwrap()),
            too_large(),
            "{route}"
        );
    }
    // Up to the limit, every route reads the body.
    for route in ROUTES {
        let response = post(&client(), &server, route, LIMIT).await;
        assert_eq!(response.status().as_u16(), 200, "{route}");
    }
}

#[tokio::test]
async fn chunked_over_the_limit_is_413_whatever_reads_it() {
    let server = server().await;
    for route in ROUTES {
        let head = format!(
            "POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
            content_type(route)
        );
        let response = send_chunked(&server, &head, document(OVER)).await;
        assert!(
            response.status_line().starts_with("HTTP/1.1 413 "),
            "{route}: {}",
            response.head
        );
        assert_eq!(response.header("connection"), Some("close"), "{route}");
        assert_eq!(
            json(&String::from_utf8_lossy(&response.body)),
            too_large(),
            "{route}"
        );
        // Exactly the limit is not over it.
        let response = send_chunked(&server, &head, document(LIMIT)).await;
        assert!(
            response.status_line().starts_with("HTTP/1.1 200 "),
            "{route}: {}",
            response.head
        );
    }
}

#[tokio::test]
async fn http2_over_the_limit_is_413_with_or_without_a_length() {
    let server = server().await;
    // With `content-length`: refused before it is read.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for route in ROUTES {
        let response = post(&h2, &server, route, OVER).await;
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        assert_eq!(response.status().as_u16(), 413, "{route}");
        assert!(
            response.headers().get("connection").is_none(),
            "HTTP/2 has no `Connection` header"
        );
        assert_eq!(
            json(&response.text().await.unwrap()),
            too_large(),
            "{route}"
        );
    }
    // Without a length: DATA frames until the limit trips.
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let driving = tokio::spawn(connection);
    for (route, size, status) in ROUTES
        .iter()
        .flat_map(|route| [(route, OVER, 413), (route, LIMIT, 200)])
    {
        let frames = document(size)
            .chunks(8 * 1024)
            .map(|chunk| Ok::<_, Infallible>(Frame::data(Bytes::copy_from_slice(chunk))))
            .collect::<Vec<_>>();
        let request = hyper::Request::post(server.url(route))
            .header("content-type", content_type(route))
            .body(StreamBody::new(futures_util::stream::iter(frames)))
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{route}, {size} bytes");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        if status == 413 {
            assert_eq!(
                json(&String::from_utf8_lossy(&body)),
                too_large(),
                "{route}"
            );
        }
    }
    driving.abort();
}

#[tokio::test]
async fn expect_continue_over_the_limit_is_413_without_100_continue() {
    let server = server().await;
    for route in ROUTES {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // The head alone: a client that asked for `100 Continue` waits for it.
        let head = format!(
            "POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nContent-Length: {OVER}\r\nExpect: 100-continue\r\n\r\n",
            content_type(route)
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let response = read_response(&mut stream).await;
        assert!(
            response.status_line().starts_with("HTTP/1.1 413 "),
            "{route}: the first line is not a 413: {}",
            response.head
        );
        assert!(!response.head.contains("100 Continue"), "{route}");
        assert_eq!(response.header("connection"), Some("close"), "{route}");
        assert_eq!(
            json(&String::from_utf8_lossy(&response.body)),
            too_large(),
            "{route}"
        );
        // And the server closes the connection rather than wait for the body.
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .expect("closed within 5 s");
        assert!(closed.is_ok() && rest.is_empty(), "{route}: {rest:?}");
    }
}

#[tokio::test]
async fn expect_continue_within_the_limit_still_gets_100_continue() {
    let server = server().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let body = document(LIMIT);
    let head = format!(
        "POST /limits/named HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut interim))
        .await
        .expect("100 Continue within 5 s")
        .unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(&body).await.unwrap();
    let response = read_response(&mut stream).await;
    assert!(
        response.status_line().starts_with("HTTP/1.1 200 "),
        "{}",
        response.head
    );
    assert_eq!(response.body, format!("{LIMIT} bytes").as_bytes());
}

#[tokio::test]
async fn a_limit_above_axums_default_is_the_one_its_extractors_read_to() {
    let server = server().await;
    let head = "POST /limits/large HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    // 3 MiB: over axum's 2 MiB default, within the endpoint's 4 MiB.
    let response = send_chunked(&server, head, vec![b'x'; 3 * 1024 * 1024]).await;
    assert!(
        response.status_line().starts_with("HTTP/1.1 200 "),
        "{}",
        response.head
    );
    assert_eq!(String::from_utf8_lossy(&response.body), "3145728 bytes");
    let response = send_chunked(&server, head, vec![b'x'; 5 * 1024 * 1024]).await;
    assert!(
        response.status_line().starts_with("HTTP/1.1 413 "),
        "{}",
        response.head
    );
}

//! The benchmark routes on raw hyper 1 (HTTP/1.1, one `service_fn`, routing by `match`): the
//! floor under any framework built on hyper. No middleware, no body limit.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use endpoint_bench_baselines::{Echo, GREETING, User, port};

fn json(body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

async fn serve(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path();
    Ok(match (request.method(), path) {
        (&Method::GET, "/greet/intro" | "/secure/intro") => {
            let mut response = Response::new(Full::new(Bytes::from_static(GREETING.as_bytes())));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        (&Method::GET, _) if path.starts_with("/users/") => match path[7..].parse::<u64>() {
            Ok(id) => json(serde_json::to_vec(&User::new(id)).expect("serializes")),
            Err(_) => status(StatusCode::BAD_REQUEST),
        },
        (&Method::POST, "/echo") => {
            let Ok(body) = request.into_body().collect().await else {
                return Ok(status(StatusCode::BAD_REQUEST));
            };
            match serde_json::from_slice::<Echo>(&body.to_bytes()) {
                Ok(echo) => json(serde_json::to_vec(&echo).expect("serializes")),
                Err(_) => status(StatusCode::BAD_REQUEST),
            }
        }
        (&Method::POST, "/echo-value") => {
            let Ok(body) = request.into_body().collect().await else {
                return Ok(status(StatusCode::BAD_REQUEST));
            };
            match serde_json::from_slice::<serde_json::Value>(&body.to_bytes()) {
                Ok(echo) => json(serde_json::to_vec(&echo).expect("serializes")),
                Err(_) => status(StatusCode::BAD_REQUEST),
            }
        }
        _ => status(StatusCode::NOT_FOUND),
    })
}

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port(3214)))
        .await
        .expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), hyper::service::service_fn(serve))
                .await;
        });
    }
}

//! A server per test, on an ephemeral port, stopped by dropping or by [`TestServer::stop`].

use std::time::Duration;

use endpoint_runtime::{App, Config, Error};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), Error>>>,
}

pub(crate) fn test_config() -> Config {
    let mut config = Config::default();
    config.port = 0;
    config.shutdown_grace = Duration::from_secs(5);
    // A test that wants `#[schedule]` jobs to run turns them on.
    config.schedules = false;
    config
}

pub(crate) async fn start() -> TestServer {
    start_with(test_config()).await
}

pub(crate) async fn start_with(config: Config) -> TestServer {
    start_app(App::new().config(config)).await
}

pub(crate) async fn start_app(app: App) -> TestServer {
    let server = app.bind().await.expect("server binds");
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.serve_until(async move {
        let _ = stopped.await;
    }));
    TestServer {
        base: format!("http://{addr}"),
        addr,
        stop: Some(stop),
        handle: Some(handle),
    }
}

impl TestServer {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signals shutdown and returns the serve task, to await its end.
    pub(crate) fn stop(&mut self) -> JoinHandle<Result<(), Error>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.handle.take().expect("stopped once")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GETs `path` and returns status, `content-type` and body.
pub(crate) async fn get(server: &TestServer, path: &str) -> (u16, String, String) {
    send(server, reqwest::Method::GET, path).await
}

pub(crate) async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
) -> (u16, String, String) {
    let response = client()
        .request(method, server.url(path))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

pub(crate) fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Checks a 5xx answer to a panic or an internal error: 500, the JSend error body carrying the
/// request id of the `x-request-id` header, and nothing of `secret` (the panic message or the
/// error's detail).
pub(crate) async fn assert_internal_error(response: reqwest::Response, secret: &str) {
    assert_eq!(response.status().as_u16(), 500);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let text = response.text().await.unwrap();
    assert!(!text.contains(secret), "the detail leaked: {text}");
    assert_eq!(
        json(&text),
        serde_json::json!({ "status": "error", "code": "INTERNAL", "message": "internal server error", "data": { "request_id": request_id } })
    );
}

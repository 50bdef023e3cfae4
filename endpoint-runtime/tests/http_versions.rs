//! The protocols the server speaks on its one port: HTTP/1.1 always, HTTP/2 by prior
//! knowledge with the `http2` feature only. Without it a client's HTTP/2 preface is refused:
//! hyper's HTTP/1 parser closes the connection without an answer. Runs in every feature set.

use endpoint_runtime::{App, Config};

#[tokio::test]
async fn http2_is_served_with_its_feature_only() {
    let mut config = Config::default();
    config.port = 0;
    let server = App::new().config(config).bind().await.unwrap();
    let url = format!("http://{}/nowhere", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));

    // HTTP/1.1: the envelope's 404 (no endpoint is registered in this test binary).
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), 404);

    let http2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let answer = http2.get(&url).send().await;
    if cfg!(feature = "http2") {
        let response = answer.unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        assert_eq!(response.status(), 404);
    } else {
        let error = answer.expect_err("an HTTP/2 preface without the feature");
        assert!(!error.is_status(), "refused before any answer: {error}");
    }

    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

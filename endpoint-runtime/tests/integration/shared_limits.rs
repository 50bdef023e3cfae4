//! Rate limits shared through Redis (`ENDPOINT_REDIS_URL`, feature `redis`): two instances
//! together admit what one would; a store that does not answer admits or refuses as
//! `ENDPOINT_RATE_LIMIT_ON_STORE_ERROR` says.
//!
//! The shared-budget test needs a Redis server: `ENDPOINT_TEST_REDIS_URL`
//! (`export ENDPOINT_TEST_REDIS_URL=$(bash .ci/redis.sh start)`, as CI does). Without it, it
//! says so and checks nothing; the store-error tests need no server.

use endpoint_runtime::{App, RedisConfig, StoreErrorPolicy};

use crate::support::{TestServer, client, start_app, test_config};

/// An instance of this test binary's endpoints with its rate limits in `redis`.
async fn instance(redis: RedisConfig) -> TestServer {
    let mut config = test_config();
    config.redis = Some(redis);
    start_app(App::new().config(config)).await
}

/// A `redis://` URL on which nothing listens: a port just released.
fn dead_redis() -> RedisConfig {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    RedisConfig::new(format!("redis://127.0.0.1:{port}/0"))
}

#[tokio::test]
async fn two_instances_together_admit_what_one_would() {
    let Ok(url) = std::env::var("ENDPOINT_TEST_REDIS_URL") else {
        eprintln!("ENDPOINT_TEST_REDIS_URL is not set: the shared budget is not tested");
        return;
    };
    // A fresh database: a bucket from an earlier run would still hold its requests.
    let mut connection = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("ENDPOINT_TEST_REDIS_URL is reachable");
    let () = redis::cmd("FLUSHDB")
        .query_async(&mut connection)
        .await
        .unwrap();
    let first = instance(RedisConfig::new(url.as_str())).await;
    let second = instance(RedisConfig::new(url.as_str())).await;
    // `/policy/limited` allows 3 a minute per caller; alternate between the instances.
    let mut statuses = Vec::new();
    let mut remaining = Vec::new();
    for attempt in 0..8 {
        let server = if attempt % 2 == 0 { &first } else { &second };
        let response = client()
            .get(server.url("/policy/limited"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        let headers = response.headers();
        assert_eq!(
            headers["ratelimit-policy"], "\"endpoint\";q=3;w=60",
            "attempt {attempt}"
        );
        remaining.push(headers["ratelimit"].to_str().unwrap().to_string());
        if response.status() == 429 {
            let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=20).contains(&retry), "one request per 20 s: {retry}");
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429, 429]);
    assert!(
        remaining[0].starts_with("\"endpoint\";r=2;"),
        "{remaining:?}"
    );
    assert!(
        remaining[1].starts_with("\"endpoint\";r=1;"),
        "{remaining:?}"
    );
    assert!(
        remaining[2].starts_with("\"endpoint\";r=0;"),
        "{remaining:?}"
    );
    // The bucket is one key in Redis, expiring when it is full again.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("endpoint:ratelimit:*")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].starts_with("endpoint:ratelimit:/policy/limited "),
        "{keys:?}"
    );
    assert!(keys[0].ends_with(":ip:127.0.0.1"), "{keys:?}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((1..=60_000).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn a_store_that_does_not_answer_admits_by_default() {
    let server = instance(dead_redis()).await;
    // More than the 3 a minute: the limit cannot be checked, so it does not hold.
    for attempt in 0..5 {
        let response = client()
            .get(server.url("/policy/limited"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "attempt {attempt}");
        assert!(
            !response.headers().contains_key("ratelimit"),
            "no remaining count is known"
        );
    }
}

#[tokio::test]
async fn a_store_that_does_not_answer_refuses_under_deny() {
    let mut redis = dead_redis();
    redis.on_store_error = StoreErrorPolicy::Deny;
    let server = instance(redis).await;
    let response = client()
        .get(server.url("/policy/limited"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "error", "{body}");
    // Endpoints without a rate limit never ask the store.
    let response = client()
        .post(server.url("/policy/small"))
        .body("four")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

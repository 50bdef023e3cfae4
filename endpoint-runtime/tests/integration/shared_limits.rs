//! Rate limits shared through Redis (`ENDPOINT_REDIS_URL`, feature `redis`): two instances
//! together admit what one would; a store that does not answer admits or refuses as
//! `ENDPOINT_RATE_LIMIT_ON_STORE_ERROR` says.
//!
//! The shared-budget tests need a Redis server: `ENDPOINT_TEST_REDIS_URL`
//! (`export ENDPOINT_TEST_REDIS_URL=$(bash .ci/redis.sh start)`, as CI does). Without it they
//! say so and check nothing, unless `ENDPOINT_TEST_REQUIRE_REDIS` is set (CI sets it), where
//! they fail; the store-error tests need no server.

use endpoint_runtime::prelude::*;
use endpoint_runtime::{App, RedisConfig, StoreErrorPolicy};

use crate::support::{TestServer, client, start_app, test_config};

/// 7 a minute: an emission interval of 8,571,428.57 µs, which is not whole.
#[endpoint(id = "shared", route = "/seven", rate_limit = "7/minute")]
async fn seven() -> &'static str {
    "ok"
}

/// The Redis of `ENDPOINT_TEST_REDIS_URL` without the rate-limit buckets of `route` (each test
/// its own route: they run at once), or `None` when it is not set, unless
/// `ENDPOINT_TEST_REQUIRE_REDIS` is (CI sets both: there, its absence fails the test).
async fn test_redis(route: &str) -> Option<(String, redis::aio::MultiplexedConnection)> {
    let Ok(url) = std::env::var("ENDPOINT_TEST_REDIS_URL") else {
        assert!(
            std::env::var_os("ENDPOINT_TEST_REQUIRE_REDIS").is_none(),
            "ENDPOINT_TEST_REDIS_URL is required here (bash .ci/redis.sh start)"
        );
        eprintln!("ENDPOINT_TEST_REDIS_URL is not set: the shared budget is not tested");
        return None;
    };
    let mut connection = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("ENDPOINT_TEST_REDIS_URL is reachable");
    // A bucket from an earlier run would still hold its requests; nothing else is touched.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("endpoint:ratelimit:* {route} *"))
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        let () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    Some((url, connection))
}

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
    let Some((url, mut connection)) = test_redis("/policy/limited").await else {
        return;
    };
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
        .arg("endpoint:ratelimit:* /policy/limited *")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(
        keys,
        ["endpoint:ratelimit:GET /policy/limited integration::policy::limited:ip:127.0.0.1"]
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((1..=60_000).contains(&ttl), "{ttl}");
}

/// The count of what remains is exact when the emission interval is not a whole number of
/// microseconds (it was one short, from floating-point rounding of Redis's clock).
#[tokio::test]
async fn what_remains_is_counted_exactly() {
    let Some((url, _connection)) = test_redis("/shared/seven").await else {
        return;
    };
    let server = instance(RedisConfig::new(url.as_str())).await;
    let mut remaining = Vec::new();
    for _ in 0..8 {
        let response = client()
            .get(server.url("/shared/seven"))
            .send()
            .await
            .unwrap();
        let state = response.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .to_string();
        let left = state
            .split(';')
            .find_map(|part| part.strip_prefix("r="))
            .unwrap()
            .parse::<u32>()
            .unwrap();
        remaining.push((response.status().as_u16(), left));
    }
    assert_eq!(
        remaining,
        [
            (200, 6),
            (200, 5),
            (200, 4),
            (200, 3),
            (200, 2),
            (200, 1),
            (200, 0),
            (429, 0)
        ]
    );
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

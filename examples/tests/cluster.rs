//! A real cluster on loopback (issue 18's proof): three showcase instances on one PostgreSQL
//! and one Redis behind HAProxy, started and restarted by `examples/cluster/cluster.sh`.
//!
//! - a route limited to 3 per minute answers 3 successes in total across the instances;
//! - an `Idempotency-Key` POST retried against another instance is answered from the stored
//!   response, and creates one article;
//! - steady load through HAProxy while the instances are restarted one after another with
//!   SIGTERM: no request fails;
//! - an instance that commits publications (and does not deliver) is killed with SIGKILL right
//!   after: every publication gets exactly one audit row, delivered by another instance;
//! - an instance that delivers is killed with SIGKILL while publications are in flight:
//!   every article that is published has exactly one audit row, every draft none.
//!
//! Runs when `ENDPOINT_TEST_CLUSTER=1` (as `.ci/run` sets it), with PostgreSQL, Redis and
//! HAProxy at hand: `ENDPOINT_TEST_POSTGRES_URL` and `ENDPOINT_TEST_REDIS_URL`, else the
//! script starts its own; `haproxy` installed, else the script installs it.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::example;

const SECRET: &str = "cluster-secret-0123456789abcdef0123";
const PORT: u16 = 3300;

/// The cluster; stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
}

impl Cluster {
    fn script(&self, args: &[&str]) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cluster/cluster.sh");
        let status = Command::new("bash")
            .arg(script)
            .args(args)
            .env("SHOWCASE", example("showcase"))
            .env("CLUSTER_DIR", self.dir.path().join("cluster"))
            .env("CLUSTER_PORT", PORT.to_string())
            .env("CLUSTER_JWT_SECRET", SECRET)
            .status()
            .expect("bash runs");
        assert!(status.success(), "cluster.sh {args:?} failed");
    }

    /// Runs the script off the async runtime, so that the load goes on meanwhile.
    async fn script_async(self: &Arc<Self>, args: &[&str]) {
        let cluster = Arc::clone(self);
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            cluster.script(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .unwrap();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let dir = self.dir.path().join("cluster");
        if std::thread::panicking() {
            // The instances' logs, before `stop` removes them.
            for i in 1..=3 {
                let log = std::fs::read_to_string(dir.join(format!("instance-{i}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                eprintln!("--- instance {i} ---");
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cluster/cluster.sh");
        let stopped = Command::new("bash")
            .arg(script)
            .arg("stop")
            .env("CLUSTER_DIR", &dir)
            .env("CLUSTER_PORT", PORT.to_string())
            .status();
        if !stopped.as_ref().is_ok_and(|status| status.success()) {
            eprintln!("cluster.sh stop failed: {stopped:?}");
        }
    }
}

/// HAProxy's count of retried and redispatched requests (the backend's `wretr` and
/// `wredis`).
async fn retries(client: &reqwest::Client) -> (u64, u64) {
    let csv = client
        .get(url(PORT + 99, "/stats;csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let backend = csv
        .lines()
        .map(|line| line.split(',').collect::<Vec<_>>())
        .find(|fields| fields.len() > 16 && fields[0] == "showcase" && fields[1] == "BACKEND")
        .expect("the backend's line");
    let number = |i: usize| backend[i].parse().unwrap_or(0);
    (number(15), number(16))
}

fn token(args: &[&str]) -> String {
    support::token("showcase", SECRET, args)
}

fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_behind_haproxy() {
    if std::env::var("ENDPOINT_TEST_CLUSTER").as_deref() != Ok("1") {
        eprintln!("ENDPOINT_TEST_CLUSTER is not 1: the cluster is not tested");
        return;
    }
    let cluster = Arc::new(Cluster {
        dir: tempfile::tempdir().unwrap(),
    });
    cluster.script(&["start", "3"]);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let run = uuid();
    let eve = token(&["--user", "eve", "--role", "editor"]);
    let root = token(&["--user", "root", "--admin"]);

    // A shared limit: 3 per minute for one caller, sent to the three instances in turn.
    let caller = token(&["--user", &format!("limited-{run}")]);
    let mut statuses = Vec::new();
    for n in 0..9 {
        let response = client
            .post(url(PORT + 1 + n % 3, "/contact"))
            .bearer_auth(&caller)
            .json(&json!({ "message": format!("hello {n}") }))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        (
            statuses.iter().filter(|s| **s == 202).count(),
            statuses.iter().filter(|s| **s == 429).count()
        ),
        (3, 6),
        "{statuses:?}"
    );

    // An idempotent POST to instance 1, retried against instance 3.
    let key = format!("\"article-{run}\"");
    let title = format!("Idempotent {run}");
    let create = |port: u16| {
        client
            .post(url(port, "/articles"))
            .bearer_auth(&eve)
            .header("idempotency-key", &key)
            .json(&json!({ "title": title, "author_id": 1 }))
            .send()
    };
    let first = create(PORT + 1).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = first.text().await.unwrap();
    let retry = create(PORT + 3).await.unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.text().await.unwrap(), first);
    let found = get_json(
        &client,
        &format!(
            "/items/articles?filter[title][_eq]={}",
            title.replace(' ', "%20")
        ),
        &root,
    )
    .await;
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1), "{found}");

    // Steady load through HAProxy while each instance is restarted with SIGTERM.
    let retried_before = retries(&client).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_secs(90);
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (client, stop, ok, failed) = (
                client.clone(),
                Arc::clone(&stop),
                Arc::clone(&ok),
                Arc::clone(&failed),
            );
            tokio::spawn(async move {
                let path = if worker % 2 == 0 {
                    "/greet/intro"
                } else {
                    "/recipes/popular"
                };
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match client.get(url(PORT, path)).send().await {
                        Ok(response) if response.status() == StatusCode::OK => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(response) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            failures.push(format!("{path}: {}", response.status()));
                        }
                        Err(error) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            failures.push(format!("{path}: {error}"));
                        }
                    }
                }
                failures
            })
        })
        .collect();
    for instance in ["1", "2", "3"] {
        cluster.script_async(&["restart", instance]).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for worker in workers {
        failures.extend(worker.await.unwrap());
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let retried = retries(&client).await;
    eprintln!(
        "rolling restart: {ok} requests answered 200, {failed} failed; HAProxy retried {} and \
         redispatched {} (connections refused or closed by an instance stopping)",
        retried.0 - retried_before.0,
        retried.1 - retried_before.1
    );
    assert_eq!(failed, 0, "{failures:?}");
    assert!(ok > 100, "the load ran: {ok} requests");

    // Instance 2 stops delivering events (ENDPOINT_OUTBOX_DELIVER=off), publishes articles,
    // and is killed right after its commits: the other instances deliver every publication's
    // audit row, once.
    cluster.script_async(&["kill", "2"]).await;
    cluster
        .script_async(&["up", "2", "ENDPOINT_OUTBOX_DELIVER=off"])
        .await;
    let ids = drafts(&client, &eve, &format!("Crash {run}")).await;
    for id in &ids {
        let published = client
            .post(url(PORT + 2, &format!("/articles/{id}/publish")))
            .bearer_auth(&eve)
            .send()
            .await
            .unwrap();
        assert_eq!(published.status(), StatusCode::OK);
    }
    cluster.script_async(&["kill", "2"]).await;
    let wanted: Vec<String> = ids.iter().map(|id| format!("article:{id}")).collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    let audited = loop {
        let subjects: Vec<String> = audit_subjects(&client, &root)
            .await
            .into_iter()
            .filter(|subject| wanted.contains(subject))
            .collect();
        if subjects.len() >= wanted.len() || Instant::now() > deadline {
            break subjects;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut sorted = audited.clone();
    sorted.sort();
    let mut expected = wanted.clone();
    expected.sort();
    assert_eq!(sorted, expected, "one audit row per publication");

    // Instance 3, delivering, is killed while publications are in flight: whatever committed
    // gets its audit row once (from the outbox, after the lease of a row it had claimed runs
    // out); whatever did not stays a draft without one.
    let ids = drafts(&client, &eve, &format!("In flight {run}")).await;
    let publishing: Vec<_> = ids
        .iter()
        .map(|id| {
            let request = client
                .post(url(PORT + 3, &format!("/articles/{id}/publish")))
                .bearer_auth(&eve)
                .send();
            tokio::spawn(request)
        })
        .collect();
    cluster.script_async(&["kill", "3"]).await;
    for publication in publishing {
        let _ = publication.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut consistent = true;
        let subjects = audit_subjects(&client, &root).await;
        let mut detail = Vec::new();
        for id in &ids {
            let article = get_json(&client, &format!("/items/articles/{id}"), &root).await;
            let published = article["data"]["status"] == "published";
            let subject = format!("article:{id}");
            let rows = subjects.iter().filter(|s| **s == subject).count();
            consistent &= rows == usize::from(published);
            detail.push((*id, published, rows));
        }
        if consistent {
            eprintln!("killed in flight: (id, published, audit rows) {detail:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a committed publication without exactly one audit row: {detail:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Eight draft articles titled `{prefix} {n}`, created through HAProxy; their ids.
async fn drafts(client: &reqwest::Client, editor: &str, prefix: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for n in 0..8 {
        let created: Value = client
            .post(url(PORT, "/articles"))
            .bearer_auth(editor)
            .json(&json!({ "title": format!("{prefix} {n}"), "author_id": 2 }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(created["data"]["id"].as_i64().expect("an id"));
    }
    ids
}

/// The subject of every audit row (`article:<id>`), read through HAProxy as an admin.
async fn audit_subjects(client: &reqwest::Client, admin: &str) -> Vec<String> {
    get_json(client, "/audit-log", admin)
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["subject"].as_str().map(str::to_string))
        .collect()
}

/// `GET path` through HAProxy as `token`'s caller: the JSON body.
async fn get_json(client: &reqwest::Client, path: &str, token: &str) -> Value {
    client
        .get(url(PORT, path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A value unique to this run: earlier runs' rate-limit buckets and keys are not ours.
fn uuid() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

//! What the transactional outbox adds to the showcase's `publish_article` (issue 18's
//! benchmark): time per publication, in one process, on SQLite and on PostgreSQL (when
//! `ENDPOINT_TEST_POSTGRES_URL` names a server), medians of rounds, side by side.
//!
//! ```sh
//! cargo run --release -p endpoint-bench --bin bench-outbox [-- ROUNDS CALLS]   # default 9 300
//! ```
//!
//! - **in-request hook** (the showcase before the outbox): `UPDATE articles …` on the pool,
//!   then `ctx.emit`, whose hook inserts the audit row before the request goes on;
//! - **outbox**: `ctx.transaction()`, the same `UPDATE`, `tx.emit` writing the durable hook's
//!   outbox row (and, on PostgreSQL, `pg_notify`), `commit`; the audit row is inserted after,
//!   by the deliverer, which runs meanwhile in the same process as it would in a server.

use std::time::{Duration, Instant};

use endpoint_runtime::prelude::*;
use endpoint_runtime::{App, Config, DatabaseUrl, sqlx, with_pool};

/// The audit row, as the showcase writes it.
async fn audit(event: &Event, ctx: &Context) -> Result<(), EndpointError> {
    with_pool!(ctx.database()?, |pool| {
        sqlx::query(
            "INSERT INTO audit_log (event, subject, actor, created_at, event_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.name)
        .bind(format!("article:{}", event.payload["id"]))
        .bind(event.accountability.user.clone())
        .bind(0_i64)
        .bind(&event.id)
        .execute(pool)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

#[hook(event = "bench.in_request")]
async fn audit_in_request(event: Event, ctx: Context) -> Result<(), EndpointError> {
    audit(&event, &ctx).await
}

#[hook(event = "bench.durable", durable)]
async fn audit_durable(event: Event, ctx: Context) -> Result<(), EndpointError> {
    audit(&event, &ctx).await
}

const UPDATE: &str = "UPDATE articles SET published_at = $1 WHERE id = $2";

async fn in_request(ctx: &Context, id: i64) -> Result<(), EndpointError> {
    with_pool!(ctx.database()?, |pool| {
        sqlx::query(UPDATE)
            .bind(1_i64)
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ())
    })?;
    ctx.emit("bench.in_request", json!({ "id": id })).await?;
    Ok(())
}

async fn outbox(ctx: &Context, id: i64) -> Result<(), EndpointError> {
    let mut tx = ctx.transaction().await?;
    with_pool!(&mut tx, |conn| {
        sqlx::query(UPDATE)
            .bind(1_i64)
            .bind(id)
            .execute(conn)
            .await
            .map(|_| ())
    })?;
    tx.emit("bench.durable", json!({ "id": id })).await?;
    tx.commit().await
}

/// Runs the rounds; answers µs per publication `[in-request, outbox, ratio]` (medians) and
/// how long the deliverer then took to write every outstanding audit row.
#[endpoint(id = "bench", route = "/outbox", method = post)]
async fn bench(ctx: Context, Json(args): Json<Value>) -> Result<Json<Value>, EndpointError> {
    let rounds = args["rounds"].as_u64().unwrap_or(9) as usize;
    let calls = args["calls"].as_u64().unwrap_or(300) as usize;
    let (mut plain, mut durable, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
        // Interleaved call by call, in alternating order: both see the same moment of the VM.
        for call in 0..calls {
            let id = (call % 6) as i64 + 1;
            for side in [call % 2, 1 - call % 2] {
                let started = Instant::now();
                if side == 0 {
                    in_request(&ctx, id).await?;
                    a += started.elapsed();
                } else {
                    outbox(&ctx, id).await?;
                    b += started.elapsed();
                }
            }
        }
        let a = a.as_secs_f64() * 1e6 / calls as f64;
        let b = b.as_secs_f64() * 1e6 / calls as f64;
        plain.push(a);
        durable.push(b);
        ratios.push(b / a);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // Every durable audit row written: the deliverer keeps up.
    let wanted = (rounds * calls * 2) as i64;
    let started = Instant::now();
    loop {
        let written: i64 = with_pool!(ctx.database()?, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
                .fetch_one(pool)
                .await
        })?;
        if written >= wanted || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        endpoint_runtime::tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(Json(json!({
        "in_request": median(plain),
        "outbox": median(durable),
        "ratio": median(ratios),
        "drain_ms": started.elapsed().as_secs_f64() * 1e3,
    })))
}

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    let mut args = std::env::args().skip(1);
    let rounds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(9);
    let calls: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let mut databases = vec![("SQLite", None)];
    if let Ok(url) = std::env::var("ENDPOINT_TEST_POSTGRES_URL") {
        databases.push(("PostgreSQL", Some(url)));
    }
    println!("publish_article's database work: an in-request audit hook against the outbox");
    println!(
        "{rounds} rounds of {calls} publications of each, interleaved; medians of µs per publication and of the per-round ratio\n"
    );
    println!("| database | in-request hook | outbox | ratio | outbox drained after |");
    println!("|---|---:|---:|---:|---:|");
    for (label, url) in databases {
        let mut config = Config::default();
        config.request_timeout = Duration::from_secs(3600);
        config.database_url = url.map(DatabaseUrl);
        let client = App::new()
            .config(config)
            .migrations(endpoint_runtime::migrations!(
                "../../examples/showcase/migrations"
            ))
            .test_client()
            .await?;
        let times: Value = client
            .post("/bench/outbox")
            .json(&json!({ "rounds": rounds, "calls": calls }))
            .send()
            .await
            .json();
        let number = |key: &str| times[key].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {label} | {:.0} µs | {:.0} µs | {:.2} | {:.0} ms |",
            number("in_request"),
            number("outbox"),
            number("ratio"),
            number("drain_ms"),
        );
    }
    Ok(())
}

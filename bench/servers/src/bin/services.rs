//! `ItemsService::read_by_query` against the hand-written sqlx queries it replaced in the
//! showcase (issue 16's benchmark): time per call, in one process, on one SQLite file with the
//! showcase's data, medians of rounds, both printed side by side.
//!
//! ```sh
//! cargo run --release -p endpoint-bench --bin bench-services [-- ROUNDS CALLS]   # default 15 2000
//! ```
//!
//! Both sides return the same typed rows; the service side runs its whole path (permissions,
//! query parsing and checking, SQL building with sea-query, JSON decoding) as the role the
//! showcase's handler runs as.

use std::time::Instant;

use endpoint_runtime::prelude::*;
use endpoint_runtime::services::{Permissions, Query};
use endpoint_runtime::sqlx::{self, Row};
use endpoint_runtime::{Accountability, App, Config};

#[derive(serde::Serialize, serde::Deserialize)]
struct Recipe {
    id: i64,
    title: String,
    views: i64,
}

#[derive(serde::Deserialize)]
struct AuthorRow {
    id: i64,
    name: String,
    articles_func: Count,
}

#[derive(serde::Deserialize)]
struct Count {
    count: i64,
}

#[derive(serde::Serialize)]
struct AuthorStats {
    author_id: i64,
    author: String,
    published: i64,
}

/// The showcase's `recipes/popular`, through the service.
async fn popular_service(ctx: &Context) -> Result<Vec<Recipe>, EndpointError> {
    let query = Query::new()
        .fields(["id", "title", "views"])
        .sort(["-views", "id"])
        .limit(10);
    ctx.items("recipes")?.read_by_query(&query).await
}

/// ... and as it was written before (commit 1fd36c0).
async fn popular_sqlx(ctx: &Context) -> Result<Vec<Recipe>, EndpointError> {
    let rows = sqlx::query("SELECT id, title, views FROM recipes ORDER BY views DESC, id LIMIT 10")
        .fetch_all(ctx.database()?.sqlite()?)
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            Ok(Recipe {
                id: row.try_get("id")?,
                title: row.try_get("title")?,
                views: row.try_get("views")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// The showcase's `article-stats/by-author`, through the service: the authors with the
/// `count()` of their published articles, one statement.
async fn by_author_service(ctx: &Context) -> Result<Vec<AuthorStats>, EndpointError> {
    let query = Query::new()
        .fields(["id", "name", "count(articles)"])
        .deep_filter("articles", json!({ "status": { "_eq": "published" } }))
        .sort(["id"])
        .limit(-1);
    let authors: Vec<AuthorRow> = ctx.items("authors")?.read_by_query(&query).await?;
    Ok(authors
        .into_iter()
        .map(|a| AuthorStats {
            author_id: a.id,
            author: a.name,
            published: a.articles_func.count,
        })
        .collect())
}

/// ... and as it was written before: one SQL per role.
async fn by_author_sqlx(ctx: &Context) -> Result<Vec<AuthorStats>, EndpointError> {
    const ALL: &str = "SELECT au.id, au.name, COUNT(ar.id) AS published FROM authors au \
        LEFT JOIN articles ar ON ar.author_id = au.id AND ar.status = 'published' \
        GROUP BY au.id, au.name ORDER BY au.id";
    const OWN: &str = "SELECT au.id, au.name, COUNT(ar.id) AS published FROM authors au \
        LEFT JOIN articles ar ON ar.author_id = au.id AND ar.status = 'published' \
        WHERE au.user_id = $1 GROUP BY au.id, au.name ORDER BY au.id";
    let who = ctx.accountability();
    let pool = ctx.database()?.sqlite()?;
    let rows = if who.admin || who.has_role("editor") {
        sqlx::query(ALL).fetch_all(pool).await?
    } else {
        sqlx::query(OWN)
            .bind(who.user.clone())
            .fetch_all(pool)
            .await?
    };
    Ok(rows
        .iter()
        .map(|row| {
            Ok(AuthorStats {
                author_id: row.try_get("id")?,
                author: row.try_get("name")?,
                published: row.try_get("published")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// The aggregate of `by-author` alone (published articles per author), through the service...
async fn aggregate_service(ctx: &Context) -> Result<Vec<Value>, EndpointError> {
    ctx.items("articles")?
        .read_by_query(
            &Query::new()
                .aggregate("count", ["*"])
                .group_by(["author_id"])
                .filter(json!({ "status": { "_eq": "published" } }))
                .limit(-1),
        )
        .await
}

/// ... and in SQL, with the caller's rule written in by hand as the service applies it.
async fn aggregate_sqlx(ctx: &Context) -> Result<Vec<Value>, EndpointError> {
    let who = ctx.accountability();
    let pool = ctx.database()?.sqlite()?;
    let rows = if who.has_role("editor") {
        sqlx::query("SELECT author_id, COUNT(*) AS count FROM articles WHERE status = 'published' GROUP BY author_id")
            .fetch_all(pool)
            .await?
    } else {
        sqlx::query(
            "SELECT author_id, COUNT(*) AS count FROM articles WHERE (author_id IN \
             (SELECT id FROM authors WHERE user_id = $1) OR status = 'published') \
             AND status = 'published' GROUP BY author_id",
        )
        .bind(who.user.clone())
        .fetch_all(pool)
        .await?
    };
    Ok(rows
        .iter()
        .map(|row| {
            Ok(json!({ "author_id": row.try_get::<i64, _>("author_id")?, "count": row.try_get::<i64, _>("count")? }))
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Runs the timings as the caller of the request; answers µs per call, each the median of
/// `rounds` rounds of `calls` calls.
#[endpoint(id = "bench", route = "/services", method = post)]
async fn bench(ctx: Context, Json(args): Json<Value>) -> Result<Json<Value>, EndpointError> {
    let rounds = args["rounds"].as_u64().unwrap_or(15) as usize;
    let calls = args["calls"].as_u64().unwrap_or(2000) as usize;
    // Each round interleaves the two sides call by call (in alternating order), so both see
    // the same moment of this VM, whose speed drifts by tens of percent within minutes; the
    // ratio is taken within the round and its median reported.
    macro_rules! pair {
        ($service:expr, $sqlx:expr) => {{
            let (mut service, mut sqlx, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..rounds {
                let (mut a, mut b) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
                for call in 0..calls {
                    for side in [call % 2, 1 - call % 2] {
                        let started = Instant::now();
                        if side == 0 {
                            std::hint::black_box($service.await?);
                            a += started.elapsed();
                        } else {
                            std::hint::black_box($sqlx.await?);
                            b += started.elapsed();
                        }
                    }
                }
                let a = a.as_secs_f64() * 1e6 / calls as f64;
                let b = b.as_secs_f64() * 1e6 / calls as f64;
                service.push(a);
                sqlx.push(b);
                ratios.push(a / b);
            }
            let median = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            json!([median(service), median(sqlx), median(ratios)])
        }};
    }
    // The same answers first: the comparison is of equal work.
    let same = |a: Value, b: Value| {
        if a == b {
            Ok(())
        } else {
            Err(EndpointError::internal(format!(
                "the two reads differ: {a} / {b}"
            )))
        }
    };
    same(
        json!(popular_service(&ctx).await?),
        json!(popular_sqlx(&ctx).await?),
    )?;
    same(
        json!(by_author_service(&ctx).await?),
        json!(by_author_sqlx(&ctx).await?),
    )?;
    Ok(Json(json!({
        "recipes/popular": pair!(popular_service(&ctx), popular_sqlx(&ctx)),
        "article-stats/by-author": pair!(by_author_service(&ctx), by_author_sqlx(&ctx)),
        "its aggregate alone": pair!(aggregate_service(&ctx), aggregate_sqlx(&ctx)),
    })))
}

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    let mut args = std::env::args().skip(1);
    let rounds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
    let calls: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    {
        let permissions = Permissions::from_toml(
            include_str!("../../../../examples/showcase/permissions.toml"),
            "examples/showcase/permissions.toml",
        )?;
        let mut config = Config::default();
        // One request runs every round.
        config.request_timeout = std::time::Duration::from_secs(3600);
        let client = App::new()
            .config(config)
            .migrations(endpoint_runtime::migrations!(
                "../../examples/showcase/migrations"
            ))
            .permissions(permissions)
            .test_client()
            .await?;
        println!(
            "ItemsService::read_by_query against the hand-written sqlx it replaced (SQLite, one process)"
        );
        println!(
            "{rounds} rounds of {calls} calls of each, interleaved call by call; medians of µs per call and of the per-round ratio\n"
        );
        println!("| read | as | ItemsService | hand-written sqlx | ratio |");
        println!("|---|---|---:|---:|---:|");
        for (label, who) in [
            ("editor", Accountability::user("eve", Some("editor"))),
            ("author", Accountability::user("ann", Some("author"))),
        ] {
            let response = client
                .post("/bench/services")
                .json(&json!({ "rounds": rounds, "calls": calls }))
                .as_accountability(who)
                .send()
                .await;
            let times: Value = response.json();
            for read in [
                "recipes/popular",
                "article-stats/by-author",
                "its aggregate alone",
            ] {
                let (service, sqlx) = (
                    times[read][0].as_f64().unwrap_or(f64::NAN),
                    times[read][1].as_f64().unwrap_or(f64::NAN),
                );
                println!(
                    "| `{read}` | {label} | {service:.1} | {sqlx:.1} | {:.2} |",
                    service / sqlx
                );
            }
        }
        Ok(())
    }
}

//! Access levels and accountability: a public, an authenticated, an admin-only and a
//! role-restricted endpoint, with JWTs minted by the application's own `token` command.
//!
//! ```text
//! export ENDPOINT_JWT_SECRET=$(openssl rand -hex 32)
//! cargo run --example access &
//! USER=$(cargo run -q --example access -- token --user ann --role reader)
//! ADMIN=$(cargo run -q --example access -- token --user root --admin)
//! curl -s localhost:3210/articles                                       # public: 200
//! curl -s localhost:3210/articles/drafts                                # 401
//! curl -s -H "Authorization: Bearer $USER" localhost:3210/articles/drafts   # 200
//! curl -s -H "Authorization: Bearer $USER" localhost:3210/articles/stats    # 403 (admin only)
//! curl -s -H "Authorization: Bearer $ADMIN" localhost:3210/articles/stats   # 200
//! curl -s -H "Authorization: Bearer garbage" localhost:3210/articles        # 401, even on a public route
//! ```

use endpoint_runtime::prelude::*;

/// Published articles: anyone may read them.
#[endpoint(id = "articles", route = "/", access = public)]
async fn published() -> JSend<Value> {
    JSend(json!([{ "id": 1, "title": "Hello" }]))
}

/// Drafts: any signed-in user.
#[endpoint(id = "articles", route = "/drafts", access = authenticated)]
async fn drafts(who: Accountability) -> JSend<Value> {
    JSend(json!({ "drafts_of": who.user, "role": who.role }))
}

/// Site statistics: admins only.
#[endpoint(id = "articles", route = "/stats", access = admin)]
async fn stats() -> JSend<Value> {
    JSend(json!({ "articles": 1, "drafts": 0 }))
}

/// Publishing: editors (and admins, who always pass).
#[endpoint(id = "articles", route = "/{id}/publish", method = post, roles = ["editor"])]
async fn publish(id: u64, who: Accountability) -> Result<JSend<Value>, EndpointError> {
    if id == 0 {
        return Err(EndpointError::not_found("no article 0"));
    }
    Ok(JSend(json!({ "id": id, "published_by": who.user })))
}

/// Who am I? Shows the accountability the runtime computed.
#[endpoint(id = "articles", route = "/whoami")]
async fn whoami(who: Accountability) -> Json<Accountability> {
    Json(who)
}

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    endpoint_runtime::run().await
}

#!/usr/bin/env bash
# The runtime as an application with `default-features = false` sees it: a crate outside the
# workspace (so no other member turns the default features back on) builds and passes its
# test, each gated item used without its feature is a compile error naming the feature, and
# a variable that needs a missing feature is refused at start-up naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
app=$(mktemp -d)
trap 'rm -rf "$app"' EXIT
# The workspace's target directory: the dependencies are built once across runs.
export CARGO_TARGET_DIR="$repo/target"

mkdir -p "$app/src/bin" "$app/tests" "$app/migrations"
cp Cargo.lock "$app/Cargo.lock" # the versions CI tested
cat > "$app/Cargo.toml" <<EOF
[package]
name = "minimal-app"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
endpoint-runtime = { path = "$repo/endpoint-runtime", default-features = false }
EOF
echo "CREATE TABLE t (id INTEGER);" > "$app/migrations/0001_t.sql"
cat > "$app/src/lib.rs" <<'EOF'
use endpoint_runtime::prelude::*;

/// Say hello.
#[endpoint(id = "greet", route = "/intro")]
pub async fn intro() -> &'static str {
    "Nice to meet you."
}

/// Only for callers with a static token.
#[endpoint(id = "greet", route = "/secret", access = authenticated)]
pub async fn secret(who: Accountability) -> String {
    who.user.unwrap_or_default()
}
EOF
cat > "$app/src/main.rs" <<'EOF'
endpoint_runtime::link!(minimal_app);

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    endpoint_runtime::run().await
}
EOF
cat > "$app/tests/minimal.rs" <<'EOF'
endpoint_runtime::link!(minimal_app);

use endpoint_runtime::testing::TestClient;

#[endpoint_runtime::test]
async fn routes_access_and_the_envelope_work_without_default_features() {
    let client = TestClient::new().await.unwrap();
    assert_eq!(client.get("/greet/intro").send().await.text(), "Nice to meet you.");
    assert_eq!(client.get("/greet/secret").send().await.status(), 401);
    let body = client.get("/greet/secret").as_user("ann", None).send().await.text();
    assert_eq!(body, "ann");
    let missing = client.get("/nope").send().await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().contains("ROUTE_NOT_FOUND"), "{}", missing.text());
}
EOF

(cd "$app" && cargo test --quiet)
echo "features: the minimal application builds and its test passes"

# Each misuse, alone in a binary: `cargo check` must fail with a message naming the feature.
expect_error() {
  local name=$1 needle=$2
  if out=$(cd "$app" && cargo check --quiet --bin "$name" 2>&1); then
    echo "features: $name compiled without its feature" >&2
    exit 1
  fi
  if ! grep -qF -- "$needle" <<<"$out"; then
    echo "features: $name failed without naming the feature (wanted: $needle):" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "features: $name is refused: $needle"
}
cat > "$app/src/bin/confined.rs" <<'EOF'
use endpoint_runtime::prelude::*;
struct ConfinedRequest;
struct Host;
struct Reply;
struct ConfinedError;
#[endpoint(id = "lab", route = "/x", confined)]
fn sandboxed(_request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    Ok(Reply)
}
fn main() {}
EOF
cat > "$app/src/bin/prerender.rs" <<'EOF'
use endpoint_runtime::prelude::*;
#[endpoint(id = "site", route = "/built.json", prerender)]
async fn built() -> &'static str {
    "{}"
}
fn main() {}
EOF
cat > "$app/src/bin/database.rs" <<'EOF'
use endpoint_runtime::prelude::*;
#[endpoint(id = "db", route = "/")]
async fn count(ctx: Context) -> Result<String, EndpointError> {
    let _ = ctx.database();
    Ok(String::new())
}
fn main() {}
EOF
cat > "$app/src/bin/transaction.rs" <<'EOF'
use endpoint_runtime::prelude::*;
#[endpoint(id = "db", route = "/", method = post)]
async fn publish(ctx: Context) -> Result<String, EndpointError> {
    let _ = ctx.transaction().await;
    Ok(String::new())
}
fn main() {}
EOF
cat > "$app/src/bin/schema.rs" <<'EOF'
use endpoint_runtime::prelude::*;
#[endpoint(id = "db", route = "/")]
async fn collections(ctx: Context) -> Result<String, EndpointError> {
    let _ = ctx.schema().await;
    Ok(String::new())
}
fn main() {}
EOF
cat > "$app/src/bin/migrations.rs" <<'EOF'
fn main() {
    let _ = endpoint_runtime::App::new().migrations(endpoint_runtime::migrations!("migrations"));
}
EOF
cat > "$app/src/bin/openapi.rs" <<'EOF'
fn main() {
    let _ = endpoint_runtime::openapi::DocumentedExtractor::document;
}
EOF
cat > "$app/src/bin/jwt.rs" <<'EOF'
fn main() {
    let _ = endpoint_runtime::auth::mint_token;
}
EOF
cat > "$app/src/bin/jwt_config.rs" <<'EOF'
fn main() {
    let mut config = endpoint_runtime::Config::default();
    config.jwt = Some(endpoint_runtime::JwtConfig::hs256("0123456789abcdef0123456789abcdef"));
}
EOF
expect_error confined 'needs the `confined` feature'
expect_error prerender 'needs the `prerender` feature'
expect_error database 'needs the `sqlite` or `postgres` feature'
expect_error migrations 'needs the `sqlite` or `postgres` feature'
expect_error transaction 'needs the `sqlite` or `postgres` feature'
expect_error schema 'needs the `services` feature'
expect_error openapi 'gated behind the `openapi` feature'
expect_error jwt 'gated behind the `jwt` feature'
expect_error jwt_config 'verifying JWTs needs the `jwt` feature'
rm "$app"/src/bin/*.rs

# A variable that needs a missing feature stops the server, naming the feature.
expect_refusal() {
  local variable=$1 value=$2 needle=$3
  if out=$(cd "$app" && env "$variable=$value" cargo run --quiet --bin minimal-app -- check 2>&1); then
    echo "features: $variable was accepted without its feature" >&2
    exit 1
  fi
  if ! grep -qF -- "$needle" <<<"$out"; then
    echo "features: $variable was refused without naming the feature (wanted: $needle):" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "features: $variable is refused: $needle"
}
expect_refusal ENDPOINT_JWT_SECRET 0123456789abcdef0123456789abcdef '`jwt` feature'
expect_refusal ENDPOINT_DATABASE_URL sqlite://app.db '`sqlite` feature'
expect_refusal ENDPOINT_OPENAPI_PATH /spec.json '`openapi` feature'
echo "features: ok"

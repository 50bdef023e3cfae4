//! A binary whose registry holds conflicting endpoints: `validate()`, `router()` and
//! `App::bind()` must refuse them with both `file:line` sites, before any side effect, and
//! never panic.

use endpoint_runtime::prelude::*;

#[endpoint(id = "dup", route = "/same")]
async fn first() -> &'static str {
    "first"
}

#[endpoint(id = "dup", route = "/same", method = [post, get])]
async fn second() -> &'static str {
    "second"
}

#[endpoint(id = "users", route = "/{id}")]
async fn by_id(id: u64) -> String {
    id.to_string()
}

#[endpoint(id = "users", route = "/{name}")]
async fn by_name(name: String) -> String {
    name
}

#[endpoint(id = "docs", route = "/{id}.json")]
async fn doc_json(id: u64) -> String {
    id.to_string()
}

/// Routed as `/docs/{slug}`, which the router cannot tell from `/docs/{id}` (the suffixed
/// route's routed path).
#[endpoint(id = "docs", route = "/{slug}")]
async fn doc_slug(slug: String) -> String {
    slug
}

#[endpoint(id = "any", route = "/", method = all)]
async fn all_one() {}

#[endpoint(id = "any", route = "/", method = all)]
async fn all_two() {}

fn line_of(needle: &str) -> usize {
    include_str!("conflicts.rs")
        .lines()
        .position(|l| l.contains(needle))
        .unwrap()
        + 1
}

#[test]
fn validate_names_both_sites_of_every_conflict() {
    let error = endpoint_runtime::validate().unwrap_err();
    let endpoint_runtime::Error::Conflicts(conflicts) = &error else {
        panic!("{error}")
    };
    assert_eq!(conflicts.len(), 4, "{error}");
    let message = error.to_string();
    let site = |name: &str| {
        format!(
            "conflicts::{name} at endpoint-runtime/tests/conflicts.rs:{}",
            line_of(&format!("async fn {name}("))
        )
    };
    let duplicate = conflicts
        .iter()
        .find(|c| c.what.contains("GET /dup/same"))
        .expect(&message);
    assert_eq!(duplicate.what, "`GET /dup/same` is defined twice");
    assert!(
        site("first").ends_with(&duplicate.first[duplicate.first.len() - 20..]),
        "{duplicate:?}"
    );
    for name in [
        "first", "second", "by_id", "by_name", "doc_json", "doc_slug", "all_one", "all_two",
    ] {
        let expected = site(name);
        let tail = &expected[expected.find("conflicts.rs").unwrap()..];
        assert!(message.contains(tail), "missing {tail} in:\n{message}");
    }
    assert!(
        message.contains("`/users/{name}` conflicts with `/users/{id}`"),
        "{message}"
    );
    assert!(
        message.contains("`/docs/{slug}` conflicts with `/docs/{id}.json`"),
        "{message}"
    );
    assert!(
        message.contains("`method = all` on `/any` is defined twice"),
        "{message}"
    );
}

#[tokio::test]
async fn router_refuses_to_build() {
    assert!(matches!(
        endpoint_runtime::router().await,
        Err(endpoint_runtime::Error::Conflicts(_))
    ));
}

#[tokio::test]
async fn bind_fails_before_listening() {
    let mut config = endpoint_runtime::Config::default();
    config.port = 0;
    let error = endpoint_runtime::App::new()
        .config(config)
        .bind()
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with("4 route conflict(s):"),
        "{error}"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn conflicts_are_refused_before_the_database_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.db");
    let mut config = endpoint_runtime::Config::default();
    config.port = 0;
    config.database_url = Some(endpoint_runtime::DatabaseUrl(format!(
        "sqlite://{}",
        file.display()
    )));
    let error = endpoint_runtime::App::new()
        .config(config)
        .migrations(endpoint_runtime::migrations!("tests/migrations"))
        .bind()
        .await
        .unwrap_err();
    let created = file.exists();
    assert!(
        matches!(error, endpoint_runtime::Error::Conflicts(_)),
        "{error}"
    );
    assert!(
        !created,
        "the database was created (and migrated) before the conflicts were found"
    );
}

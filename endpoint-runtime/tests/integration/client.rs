//! Typed calls (`endpoint_runtime::client`): `handler::request(...)` builds the request from the
//! registry's route, and the answer decodes by the handler's return type; in process with the
//! test client, and over HTTP with the network client (feature `client`, on in the workspace's
//! test build through the examples crate).

use endpoint_runtime::client::CallError;
use endpoint_runtime::prelude::*;
use endpoint_runtime::testing::TestClient;
use endpoint_runtime::validation::Range;

use crate::validation::{Address, Contact, Paging, Signup, items, queued, remove, signup};

/// A path parameter type with `FromStr` but no `Display`: it can be read, not written.
#[derive(Debug)]
struct Opaque(String);

impl std::str::FromStr for Opaque {
    type Err = std::convert::Infallible;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Opaque(text.to_string()))
    }
}

#[endpoint(id = "typed", route = "/opaque/{key}")]
async fn opaque(key: Opaque) -> String {
    key.0
}

/// A catch-all, whose value keeps its `/`, and a segment that needs escaping.
#[endpoint(id = "typed", route = "/files/{name}/{*rest}")]
async fn files(name: String, rest: String) -> Json<Value> {
    Json(json!({ "name": name, "rest": rest }))
}

fn ada() -> Signup {
    Signup {
        name: "Ada".into(),
        email: "ada@example.com".into(),
        age: 36,
        address: Address {
            zip: "12345".into(),
        },
        contacts: vec![Contact {
            email: "grace@example.com".into(),
        }],
    }
}

#[tokio::test]
async fn typed_calls_decode_by_the_return_type() {
    let client = TestClient::new().await.unwrap();
    // `Created<JSend<String>>`: the JSend `data`.
    let name: String = client.call(signup::request(ada())).await.unwrap();
    assert_eq!(name, "Ada");
    // A path parameter and a query.
    let call = items::request(Range::new(3).unwrap(), Paging { limit: Some(20) });
    assert_eq!(call.uri(), "/validated/items/3?limit=20");
    assert_eq!(client.call(call).await.unwrap(), "page 3 of 20");
    // `NoContent`, `(StatusCode, JSend<bool>)`.
    client
        .call(remove::request(Range::new(2).unwrap()))
        .await
        .unwrap();
    assert!(client.call(queued::request()).await.unwrap());
    // Escaped segments; a catch-all keeps its slashes.
    let call = files::request("a b/c".into(), "x/y z".into());
    assert_eq!(call.uri(), "/typed/files/a%20b%2Fc/x/y%20z");
    assert_eq!(
        client.call(call).await.unwrap(),
        json!({ "name": "a b/c", "rest": "x/y z" })
    );
}

#[tokio::test]
async fn a_refusal_is_its_envelope_and_an_unwritable_value_is_named() {
    let client = TestClient::new().await.unwrap();
    let mut bad = ada();
    bad.age = 7;
    bad.name = String::new();
    match client.call(signup::request(bad)).await {
        Err(CallError::Status {
            status,
            code,
            errors,
            ..
        }) => {
            assert_eq!((status.as_u16(), code.as_str()), (422, "FAILED_VALIDATION"));
            let mut paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
            paths.sort_unstable();
            assert_eq!(paths, ["age", "name"]);
        }
        other => panic!("{other:?}"),
    }
    // A parameter type without `Display` compiles, and the call says why it cannot be sent.
    match client.call(opaque::request(Opaque("k".into()))).await {
        Err(CallError::Build(reason)) => {
            assert!(
                reason.contains("path parameter `key`") && reason.contains("Display"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // `.` and `..` would be resolved by a URL parser (another route): they are refused.
    for (name, rest) in [("..", "x"), ("a", "b/../admin"), ("", "x")] {
        match client.call(files::request(name.into(), rest.into())).await {
            Err(CallError::Build(reason)) => assert!(reason.contains("cannot be sent"), "{reason}"),
            other => panic!("{name} {rest}: {other:?}"),
        }
    }
    // A header HTTP does not allow fails the call, in process as over HTTP.
    // (An integer past i64 is out of any range: 422, not 400.)
    let (status, _, _) = crate::support::get(
        &crate::support::start().await,
        "/validated/items/99999999999999999999",
    )
    .await;
    assert_eq!(status, 422);
    let call = queued::request().header("bad header", "x");
    assert!(matches!(client.call(call).await, Err(CallError::Build(_))));
    // The test client's identity applies to typed calls too.
    let page = client
        .call_with(
            items::request(Range::new(1).unwrap(), Paging { limit: None }),
            |r| r.as_admin("root"),
        )
        .await
        .unwrap();
    assert_eq!(page, "page 1 of 10");
}

/// The same calls over a real socket, with the HTTP client (feature `client`): a request
/// header, the envelope of a refusal, a protected endpoint, and a server that is not there.
#[cfg(feature = "client")]
#[tokio::test]
async fn over_http_with_the_network_client() {
    use endpoint_runtime::client::Client;

    let server = crate::support::start().await;
    let client = Client::new(&server.base);
    assert_eq!(client.call(signup::request(ada())).await.unwrap(), "Ada");
    let page = client
        .call(
            items::request(Range::new(4).unwrap(), Paging { limit: Some(5) })
                .header("x-request-id", "typed-call-1"),
        )
        .await
        .unwrap();
    assert_eq!(page, "page 4 of 5");
    let refused = client
        .call(items::request(
            Range::new(4).unwrap(),
            Paging { limit: Some(500) },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(422));
    // A protected endpoint, called anonymously.
    let anonymous = Client::new(&server.base)
        .call(private::request())
        .await
        .unwrap_err();
    assert_eq!(anonymous.status().map(|s| s.as_u16()), Some(401));
    // Nothing listens here: a transport error, not a status.
    let nowhere = Client::new("http://127.0.0.1:9")
        .call(queued::request())
        .await
        .unwrap_err();
    assert!(matches!(nowhere, CallError::Transport(_)), "{nowhere:?}");
}

/// Only for callers who are signed in.
#[endpoint(id = "typed", route = "/private", access = authenticated)]
async fn private() -> &'static str {
    "signed in"
}

//! Directus's `/items` REST face ([`App::items_api`](crate::App::items_api)): every collection's
//! items over HTTP, through the request pipeline and the caller's permissions.
//!
//! | route | what |
//! |---|---|
//! | `GET /items/{collection}` | `read_by_query`, the query in the query string |
//! | `POST /items/{collection}` | `create_one` (an object) or `create_many` (an array); answers the created items as the caller may read them, 204 when they may read none |
//! | `GET /items/{collection}/{id}` | `read_one` |
//! | `PATCH /items/{collection}/{id}` | `update_one`; answers the item as the caller may read it, 204 when they may not |
//! | `DELETE /items/{collection}/{id}` | `delete_one`; 204 |
//!
//! The query string is Directus's: `?filter[status][_eq]=published&sort=-views&limit=10&fields=id,title`,
//! or a filter in JSON, `?filter={"status":{"_eq":"published"}}`; `fields[]=id&fields[]=title`
//! adds to a list. Bodies answer in JSend. A collection the database does not have is 403
//! `FORBIDDEN`, as one the caller may not use.

use axum::extract::{FromRequest as _, FromRequestParts as _, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::permissions::Action;
use super::{ItemsService, Query, QueryError};
use crate::context::Context;
use crate::error::EndpointError;
use crate::jsend::JSend;

/// The marker [`App::items_api`](crate::App::items_api) registers as state: the routes are
/// mounted when it is there.
pub(crate) struct ItemsApi;

/// `GET /items/{collection}`.
pub(crate) async fn list(request: Request) -> Response {
    answer(
        async {
            let Call { items, request, .. } = call(request, Action::Read).await?;
            let query = query_of(request.uri().query())?;
            let data: Vec<Value> = items.read_by_query(&query).await?;
            Ok(JSend(data).into_response())
        }
        .await,
    )
}

/// `POST /items/{collection}`.
pub(crate) async fn create(request: Request) -> Response {
    answer(
        async {
            let Call { items, request, .. } = call(request, Action::Create).await?;
            let crate::extract::Json(payload) =
                crate::extract::Json::<Value>::from_request(request, &()).await?;
            let keys = match payload {
                Value::Array(payloads) => items.create_many(payloads).await?,
                payload => vec![items.create_one(payload).await?],
            };
            let created: Result<Vec<Value>, EndpointError> =
                items.read_many(&keys, &Query::new()).await;
            Ok(match created {
                Ok(read) if read.len() == keys.len() && keys.len() == 1 => {
                    JSend(read.into_iter().next().unwrap_or_default()).into_response()
                }
                Ok(read) if !read.is_empty() => JSend(read).into_response(),
                _ => StatusCode::NO_CONTENT.into_response(),
            })
        }
        .await,
    )
}

/// `GET /items/{collection}/{id}`.
pub(crate) async fn read(request: Request) -> Response {
    answer(
        async {
            let Call { items, id, request } = call(request, Action::Read).await?;
            let query = query_of(request.uri().query())?;
            let item: Value = items.read_one(id, &query).await?;
            Ok(JSend(item).into_response())
        }
        .await,
    )
}

/// `PATCH /items/{collection}/{id}`.
pub(crate) async fn update(request: Request) -> Response {
    answer(
        async {
            let Call { items, id, request } = call(request, Action::Update).await?;
            let crate::extract::Json(payload) =
                crate::extract::Json::<Value>::from_request(request, &()).await?;
            let key = items.update_one(id, payload).await?;
            Ok(match items.read_one::<Value>(key, &Query::new()).await {
                Ok(item) => JSend(item).into_response(),
                Err(_) => StatusCode::NO_CONTENT.into_response(),
            })
        }
        .await,
    )
}

/// `DELETE /items/{collection}/{id}`.
pub(crate) async fn delete(request: Request) -> Response {
    answer(
        async {
            let Call { items, id, .. } = call(request, Action::Delete).await?;
            items.delete_one(id).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

fn answer(result: Result<Response, EndpointError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// One call of the REST face: the caller's service for the path's collection, the path's
/// `{id}` (`null` on the collection's own routes) and the request, for its query or body.
struct Call {
    items: ItemsService,
    id: Value,
    request: Request,
}

async fn call(request: Request, action: Action) -> Result<Call, EndpointError> {
    let (mut parts, body) = request.into_parts();
    let ctx = Context::from_request_parts(&mut parts, &()).await?;
    let raw = crate::extract::RawParams::from_parts(&mut parts).await?;
    let collection = raw.parse::<String>("collection", "String")?;
    let id = raw
        .parse::<String>("id", "String")
        .map_or(Value::Null, Value::String);
    Ok(Call {
        items: service(&ctx, &collection, action)?,
        id,
        request: Request::from_parts(parts, body),
    })
}

/// The collection's service for the caller; a collection the database does not have is
/// refused as one the caller may not use.
fn service(ctx: &Context, collection: &str, action: Action) -> Result<ItemsService, EndpointError> {
    let known = ctx
        .database()?
        .cached_schema()
        .is_some_and(|schema| schema.collection(collection).is_some());
    if !known {
        return Err(EndpointError::forbidden(format!(
            "you may not {} items of `{collection}`",
            action.as_str()
        )));
    }
    ctx.items(collection)
}

/// The query string as a [`Query`]: `a[b][c]=v` nests, `a[]=v` appends, `filter` (and
/// `aggregate`) may be JSON, an empty value is ignored.
pub(crate) fn query_of(query: Option<&str>) -> Result<Query, EndpointError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|_| QueryError::new("query", "the query string does not decode"))?;
    let mut root = Map::new();
    // An empty value (`fields=`) is no value, as Directus reads it.
    for (key, value) in pairs.into_iter().filter(|(_, value)| !value.is_empty()) {
        let (name, rest) = match key.split_once('[') {
            Some((name, rest)) => (name.to_string(), Some(rest)),
            None => (key.clone(), None),
        };
        let mut path = vec![name.clone()];
        if let Some(rest) = rest {
            let inner = rest
                .strip_suffix(']')
                .ok_or_else(|| QueryError::new(&key, "an unclosed `[`"))?;
            path.extend(inner.split("][").map(str::to_string));
        }
        let value = if path.len() == 1 && matches!(name.as_str(), "filter" | "aggregate") {
            serde_json::from_str(&value).map_err(|_| {
                QueryError::new(&name, "is JSON, or written as `filter[field][_op]=value`")
            })?
        } else {
            Value::String(value)
        };
        set(&mut root, &path, value, &key)?;
    }
    Query::from_json(Value::Object(root))
}

/// Sets `path` in `map`; an empty segment (`fields[]`) appends to a list.
fn set(
    map: &mut Map<String, Value>,
    path: &[String],
    value: Value,
    key: &str,
) -> Result<(), QueryError> {
    let clash = || QueryError::new(key, "is given twice in different shapes");
    match path {
        [] => Ok(()),
        [last] => {
            map.insert(last.clone(), value);
            Ok(())
        }
        [first, empty] if empty.is_empty() => {
            let entry = map
                .entry(first.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            entry.as_array_mut().ok_or_else(clash)?.push(value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = map
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            set(entry.as_object_mut().ok_or_else(clash)?, rest, value, key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn directus_query_strings() {
        let query = query_of(Some(
            "filter[status][_eq]=published&filter[author][name][_eq]=Ann%20B&sort=-views,title&limit=10&fields[]=id&fields[]=title",
        ))
        .unwrap();
        assert_eq!(
            query,
            Query::new()
                .filter(json!({ "status": { "_eq": "published" }, "author": { "name": { "_eq": "Ann B" } } }))
                .sort(["-views", "title"])
                .limit(10)
                .fields(["id", "title"])
        );
        let query = query_of(Some(
            "filter=%7B%22id%22%3A%7B%22_in%22%3A%5B1%2C2%5D%7D%7D&page=2",
        ))
        .unwrap();
        assert_eq!(
            query,
            Query::new()
                .filter(json!({ "id": { "_in": [1, 2] } }))
                .page(2)
        );
        assert_eq!(query_of(None).unwrap(), Query::new());
        for bad in [
            "filter=nope",
            "filter[a=1",
            "limit=ten",
            "unknown=1",
            "sort=a&sort[x]=b",
        ] {
            let error = query_of(Some(bad)).unwrap_err();
            assert_eq!(error.code(), "INVALID_QUERY", "{bad}");
        }
    }
}

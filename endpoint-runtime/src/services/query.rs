//! [`Query`]: Directus's query (`fields`, `filter`, `sort`, `limit`, `offset`, `page`,
//! `search`, `aggregate`, `groupBy`, `deep`), from JSON or built in code.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::QueryError;

/// How many items a read returns when the query sets no `limit` (Directus's
/// `QUERY_LIMIT_DEFAULT`).
pub const DEFAULT_LIMIT: u64 = 100;

/// The most items one read returns: a larger `limit`, or `-1` (Directus's "all"), is capped to
/// it (Directus's `QUERY_LIMIT_MAX`).
pub const MAX_LIMIT: u64 = 1000;

/// A read of a collection, as Directus writes it:
///
/// ```
/// use endpoint_runtime::services::Query;
/// let query: Query = serde_json::from_value(serde_json::json!({
///     "fields": ["id", "title", "author.name"],
///     "filter": { "status": { "_eq": "published" } },
///     "sort": ["-views"],
///     "limit": 10,
/// })).unwrap();
/// assert_eq!(query, Query::new()
///     .fields(["id", "title", "author.name"])
///     .filter(serde_json::json!({ "status": { "_eq": "published" } }))
///     .sort(["-views"])
///     .limit(10));
/// ```
///
/// `fields`, `sort` and `groupBy` also take Directus's comma-separated strings (`"id,title"`),
/// as the query string writes them; `aggregate` maps a function (`count`, `countDistinct`,
/// `sum`, `avg`, `min`, `max`) to fields (`"*"` for `count`). A key Directus does not have is an
/// error (400 `INVALID_QUERY`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Query {
    /// The fields to return (`*` for every readable one, `relation.field` through a
    /// many-to-one relation, `count(relation)` for the number of items of a one-to-many
    /// relation, returned as `relation_func: {"count": n}` as Directus does); default `*`.
    #[serde(default, deserialize_with = "list")]
    pub fields: Option<Vec<String>>,
    /// A filter rule (see [`services`](crate::services)).
    #[serde(default)]
    pub filter: Option<Value>,
    /// Fields to sort by, `-` first for descending.
    #[serde(default, deserialize_with = "list")]
    pub sort: Option<Vec<String>>,
    /// At most this many items; default [`DEFAULT_LIMIT`], capped to [`MAX_LIMIT`] (`-1`: the
    /// cap).
    #[serde(default, deserialize_with = "number")]
    pub limit: Option<i64>,
    /// Items to skip.
    #[serde(default, deserialize_with = "number")]
    pub offset: Option<i64>,
    /// The page of `limit` items, from 1 (sets the offset).
    #[serde(default, deserialize_with = "number")]
    pub page: Option<i64>,
    /// Items with a text field containing this.
    #[serde(default)]
    pub search: Option<String>,
    /// Aggregate functions and their fields: `{"count": ["*"], "sum": ["views"]}`.
    #[serde(default)]
    pub aggregate: Option<BTreeMap<String, Fields>>,
    /// Fields to group the aggregates by.
    #[serde(
        default,
        rename = "groupBy",
        alias = "group_by",
        deserialize_with = "list"
    )]
    pub group_by: Option<Vec<String>>,
    /// Queries of one-to-many relations, by relation: `{"articles": {"_filter": {...}}}`
    /// narrows what `count(articles)` in `fields` counts (Directus's `deep`; `_filter` is the
    /// one key supported).
    #[serde(default)]
    pub deep: Option<BTreeMap<String, Value>>,
}

/// A list of fields: an array, or a comma-separated string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields(pub Vec<String>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Fields(split(StringOrList::deserialize(deserializer)?)))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

fn split(value: StringOrList) -> Vec<String> {
    match value {
        StringOrList::One(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        StringOrList::Many(items) => items,
    }
}

fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    Option::<StringOrList>::deserialize(deserializer).map(|v| v.map(split))
}

/// A number, or its text (the query string's `limit=10`).
fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(i64),
        Text(String),
    }
    match Option::<NumberOrText>::deserialize(deserializer)? {
        None => Ok(None),
        Some(NumberOrText::Number(n)) => Ok(Some(n)),
        Some(NumberOrText::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not an integer"))),
    }
}

impl Query {
    /// An empty query: every readable field, no filter, the first [`DEFAULT_LIMIT`] items.
    pub fn new() -> Self {
        Query::default()
    }

    /// A query from its JSON form.
    ///
    /// # Errors
    ///
    /// - 400 `INVALID_QUERY` naming the key that is not part of a query or has the wrong type.
    pub fn from_json(value: Value) -> Result<Self, crate::EndpointError> {
        serde_json::from_value(value)
            .map_err(|error| QueryError::new("query", error.to_string()).into())
    }

    /// Sets `fields`.
    pub fn fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `filter`.
    pub fn filter(mut self, filter: Value) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Sets `sort`.
    pub fn sort<S: Into<String>>(mut self, sort: impl IntoIterator<Item = S>) -> Self {
        self.sort = Some(sort.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `limit`.
    pub fn limit(mut self, limit: i64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets `offset`.
    pub fn offset(mut self, offset: i64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Sets `page`.
    pub fn page(mut self, page: i64) -> Self {
        self.page = Some(page);
        self
    }

    /// Sets `search`.
    pub fn search(mut self, search: impl Into<String>) -> Self {
        self.search = Some(search.into());
        self
    }

    /// Adds an aggregate: `function` (`count`, `countDistinct`, `sum`, `avg`, `min`, `max`) of
    /// `fields`.
    pub fn aggregate<S: Into<String>>(
        mut self,
        function: &str,
        fields: impl IntoIterator<Item = S>,
    ) -> Self {
        self.aggregate.get_or_insert_with(BTreeMap::new).insert(
            function.to_string(),
            Fields(fields.into_iter().map(Into::into).collect()),
        );
        self
    }

    /// Sets `deep.<relation>._filter`: the filter on the items of the one-to-many `relation`
    /// that `count(relation)` counts.
    pub fn deep_filter(mut self, relation: &str, filter: Value) -> Self {
        self.deep.get_or_insert_with(BTreeMap::new).insert(
            relation.to_string(),
            serde_json::json!({ "_filter": filter }),
        );
        self
    }

    /// Sets `groupBy`.
    pub fn group_by<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.group_by = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// `(limit, offset)` as the statement applies them: the limit capped, the page turned
    /// into an offset.
    ///
    /// # Errors
    ///
    /// A negative offset or page, or a limit below -1.
    pub(crate) fn window(&self) -> Result<(u64, u64), QueryError> {
        let limit = match self.limit {
            None => DEFAULT_LIMIT,
            Some(-1) => MAX_LIMIT,
            Some(n) if n < 0 => return Err(QueryError::new("limit", "is -1 or a count")),
            Some(n) => u64::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
        };
        let offset = match (self.offset, self.page) {
            (Some(n), _) if n < 0 => return Err(QueryError::new("offset", "is a count")),
            (Some(n), None) => u64::try_from(n).unwrap_or_default(),
            (_, Some(page)) if page < 1 => {
                return Err(QueryError::new("page", "counts from 1"));
            }
            (_, Some(page)) => u64::try_from(page - 1)
                .unwrap_or_default()
                .saturating_mul(limit),
            (None, None) => 0,
        };
        // The databases count rows in signed 64 bits: a page past that is empty anyway.
        Ok((limit, offset.min(i64::MAX.unsigned_abs())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_query_string_forms_are_read() {
        let query: Query = serde_json::from_value(json!({
            "fields": "id, title", "sort": "-views,title", "limit": "5", "page": "3",
            "groupBy": "author", "aggregate": { "count": "*", "sum": "views,likes" }
        }))
        .unwrap();
        assert_eq!(query.fields, Some(vec!["id".into(), "title".into()]));
        assert_eq!(query.sort, Some(vec!["-views".into(), "title".into()]));
        assert_eq!(query.window().unwrap(), (5, 10));
        assert_eq!(query.group_by, Some(vec!["author".into()]));
        assert_eq!(
            query.aggregate.unwrap()["sum"],
            Fields(vec!["views".into(), "likes".into()])
        );
    }

    #[test]
    fn limits_are_capped_and_windows_checked() {
        assert_eq!(Query::new().window().unwrap(), (DEFAULT_LIMIT, 0));
        assert_eq!(
            Query::new().limit(1_000_000).window().unwrap(),
            (MAX_LIMIT, 0)
        );
        assert_eq!(Query::new().limit(-1).window().unwrap(), (MAX_LIMIT, 0));
        assert_eq!(Query::new().limit(-2).window().unwrap_err().path, "limit");
        assert_eq!(Query::new().page(0).window().unwrap_err().path, "page");
        assert_eq!(Query::new().offset(-1).window().unwrap_err().path, "offset");
        assert_eq!(
            Query::new().page(i64::MAX).window().unwrap(),
            (DEFAULT_LIMIT, i64::MAX.unsigned_abs())
        );
        assert!(Query::from_json(json!({ "filters": {} })).is_err());
    }
}

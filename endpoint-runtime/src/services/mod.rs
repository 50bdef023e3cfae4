//! The seeds' data services (feature `services`): CairnCMS's and Directus's `ItemsService`,
//! bound to the caller's accountability and permissions declared once.
//!
//! ```no_run
//! use endpoint_runtime::prelude::*;
//! use endpoint_runtime::services::Query;
//!
//! // Directus's example: published articles counted by author, as the caller may see them.
//! #[endpoint(id = "article-stats", route = "/by-author")]
//! async fn by_author(ctx: Context) -> Result<Json<Vec<Value>>, EndpointError> {
//!     let articles = ctx.items("articles")?;
//!     let query = Query::new()
//!         .aggregate("count", ["*"])
//!         .group_by(["author"])
//!         .filter(json!({ "status": { "_eq": "published" } }));
//!     Ok(Json(articles.read_by_query(&query).await?))
//! }
//!
//! #[endpoint_runtime::main]
//! async fn main() -> Result<(), endpoint_runtime::Error> {
//!     // Usually `include_str!("../permissions.toml")`.
//!     let permissions = endpoint_runtime::services::Permissions::from_toml(
//!         r#"
//!         [public.articles.read]
//!         filter = { status = { _eq = "published" } }
//!         fields = ["id", "title", "author"]
//!         "#,
//!         "permissions.toml",
//!     )?;
//!     endpoint_runtime::App::new()
//!         // and `.migrations(endpoint_runtime::migrations!("migrations"))` for the tables
//!         .permissions(permissions)
//!         .run()
//!         .await
//! }
//! ```
//!
//! - [`Permissions`]: per role (`public`: everyone, and all an anonymous caller has) × collection × action, a row
//!   filter, the allowed fields, a validation rule and presets. Admins bypass them; anything
//!   not declared is denied. Checked against the schema at start-up.
//! - [`ItemsService`]: `read_by_query`, `read_one`, `read_many`, `create_one`, `create_many`,
//!   `update_one`, `update_many`, `update_by_query`, `delete_one`, `delete_many`,
//!   `delete_by_query`, with Directus's [`Query`] (`fields` with `relation.field` through
//!   many-to-one relations and `count(relation)` of one-to-many ones, `filter`, `sort`,
//!   `limit`, `offset`, `page`, `search`, `aggregate`, `groupBy`, and `deep` with `_filter`
//!   to narrow what `count(relation)` counts).
//! - A one-to-many relation is named after the collection holding the foreign key
//!   (`authors`' `articles`, from `articles.author`), when that collection has one foreign key
//!   to this one (Directus names them in its own metadata). `count(articles)` counts the
//!   related items the caller may read, in the same statement (a correlated subquery).
//! - Filters take Directus's operators `_eq _neq _lt _lte _gt _gte _in _nin _null _nnull
//!   _contains _ncontains _starts_with _ends_with _between`, `_and` / `_or` (nested at most 8
//!   deep) and relational filters through many-to-one fields. `_contains` is `LIKE`: case
//!   sensitive on PostgreSQL, not for ASCII on SQLite.
//! - A caller with several roles gets the union of their rules: a row is visible when one
//!   role's filter admits it, a field when one role's rule lists it.
//!
//! Not supported (yet): the items of one-to-many and many-to-many fields
//! (`comments.*`; `count()` of them is), `deep` keys other than `_filter`, `alias`, `meta`, functions in filters (`year(date)`), `_icontains` and the geometry
//! operators.

pub(crate) mod api;
mod filter;
mod items;
mod permissions;
mod query;
mod sql;

pub use items::ItemsService;
pub use permissions::{Action, Permissions, Rule};
pub use query::{DEFAULT_LIMIT, Fields, MAX_LIMIT, Query};

use crate::error::EndpointError;

/// A query that cannot be run, and where in it: 400 `INVALID_QUERY` naming `path`
/// (`filter.status._eqq`), with `details.path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub(crate) path: String,
    pub(crate) message: String,
}

impl QueryError {
    pub(crate) fn new(path: &str, message: impl Into<String>) -> Self {
        QueryError {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl From<QueryError> for EndpointError {
    fn from(error: QueryError) -> Self {
        EndpointError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
            error.to_string(),
        )
        .with_details(serde_json::json!({ "path": error.path }))
    }
}

impl crate::Context {
    /// The items of `collection`, read and written with the caller's permissions (the
    /// seeds' `new ItemsService(collection, { schema, accountability })`; feature `services`).
    ///
    /// # Errors
    ///
    /// - 500 (logged) without a database, or for a collection the database does not have.
    pub fn items(&self, collection: &str) -> Result<ItemsService, EndpointError> {
        self.items_service(collection, Some(self.accountability()))
    }

    /// The items of `collection` with every permission bypassed, as an admin: the seeds'
    /// `ItemsService` without `accountability`. Use it for the application's own work, never
    /// with a caller's input unchecked. Errors as [`items`](Self::items).
    pub fn items_as_admin(&self, collection: &str) -> Result<ItemsService, EndpointError> {
        self.items_service(collection, None)
    }

    fn items_service(
        &self,
        collection: &str,
        accountability: Option<&crate::Accountability>,
    ) -> Result<ItemsService, EndpointError> {
        let database = self.database()?;
        let schema = database.cached_schema().ok_or_else(|| {
            EndpointError::internal("the database schema was not read at start-up")
        })?;
        // Without `App::permissions`, no rule: only admins pass.
        let permissions = self.state::<Permissions>().unwrap_or_default();
        ItemsService::new(
            database.clone(),
            schema,
            permissions,
            collection,
            accountability,
        )
    }
}

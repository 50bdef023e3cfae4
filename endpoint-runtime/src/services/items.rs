//! [`ItemsService`]: CairnCMS's and Directus's `ItemsService`, permission-aware reads and writes
//! of one collection.

use std::sync::Arc;

use sea_query::{Alias, Expr, ExprTrait as _, Order, Query as Sql};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::QueryError;
use super::filter::{self, Dynamic, Filter};
use super::permissions::{Action, Permissions, Rule};
use super::query::Query;
use super::sql;
use crate::auth::Accountability;
use crate::database::Database;
use crate::error::EndpointError;
use crate::schema::{Collection, Field, FieldKind, Schema};

/// Reads and writes the items of one collection, applying the caller's permissions to every
/// one (the seeds' `new ItemsService('articles', { schema, accountability })`).
///
/// Made by [`Context::items`](crate::Context::items), bound to the request's accountability,
/// or [`Context::items_as_admin`](crate::Context::items_as_admin), which bypasses permissions
/// as the seeds' omitted accountability does. What a call may do comes from
/// [`Permissions`](super::Permissions):
///
/// - reads see only the rows of the role's `filter`, combined with the query's own filter;
///   asking for, filtering on or sorting by a field outside the role's `fields` is 403
///   `FORBIDDEN` naming it;
/// - an update or delete of an item the caller cannot see is 403 `FORBIDDEN`, exactly as for
///   an item that does not exist (no existence leak);
/// - a payload that fails the role's `validation` is 400 `FAILED_VALIDATION` naming the field;
///   a field the collection does not have, or a value of the wrong type, is 400
///   `INVALID_PAYLOAD`;
/// - a query that does not parse (unknown operator or field, wrong value type) is 400
///   `INVALID_QUERY` naming its path (`filter.status._eqq`), before any SQL runs;
/// - a database that cannot be reached is 503 `SERVICE_UNAVAILABLE`.
///
/// SQL is built with sea-query: identifiers come only from the introspected schema and every
/// value is bound (on SQLite `LIMIT` and `OFFSET` are the integers the service computed, see
/// `sql::Windowed`). A primary key cannot be changed by an update (400 `INVALID_PAYLOAD`); a
/// database too busy to write is 503 with `Retry-After: 1`.
#[derive(Clone)]
pub struct ItemsService {
    database: Database,
    schema: Arc<Schema>,
    permissions: Arc<Permissions>,
    collection: String,
    /// `None`: permissions are bypassed (admin).
    roles: Option<Vec<String>>,
    dynamic: Dynamic,
}

impl std::fmt::Debug for ItemsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemsService")
            .field("collection", &self.collection)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// What a caller may do with one action: every row and field (admins), or the rules of their
/// roles.
enum Allowed<'a> {
    All,
    Rules(Vec<&'a Rule>),
}

impl Allowed<'_> {
    fn field(&self, field: &str) -> bool {
        match self {
            Allowed::All => true,
            Allowed::Rules(rules) => rules.iter().any(|r| r.allows_field(field)),
        }
    }
}

impl ItemsService {
    pub(crate) fn new(
        database: Database,
        schema: Arc<Schema>,
        permissions: Arc<Permissions>,
        collection: &str,
        accountability: Option<&Accountability>,
    ) -> Result<Self, EndpointError> {
        if schema.collection(collection).is_none() {
            return Err(EndpointError::internal(format!(
                "ItemsService: the database has no collection `{collection}`"
            )));
        }
        // `public` is everyone's: anonymous callers have only it.
        let roles = match accountability {
            None => None,
            Some(who) if who.admin => None,
            Some(who) => Some(
                who.roles
                    .iter()
                    .cloned()
                    .chain(std::iter::once("public".to_string()))
                    .collect(),
            ),
        };
        let dynamic = Dynamic {
            user: accountability.and_then(|a| a.user.clone()),
            role: accountability.and_then(|a| a.role.clone()),
            roles: accountability.map(|a| a.roles.clone()).unwrap_or_default(),
            now: std::sync::OnceLock::new(),
        };
        Ok(ItemsService {
            database,
            schema,
            permissions,
            collection: collection.to_string(),
            roles,
            dynamic,
        })
    }

    /// The collection this service reads and writes.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    fn table(&self) -> &Collection {
        // Checked in `new`, and the schema is not replaced under a service.
        self.schema
            .collection(&self.collection)
            .expect("collection checked when the service was made")
    }

    /// What the caller may do with `action` on this service's collection.
    fn allowed(&self, action: Action) -> Result<Allowed<'_>, EndpointError> {
        self.allowed_on(&self.collection, action)
    }

    /// The rows `allowed` may touch on `collection`: `None` when every row.
    ///
    /// `None` too when `implied_by` (the query's own filter, applied beside it) implies one of
    /// the rules' filters: `(rule OR other) AND query` is then `query` (the absorption law),
    /// and the statement skips what the rule would cost (a published-only read by a role
    /// that may also read its drafts, say).
    fn permission_condition(
        &self,
        collection: &str,
        allowed: &Allowed<'_>,
        implied_by: Option<&Filter>,
    ) -> Option<Expr> {
        let Allowed::Rules(rules) = allowed else {
            return None;
        };
        let table = self.schema.collection(collection)?;
        let mut any = Vec::new();
        for rule in rules {
            let Some(value) = &rule.filter else {
                // A rule without a filter allows every row.
                return None;
            };
            match filter::parse(value, table, &self.schema, "permissions.filter") {
                Ok(parsed) if implied_by.is_some_and(|query| query.implies(&parsed)) => {
                    return None;
                }
                Ok(parsed) => any.push(sql::condition(
                    &parsed,
                    collection,
                    &self.schema,
                    self.database.kind(),
                    &self.dynamic,
                )),
                // Checked at start-up; a rule the schema no longer fits allows nothing.
                Err(error) => {
                    tracing::error!(%error, collection, "a permission rule does not fit the schema");
                    any.push(Expr::val(false));
                }
            }
        }
        any.into_iter().reduce(sea_query::ExprTrait::or)
    }

    /// Reads the items `query` selects (the seeds' `readByQuery`), as `T`
    /// (`serde_json::Value` for the raw objects).
    ///
    /// With `aggregate`, each item is a group: the `groupBy` fields, then each function's
    /// result, `{"author": 1, "count": 3}` for `count: ["*"]`, `{"sum": {"views": 10}}` for a
    /// field.
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn read_by_query<T: DeserializeOwned>(
        &self,
        query: &Query,
    ) -> Result<Vec<T>, EndpointError> {
        let items = self.select(query, None).await?;
        typed(items, &self.collection)
    }

    /// Reads one item by its primary key (the seeds' `readOne`). An item the caller may not
    /// read is 403 `FORBIDDEN`, as one that does not exist.
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn read_one<T: DeserializeOwned>(
        &self,
        key: impl Into<Value>,
        query: &Query,
    ) -> Result<T, EndpointError> {
        let keys = [key.into()];
        let mut items = self.select(query, Some(&keys)).await?;
        if items.is_empty() {
            return Err(self.not_visible(Action::Read));
        }
        typed(vec![items.swap_remove(0)], &self.collection)?
            .pop()
            .ok_or_else(|| self.not_visible(Action::Read))
    }

    /// Reads the items with these primary keys (the seeds' `readMany`) that the caller may
    /// read.
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn read_many<T: DeserializeOwned>(
        &self,
        keys: &[Value],
        query: &Query,
    ) -> Result<Vec<T>, EndpointError> {
        let items = self.select(query, Some(keys)).await?;
        typed(items, &self.collection)
    }

    fn not_visible(&self, action: Action) -> EndpointError {
        EndpointError::forbidden(format!(
            "you may not {} this item of `{}`, or it does not exist",
            action.as_str(),
            self.collection
        ))
    }

    /// The primary key, or a 500 for a collection without a single-column one.
    fn primary_key(&self) -> Result<&Field, EndpointError> {
        let table = self.table();
        table
            .primary_key
            .as_deref()
            .and_then(|key| table.field(key))
            .ok_or_else(|| {
                EndpointError::internal(format!(
                    "`{}` has no single-column primary key: ItemsService needs one",
                    self.collection
                ))
            })
    }

    fn keys_condition(&self, keys: &[Value]) -> Result<Expr, EndpointError> {
        let key = self.primary_key()?;
        let values = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                filter::coerce(k, key, &format!("keys[{i}]"))
                    .map(|v| sql::value(&v, key, self.database.kind()))
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(if values.is_empty() {
            Expr::val(false)
        } else {
            sql::column(&self.collection, &key.name).is_in(values)
        })
    }

    /// Parses the query's filter and checks that the caller may read every field it names.
    fn query_filter(
        &self,
        query: &Query,
        allowed: &Allowed<'_>,
    ) -> Result<Option<Filter>, EndpointError> {
        let Some(value) = &query.filter else {
            return Ok(None);
        };
        let parsed = filter::parse(value, self.table(), &self.schema, "filter")?;
        self.check_filter_fields(&parsed, &self.collection, allowed)?;
        Ok(Some(parsed))
    }

    fn check_filter_fields(
        &self,
        parsed: &Filter,
        collection: &str,
        allowed: &Allowed<'_>,
    ) -> Result<(), EndpointError> {
        match parsed {
            Filter::All(parts) | Filter::Any(parts) => parts
                .iter()
                .try_for_each(|p| self.check_filter_fields(p, collection, allowed)),
            Filter::Compare { field, .. } => self.readable(collection, field, allowed),
            Filter::Related {
                field,
                collection: related,
                filter,
                ..
            } => {
                self.readable(collection, field, allowed)?;
                let related_allowed = self.allowed_on(related, Action::Read)?;
                self.check_filter_fields(filter, related, &related_allowed)
            }
        }
    }

    fn allowed_on(&self, collection: &str, action: Action) -> Result<Allowed<'_>, EndpointError> {
        let Some(roles) = &self.roles else {
            return Ok(Allowed::All);
        };
        let rules: Vec<&Rule> = self.permissions.rules(roles, collection, action);
        if rules.is_empty() {
            return Err(EndpointError::forbidden(format!(
                "you may not {} items of `{collection}`",
                action.as_str()
            )));
        }
        Ok(Allowed::Rules(rules))
    }

    fn readable(
        &self,
        collection: &str,
        field: &str,
        allowed: &Allowed<'_>,
    ) -> Result<(), EndpointError> {
        if allowed.field(field) {
            Ok(())
        } else {
            Err(EndpointError::forbidden(format!(
                "you may not read the field `{field}` of `{collection}`"
            ))
            .with_details(json!({ "field": field, "collection": collection })))
        }
    }

    /// The rows of a read, as JSON objects.
    async fn select(
        &self,
        query: &Query,
        keys: Option<&[Value]>,
    ) -> Result<Vec<Value>, EndpointError> {
        let (limit, offset) = query.window()?;
        let allowed = self.allowed(Action::Read)?;
        let table = self.table();
        let name = self.collection.as_str();
        let kind = self.database.kind();
        let query_filter = self.query_filter(query, &allowed)?;
        let mut select = Sql::select();
        select.from(Alias::new(name));

        // What each output column is: (path in the item, the kind it decodes as).
        let mut columns: Vec<(Vec<String>, FieldKind)> = Vec::new();
        // The many-to-one fields read through (`author` of `author.name`).
        let mut relations: Vec<String> = Vec::new();
        // `deep` narrows what `count(relation)` counts: refused rather than ignored elsewhere.
        for relation in query.deep.iter().flat_map(|deep| deep.keys()) {
            let counted = format!("count({relation})");
            if query.aggregate.is_some() || !query.fields.iter().flatten().any(|f| *f == counted) {
                return Err(QueryError::new(
                    &format!("deep.{relation}"),
                    format!("applies to `{counted}` in `fields`, which the query does not read"),
                )
                .into());
            }
        }
        if let Some(aggregate) = &query.aggregate {
            if query.sort.as_ref().is_some_and(|sort| !sort.is_empty()) {
                // Refused rather than ignored: the groups come in the database's order.
                return Err(
                    QueryError::new("sort", "is not supported with `aggregate` yet").into(),
                );
            }
            if query.fields.is_some() {
                return Err(QueryError::new(
                    "fields",
                    "an aggregate's items are its groups: name them with `groupBy`",
                )
                .into());
            }
            for (i, field) in query.group_by.iter().flatten().enumerate() {
                let Some(target) = table.field(field) else {
                    return Err(QueryError::new(
                        &format!("groupBy[{i}]"),
                        format!("`{name}` has no field `{field}`"),
                    )
                    .into());
                };
                self.readable(name, field, &allowed)?;
                select.expr(sql::read(name, target, kind));
                select.add_group_by([sql::column(name, field)]);
                columns.push((vec![field.clone()], target.kind));
            }
            for (function, fields) in aggregate {
                for field in &fields.0 {
                    let at = format!("aggregate.{function}");
                    let (expr, decoded) = if field == "*" {
                        if function != "count" {
                            return Err(QueryError::new(&at, "only `count` takes `*`").into());
                        }
                        (
                            sea_query::Func::count(Expr::col(sea_query::Asterisk)).into(),
                            FieldKind::Integer,
                        )
                    } else {
                        let Some(target) = table.field(field) else {
                            return Err(QueryError::new(
                                &at,
                                format!("`{name}` has no field `{field}`"),
                            )
                            .into());
                        };
                        self.readable(name, field, &allowed)?;
                        let col = sql::column(name, field);
                        let float = match kind {
                            crate::database::DatabaseKind::Sqlite => "REAL",
                            crate::database::DatabaseKind::Postgres => "DOUBLE PRECISION",
                        };
                        match function.as_str() {
                            "count" => (sea_query::Func::count(col).into(), FieldKind::Integer),
                            "countDistinct" => (
                                sea_query::Func::count_distinct(col).into(),
                                FieldKind::Integer,
                            ),
                            "sum" => (
                                Expr::from(sea_query::Func::sum(col)).cast_as(Alias::new(float)),
                                FieldKind::Float,
                            ),
                            "avg" => (
                                Expr::from(sea_query::Func::avg(col)).cast_as(Alias::new(float)),
                                FieldKind::Float,
                            ),
                            "min" | "max" => {
                                let read = sql::read(name, target, kind);
                                let expr: Expr = if function == "min" {
                                    sea_query::Func::min(read).into()
                                } else {
                                    sea_query::Func::max(read).into()
                                };
                                (expr, target.kind)
                            }
                            other => {
                                return Err(QueryError::new(&at, format!("unknown function `{other}`: count, countDistinct, sum, avg, min or max")).into());
                            }
                        }
                    };
                    let expr = match (kind, decoded) {
                        (crate::database::DatabaseKind::Postgres, FieldKind::Integer) => {
                            expr.cast_as(Alias::new("BIGINT"))
                        }
                        _ => expr,
                    };
                    select.expr(expr);
                    let path = if field == "*" {
                        vec![function.clone()]
                    } else {
                        vec![function.clone(), field.clone()]
                    };
                    columns.push((path, decoded));
                }
            }
        } else {
            if query.group_by.is_some() {
                return Err(
                    QueryError::new("groupBy", "groups aggregates: add `aggregate`").into(),
                );
            }
            let requested: Vec<String> = query.fields.clone().unwrap_or_else(|| vec!["*".into()]);
            for (i, requested) in requested.iter().enumerate() {
                let at = format!("fields[{i}]");
                if let Some(relation) = requested
                    .strip_prefix("count(")
                    .and_then(|rest| rest.strip_suffix(')'))
                {
                    self.related_count(&mut select, &mut columns, relation, query, &at)?;
                    continue;
                }
                match requested.split_once('.') {
                    None if requested == "*" => {
                        for field in table.fields.iter().filter(|f| allowed.field(&f.name)) {
                            select.expr(sql::read(name, field, kind));
                            columns.push((vec![field.name.clone()], field.kind));
                        }
                    }
                    None => {
                        let Some(field) = table.field(requested) else {
                            return Err(QueryError::new(
                                &at,
                                format!("`{name}` has no field `{requested}`"),
                            )
                            .into());
                        };
                        self.readable(name, requested, &allowed)?;
                        select.expr(sql::read(name, field, kind));
                        columns.push((vec![field.name.clone()], field.kind));
                    }
                    Some((relation, sub)) => {
                        relations.push(relation.to_string());
                        self.related_fields(
                            &mut select,
                            &mut columns,
                            relation,
                            sub,
                            &at,
                            &allowed,
                        )?;
                    }
                }
            }
            if columns.is_empty() {
                return Err(EndpointError::forbidden(format!(
                    "you may read no field of `{name}`"
                )));
            }
            for (i, sort) in query.sort.iter().flatten().enumerate() {
                let (field, order) = match sort.strip_prefix('-') {
                    Some(field) => (field, Order::Desc),
                    None => (sort.as_str(), Order::Asc),
                };
                if table.field(field).is_none() {
                    return Err(QueryError::new(
                        &format!("sort[{i}]"),
                        format!("`{name}` has no field `{field}`"),
                    )
                    .into());
                }
                self.readable(name, field, &allowed)?;
                select.order_by_expr(sql::column(name, field), order);
            }
        }

        let mut conditions = Vec::new();
        if let Some(condition) = self.permission_condition(name, &allowed, query_filter.as_ref()) {
            conditions.push(condition);
        }
        if let Some(parsed) = &query_filter {
            conditions.push(sql::condition(
                parsed,
                name,
                &self.schema,
                kind,
                &self.dynamic,
            ));
        }
        if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
            let pattern = format!(
                "%{}%",
                search
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            let any = table
                .fields
                .iter()
                .filter(|f| f.kind == FieldKind::Text && allowed.field(&f.name))
                .map(|f| {
                    sql::column(name, &f.name)
                        .like(sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
                })
                .reduce(sea_query::ExprTrait::or)
                .unwrap_or_else(|| Expr::val(false));
            conditions.push(any);
        }
        if let Some(keys) = keys {
            conditions.push(self.keys_condition(keys)?);
        }
        if let Some(condition) = conditions.into_iter().reduce(sea_query::ExprTrait::and) {
            select.and_where(condition);
        }
        let select = sql::Windowed {
            select,
            limit,
            offset,
        };
        let kinds: Vec<FieldKind> = columns.iter().map(|(_, kind)| *kind).collect();
        let rows = sql::fetch(&self.database, &select, &kinds).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let mut item = Map::new();
                for ((path, _), value) in columns.iter().zip(row) {
                    insert(&mut item, path, value);
                }
                Value::Object(nulls_for_missing_relations(item, &relations))
            })
            .collect())
    }

    /// `relation.field` (or `relation.*`): the related item's fields through a many-to-one
    /// relation, each as a correlated subquery under the related collection's read rules.
    fn related_fields(
        &self,
        select: &mut sea_query::SelectStatement,
        columns: &mut Vec<(Vec<String>, FieldKind)>,
        relation: &str,
        sub: &str,
        at: &str,
        allowed: &Allowed<'_>,
    ) -> Result<(), EndpointError> {
        let name = self.collection.as_str();
        let kind = self.database.kind();
        let Some(link) = self.schema.relation(name, relation) else {
            return Err(
                QueryError::new(at, format!("`{relation}` is not a relation of `{name}`")).into(),
            );
        };
        self.readable(name, relation, allowed)?;
        let related_name = link.related_collection.as_str();
        let Some(related) = self.schema.collection(related_name) else {
            return Err(QueryError::new(at, "the related collection is not in the schema").into());
        };
        let related_allowed = self.allowed_on(related_name, Action::Read)?;
        let fields: Vec<&Field> = if sub == "*" {
            related
                .fields
                .iter()
                .filter(|f| related_allowed.field(&f.name))
                .collect()
        } else {
            let Some(field) = related.field(sub) else {
                return Err(
                    QueryError::new(at, format!("`{related_name}` has no field `{sub}`")).into(),
                );
            };
            self.readable(related_name, sub, &related_allowed)?;
            vec![field]
        };
        for field in fields {
            let mut inner = Sql::select();
            inner
                .expr(sql::read(related_name, field, kind))
                .from(Alias::new(related_name))
                .and_where(
                    sql::column(related_name, &link.related_field).eq(sql::column(name, relation)),
                );
            if let Some(condition) = self.permission_condition(related_name, &related_allowed, None)
            {
                inner.and_where(condition);
            }
            // The related field is unique (a foreign key's target): one row at most.
            select.expr(Expr::SubQuery(None, Box::new(inner.into())));
            columns.push((vec![relation.to_string(), field.name.clone()], field.kind));
        }
        Ok(())
    }

    /// `count(relation)`: how many items of the one-to-many `relation` point to each item, as
    /// a correlated subquery counting only the related items the caller may read (their
    /// collection's read rules), narrowed by `deep.<relation>._filter`.
    fn related_count(
        &self,
        select: &mut sea_query::SelectStatement,
        columns: &mut Vec<(Vec<String>, FieldKind)>,
        relation: &str,
        query: &Query,
        at: &str,
    ) -> Result<(), EndpointError> {
        let name = self.collection.as_str();
        let kind = self.database.kind();
        let Some(link) = self.schema.one_to_many(name, relation) else {
            return Err(QueryError::new(
                at,
                format!(
                    "`{relation}` is not a one-to-many relation of `{name}` (a collection with one foreign key to it)"
                ),
            )
            .into());
        };
        let related = link.collection.as_str();
        let related_allowed = self.allowed_on(related, Action::Read)?;
        let mut inner = Sql::select();
        inner
            .expr(sea_query::Func::count(Expr::col(sea_query::Asterisk)))
            .from(Alias::new(related))
            .and_where(
                sql::column(related, &link.field).eq(sql::column(name, &link.related_field)),
            );
        let mut deep_filter = None;
        if let Some(deep) = query.deep.as_ref().and_then(|deep| deep.get(relation)) {
            let path = format!("deep.{relation}");
            let Some(deep) = deep.as_object() else {
                return Err(QueryError::new(&path, "is an object: `{\"_filter\": {...}}`").into());
            };
            if let Some(other) = deep.keys().find(|key| *key != "_filter") {
                return Err(QueryError::new(
                    &format!("{path}.{other}"),
                    "is not supported: `_filter` is",
                )
                .into());
            }
            if let Some(value) = deep.get("_filter") {
                let Some(collection) = self.schema.collection(related) else {
                    return Err(
                        QueryError::new(at, "the related collection is not in the schema").into(),
                    );
                };
                let parsed =
                    filter::parse(value, collection, &self.schema, &format!("{path}._filter"))?;
                self.check_filter_fields(&parsed, related, &related_allowed)?;
                inner.and_where(sql::condition(
                    &parsed,
                    related,
                    &self.schema,
                    kind,
                    &self.dynamic,
                ));
                deep_filter = Some(parsed);
            }
        }
        if let Some(condition) =
            self.permission_condition(related, &related_allowed, deep_filter.as_ref())
        {
            inner.and_where(condition);
        }
        let count = Expr::SubQuery(None, Box::new(inner.into()));
        select.expr(match kind {
            crate::database::DatabaseKind::Postgres => count.cast_as(Alias::new("BIGINT")),
            crate::database::DatabaseKind::Sqlite => count,
        });
        columns.push((
            vec![format!("{relation}_func"), "count".to_string()],
            FieldKind::Integer,
        ));
        Ok(())
    }

    /// Creates one item (the seeds' `createOne`) and returns its primary key.
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn create_one(&self, payload: Value) -> Result<Value, EndpointError> {
        let mut keys = self.create_many(vec![payload]).await?;
        keys.pop()
            .ok_or_else(|| EndpointError::internal("the insert returned no key"))
    }

    /// Creates items, all or none (one transaction), and returns their primary keys.
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn create_many(&self, payloads: Vec<Value>) -> Result<Vec<Value>, EndpointError> {
        let allowed = self.allowed(Action::Create)?;
        let key = self.primary_key()?.clone();
        let mut inserts = Vec::new();
        for payload in payloads {
            let mut item = match &allowed {
                Allowed::All => Map::new(),
                Allowed::Rules(rules) => {
                    let mut presets = Map::new();
                    for rule in rules {
                        for (field, value) in rule.presets.iter().flatten() {
                            presets
                                .entry(field.clone())
                                .or_insert_with(|| self.dynamic.resolve(value));
                        }
                    }
                    presets
                }
            };
            let payload = self.payload(payload, &allowed, Action::Create)?;
            item.extend(payload);
            self.validate(&item, &allowed, false)?;
            inserts.push(self.bound_values(&item)?);
        }
        let mut transaction = sql::begin(&self.database).await?;
        let mut keys = Vec::new();
        for values in inserts {
            let mut insert = Sql::insert();
            insert.into_table(Alias::new(&self.collection));
            if values.is_empty() {
                insert.or_default_values();
            } else {
                insert.columns(values.iter().map(|(f, _)| Alias::new(f)));
                insert
                    .values(values.into_iter().map(|(_, v)| v))
                    .map_err(|e| EndpointError::internal_from(e.to_string()))?;
            }
            insert.returning(Sql::returning().expr(sql::read(
                &self.collection,
                &key,
                self.database.kind(),
            )));
            let rows = transaction
                .fetch(&self.database, &insert, &[key.kind])
                .await?;
            keys.extend(rows.into_iter().flatten());
        }
        transaction.commit().await?;
        Ok(keys)
    }

    /// The payload as an object of known fields the caller may write.
    fn payload(
        &self,
        payload: Value,
        allowed: &Allowed<'_>,
        action: Action,
    ) -> Result<Map<String, Value>, EndpointError> {
        let Value::Object(object) = payload else {
            return Err(EndpointError::invalid_payload("an item is a JSON object"));
        };
        let table = self.table();
        for field in object.keys() {
            if table.field(field).is_none() {
                return Err(EndpointError::invalid_payload(format!(
                    "`{}` has no field `{field}`",
                    self.collection
                ))
                .with_details(json!({ "field": field })));
            }
            if !allowed.field(field) {
                return Err(EndpointError::forbidden(format!(
                    "you may not {} the field `{field}` of `{}`",
                    action.as_str(),
                    self.collection
                ))
                .with_details(json!({ "field": field, "collection": self.collection })));
            }
        }
        Ok(object)
    }

    /// Checks `item` against the rules' validation: it passes when one rule's validation
    /// holds (or a rule has none). An update (`partial`) is checked on the fields it sets.
    fn validate(
        &self,
        item: &Map<String, Value>,
        allowed: &Allowed<'_>,
        partial: bool,
    ) -> Result<(), EndpointError> {
        let Allowed::Rules(rules) = allowed else {
            return Ok(());
        };
        let mut failing = None;
        for rule in rules {
            let Some(value) = &rule.validation else {
                return Ok(());
            };
            let parsed =
                filter::parse(value, self.table(), &self.schema, "validation").map_err(|e| {
                    EndpointError::internal(format!(
                        "a validation rule does not fit the schema: {e}"
                    ))
                })?;
            match parsed.failing_field(item, &self.dynamic, partial) {
                None => return Ok(()),
                Some(field) => failing = failing.or(Some(field)),
            }
        }
        let field = failing.unwrap_or_default();
        Err(EndpointError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "FAILED_VALIDATION",
            format!("`{field}` fails the validation of `{}`", self.collection),
        )
        .with_details(json!({ "field": field, "collection": self.collection })))
    }

    /// Each field of `item` with its value coerced to the field's kind and bound.
    fn bound_values(
        &self,
        item: &Map<String, Value>,
    ) -> Result<Vec<(String, Expr)>, EndpointError> {
        let table = self.table();
        let kind = self.database.kind();
        item.iter()
            .map(|(name, value)| {
                let field = table.field(name).ok_or_else(|| {
                    EndpointError::invalid_payload(format!(
                        "`{}` has no field `{name}`",
                        self.collection
                    ))
                })?;
                let value = self.dynamic.resolve(value);
                let coerced = match (&value, field.kind) {
                    // A JSON field takes any JSON, stored as its text.
                    (_, FieldKind::Json) => value.clone(),
                    _ => filter::coerce(&value, field, name).map_err(|e| {
                        EndpointError::invalid_payload(e.message.clone())
                            .with_details(json!({ "field": name }))
                    })?,
                };
                let coerced = match (field.kind, &coerced) {
                    (FieldKind::Json, Value::Null) => Value::Null,
                    (FieldKind::Json, other) => Value::String(other.to_string()),
                    _ => coerced,
                };
                Ok((name.clone(), sql::value(&coerced, field, kind)))
            })
            .collect()
    }

    /// Updates one item (the seeds' `updateOne`) and returns its key. An item the caller may
    /// not update is 403 `FORBIDDEN`, as one that does not exist.
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn update_one(
        &self,
        key: impl Into<Value>,
        payload: Value,
    ) -> Result<Value, EndpointError> {
        let key = key.into();
        self.update_many(std::slice::from_ref(&key), payload)
            .await?;
        Ok(key)
    }

    /// Updates the items with these keys with the same payload, all or none; every one must be
    /// an item the caller may update (else 403 and nothing changes).
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn update_many(
        &self,
        keys: &[Value],
        payload: Value,
    ) -> Result<Vec<Value>, EndpointError> {
        let allowed = self.allowed(Action::Update)?;
        let payload = self.payload(payload, &allowed, Action::Update)?;
        let key = self.primary_key()?;
        if payload.contains_key(&key.name) {
            return Err(EndpointError::invalid_payload(format!(
                "the primary key `{}` of an item cannot be changed",
                key.name
            ))
            .with_details(json!({ "field": key.name })));
        }
        self.validate(&payload, &allowed, true)?;
        let values = self.bound_values(&payload)?;
        self.write(Action::Update, &allowed, keys, Some(values))
            .await
    }

    /// Updates the items `query`'s filter selects (within the caller's update rules) and
    /// returns their keys.
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn update_by_query(
        &self,
        query: &Query,
        payload: Value,
    ) -> Result<Vec<Value>, EndpointError> {
        let keys = self.keys_by_query(query, Action::Update).await?;
        self.update_many(&keys, payload).await
    }

    /// Deletes one item (the seeds' `deleteOne`) and returns its key. An item the caller may
    /// not delete is 403 `FORBIDDEN`, as one that does not exist.
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn delete_one(&self, key: impl Into<Value>) -> Result<Value, EndpointError> {
        let key = key.into();
        self.delete_many(std::slice::from_ref(&key)).await?;
        Ok(key)
    }

    /// Deletes the items with these keys, all or none (else 403 and nothing changes).
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn delete_many(&self, keys: &[Value]) -> Result<Vec<Value>, EndpointError> {
        let allowed = self.allowed(Action::Delete)?;
        self.write(Action::Delete, &allowed, keys, None).await
    }

    /// Deletes the items `query`'s filter selects (within the caller's delete rules).
    ///
    /// # Errors
    ///
    /// See [the type](Self).
    pub async fn delete_by_query(&self, query: &Query) -> Result<Vec<Value>, EndpointError> {
        let keys = self.keys_by_query(query, Action::Delete).await?;
        self.delete_many(&keys).await
    }

    /// The keys of the rows `query`'s filter selects that `action`'s rules allow (at most
    /// [`MAX_LIMIT`](super::MAX_LIMIT)).
    async fn keys_by_query(
        &self,
        query: &Query,
        action: Action,
    ) -> Result<Vec<Value>, EndpointError> {
        let allowed = self.allowed(action)?;
        let read = self.allowed(Action::Read)?;
        let key = self.primary_key()?;
        let name = self.collection.as_str();
        let kind = self.database.kind();
        let (limit, _) = query.window()?;
        let mut select = Sql::select();
        select
            .expr(sql::read(name, key, kind))
            .from(Alias::new(name));
        let mut conditions: Vec<Expr> = Vec::new();
        let query_filter = self.query_filter(query, &read)?;
        if let Some(parsed) = &query_filter {
            conditions.push(sql::condition(
                parsed,
                name,
                &self.schema,
                kind,
                &self.dynamic,
            ));
        }
        conditions.extend(self.permission_condition(name, &allowed, query_filter.as_ref()));
        conditions.extend(self.permission_condition(name, &read, query_filter.as_ref()));
        if let Some(condition) = conditions.into_iter().reduce(sea_query::ExprTrait::and) {
            select.and_where(condition);
        }
        let select = sql::Windowed {
            select,
            limit,
            offset: 0,
        };
        let rows = sql::fetch(&self.database, &select, &[key.kind]).await?;
        Ok(rows.into_iter().flatten().collect())
    }

    /// Updates (`values`) or deletes the rows of `keys`, in one transaction, after checking
    /// that the caller may touch every one of them.
    async fn write(
        &self,
        action: Action,
        allowed: &Allowed<'_>,
        keys: &[Value],
        values: Option<Vec<(String, Expr)>>,
    ) -> Result<Vec<Value>, EndpointError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let name = self.collection.as_str();
        let key = self.primary_key()?;
        let mut distinct: Vec<&Value> = Vec::new();
        for k in keys {
            if !distinct.contains(&k) {
                distinct.push(k);
            }
        }
        let mut condition = self.keys_condition(keys)?;
        if let Some(permission) = self.permission_condition(name, allowed, None) {
            condition = condition.and(permission);
        }
        let mut transaction = sql::begin(&self.database).await?;
        let visible = Sql::select()
            .expr(sql::read(name, key, self.database.kind()))
            .from(Alias::new(name))
            .and_where(condition.clone())
            .to_owned();
        let found = transaction
            .fetch(&self.database, &visible, &[key.kind])
            .await?;
        if found.len() != distinct.len() {
            return Err(self.not_visible(action));
        }
        match values {
            Some(values) if !values.is_empty() => {
                let mut update = Sql::update();
                update.table(Alias::new(name)).and_where(condition);
                for (field, value) in values {
                    update.value(Alias::new(field), value);
                }
                transaction.fetch(&self.database, &update, &[]).await?;
            }
            Some(_) => {}
            None => {
                let delete = Sql::delete()
                    .from_table(Alias::new(name))
                    .and_where(condition)
                    .to_owned();
                transaction.fetch(&self.database, &delete, &[]).await?;
            }
        }
        transaction.commit().await?;
        Ok(found.into_iter().flatten().collect())
    }
}

/// Sets `path` (`["author", "name"]`) in `item`.
fn insert(item: &mut Map<String, Value>, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            item.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = item
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

/// A related object whose every field is null is a relation that points nowhere (or at an
/// item the caller may not read): `null`, as Directus answers.
fn nulls_for_missing_relations(
    mut item: Map<String, Value>,
    relations: &[String],
) -> Map<String, Value> {
    for (name, value) in &mut item {
        if relations.contains(name)
            && let Value::Object(inner) = value
            && !inner.is_empty()
            && inner.values().all(Value::is_null)
        {
            *value = Value::Null;
        }
    }
    item
}

/// `items` as `T`; a 500 naming the collection when they do not fit it.
fn typed<T: DeserializeOwned>(
    items: Vec<Value>,
    collection: &str,
) -> Result<Vec<T>, EndpointError> {
    items
        .into_iter()
        .map(|item| {
            serde_json::from_value(item).map_err(|error| {
                EndpointError::internal(format!(
                    "an item of `{collection}` does not fit the type asked for: {error}"
                ))
            })
        })
        .collect()
}

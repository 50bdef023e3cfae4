//! The SQL of the data services, built with sea-query for SQLite or PostgreSQL: identifiers
//! only from the introspected schema, every value bound (`?` / `$n`), never formatted into the
//! text. Also what sqlx's `Any` driver needs around it: casts to the types it can decode, and
//! rows turned into JSON by the field's kind.

use sea_query::{Alias, Expr, ExprTrait, LikeExpr, SelectStatement};
use serde_json::Value;
use sqlx::Row as _;

use super::filter::{Dynamic, Filter, Op};
use crate::database::{Database, DatabaseKind};
use crate::error::EndpointError;
use crate::schema::{Field, FieldKind, Schema};

/// `"table"."field"`.
pub(crate) fn column(table: &str, field: &str) -> Expr {
    Expr::col((Alias::new(table), Alias::new(field)))
}

/// The PostgreSQL type a bound text value is cast to for `field` (`CAST($1 AS jsonb)`):
/// `Any` binds text, which PostgreSQL does not turn into these by itself. Fixed names, never
/// the catalogue's text.
fn postgres_cast(field: &Field) -> Option<&'static str> {
    let t = field.data_type.as_str();
    Some(match field.kind {
        FieldKind::Json if t == "json" => "json",
        FieldKind::Json => "jsonb",
        FieldKind::Uuid => "uuid",
        FieldKind::Timestamp if t.contains("without") || t == "timestamp" => "timestamp",
        FieldKind::Timestamp => "timestamptz",
        FieldKind::Date => "date",
        FieldKind::Time if t.contains("with time zone") => "timetz",
        FieldKind::Time => "time",
        FieldKind::Decimal => "numeric",
        _ => return None,
    })
}

/// `value` (already coerced to `field`'s kind, dynamic values resolved) as a bound expression.
pub(crate) fn value(value: &Value, field: &Field, kind: DatabaseKind) -> Expr {
    let bound = match value {
        Value::Null => Expr::val(Option::<String>::None),
        Value::Bool(b) => Expr::val(*b),
        Value::Number(n) => match (n.as_i64(), field.kind) {
            (Some(i), _) => Expr::val(i),
            (None, FieldKind::Decimal) => Expr::val(n.to_string()),
            (None, _) => Expr::val(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Expr::val(s.clone()),
        // A JSON field's object or array, as its text.
        other => Expr::val(other.to_string()),
    };
    match (kind, postgres_cast(field)) {
        (DatabaseKind::Postgres, Some(cast)) if !value.is_null() => bound.cast_as(Alias::new(cast)),
        _ => bound,
    }
}

/// The condition `filter` puts on rows of `table`, with `dynamic` values resolved.
pub(crate) fn condition(
    filter: &Filter,
    table: &str,
    schema: &Schema,
    kind: DatabaseKind,
    dynamic: &Dynamic,
) -> Expr {
    match filter {
        Filter::All(parts) => parts
            .iter()
            .map(|p| condition(p, table, schema, kind, dynamic))
            .reduce(ExprTrait::and)
            .unwrap_or_else(|| Expr::val(true)),
        Filter::Any(parts) => parts
            .iter()
            .map(|p| condition(p, table, schema, kind, dynamic))
            .reduce(ExprTrait::or)
            .unwrap_or_else(|| Expr::val(false)),
        Filter::Related {
            field,
            collection,
            key,
            filter,
        } => {
            let inner = SelectStatement::new()
                .expr(column(collection, key))
                .from(Alias::new(collection))
                .and_where(condition(filter, collection, schema, kind, dynamic))
                .to_owned();
            column(table, field).in_subquery(inner)
        }
        Filter::Compare { field, op, value } => {
            let Some(field) = schema.collection(table).and_then(|c| c.field(field)) else {
                // Parsed against this schema: unreachable, and a filter that cannot be read
                // matches nothing rather than everything.
                return Expr::val(false);
            };
            compare(table, field, *op, value, kind, dynamic)
        }
    }
}

fn compare(
    table: &str,
    field: &Field,
    op: Op,
    operand: &Value,
    kind: DatabaseKind,
    dynamic: &Dynamic,
) -> Expr {
    let col = || column(table, &field.name);
    let operand = dynamic.resolve(operand);
    let bound = |v: &Value| value(v, field, kind);
    let like = |pattern: String| LikeExpr::new(pattern).escape('\\');
    let escaped = |v: &Value| {
        v.as_str()
            .unwrap_or_default()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    };
    let items = |v: &Value| -> Vec<Expr> {
        match v {
            Value::Array(items) => items.iter().map(|i| bound(&dynamic.resolve(i))).collect(),
            // `$CURRENT_ROLES` resolved to an array above; anything else is one value.
            other => vec![bound(other)],
        }
    };
    match op {
        Op::Eq if operand.is_null() => col().is_null(),
        Op::Neq if operand.is_null() => col().is_not_null(),
        Op::Eq => col().eq(bound(&operand)),
        Op::Neq => col().ne(bound(&operand)).or(col().is_null()),
        Op::Lt => col().lt(bound(&operand)),
        Op::Lte => col().lte(bound(&operand)),
        Op::Gt => col().gt(bound(&operand)),
        Op::Gte => col().gte(bound(&operand)),
        Op::In => {
            let items = items(&operand);
            if items.is_empty() {
                Expr::val(false)
            } else {
                col().is_in(items)
            }
        }
        Op::Nin => {
            let items = items(&operand);
            if items.is_empty() {
                Expr::val(true)
            } else {
                col().is_not_in(items).or(col().is_null())
            }
        }
        Op::Null if operand.as_bool() == Some(false) => col().is_not_null(),
        Op::Null => col().is_null(),
        Op::Nnull if operand.as_bool() == Some(false) => col().is_null(),
        Op::Nnull => col().is_not_null(),
        Op::Contains => col().like(like(format!("%{}%", escaped(&operand)))),
        Op::Ncontains => col()
            .not_like(like(format!("%{}%", escaped(&operand))))
            .or(col().is_null()),
        Op::StartsWith => col().like(like(format!("{}%", escaped(&operand)))),
        Op::EndsWith => col().like(like(format!("%{}", escaped(&operand)))),
        Op::Between => match operand.as_array().map(Vec::as_slice) {
            Some([low, high]) => col().between(bound(low), bound(high)),
            _ => Expr::val(false),
        },
    }
}

/// The expression that reads `field` of `table` in a form `Any` decodes on `kind`.
pub(crate) fn read(table: &str, field: &Field, kind: DatabaseKind) -> Expr {
    let col = column(table, &field.name);
    match (kind, field.kind) {
        (DatabaseKind::Sqlite, FieldKind::Boolean) => col.cast_as(Alias::new("INTEGER")),
        (
            DatabaseKind::Sqlite,
            FieldKind::Integer | FieldKind::Float | FieldKind::Text | FieldKind::Binary,
        ) => col,
        // `Any` refuses SQLite's declared DATETIME, JSON, … types: read their text.
        (DatabaseKind::Sqlite, _) => col.cast_as(Alias::new("TEXT")),
        (DatabaseKind::Postgres, FieldKind::Integer) => col.cast_as(Alias::new("BIGINT")),
        (DatabaseKind::Postgres, FieldKind::Float) => col.cast_as(Alias::new("DOUBLE PRECISION")),
        (DatabaseKind::Postgres, FieldKind::Boolean | FieldKind::Binary) => col,
        (DatabaseKind::Postgres, _) => col.cast_as(Alias::new("TEXT")),
    }
}

/// The JSON value of column `index` of `row`, read as [`read`] selected it for `field` (or as
/// an aggregate of `kind`).
pub(crate) fn decode(row: &sqlx::any::AnyRow, index: usize, kind: FieldKind) -> Value {
    let text = || row.try_get::<Option<String>, _>(index).ok().flatten();
    match kind {
        FieldKind::Integer => match row.try_get::<Option<i64>, _>(index) {
            Ok(v) => v.map_or(Value::Null, Value::from),
            Err(_) => float_or_text(row, index),
        },
        FieldKind::Float => float_or_text(row, index),
        FieldKind::Boolean => match row.try_get::<Option<bool>, _>(index) {
            Ok(v) => v.map_or(Value::Null, Value::Bool),
            Err(_) => row
                .try_get::<Option<i64>, _>(index)
                .ok()
                .flatten()
                .map_or(Value::Null, |i| Value::Bool(i != 0)),
        },
        FieldKind::Json => text().map_or(Value::Null, |t| {
            serde_json::from_str(&t).unwrap_or(Value::String(t))
        }),
        FieldKind::Binary => row
            .try_get::<Option<Vec<u8>>, _>(index)
            .ok()
            .flatten()
            .map_or(Value::Null, Value::from),
        _ => match text() {
            Some(t) => Value::String(t),
            None => float_or_text(row, index),
        },
    }
}

/// A number or a text, whichever the column decodes as (SQLite's dynamic types).
fn float_or_text(row: &sqlx::any::AnyRow, index: usize) -> Value {
    if let Ok(Some(i)) = row.try_get::<Option<i64>, _>(index) {
        return Value::from(i);
    }
    if let Ok(Some(f)) = row.try_get::<Option<f64>, _>(index) {
        return serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    }
    row.try_get::<Option<String>, _>(index)
        .ok()
        .flatten()
        .map_or(Value::Null, Value::String)
}

/// `(sql, values)` built for `kind`.
pub(crate) fn build<S>(statement: &S, kind: DatabaseKind) -> (String, sea_query::Values)
where
    S: Buildable,
{
    match kind {
        DatabaseKind::Sqlite => statement.build_for(&sea_query::SqliteQueryBuilder),
        DatabaseKind::Postgres => statement.build_for(&sea_query::PostgresQueryBuilder),
    }
}

/// The statements the services build.
pub(crate) trait Buildable {
    fn build_for(&self, builder: &impl sea_query::QueryBuilder) -> (String, sea_query::Values);
}

impl Buildable for sea_query::SelectStatement {
    fn build_for(&self, builder: &impl sea_query::QueryBuilder) -> (String, sea_query::Values) {
        self.build_any(builder)
    }
}
/// A read with its `LIMIT` and `OFFSET`: bound on PostgreSQL; on SQLite written as integer
/// literals (they are counts the service computed and capped, never a caller's text), because a
/// bound `LIMIT` makes SQLite prepare the statement again at every call: +26 % on a 10-row
/// read (146 µs against 116 µs, `bench-services`, 2026-12-01).
pub(crate) struct Windowed {
    pub(crate) select: SelectStatement,
    pub(crate) limit: u64,
    pub(crate) offset: u64,
}

impl Buildable for Windowed {
    fn build_for(&self, builder: &impl sea_query::QueryBuilder) -> (String, sea_query::Values) {
        // `build_any` knows its builder only as a trait object: ask it which placeholder it
        // writes (`?` for SQLite, `$1` for PostgreSQL).
        let (placeholder, numbered) = builder.placeholder();
        if placeholder == "?" && !numbered {
            let (mut sql, values) = self.select.build_any(builder);
            use std::fmt::Write as _;
            let _ = write!(sql, " LIMIT {} OFFSET {}", self.limit, self.offset);
            (sql, values)
        } else {
            let mut select = self.select.clone();
            select.limit(self.limit).offset(self.offset);
            select.build_any(builder)
        }
    }
}

impl Buildable for sea_query::InsertStatement {
    fn build_for(&self, builder: &impl sea_query::QueryBuilder) -> (String, sea_query::Values) {
        self.build_any(builder)
    }
}
impl Buildable for sea_query::UpdateStatement {
    fn build_for(&self, builder: &impl sea_query::QueryBuilder) -> (String, sea_query::Values) {
        self.build_any(builder)
    }
}
impl Buildable for sea_query::DeleteStatement {
    fn build_for(&self, builder: &impl sea_query::QueryBuilder) -> (String, sea_query::Values) {
        self.build_any(builder)
    }
}

/// Runs `statement` on `executor` and returns its rows; counts it on `database`.
pub(crate) async fn fetch<'e, S, E>(
    database: &Database,
    executor: E,
    statement: &S,
) -> Result<Vec<sqlx::any::AnyRow>, EndpointError>
where
    S: Buildable,
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (sql, values) = build(statement, database.kind());
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in values.into_iter() {
        query = bind(query, value);
    }
    database.count_statement();
    query.fetch_all(executor).await.map_err(failed)
}

/// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
/// transaction that reads first and writes later fails at once (`SQLITE_BUSY_SNAPSHOT`, no busy
/// wait) when another connection wrote in between.
pub(crate) async fn begin(
    database: &Database,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, EndpointError> {
    match database.kind() {
        DatabaseKind::Sqlite => database.pool().begin_with("BEGIN IMMEDIATE").await,
        DatabaseKind::Postgres => database.pool().begin().await,
    }
    .map_err(failed)
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds one sea-query value in a type `Any` carries (integers as `i64`).
fn bind(query: AnyQuery<'_>, value: sea_query::Value) -> AnyQuery<'_> {
    use sea_query::Value as V;
    match value {
        V::Bool(v) => query.bind(v),
        V::TinyInt(v) => query.bind(v.map(i64::from)),
        V::SmallInt(v) => query.bind(v.map(i64::from)),
        V::Int(v) => query.bind(v.map(i64::from)),
        V::BigInt(v) => query.bind(v),
        V::TinyUnsigned(v) => query.bind(v.map(i64::from)),
        V::SmallUnsigned(v) => query.bind(v.map(i64::from)),
        V::Unsigned(v) => query.bind(v.map(i64::from)),
        V::BigUnsigned(v) => query.bind(v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))),
        V::Float(v) => query.bind(v.map(f64::from)),
        V::Double(v) => query.bind(v),
        V::String(v) => query.bind(v),
        V::Char(v) => query.bind(v.map(String::from)),
        V::Bytes(v) => query.bind(v),
        // The services build no other kind of value.
        _ => query.bind(Option::<String>::None),
    }
}

/// A failed statement as the caller's error: a database that cannot be reached is 503
/// `SERVICE_UNAVAILABLE` (the seeds' `ServiceUnavailableException`); a payload that breaks a
/// constraint (unique, foreign key, not null, check) is 400 `INVALID_PAYLOAD`; anything else
/// 500. The driver's text is logged, never sent.
pub(crate) fn failed(error: sqlx::Error) -> EndpointError {
    match &error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => {
            tracing::error!(%error, "database unavailable");
            EndpointError::service_unavailable("the database is unavailable; retry shortly")
        }
        // Writers in each other's way (SQLite busy past its timeout; PostgreSQL serialization
        // failures and deadlocks): the same request may succeed a moment later.
        sqlx::Error::Database(db)
            if db.code().is_some_and(|code| {
                matches!(code.as_ref(), "5" | "261" | "517" | "40001" | "40P01")
            }) =>
        {
            tracing::warn!(%error, "database busy");
            EndpointError::service_unavailable("the database is busy; retry shortly").with_header(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            )
        }
        // A value the column's type cannot hold: SQLite's `SQLITE_MISMATCH` (20), PostgreSQL's
        // data exceptions (class 22: out of range, invalid text representation, …).
        sqlx::Error::Database(db)
            if db.code().is_some_and(|code| {
                code == "20" || (code.len() == 5 && code.starts_with("22"))
            }) =>
        {
            tracing::info!(%error, "payload refused by the column's type");
            EndpointError::invalid_payload("a value does not fit the type of its field")
        }
        sqlx::Error::Database(db) if db.kind() != sqlx::error::ErrorKind::Other => {
            tracing::info!(%error, "payload refused by a constraint");
            EndpointError::invalid_payload(match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => "a value must be unique and is taken",
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    "a related item does not exist (or is still referenced)"
                }
                sqlx::error::ErrorKind::NotNullViolation => "a required value is missing",
                _ => "the payload breaks a constraint of the collection",
            })
        }
        _ => EndpointError::internal_from(error),
    }
}

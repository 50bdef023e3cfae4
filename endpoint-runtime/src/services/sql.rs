//! The SQL of the data services, built with sea-query for SQLite or PostgreSQL: identifiers
//! only from the introspected schema, every value bound (`?` / `$n`), never formatted into the
//! text. Also what runs it on the backend's typed pool: reads cast to a few plain types (so one
//! decoder serves every column type), bound text cast to the column's type on PostgreSQL, and
//! rows turned into JSON by the field's kind.

use sea_query::{Alias, Expr, ExprTrait, LikeExpr, SelectStatement};
use serde_json::Value;

use super::filter::{Dynamic, Filter, Op};
use crate::database::{Database, DatabaseKind, Pool};
use crate::error::EndpointError;
use crate::schema::{Field, FieldKind, Schema};

/// `"table"."field"`.
pub(crate) fn column(table: &str, field: &str) -> Expr {
    Expr::col((Alias::new(table), Alias::new(field)))
}

/// The PostgreSQL type a bound text value is cast to for `field` (`CAST($1 AS jsonb)`): the
/// services bind these values as text, which PostgreSQL does not compare with these types. Fixed names, never
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

/// The expression that reads `field` of `table` as one of the plain types [`decode`] reads
/// (integer, float, boolean, text, bytes) on `kind`.
pub(crate) fn read(table: &str, field: &Field, kind: DatabaseKind) -> Expr {
    let col = column(table, &field.name);
    match (kind, field.kind) {
        (DatabaseKind::Sqlite, FieldKind::Boolean) => col.cast_as(Alias::new("INTEGER")),
        (
            DatabaseKind::Sqlite,
            FieldKind::Integer | FieldKind::Float | FieldKind::Text | FieldKind::Binary,
        ) => col,
        // SQLite's declared DATETIME, JSON, NUMERIC, … types: their text.
        (DatabaseKind::Sqlite, _) => col.cast_as(Alias::new("TEXT")),
        (DatabaseKind::Postgres, FieldKind::Integer) => col.cast_as(Alias::new("BIGINT")),
        (DatabaseKind::Postgres, FieldKind::Float) => col.cast_as(Alias::new("DOUBLE PRECISION")),
        (DatabaseKind::Postgres, FieldKind::Boolean | FieldKind::Binary) => col,
        (DatabaseKind::Postgres, _) => col.cast_as(Alias::new("TEXT")),
    }
}

/// The JSON value of column `index` of `row`, read as [`read`] selected it for `field` (or as
/// an aggregate of `kind`).
fn decode<R: Decodes>(row: &R, index: usize, kind: FieldKind) -> Value {
    match kind {
        FieldKind::Integer => match row.integer(index) {
            Ok(v) => v.map_or(Value::Null, Value::from),
            Err(_) => float_or_text(row, index),
        },
        FieldKind::Float => float_or_text(row, index),
        FieldKind::Boolean => match row.boolean(index) {
            Ok(v) => v.map_or(Value::Null, Value::Bool),
            Err(_) => row
                .integer(index)
                .ok()
                .flatten()
                .map_or(Value::Null, |i| Value::Bool(i != 0)),
        },
        FieldKind::Json => row.text(index).ok().flatten().map_or(Value::Null, |t| {
            serde_json::from_str(&t).unwrap_or(Value::String(t))
        }),
        FieldKind::Binary => row
            .bytes(index)
            .ok()
            .flatten()
            .map_or(Value::Null, Value::from),
        _ => match row.text(index).ok().flatten() {
            Some(t) => Value::String(t),
            None => float_or_text(row, index),
        },
    }
}

/// A number or a text, whichever the column decodes as (SQLite's dynamic types).
fn float_or_text<R: Decodes>(row: &R, index: usize) -> Value {
    if let Ok(Some(i)) = row.integer(index) {
        return Value::from(i);
    }
    if let Ok(Some(f)) = row.float(index) {
        return serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    }
    row.text(index)
        .ok()
        .flatten()
        .map_or(Value::Null, Value::String)
}

/// A row of a backend the services run on, read as the plain types [`read`] selects.
trait Decodes {
    fn integer(&self, index: usize) -> Result<Option<i64>, sqlx::Error>;
    fn float(&self, index: usize) -> Result<Option<f64>, sqlx::Error>;
    fn boolean(&self, index: usize) -> Result<Option<bool>, sqlx::Error>;
    fn text(&self, index: usize) -> Result<Option<String>, sqlx::Error>;
    fn bytes(&self, index: usize) -> Result<Option<Vec<u8>>, sqlx::Error>;
}

macro_rules! decodes {
    ($row:ty) => {
        impl Decodes for $row {
            fn integer(&self, index: usize) -> Result<Option<i64>, sqlx::Error> {
                sqlx::Row::try_get(self, index)
            }
            fn float(&self, index: usize) -> Result<Option<f64>, sqlx::Error> {
                sqlx::Row::try_get(self, index)
            }
            fn boolean(&self, index: usize) -> Result<Option<bool>, sqlx::Error> {
                sqlx::Row::try_get(self, index)
            }
            fn text(&self, index: usize) -> Result<Option<String>, sqlx::Error> {
                sqlx::Row::try_get(self, index)
            }
            fn bytes(&self, index: usize) -> Result<Option<Vec<u8>>, sqlx::Error> {
                sqlx::Row::try_get(self, index)
            }
        }
    };
}

#[cfg(feature = "sqlite")]
decodes!(sqlx::sqlite::SqliteRow);
#[cfg(feature = "postgres")]
decodes!(sqlx::postgres::PgRow);

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

/// Runs `statement` on the database's pool and returns its rows, column `i` decoded as
/// `kinds[i]`; counts it on `database`.
pub(crate) async fn fetch<S: Buildable>(
    database: &Database,
    statement: &S,
    kinds: &[FieldKind],
) -> Result<Vec<Vec<Value>>, EndpointError> {
    let (sql, values) = build(statement, database.kind());
    database.count_statement();
    crate::with_pool!(database, |pool| run(pool, sql, values, kinds).await)
}

/// A write transaction on the database's typed pool.
pub(crate) enum Transaction {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Transaction {
    /// Runs `statement` inside the transaction: see [`fetch`].
    pub(crate) async fn fetch<S: Buildable>(
        &mut self,
        database: &Database,
        statement: &S,
        kinds: &[FieldKind],
    ) -> Result<Vec<Vec<Value>>, EndpointError> {
        let (sql, values) = build(statement, database.kind());
        database.count_statement();
        match self {
            #[cfg(feature = "sqlite")]
            Transaction::Sqlite(transaction) => run(&mut **transaction, sql, values, kinds).await,
            #[cfg(feature = "postgres")]
            Transaction::Postgres(transaction) => run(&mut **transaction, sql, values, kinds).await,
        }
    }

    pub(crate) async fn commit(self) -> Result<(), EndpointError> {
        match self {
            #[cfg(feature = "sqlite")]
            Transaction::Sqlite(transaction) => transaction.commit().await,
            #[cfg(feature = "postgres")]
            Transaction::Postgres(transaction) => transaction.commit().await,
        }
        .map_err(failed)
    }
}

/// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
/// transaction that reads first and writes later fails at once (`SQLITE_BUSY_SNAPSHOT`, no busy
/// wait) when another connection wrote in between.
pub(crate) async fn begin(database: &Database) -> Result<Transaction, EndpointError> {
    match database.pool() {
        #[cfg(feature = "sqlite")]
        Pool::Sqlite(pool) => pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map(Transaction::Sqlite),
        #[cfg(feature = "postgres")]
        Pool::Postgres(pool) => pool.begin().await.map(Transaction::Postgres),
    }
    .map_err(failed)
}

/// Runs `sql` with `values` bound on `executor`, decoding each row by `kinds`.
async fn run<'e, E, DB>(
    executor: E,
    sql: String,
    values: sea_query::Values,
    kinds: &[FieldKind],
) -> Result<Vec<Vec<Value>>, EndpointError>
where
    E: sqlx::Executor<'e, Database = DB>,
    DB: sqlx::Database,
    DB::Row: Decodes,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'t> Option<bool>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<i64>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<f64>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<String>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<Vec<u8>>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    use sea_query::Value as V;
    let mut query = sqlx::query::<DB>(sqlx::AssertSqlSafe(sql));
    for value in values.into_iter() {
        // Integers as `i64`, floats as `f64`: the types both backends bind.
        query = match value {
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
        };
    }
    let rows = query.fetch_all(executor).await.map_err(failed)?;
    Ok(rows
        .iter()
        .map(|row| {
            kinds
                .iter()
                .enumerate()
                .map(|(index, kind)| decode(row, index, *kind))
                .collect()
        })
        .collect())
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

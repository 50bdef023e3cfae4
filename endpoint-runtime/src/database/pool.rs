//! The connection pools (features `sqlite` and `postgres`): one typed sqlx pool per backend,
//! connecting, migrating, and scrubbing a driver's messages of the URL's secrets.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::pool::PoolOptions;

use super::{DatabaseKind, Migrations, is_secret_parameter, kind_of, redact};
use crate::error::{EndpointError, Error};

/// The database's connection pool: sqlx's own pool for the backend the URL names, so every
/// type that backend has reads and writes as sqlx documents it (SQLite `BOOLEAN` as `bool`,
/// PostgreSQL `uuid`, `numeric`, `jsonb`, `timestamptz` as [`sqlx::types::Uuid`],
/// [`sqlx::types::Decimal`], [`sqlx::types::Json`], [`sqlx::types::time`]).
///
/// Match on it, or write one query for both backends with [`with_pool!`](crate::with_pool).
/// A variant exists when its feature (`sqlite`, `postgres`) is on.
#[derive(Debug, Clone)]
pub enum Pool {
    /// An SQLite database (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// A PostgreSQL database (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// One of two things, per backend: what [`with_pool!`](crate::with_pool) matches on. Not
/// public API. A variant whose feature is off holds [`Infallible`](std::convert::Infallible).
#[doc(hidden)]
#[derive(Debug)]
pub enum Either<S, P> {
    /// The SQLite one.
    Sqlite(S),
    /// The PostgreSQL one.
    Postgres(P),
}

/// A connection pool and what the runtime knows of its database. Cheap to clone.
///
/// Queries go through [`sqlx`] (re-exported as `endpoint_runtime::sqlx`) on the backend's own
/// pool: [`Database::sqlite`] or [`Database::postgres`] when the application uses one
/// backend, [`with_pool!`](crate::with_pool) when the same query serves both (write `$1, $2,
/// …` placeholders, which both accept).
///
/// ```no_run
/// use endpoint_runtime::prelude::*;
/// use endpoint_runtime::{sqlx, with_pool};
///
/// #[endpoint(id = "recipes", route = "/count")]
/// async fn count(ctx: Context) -> Result<String, EndpointError> {
///     let n: i64 = with_pool!(ctx.database()?, |pool| {
///         sqlx::query_scalar("SELECT COUNT(*) FROM recipes").fetch_one(pool).await
///     })?;
///     Ok(n.to_string())
/// }
/// # fn main() {}
/// ```
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool,
    /// The schema, read on first use (feature `services`).
    #[cfg(feature = "services")]
    pub(super) schema: super::schema::Cache,
    /// The statements the data services ran (feature `services`).
    #[cfg(feature = "services")]
    statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Runs `body` with `pool` bound to the database's typed sqlx pool, whichever backend it is:
/// `with_pool!(database, |pool| expression)`, where `database` is a `&Database` and the
/// expression (which may `.await`) has the same type for every backend, so rows are read into
/// plain values inside it. The expression is compiled once per backend the runtime has
/// (features `sqlite`, `postgres`).
///
/// Given `&mut transaction` (a [`Transaction`](crate::Transaction) from
/// [`Context::transaction`](crate::Context::transaction)), `pool` is the transaction's
/// connection instead (`&mut SqliteConnection` or `&mut PgConnection`); write `&mut *pool` to
/// run more than one statement on it.
///
/// ```no_run
/// # use endpoint_runtime::{prelude::*, sqlx, with_pool};
/// # async fn titles(ctx: Context) -> Result<Vec<(i64, String)>, EndpointError> {
/// let rows: Vec<(i64, String)> = with_pool!(ctx.database()?, |pool| {
///     sqlx::query_as("SELECT id, title FROM recipes WHERE views > $1")
///         .bind(100_i64)
///         .fetch_all(pool)
///         .await
/// })?;
/// # Ok(rows) }
/// ```
///
/// The expression must not give the backend's own types: rows (`SqliteRow`, `PgRow`) and
/// results (`SqliteQueryResult`, `PgQueryResult`) differ per backend, so this does not compile
/// (`match` arms have incompatible types); map them to plain values inside, as above, or
/// `.map(|_| ())` after an `execute`.
///
/// ```compile_fail
/// # use endpoint_runtime::{prelude::*, sqlx, with_pool};
/// # async fn f(ctx: Context) -> Result<(), EndpointError> {
/// let rows = with_pool!(ctx.database()?, |pool| {
///     sqlx::query("SELECT id FROM recipes").fetch_all(pool).await
/// })?;
/// # Ok(()) }
/// ```
#[cfg(all(feature = "sqlite", feature = "postgres"))]
#[macro_export]
macro_rules! with_pool {
    ($database:expr, |$pool:ident| $body:expr) => {
        match ($database).__endpoint_backend() {
            $crate::Either::Sqlite($pool) => $body,
            $crate::Either::Postgres($pool) => $body,
        }
    };
}

/// Runs `body` with `pool` bound to the database's typed sqlx pool (here SQLite, the only
/// backend compiled in). See the documentation with both features on.
#[cfg(all(feature = "sqlite", not(feature = "postgres")))]
#[macro_export]
macro_rules! with_pool {
    ($database:expr, |$pool:ident| $body:expr) => {
        match ($database).__endpoint_backend() {
            $crate::Either::Sqlite($pool) => $body,
            $crate::Either::Postgres(never) => match never {},
        }
    };
}

/// Runs `body` with `pool` bound to the database's typed sqlx pool (here PostgreSQL, the only
/// backend compiled in). See the documentation with both features on.
#[cfg(all(feature = "postgres", not(feature = "sqlite")))]
#[macro_export]
macro_rules! with_pool {
    ($database:expr, |$pool:ident| $body:expr) => {
        match ($database).__endpoint_backend() {
            $crate::Either::Sqlite(never) => match never {},
            $crate::Either::Postgres($pool) => $body,
        }
    };
}

/// The SQLite arm of a [`Database`]'s [`Either`], or `Infallible` without the feature.
#[cfg(feature = "sqlite")]
type SqlitePoolRef<'a> = &'a sqlx::SqlitePool;
#[cfg(not(feature = "sqlite"))]
type SqlitePoolRef<'a> = std::convert::Infallible;
/// The PostgreSQL arm of a [`Database`]'s [`Either`], or `Infallible` without the feature.
#[cfg(feature = "postgres")]
type PgPoolRef<'a> = &'a sqlx::PgPool;
#[cfg(not(feature = "postgres"))]
type PgPoolRef<'a> = std::convert::Infallible;

impl Database {
    /// What [`with_pool!`](crate::with_pool) matches on: the backend's pool. Not public API;
    /// a method (not a trait's) so that the macro's method call dereferences `&&Database`
    /// and keeps a temporary such as `&ctx.state::<Database>()?` alive for the whole match.
    #[doc(hidden)]
    pub fn __endpoint_backend(&self) -> Either<SqlitePoolRef<'_>, PgPoolRef<'_>> {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => Either::Sqlite(pool),
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => Either::Postgres(pool),
        }
    }

    /// The pool: match on it, or use [`with_pool!`](crate::with_pool).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The SQLite pool, for an application that runs on SQLite.
    ///
    /// # Errors
    ///
    /// - 500 `INTERNAL` (logged with the reason) when the database is PostgreSQL: the
    ///   deployment's `ENDPOINT_DATABASE_URL` does not match the code.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(&self) -> Result<&sqlx::SqlitePool, EndpointError> {
        match &self.pool {
            Pool::Sqlite(pool) => Ok(pool),
            #[allow(unreachable_patterns)]
            _ => Err(EndpointError::internal(
                "the code asked for an SQLite pool, and the database is PostgreSQL",
            )),
        }
    }

    /// The PostgreSQL pool, for an application that runs on PostgreSQL.
    ///
    /// # Errors
    ///
    /// - 500 `INTERNAL` (logged with the reason) when the database is SQLite: the
    ///   deployment's `ENDPOINT_DATABASE_URL` does not match the code.
    #[cfg(feature = "postgres")]
    pub fn postgres(&self) -> Result<&sqlx::PgPool, EndpointError> {
        match &self.pool {
            Pool::Postgres(pool) => Ok(pool),
            #[allow(unreachable_patterns)]
            _ => Err(EndpointError::internal(
                "the code asked for a PostgreSQL pool, and the database is SQLite",
            )),
        }
    }

    /// Which server this is.
    pub fn kind(&self) -> DatabaseKind {
        match self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => DatabaseKind::Sqlite,
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    /// Closes every connection of the pool, waiting for those in use to be returned.
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }

    /// How many statements the data services (`ItemsService`)
    /// have run on this database: for tests that prove a refused query ran none, and for
    /// metrics (feature `services`).
    #[cfg(feature = "services")]
    pub fn services_statements(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[cfg(feature = "services")]
    pub(crate) fn count_statement(&self) {
        self.statements
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Connects to `url` (`sqlite://file.db`, `sqlite::memory:`, `postgres://…`), waiting at
    /// most `timeout` for a connection; an SQLite file is created if it does not exist.
    ///
    /// # Errors
    ///
    /// - [`Error::Database`] naming the URL's scheme and host (never its password).
    pub async fn connect(url: &str, timeout: std::time::Duration) -> Result<Self, Error> {
        let kind = kind_of(url).ok_or_else(|| {
            Error::database(format!(
                "unsupported database URL `{}`: expected `sqlite://…` or `postgres://…`",
                redact(url)
            ))
        })?;
        let connect_failed = |url: &str, e: sqlx::Error| {
            // The driver's message too: it could quote the URL or a part of it.
            let reason = scrub(&e.to_string(), url);
            Error::database(format!("cannot connect to `{}`: {reason}", redact(url)))
        };
        let pool = match kind {
            #[cfg(feature = "sqlite")]
            DatabaseKind::Sqlite => {
                let url = if !url.contains("mode=") && !url.contains(":memory:") {
                    let separator = if url.contains('?') { '&' } else { '?' };
                    format!("{url}{separator}mode=rwc")
                } else {
                    url.to_string()
                };
                // Each connection to an in-memory SQLite URL opens a database of its own: one
                // connection, kept for the pool's life, so that every query sees the same
                // tables.
                let options = if super::is_memory(&url) {
                    PoolOptions::new()
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                } else {
                    PoolOptions::new().max_connections(kind.pool_size())
                };
                let pool: sqlx::SqlitePool = options
                    .acquire_timeout(timeout)
                    .connect(&url)
                    .await
                    .map_err(|e| connect_failed(&url, e))?;
                // WAL so readers do not block the writer (kept in the file, so once is
                // enough). Foreign keys are on for every connection: sqlx's SQLite default.
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&pool)
                    .await
                    .map_err(|e| Error::database_from("`PRAGMA journal_mode = WAL` failed", e))?;
                Pool::Sqlite(pool)
            }
            #[cfg(feature = "postgres")]
            DatabaseKind::Postgres => Pool::Postgres(
                PoolOptions::new()
                    .max_connections(kind.pool_size())
                    .acquire_timeout(timeout)
                    .connect(url)
                    .await
                    .map_err(|e| connect_failed(url, e))?,
            ),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::database(format!(
                    "cannot connect to `{}`: expected {}",
                    redact(url),
                    kind.missing_feature()
                )));
            }
        };
        Ok(Database {
            pool,
            #[cfg(feature = "services")]
            schema: Default::default(),
            #[cfg(feature = "services")]
            statements: Default::default(),
        })
    }

    /// Applies `migrations` for this database's kind; already-applied ones are skipped, so
    /// running it at every start is safe.
    ///
    /// # Errors
    ///
    /// - [`Error::Database`] when a migration fails or was changed after being applied.
    pub async fn migrate(&self, migrations: &Migrations) -> Result<(), Error> {
        let files = match self.kind() {
            DatabaseKind::Sqlite => migrations.sqlite,
            DatabaseKind::Postgres => migrations.postgres,
        };
        if files.is_empty() {
            return Err(Error::database(format!(
                "no migrations for {:?} in the set given to `App::migrations`",
                self.kind()
            )));
        }
        let list = files
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sqlx::SqlStr::from_static(sql),
                    false,
                )
            })
            .collect();
        let migrator = Migrator::with_migrations(list);
        with_pool!(self, |pool| migrator.run(pool).await)
            .map_err(|e| Error::database_from("migration failed", e))
    }
}

/// Tables the runtime itself keeps in the application's database (the outbox, idempotency
/// keys): `CREATE … IF NOT EXISTS` statements per backend, each run at start-up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuntimeTables {
    /// What the tables are for, for the error message.
    pub(crate) purpose: &'static str,
    /// The relation the statements create last: when it exists, nothing is run (on
    /// PostgreSQL, `CREATE INDEX IF NOT EXISTS` would lock the table before it checks).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) last: &'static str,
    /// The statements on SQLite.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) sqlite: &'static [&'static str],
    /// The statements on PostgreSQL.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) postgres: &'static [&'static str],
}

/// The PostgreSQL advisory lock held while the runtime creates its tables: instances that
/// start together would otherwise race on `CREATE TABLE IF NOT EXISTS` (a unique violation
/// on `pg_type`). `endpoint` in ASCII.
#[cfg(feature = "postgres")]
const TABLES_LOCK: i64 = 0x656e_6470_6f69_6e74;

impl Database {
    /// Creates `tables` unless they exist, in one transaction (on PostgreSQL under an
    /// advisory lock, so that instances starting together do not race).
    ///
    /// # Errors
    ///
    /// - [`Error::Database`] naming the tables' purpose.
    pub(crate) async fn ensure_tables(&self, tables: &RuntimeTables) -> Result<(), Error> {
        let failed =
            |e| Error::database_from(format!("cannot create the {} table", tables.purpose), e);
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await.map_err(failed)?;
                for statement in tables.sqlite {
                    sqlx::query(sqlx::AssertSqlSafe(*statement))
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                }
                tx.commit().await.map_err(failed)
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                    .bind(tables.last)
                    .fetch_one(pool)
                    .await
                    .map_err(failed)?;
                if exists {
                    return Ok(());
                }
                let mut tx = pool.begin().await.map_err(failed)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(TABLES_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                for statement in tables.postgres {
                    sqlx::query(sqlx::AssertSqlSafe(*statement))
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                }
                tx.commit().await.map_err(failed)
            }
        }
    }
}

/// `text` with every secret of `url` that [`redact`] hides (the password and secret query
/// values, raw and percent-decoded; the whole URL when it does not parse) replaced by `***`:
/// for messages written by others, such as a driver's error.
fn scrub(text: &str, url: &str) -> String {
    let mut secrets = vec![url.trim().to_string()];
    if let Ok(parsed) = url::Url::parse(url.trim()) {
        if let Some(password) = parsed.password() {
            secrets.push(password.to_string());
            let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy();
            secrets.push(decoded.into_owned());
        }
        for (name, value) in parsed.query_pairs() {
            if is_secret_parameter(&name) {
                secrets.push(value.into_owned());
            }
        }
    }
    secrets.retain(|secret| secret.len() >= 3);
    // Longest first, so a secret that contains another is replaced whole.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    let mut text = text.to_string();
    for secret in secrets {
        if text.contains(&secret) {
            text = text.replace(&secret, "***");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_messages_are_scrubbed_of_the_urls_secrets() {
        let url = "postgres://app:p%40ss-word@h/db?sslpassword=key-phrase&sslmode=require";
        let message = "cannot use p@ss-word or p%40ss-word or key-phrase in mode require";
        assert_eq!(
            scrub(message, url),
            "cannot use *** or *** or *** in mode require"
        );
        let unparseable = "postgres://app:pa/ss@h/db";
        assert_eq!(
            scrub(&format!("bad URL {unparseable}"), unparseable),
            "bad URL ***"
        );
    }

    #[tokio::test]
    async fn a_failed_connection_does_not_show_the_password() {
        let error = Database::connect(
            "postgres://u@127.0.0.1:1/db?password=hunter2",
            std::time::Duration::from_millis(300),
        )
        .await
        .expect_err("nothing listens on port 1");
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("postgres://u@127.0.0.1:1/db"), "{shown}");
        }
    }
}

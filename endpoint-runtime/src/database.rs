//! The database behind [`Context::database`](crate::Context::database): SQLite by default,
//! PostgreSQL by URL, through `sqlx`'s `Any` driver so that one set of queries serves both.

use std::borrow::Cow;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::error::Error;

/// Which server a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// An SQLite file (the default; no server needed).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A connection pool. Cheap to clone.
///
/// Queries go through [`sqlx`] (re-exported as `endpoint_runtime::sqlx`) with the `Any`
/// driver: write `$1, $2, …` placeholders, which both SQLite and PostgreSQL accept, and prefer
/// `BIGINT`, `DOUBLE PRECISION` / `REAL` and `TEXT` columns, which decode the same on both.
///
/// ```no_run
/// use endpoint_runtime::prelude::*;
/// use endpoint_runtime::sqlx::{self, Row};
///
/// #[endpoint(id = "recipes", route = "/count")]
/// async fn count(ctx: Context) -> Result<String, EndpointError> {
///     let row = sqlx::query("SELECT COUNT(*) AS n FROM recipes").fetch_one(ctx.database()?.pool()).await?;
///     Ok(row.try_get::<i64, _>("n")?.to_string())
/// }
/// # fn main() {}
/// ```
#[derive(Debug, Clone)]
pub struct Database {
    pool: sqlx::AnyPool,
    kind: DatabaseKind,
}

impl Database {
    /// The pool, for `sqlx` queries.
    pub fn pool(&self) -> &sqlx::AnyPool {
        &self.pool
    }

    /// Which server this is.
    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// Connects to `url` (`sqlite://file.db`, `sqlite::memory:`, `postgres://…`), waiting at
    /// most `timeout` for a connection; an SQLite file is created if it does not exist.
    ///
    /// # Errors
    ///
    /// - [`Error::Database`] naming the URL's scheme and host (never its password).
    pub async fn connect(url: &str, timeout: std::time::Duration) -> Result<Self, Error> {
        install_default_drivers();
        let kind = kind_of(url).ok_or_else(|| {
            Error::Database(format!(
                "unsupported database URL `{}`: expected `sqlite://…` or `postgres://…`",
                redact(url)
            ))
        })?;
        let url = match kind {
            DatabaseKind::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}mode=rwc")
            }
            _ => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if kind == DatabaseKind::Sqlite { 4 } else { 10 })
            .acquire_timeout(timeout)
            .connect(&url)
            .await
            .map_err(|e| Error::Database(format!("cannot connect to `{}`: {e}", redact(&url))))?;
        if kind == DatabaseKind::Sqlite {
            // Foreign keys on, and WAL so readers do not block the writer.
            for pragma in ["PRAGMA foreign_keys = ON", "PRAGMA journal_mode = WAL"] {
                sqlx::query(pragma)
                    .execute(&pool)
                    .await
                    .map_err(|e| Error::Database(format!("{pragma}: {e}")))?;
            }
        }
        Ok(Database { pool, kind })
    }

    /// Applies `migrations` for this database's kind; already-applied ones are skipped, so
    /// running it at every start is safe.
    ///
    /// # Errors
    ///
    /// - [`Error::Database`] when a migration fails or was changed after being applied.
    pub async fn migrate(&self, migrations: &Migrations) -> Result<(), Error> {
        let files = match self.kind {
            DatabaseKind::Sqlite => migrations.sqlite,
            DatabaseKind::Postgres => migrations.postgres,
        };
        if files.is_empty() {
            return Err(Error::Database(format!(
                "no migrations for {:?} in the set given to `App::migrations`",
                self.kind
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
        Migrator::with_migrations(list)
            .run(&self.pool)
            .await
            .map_err(|e| Error::Database(format!("migration failed: {e}")))
    }
}

/// The kind of database a URL names.
pub(crate) fn kind_of(url: &str) -> Option<DatabaseKind> {
    if url.starts_with("sqlite:") {
        Some(DatabaseKind::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(DatabaseKind::Postgres)
    } else {
        None
    }
}

/// The URL with any password replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            let slash = if rest.contains('/') { "/" } else { "" };
            format!("{scheme}://{user}:***@{host}{slash}{path}")
        }
        None => url.to_string(),
    }
}

/// SQL migrations embedded in the binary, one set per database kind. Made by the
/// [`migrations!`](crate::migrations) macro; applied by [`App::migrations`](crate::App::migrations)
/// at start-up.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    sqlite: &'static [(i64, &'static str, &'static str)],
    postgres: &'static [(i64, &'static str, &'static str)],
}

impl Migrations {
    #[doc(hidden)]
    pub const fn __new(
        sqlite: &'static [(i64, &'static str, &'static str)],
        postgres: &'static [(i64, &'static str, &'static str)],
    ) -> Self {
        Migrations { sqlite, postgres }
    }

    /// `(version, description)` of each migration for `kind`, in order.
    pub fn list(&self, kind: DatabaseKind) -> Vec<(i64, &'static str)> {
        let files = match kind {
            DatabaseKind::Sqlite => self.sqlite,
            DatabaseKind::Postgres => self.postgres,
        };
        files.iter().map(|(v, d, _)| (*v, *d)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(kind_of("sqlite://app.db"), Some(DatabaseKind::Sqlite));
        assert_eq!(kind_of("sqlite::memory:"), Some(DatabaseKind::Sqlite));
        assert_eq!(
            kind_of("postgresql://u:p@h/db"),
            Some(DatabaseKind::Postgres)
        );
        assert_eq!(kind_of("mysql://h/db"), None);
        assert_eq!(
            redact("postgres://app:s3cret@127.0.0.1:5432/db"),
            "postgres://app:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact("sqlite://app.db"), "sqlite://app.db");
    }
}

//! The connection pool (features `sqlite` and `postgres`): connecting, migrating, and
//! scrubbing a driver's messages of the URL's secrets.

use std::borrow::Cow;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::{DatabaseKind, Migrations, is_secret_parameter, kind_of, redact};
use crate::error::Error;

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
    /// The schema, read on first use (feature `services`).
    #[cfg(feature = "services")]
    pub(super) schema: super::schema::Cache,
    /// The statements the data services ran (feature `services`).
    #[cfg(feature = "services")]
    statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
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
        install_default_drivers();
        let kind = kind_of(url).ok_or_else(|| {
            Error::database(format!(
                "unsupported database URL `{}`: expected `sqlite://…` or `postgres://…`",
                redact(url)
            ))
        })?;
        if !kind.compiled() {
            return Err(Error::database(format!(
                "cannot connect to `{}`: expected {}",
                redact(url),
                kind.missing_feature()
            )));
        }
        let url = match kind {
            DatabaseKind::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}mode=rwc")
            }
            _ => url.to_string(),
        };
        // Each connection to an in-memory SQLite URL opens a database of its own: one
        // connection, kept for the pool's life, so that every query sees the same tables.
        let memory = kind == DatabaseKind::Sqlite && super::is_memory(&url);
        let options = if memory {
            AnyPoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            AnyPoolOptions::new().max_connections(kind.pool_size())
        };
        let pool = options
            .acquire_timeout(timeout)
            .connect(&url)
            .await
            .map_err(|e| {
                // The driver's message too: it could quote the URL or a part of it.
                let reason = scrub(&e.to_string(), &url);
                Error::database(format!("cannot connect to `{}`: {reason}", redact(&url)))
            })?;
        if kind == DatabaseKind::Sqlite {
            // WAL so readers do not block the writer (kept in the file, so once is enough).
            // Foreign keys are on for every connection: sqlx's SQLite default.
            for pragma in ["PRAGMA journal_mode = WAL"] {
                sqlx::query(pragma)
                    .execute(&pool)
                    .await
                    .map_err(|e| Error::database_from(format!("`{pragma}` failed"), e))?;
            }
        }
        Ok(Database {
            pool,
            kind,
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
        let files = match self.kind {
            DatabaseKind::Sqlite => migrations.sqlite,
            DatabaseKind::Postgres => migrations.postgres,
        };
        if files.is_empty() {
            return Err(Error::database(format!(
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
            .map_err(|e| Error::database_from("migration failed", e))
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

//! The database behind [`Context::database`](crate::Context::database): SQLite by default,
//! PostgreSQL by URL, through `sqlx`'s `Any` driver so that one set of queries serves both.

use std::borrow::Cow;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::env::{ConfigError, Env};
use crate::error::Error;

/// A database URL, whose password `Debug` and errors never show.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({:?})", redact(&self.0))
    }
}

impl DatabaseUrl {
    /// `ENDPOINT_DATABASE_URL`, else `DATABASE_URL` (sqlx's and Heroku's name): a `sqlite:` or
    /// `postgres:` URL. An error never shows the password.
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Option<Self>, ConfigError> {
        let Some((name, value)) = env
            .get("ENDPOINT_DATABASE_URL")
            .or_else(|| env.get("DATABASE_URL"))
        else {
            return Ok(None);
        };
        if kind_of(value.trim()).is_none() {
            return Err(ConfigError {
                variable: name,
                value: redact(&value),
                expected: "`sqlite://file.db` or `postgres://user:password@host:port/database`",
            });
        }
        Ok(Some(DatabaseUrl(value.trim().to_string())))
    }
}

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

impl DatabaseKind {
    /// The connections the runtime's pool opens at most: 4 for SQLite (one writer at a time
    /// anyway), 10 for PostgreSQL.
    pub(crate) fn pool_size(self) -> u32 {
        match self {
            DatabaseKind::Sqlite => 4,
            DatabaseKind::Postgres => 10,
        }
    }
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
            .max_connections(kind.pool_size())
            .acquire_timeout(timeout)
            .connect(&url)
            .await
            .map_err(|e| {
                // The driver's message too: it could quote the URL or a part of it.
                let reason = scrub(&e.to_string(), &url);
                Error::Database(format!("cannot connect to `{}`: {reason}", redact(&url)))
            })?;
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

/// The URL as it may be shown in a log line or an error message: its secrets replaced by
/// `***`.
///
/// The URL is read with the `url` crate's parser (the one `sqlx` reads PostgreSQL URLs with),
/// so percent-encoding and the userinfo's last `@` are understood as a driver understands
/// them. Replaced: the password of the userinfo (`user:***@host`), the value of every query
/// parameter whose name (percent-decoded, any case) contains `pass`, `pwd`, `secret`,
/// `token`, `key`, `auth` or `cred` (`?password=***`, `?sslpassword=***`), and a fragment.
/// The user name, host, port, path and other parameters are kept.
///
/// A URL that does not parse, or whose `@` the parser did not read as the end of a userinfo
/// (a password containing `/`, `?` or `#` written unencoded can make the rest look like a
/// path, query or fragment), is shown as its scheme only: `postgres:<unparseable, redacted>`.
pub(crate) fn redact(url: &str) -> String {
    const MASK: &str = "***";
    let url = url.trim();
    let Ok(mut parsed) = url::Url::parse(url) else {
        return unparseable(url);
    };
    let after_scheme = &url[parsed.scheme().len()..];
    if after_scheme.contains('@') && parsed.username().is_empty() && parsed.password().is_none() {
        return unparseable(url);
    }
    if parsed.password().is_some() && parsed.set_password(Some(MASK)).is_err() {
        return unparseable(url);
    }
    if parsed
        .query_pairs()
        .any(|(name, _)| is_secret_parameter(&name))
    {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_secret_parameter(&name) {
                    MASK.to_string()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if parsed
        .fragment()
        .is_some_and(|fragment| !fragment.is_empty())
    {
        parsed.set_fragment(Some(MASK));
    }
    parsed.into()
}

/// Whether a query parameter named `name` (percent-decoded) holds a secret: its name contains
/// `pass`, `pwd`, `secret`, `token`, `key`, `auth` or `cred`, in any case.
fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "key", "auth", "cred"]
        .iter()
        .any(|part| name.contains(part))
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

/// What [`redact`] shows of a URL it cannot read safely: the scheme, if it has one.
fn unparseable(url: &str) -> String {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .filter(|scheme| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
    match scheme {
        Some(scheme) => format!("{scheme}:<unparseable, redacted>"),
        None => "<unparseable URL, redacted>".to_string(),
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
    }

    #[test]
    fn redaction_table() {
        // (URL, shown as, the secret that must not appear)
        let table: &[(&str, &str, &str)] = &[
            (
                "postgres://app:s3cret@127.0.0.1:5432/db",
                "postgres://app:***@127.0.0.1:5432/db",
                "s3cret",
            ),
            (
                "postgresql://app:s3cret@db.internal/db",
                "postgresql://app:***@db.internal/db",
                "s3cret",
            ),
            // The password as a query parameter (libpq), in any case, percent-encoded.
            (
                "postgres://u@127.0.0.1:1/db?password=hunter2",
                "postgres://u@127.0.0.1:1/db?password=***",
                "hunter2",
            ),
            (
                "postgres://u@h/db?sslmode=require&PassWord=hunter2&application_name=x",
                "postgres://u@h/db?sslmode=require&PassWord=***&application_name=x",
                "hunter2",
            ),
            (
                "postgres://u@h/db?pass%77ord=hunter2",
                "postgres://u@h/db?password=***",
                "hunter2",
            ),
            (
                "postgres://u@h/db?password=hun%74er2",
                "postgres://u@h/db?password=***",
                "hun",
            ),
            (
                "postgres://u@h/db?sslpassword=hunter2&sslkey=/keys/client.key",
                "postgres://u@h/db?sslpassword=***&sslkey=***",
                "hunter2",
            ),
            // A percent-encoded password, and one with characters that must be encoded.
            (
                "postgres://app:p%40ss%2Fw%3Ard@h:5432/db",
                "postgres://app:***@h:5432/db",
                "p%40ss",
            ),
            (
                "postgres://app:p@ss@h/db",
                "postgres://app:***@h/db",
                "p%40ss",
            ),
            (
                "postgres://app:pa:ss@h/db",
                "postgres://app:***@h/db",
                "pa:ss",
            ),
            // A password containing `/` (or `?`, `#`) written unencoded: the parser cannot
            // tell the userinfo from a path, so nothing past the scheme is shown.
            (
                "postgres://app:pa/ss@h/db",
                "postgres:<unparseable, redacted>",
                "ss",
            ),
            (
                "postgres://app:1234/secret@h/db",
                "postgres:<unparseable, redacted>",
                "secret",
            ),
            (
                "postgres://app:12?x=secret@h/db",
                "postgres:<unparseable, redacted>",
                "secret",
            ),
            (
                "postgres://app:12#secret@h/db",
                "postgres:<unparseable, redacted>",
                "secret",
            ),
            (
                "postgres://u:hunter2@[::1",
                "postgres:<unparseable, redacted>",
                "hunter2",
            ),
            ("hunter2", "<unparseable URL, redacted>", "hunter2"),
            ("://u:hunter2@h", "<unparseable URL, redacted>", "hunter2"),
            (
                "postgres://u@h/db#hunter2",
                "postgres://u@h/db#***",
                "hunter2",
            ),
            // Nothing secret: shown as given.
            ("sqlite://app.db", "sqlite://app.db", ""),
            ("sqlite::memory:", "sqlite::memory:", ""),
            (
                "sqlite://data/app.db?mode=rwc",
                "sqlite://data/app.db?mode=rwc",
                "",
            ),
            ("sqlite:///var/lib/app.db", "sqlite:///var/lib/app.db", ""),
            (
                "postgres://app@db.internal:5432/db?sslmode=verify-full",
                "postgres://app@db.internal:5432/db?sslmode=verify-full",
                "",
            ),
        ];
        for &(url, shown, secret) in table {
            let redacted = redact(url);
            assert_eq!(redacted, shown, "{url}");
            if !secret.is_empty() {
                assert!(!redacted.contains(secret), "{url} -> {redacted}");
            }
        }
    }

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

//! The database behind [`Context::database`](crate::Context::database): SQLite by default,
//! PostgreSQL by URL, each on sqlx's typed pool for its backend (so every column type reads as
//! sqlx documents it), and [`with_pool!`](crate::with_pool) for a query that serves both.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod pool;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use pool::RuntimeTables;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use pool::{Database, Either, Pool};

#[cfg(all(feature = "services", any(feature = "sqlite", feature = "postgres")))]
pub mod schema;

#[cfg(all(
    feature = "services",
    not(any(feature = "sqlite", feature = "postgres"))
))]
compile_error!(
    "endpoint-runtime's `services` feature needs a database: enable `sqlite` or `postgres` too"
);

use crate::env::{ConfigError, Env};

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
        match kind_of(value.trim()) {
            None => Err(ConfigError {
                variable: name,
                value: redact(&value),
                expected: "`sqlite://file.db` or `postgres://user:password@host:port/database`",
            }),
            Some(kind) if !kind.compiled() => Err(ConfigError {
                variable: name,
                value: redact(&value),
                expected: kind.missing_feature(),
            }),
            Some(_) => Ok(Some(DatabaseUrl(value.trim().to_string()))),
        }
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

impl DatabaseKind {
    /// The connections the runtime's pool opens at most: 4 for SQLite (one writer at a time
    /// anyway), 10 for PostgreSQL.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn pool_size(self) -> u32 {
        match self {
            DatabaseKind::Sqlite => 4,
            DatabaseKind::Postgres => 10,
        }
    }

    /// Whether this binary has the driver: the `sqlite` / `postgres` feature.
    pub(crate) fn compiled(self) -> bool {
        match self {
            DatabaseKind::Sqlite => cfg!(feature = "sqlite"),
            DatabaseKind::Postgres => cfg!(feature = "postgres"),
        }
    }

    /// What a URL of this kind needs when its driver is not compiled in.
    pub(crate) fn missing_feature(self) -> &'static str {
        match self {
            DatabaseKind::Sqlite => {
                "a URL this binary can open: SQLite needs the `sqlite` feature of endpoint-runtime (features = [\"sqlite\"])"
            }
            DatabaseKind::Postgres => {
                "a URL this binary can open: PostgreSQL needs the `postgres` feature of endpoint-runtime (features = [\"postgres\"])"
            }
        }
    }
}

/// Whether `url` names an in-memory SQLite database (`sqlite::memory:`, `mode=memory`): one
/// that lives only as long as its connection.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
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
///
/// Without a database feature no URL is ever used, only refused: it is shown as its scheme
/// only, and the `url` crate is not compiled in.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
pub(crate) fn redact(url: &str) -> String {
    match scheme(url.trim()) {
        Some(scheme) => format!("{scheme}:<redacted>"),
        None => "<redacted>".to_string(),
    }
}

/// See the other `redact`: with a database feature, the URL's secrets are masked and the rest
/// kept.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
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
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "key", "auth", "cred"]
        .iter()
        .any(|part| name.contains(part))
}

/// The URL's scheme, if it has a well-formed one (RFC 3986 §3.1).
fn scheme(url: &str) -> Option<&str> {
    url.split_once(':')
        .map(|(scheme, _)| scheme)
        .filter(|scheme| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
}

/// What [`redact`] shows of a URL it cannot read safely: the scheme, if it has one.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn unparseable(url: &str) -> String {
    match scheme(url) {
        Some(scheme) => format!("{scheme}:<unparseable, redacted>"),
        None => "<unparseable URL, redacted>".to_string(),
    }
}

/// SQL migrations embedded in the binary, one set per database kind. Made by the
/// [`migrations!`](crate::migrations) macro; applied by [`App::migrations`](crate::App::migrations)
/// at start-up.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub(crate) sqlite: &'static [(i64, &'static str, &'static str)],
    pub(crate) postgres: &'static [(i64, &'static str, &'static str)],
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

/// What `Context::database` and `App::migrations` need without a database feature: no type
/// implements it, so using them is a compile error with this message. Not public API.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the database needs the `sqlite` or `postgres` feature of endpoint-runtime",
    label = "needs `features = [\"sqlite\"]` (or `\"postgres\"`) on endpoint-runtime",
    note = "in Cargo.toml: endpoint-runtime with `features = [\"sqlite\"]` (or `\"postgres\"`)"
)]
pub trait DatabaseFeature<'a> {}

/// What `Context::schema` needs without the `services` feature: no type implements it, so
/// using it is a compile error with this message. Not public API.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the schema needs the `services` feature of endpoint-runtime",
    label = "needs `features = [\"services\", \"sqlite\"]` (or `\"postgres\"`) on endpoint-runtime",
    note = "in Cargo.toml: endpoint-runtime with `features = [\"services\", \"sqlite\"]`"
)]
pub trait ServicesFeature<'a> {}

#[cfg(all(test, any(feature = "sqlite", feature = "postgres")))]
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
}

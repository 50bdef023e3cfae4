//! The database of one test client: a fresh one per [`App::test_client`](crate::App::test_client)
//! when the application has migrations, removed when the client is dropped. SQLite: a file in
//! a temporary directory (an in-memory URL stays in memory). PostgreSQL: a schema of its own
//! on the configured server, dropped afterwards.

use std::time::Duration;

use crate::database::{Database, DatabaseKind, DatabaseUrl, is_memory, kind_of};
use crate::{Config, Error};

/// What a test client's database needs removed.
#[derive(Debug)]
pub(crate) enum Scratch {
    /// An in-memory SQLite database: gone with its pool.
    Memory,
    /// The directory of an SQLite file, removed on drop.
    Sqlite {
        /// Held for its `Drop`.
        _directory: tempfile::TempDir,
    },
    /// A PostgreSQL schema, dropped on drop.
    Postgres {
        /// The server, without the schema's search path.
        url: String,
        schema: String,
        timeout: Duration,
    },
}

impl Scratch {
    /// Points `config` at a fresh database: the configured server (`ENDPOINT_DATABASE_URL`),
    /// else SQLite.
    ///
    /// # Errors
    ///
    /// - [`Error::Database`] when the temporary directory or the schema cannot be created.
    pub(crate) async fn create(config: &mut Config) -> Result<Self, Error> {
        let configured = config.database_url.as_ref().map(|url| url.0.clone());
        match configured.as_deref().and_then(kind_of) {
            Some(DatabaseKind::Postgres) => {
                let url = configured.unwrap_or_default();
                let schema = format!("endpoint_test_{}", uuid::Uuid::new_v4().simple());
                let database = Database::connect(&url, config.database_timeout).await?;
                // The name is ours (hex digits), never input.
                let create = format!("CREATE SCHEMA \"{schema}\"");
                crate::with_pool!(&database, |pool| {
                    sqlx::query(sqlx::AssertSqlSafe(create))
                        .execute(pool)
                        .await
                        .map(|_| ())
                })
                .map_err(|e| Error::database_from("cannot create the test schema", e))?;
                database.close().await;
                let mut scoped = url::Url::parse(&url)
                    .map_err(|_| Error::database("the database URL does not parse"))?;
                scoped
                    .query_pairs_mut()
                    .append_pair("options[search_path]", &schema);
                config.database_url = Some(DatabaseUrl(scoped.into()));
                Ok(Scratch::Postgres {
                    url,
                    schema,
                    timeout: config.database_timeout,
                })
            }
            Some(DatabaseKind::Sqlite) if configured.as_deref().is_some_and(is_memory) => {
                Ok(Scratch::Memory)
            }
            _ => {
                let dir = tempfile::Builder::new()
                    .prefix("endpoint-test-")
                    .tempdir()
                    .map_err(|e| Error::database_from("cannot create a temporary directory", e))?;
                let file = dir.path().join("test.db");
                config.database_url = Some(DatabaseUrl(format!("sqlite://{}", file.display())));
                Ok(Scratch::Sqlite { _directory: dir })
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Scratch::Postgres {
            url,
            schema,
            timeout,
        } = self
        else {
            // The temporary directory removes itself.
            return;
        };
        let (url, name, timeout) = (url.clone(), schema.clone(), *timeout);
        // On a thread of its own: a drop cannot wait, and may run inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let database = Database::connect(&url, timeout).await.ok()?;
                let drop = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                crate::with_pool!(&database, |pool| {
                    sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(pool)
                        .await
                        .map(|_| ())
                })
                .ok()?;
                database.close().await;
                Some(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            tracing::warn!(%schema, "the test schema could not be dropped");
        }
    }
}

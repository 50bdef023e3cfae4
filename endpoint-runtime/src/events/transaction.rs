//! [`Transaction`]: a database transaction whose events commit with it (the outbox).

use serde::Serialize;

use super::{EmitError, Event, outbox};
use crate::context::Context;
use crate::database::Either;
use crate::error::EndpointError;

/// A database transaction from [`Context::transaction`](crate::Context::transaction) whose
/// [`emit`](Self::emit) writes the event's durable deliveries into the outbox table *in the
/// transaction*: the change and the event commit together or not at all, and the durable
/// hooks run after [`commit`](Self::commit), at least once (see [`events`](crate::events)).
///
/// Queries run on it with [`with_pool!`](crate::with_pool)`(&mut tx, |conn| …)`, or on
/// [`sqlite`](Self::sqlite) / [`postgres`](Self::postgres). Dropped without `commit` (a `?`
/// that returns early, a panic), it rolls back, its events with it.
///
/// ```no_run
/// use endpoint_runtime::prelude::*;
/// use endpoint_runtime::{sqlx, with_pool};
///
/// #[endpoint(id = "articles", route = "/{id}/publish", method = post, access = authenticated)]
/// async fn publish(id: i64, ctx: Context) -> Result<JSend<Value>, EndpointError> {
///     let mut tx = ctx.transaction().await?;
///     with_pool!(&mut tx, |conn| {
///         sqlx::query("UPDATE articles SET status = 'published' WHERE id = $1")
///             .bind(id)
///             .execute(conn)
///             .await
///             .map(|_| ())
///     })?;
///     tx.emit("article.published", json!({ "id": id })).await?;
///     tx.commit().await?;
///     Ok(JSend(json!({ "id": id })))
/// }
/// # fn main() {}
/// ```
pub struct Transaction {
    connection: Connection,
    context: Context,
    /// Events emitted in it, for the cluster subscribers once it commits.
    emitted: Vec<(Event, Vec<String>)>,
    /// Whether outbox rows were written (the deliverers are woken at commit).
    outbox: bool,
}

enum Connection {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("emitted", &self.emitted.len())
            .finish_non_exhaustive()
    }
}

/// The SQLite arm of a [`Transaction`]'s [`Either`], or `Infallible` without the feature.
#[cfg(feature = "sqlite")]
type SqliteConnectionRef<'a> = &'a mut sqlx::SqliteConnection;
#[cfg(not(feature = "sqlite"))]
type SqliteConnectionRef<'a> = std::convert::Infallible;
/// The PostgreSQL arm of a [`Transaction`]'s [`Either`], or `Infallible` without the feature.
#[cfg(feature = "postgres")]
type PgConnectionRef<'a> = &'a mut sqlx::PgConnection;
#[cfg(not(feature = "postgres"))]
type PgConnectionRef<'a> = std::convert::Infallible;

impl Transaction {
    /// What [`with_pool!`](crate::with_pool) matches on: the transaction's connection. Not
    /// public API.
    #[doc(hidden)]
    pub fn __endpoint_backend(&mut self) -> Either<SqliteConnectionRef<'_>, PgConnectionRef<'_>> {
        match &mut self.connection {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(tx) => Either::Sqlite(&mut **tx),
            #[cfg(feature = "postgres")]
            Connection::Postgres(tx) => Either::Postgres(&mut **tx),
        }
    }

    /// Begins a transaction on the context's database.
    ///
    /// # Errors
    ///
    /// - 500 without a database; 503 when no connection became free within
    ///   `ENDPOINT_DATABASE_TIMEOUT`; another database error as `sqlx::Error` converts.
    pub(crate) async fn begin(context: Context) -> Result<Self, EndpointError> {
        let connection = match context.database()?.pool() {
            #[cfg(feature = "sqlite")]
            // `IMMEDIATE`: the write lock is taken at once, so that a transaction that reads
            // first is not refused when it writes after another connection committed.
            crate::Pool::Sqlite(pool) => Connection::Sqlite(
                pool.begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(EndpointError::from)?,
            ),
            #[cfg(feature = "postgres")]
            crate::Pool::Postgres(pool) => {
                Connection::Postgres(pool.begin().await.map_err(EndpointError::from)?)
            }
        };
        Ok(Transaction {
            connection,
            context,
            emitted: Vec::new(),
            outbox: false,
        })
    }

    /// The SQLite transaction, for an application that runs on SQLite.
    ///
    /// # Errors
    ///
    /// - 500 `INTERNAL` when the database is PostgreSQL.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(
        &mut self,
    ) -> Result<&mut sqlx::Transaction<'static, sqlx::Sqlite>, EndpointError> {
        match &mut self.connection {
            Connection::Sqlite(tx) => Ok(tx),
            #[allow(unreachable_patterns)]
            _ => Err(EndpointError::internal(
                "the code asked for an SQLite transaction, and the database is PostgreSQL",
            )),
        }
    }

    /// The PostgreSQL transaction, for an application that runs on PostgreSQL.
    ///
    /// # Errors
    ///
    /// - 500 `INTERNAL` when the database is SQLite.
    #[cfg(feature = "postgres")]
    pub fn postgres(
        &mut self,
    ) -> Result<&mut sqlx::Transaction<'static, sqlx::Postgres>, EndpointError> {
        match &mut self.connection {
            Connection::Postgres(tx) => Ok(tx),
            #[allow(unreachable_patterns)]
            _ => Err(EndpointError::internal(
                "the code asked for a PostgreSQL transaction, and the database is SQLite",
            )),
        }
    }

    /// Emits `event` with `payload`: its in-request hooks and subscribers run now, awaited,
    /// as with [`Context::emit`](crate::Context::emit), and can veto; its durable hooks'
    /// deliveries are written into the outbox in this transaction and run after
    /// [`commit`](Self::commit); its cluster subscribers run after the commit too.
    ///
    /// The in-request hooks run outside this transaction, on the pool: they see the database
    /// as committed, not this transaction's changes, and one that writes what this transaction
    /// holds waits for it (PostgreSQL: until the request timeout; SQLite, whose transaction
    /// holds the one write lock: "database is locked" after 5 s). Write from a durable hook
    /// instead, which runs after the commit. For the same reason, inside a transaction, emit
    /// on it rather than with [`Context::emit`](crate::Context::emit).
    ///
    /// # Errors
    ///
    /// As [`Context::emit`](crate::Context::emit), and [`EmitError::Outbox`] when the outbox
    /// rows cannot be written (the database error, converted as `sqlx::Error` converts). On an
    /// error, return it: the transaction then rolls back.
    pub async fn emit(&mut self, event: &str, payload: impl Serialize) -> Result<(), EmitError> {
        let payload =
            serde_json::to_value(payload).map_err(|e| EmitError::Payload(e.to_string()))?;
        let emitter = &self.context.shared().emitter;
        let chain = emitter.enter(event)?;
        let event = Event::new(event, payload, self.context.accountability().clone());
        emitter
            .run_in_request(&self.context, &event, &chain)
            .await?;
        self.write_outbox(&event, &chain).await?;
        self.emitted.push((event, chain));
        Ok(())
    }

    /// Writes one outbox row per durable hook of `event`, in this transaction.
    pub(crate) async fn write_outbox(
        &mut self,
        event: &Event,
        chain: &[String],
    ) -> Result<(), EmitError> {
        let hooks = self.context.shared().emitter.durable_hooks(&event.name);
        if hooks.is_empty() {
            return Ok(());
        }
        let rows = outbox::rows(hooks, event, chain);
        crate::with_pool!(&mut *self, |conn| {
            let mut written = Ok(());
            for row in &rows {
                written = sqlx::query(outbox::INSERT)
                    .bind(&row.event_id)
                    .bind(&row.hook)
                    .bind(&row.event)
                    .bind(&row.payload)
                    .bind(&row.accountability)
                    .bind(&row.chain)
                    .bind(row.now)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ());
                if written.is_err() {
                    break;
                }
            }
            written
        })
        .map_err(|e| EmitError::Outbox(e.into()))?;
        self.outbox = true;
        Ok(())
    }

    /// Commits: the changes and the outbox rows together. Then this instance's deliverer is
    /// woken (others by PostgreSQL `NOTIFY`, sent with the commit), and the events' cluster
    /// subscribers run.
    ///
    /// # Errors
    ///
    /// - The database error, converted as `sqlx::Error` converts (a 500 whose cause is
    ///   logged), when the commit fails: nothing was committed and no event is delivered.
    #[cfg_attr(not(feature = "postgres"), allow(unused_mut))]
    pub async fn commit(mut self) -> Result<(), EndpointError> {
        #[cfg(feature = "postgres")]
        #[allow(irrefutable_let_patterns)]
        if self.outbox
            && let Connection::Postgres(tx) = &mut self.connection
        {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(outbox::CHANNEL)
                .execute(&mut **tx)
                .await?;
        }
        let Transaction {
            connection,
            context,
            emitted,
            outbox,
        } = self;
        match connection {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(tx) => tx.commit().await,
            #[cfg(feature = "postgres")]
            Connection::Postgres(tx) => tx.commit().await,
        }
        .map_err(EndpointError::from)?;
        let emitter = &context.shared().emitter;
        if outbox {
            emitter.outbox_wake.notify_one();
        }
        for (event, chain) in emitted {
            emitter.to_cluster(&context, event, chain).await;
        }
        Ok(())
    }

    /// Rolls back: the changes and the events are discarded (dropping the transaction does
    /// the same).
    ///
    /// # Errors
    ///
    /// - The database error, converted as `sqlx::Error` converts.
    pub async fn rollback(self) -> Result<(), EndpointError> {
        match self.connection {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(tx) => tx.rollback().await,
            #[cfg(feature = "postgres")]
            Connection::Postgres(tx) => tx.rollback().await,
        }
        .map_err(EndpointError::from)
    }
}

//! [`Context`]: the seeds' endpoint context (`env`, `database`, `emitter`, services), and
//! [`State`], application state registered at start-up.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;

use crate::auth::Accountability;
use crate::config::Config;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::database::Database;
use crate::error::EndpointError;
use crate::events::{EmitError, Emitter};

/// What every request shares: built once at start-up.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Cancelled when the server starts draining (see `ops::health::Health::stopping`).
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) stopping: tokio_util::sync::CancellationToken,
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) database: Option<Database>,
    pub(crate) emitter: Emitter,
    /// [`App::state`](crate::App::state)'s values, and the runtime's own shared parts (the
    /// confined worker pool), by type.
    pub(crate) state: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

/// The endpoint context of the seeds (`{ services, database, env, logger, emitter }`), as an
/// extractor: add `ctx: Context` to an endpoint's arguments. Hooks receive one too.
///
/// - [`env`](Self::env): the parsed configuration.
/// - [`database`](Self::database): the pool (SQLite by default, PostgreSQL by URL).
/// - [`schema`](Self::schema), [`items`](Self::items): the database's schema and the data
///   services (Directus's `getSchema()` and `ItemsService`; feature `services`).
/// - [`emit`](Self::emit): the event emitter, delivering to `#[hook]`s and subscribers.
/// - [`state`](Self::state): application state registered with [`App::state`](crate::App::state).
/// - [`server_url`](Self::server_url): the public base URL (Factor's `serverUrl()`).
/// - logging is [`tracing`]: every line of a request carries its request id and endpoint id.
#[derive(Clone)]
pub struct Context {
    shared: Arc<Shared>,
    accountability: Accountability,
    request_id: Option<String>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut f = f.debug_struct("Context");
        f.field("accountability", &self.accountability)
            .field("request_id", &self.request_id);
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        f.field(
            "database",
            &self.shared.database.as_ref().map(Database::kind),
        );
        f.finish_non_exhaustive()
    }
}

impl Context {
    pub(crate) fn new(
        shared: Arc<Shared>,
        accountability: Accountability,
        request_id: Option<String>,
    ) -> Self {
        Context {
            shared,
            accountability,
            request_id,
        }
    }

    /// What every request shares.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The configuration (the seeds' `env`).
    pub fn env(&self) -> &Config {
        &self.shared.config
    }

    /// The database pool.
    ///
    /// # Errors
    ///
    /// - 500 (logged) when the application has no database: call
    ///   [`App::migrations`](crate::App::migrations) or set `ENDPOINT_DATABASE_URL`.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub fn database(&self) -> Result<&Database, EndpointError> {
        self.shared.database.as_ref().ok_or_else(|| {
            EndpointError::internal("Context::database() used, but the application has no database: call App::migrations(..) or set ENDPOINT_DATABASE_URL")
        })
    }

    /// Without the `sqlite` and `postgres` features there is no database: calling this is a
    /// compile error naming them.
    #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
    pub fn database(&self) -> Result<(), EndpointError>
    where
        for<'a> Self: crate::database::DatabaseFeature<'a>,
    {
        Err(EndpointError::internal("no database feature"))
    }

    /// Begins a database transaction whose [`emit`](crate::Transaction::emit) commits the
    /// event with the changes: durable hooks (`#[hook(…, durable)]`) are delivered after
    /// commit, at least once (the outbox; see [`events`](crate::events)).
    ///
    /// # Errors
    ///
    /// - 500 (logged) without a database, as [`database`](Self::database);
    /// - 503 `SERVICE_UNAVAILABLE` when no connection became free within
    ///   `ENDPOINT_DATABASE_TIMEOUT`; another database error is a 500 whose cause is logged.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub async fn transaction(&self) -> Result<crate::events::Transaction, EndpointError> {
        crate::events::Transaction::begin(self.clone()).await
    }

    /// Without the `sqlite` and `postgres` features there is no database: calling this is a
    /// compile error naming them.
    #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
    pub async fn transaction(&self) -> Result<(), EndpointError>
    where
        for<'a> Self: crate::database::DatabaseFeature<'a>,
    {
        Err(EndpointError::internal("no database feature"))
    }

    /// The database's schema (the seeds' `getSchema()`): its collections, fields and relations,
    /// read once and cached (feature `services`; see [`schema`](crate::schema)).
    ///
    /// # Errors
    ///
    /// - 500 (logged) without a database, as [`database`](Self::database);
    /// - 503 `SERVICE_UNAVAILABLE` (the cause logged) when the database cannot be read.
    #[cfg(feature = "services")]
    pub async fn schema(&self) -> Result<Arc<crate::schema::Schema>, EndpointError> {
        self.database()?.schema().await.map_err(unavailable)
    }

    /// Without the `services` feature there is no schema: calling this is a compile error
    /// naming it.
    #[cfg(not(feature = "services"))]
    pub async fn schema(&self) -> Result<(), EndpointError>
    where
        for<'a> Self: crate::database::ServicesFeature<'a>,
    {
        Err(EndpointError::internal("no services feature"))
    }

    /// Reads the schema again and caches it, after a migration applied at run time (feature
    /// `services`). Errors as [`schema`](Self::schema).
    #[cfg(feature = "services")]
    pub async fn schema_refresh(&self) -> Result<Arc<crate::schema::Schema>, EndpointError> {
        self.database()?.refresh_schema().await.map_err(unavailable)
    }

    /// The public base URL, without a trailing slash: `ENDPOINT_SERVER_URL`, or
    /// `http://<host>:<port>`.
    pub fn server_url(&self) -> String {
        self.shared.config.server_url()
    }

    /// Who is calling (anonymous inside a hook fired outside a request).
    pub fn accountability(&self) -> &Accountability {
        &self.accountability
    }

    /// The id of the request this context belongs to, if any.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The application state of type `T`.
    ///
    /// # Errors
    ///
    /// - 500 (logged, naming the type) when no `T` was registered with `App::state`.
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<Arc<T>, EndpointError> {
        self.shared
            .state
            .get(&TypeId::of::<T>())
            .and_then(|value| Arc::clone(value).downcast::<T>().ok())
            .ok_or_else(|| {
                EndpointError::internal(format_args!(
                    "no state of type `{}` was registered: add `.state(..)` to the App",
                    type_name::<T>()
                ))
            })
    }

    /// Emits `event` with `payload` to its `#[hook]`s and subscribers, and waits for them.
    /// See [`events`](crate::events) for the delivery rules.
    ///
    /// # Errors
    ///
    /// - [`EmitError::Reentrant`] when called, directly or through other hooks, from a hook
    ///   handling the same event: that would loop forever, so it is refused.
    /// - [`EmitError::HookFailed`] when a hook or subscriber fails; the rest are not run.
    /// - [`EmitError::Payload`] when `payload` cannot be serialized.
    /// - [`EmitError::Outbox`] when the event has durable hooks and their outbox rows cannot
    ///   be written (in a transaction of their own, after the in-request hooks succeeded; use
    ///   [`transaction`](Self::transaction) to commit them with a change).
    pub async fn emit(&self, event: &str, payload: impl Serialize) -> Result<(), EmitError> {
        let payload =
            serde_json::to_value(payload).map_err(|e| EmitError::Payload(e.to_string()))?;
        self.shared.emitter.emit(self, event, payload).await
    }
}

/// Application state of type `T`, registered at start-up with
/// [`App::state`](crate::App::state); an extractor. A `T` that was never registered is a 500
/// whose log line names the type.
///
/// ```no_run
/// use endpoint_runtime::prelude::*;
///
/// struct Greeting(String);
///
/// #[endpoint(id = "hello", route = "/")]
/// async fn hello(State(greeting): State<Greeting>) -> String {
///     greeting.0.clone()
/// }
///
/// #[endpoint_runtime::main]
/// async fn main() -> Result<(), endpoint_runtime::Error> {
///     endpoint_runtime::App::new().state(Greeting("Hi!".into())).run().await
/// }
/// ```
#[derive(Debug)]
pub struct State<T>(pub Arc<T>);

impl<T> std::ops::Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Send + Sync + 'static, S: Send + Sync> FromRequestParts<S> for State<T> {
    type Rejection = EndpointError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Context::from_request_parts(parts, state)
            .await?
            .state::<T>()
            .map(State)
    }
}

/// The seeds' `ServiceUnavailableException` for a database that cannot be read: 503, the
/// cause logged (never sent).
#[cfg(feature = "services")]
fn unavailable(error: crate::error::Error) -> EndpointError {
    tracing::error!(%error, "database unavailable");
    EndpointError::service_unavailable("the database is unavailable; retry shortly")
}

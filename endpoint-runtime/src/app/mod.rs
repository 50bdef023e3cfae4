//! The application: [`run()`], the [`App`] builder and its bootstrap (authenticators,
//! database and migrations, confined workers), and the bound [`Server`]. The command line is
//! in [`cli`]; connections are served by [`serve`](crate::serve).

pub(crate) mod cli;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

use std::sync::Arc;

use crate::auth::{Authenticator, Builtin, StaticTokenAuthenticator};
use crate::config::Config;
use crate::context::{Context, Shared};
use crate::database::Migrations;
use crate::error::EndpointError;
use crate::error::Error;
use crate::events::{Emitter, Event, Subscriber};
use crate::pipeline::Runtime;
use crate::registry::{Endpoint, endpoints};
use std::any::{Any, TypeId};
use std::collections::HashMap;

/// Starts the application: reads [`Config::from_env`], validates and routes every registered
/// endpoint, prints the route table, and serves until SIGINT or SIGTERM, then drains in-flight
/// requests for up to `ENDPOINT_SHUTDOWN_GRACE`.
///
/// Equivalent to `App::new().run().await`.
///
/// ```no_run
/// #[endpoint_runtime::main]
/// async fn main() -> Result<(), endpoint_runtime::Error> {
///     endpoint_runtime::run().await
/// }
/// ```
///
/// # Errors
///
/// - [`Error::Config`] when an `ENDPOINT_*` variable is malformed (the message names it).
/// - [`Error::Conflicts`] when two endpoints collide (both `file:line` are named).
/// - [`Error::Bind`] when the address cannot be listened on.
pub async fn run() -> Result<(), Error> {
    App::new().run().await
}

/// Builds an application from the registry, with optional settings made in code.
///
/// ```no_run
/// use endpoint_runtime::App;
///
/// struct Settings { greeting: String }
///
/// #[endpoint_runtime::main]
/// async fn main() -> Result<(), endpoint_runtime::Error> {
///     App::new()
///         .state(Settings { greeting: "hi".into() })        // extracted with State<Settings>
///         // Opens the database; the files are in this crate's tests/migrations/{sqlite,postgres}/.
///         .migrations(endpoint_runtime::migrations!("tests/migrations"))
///         .subscribe("article.published", |event, _ctx| async move {
///             println!("published: {}", event.payload);
///             Ok(())
///         })
///         .run()
///         .await
/// }
/// ```
#[derive(Default)]
pub struct App {
    config: Option<Config>,
    authenticators: Vec<Box<dyn Authenticator>>,
    state: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    migrations: Option<Migrations>,
    subscribers: HashMap<String, Vec<Subscriber>>,
    cluster_subscribers: HashMap<String, Vec<Subscriber>>,
    layers: crate::middleware::Layers,
    #[cfg(feature = "static-files")]
    static_files: Vec<(String, std::path::PathBuf)>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.authenticators.iter().map(|a| a.name()).collect();
        f.debug_struct("App")
            .field("config", &self.config)
            .field("authenticators", &names)
            .field("state_types", &self.state.len())
            .field("migrations", &self.migrations.is_some())
            .field("layers", &self.layers)
            .finish_non_exhaustive()
    }
}

impl App {
    /// An application of every registered endpoint, configured from the environment.
    pub fn new() -> Self {
        App::default()
    }

    /// Adds a tower layer inside the request pipeline, around every endpoint's handler: it
    /// runs after the authenticators and the access check (extract the caller's
    /// [`Accountability`](crate::Accountability) as a handler does), under the
    /// request timeout, and an error status it answers with an empty body is rendered in the
    /// error envelope (`429` → `TOO_MANY_REQUESTS`), its headers kept. Each call wraps what is
    /// there, as axum's `Router::layer` does: the layer added last runs first. The whole order
    /// is in [`middleware`](mod@crate::middleware). Bounds as `Router::layer`'s: the layer's
    /// service answers anything that is `IntoResponse` and never fails (wrap fallible tower
    /// middleware in axum's `HandleErrorLayer`).
    ///
    /// ```no_run
    /// use endpoint_runtime::axum::{extract::Request, middleware::{self, Next}, response::Response};
    /// use endpoint_runtime::{Accountability, App};
    ///
    /// async fn audit(who: Accountability, request: Request, next: Next) -> Response {
    ///     endpoint_runtime::tracing::info!(user = ?who.user, "calling");
    ///     next.run(request).await
    /// }
    ///
    /// # async fn f() -> Result<(), endpoint_runtime::Error> {
    /// App::new().layer(middleware::from_fn(audit)).run().await
    /// # }
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<crate::middleware::HandlerService> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.layers.push_inner(layer);
        self
    }

    /// Adds a tower layer outside the request pipeline, around every route (the runtime's
    /// own, the 404 and 405 answers included): it runs before the request id, the
    /// authenticators and the access check, and what it answers itself is sent as written
    /// (a CORS preflight, a compressed body, a redirect). The layer added last runs first;
    /// the whole order is in [`middleware`](mod@crate::middleware). Bounds as `Router::layer`'s.
    pub fn outer_layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.layers.push_outer(layer);
        self
    }

    /// Serves the files of `directory` under `mount` (`"/assets"`) with tower-http's
    /// `ServeDir` (feature `static-files`): `GET` and `HEAD`, byte ranges (`Range`, 206),
    /// conditional requests (`If-Modified-Since`, 304), the content type from the extension,
    /// `index.html` for a folder, and a precompressed `file.br`, `.zst` or `.gz` beside the file
    /// when the client accepts it. The files run through the request pipeline (request id,
    /// log lines, the error envelope for a 404) without an access check: every file is
    /// public. A path that leaves the folder (`..`) is refused.
    ///
    /// # Errors (at start-up)
    ///
    /// - [`Error::StaticFiles`] when `mount` is not a literal path (`/assets`, no trailing
    ///   slash, no `{`) or `directory` is not a folder;
    /// - [`Error::Conflicts`] when an endpoint's path is under `mount`.
    #[cfg(feature = "static-files")]
    pub fn static_files(mut self, mount: &str, directory: impl Into<std::path::PathBuf>) -> Self {
        self.static_files
            .push((mount.to_string(), directory.into()));
        self
    }

    /// Uses `config` instead of reading the environment.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Adds an authenticator to the chain. Application authenticators run first, in the order
    /// added, before static tokens and JWTs (see [`auth`](crate::auth)).
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticators.push(Box::new(authenticator));
        self
    }

    /// Registers application state, extracted in endpoints with [`State<T>`](crate::State)
    /// or [`Context::state`](crate::Context::state). One value per type; a second `T`
    /// replaces the first.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// The permissions of the data services ([`Context::items`](crate::Context::items); feature
    /// `services`), checked against the database's schema at start-up. Without them every
    /// non-admin call of the services is refused (403).
    #[cfg(feature = "services")]
    pub fn permissions(mut self, permissions: crate::services::Permissions) -> Self {
        self.state.insert(
            TypeId::of::<crate::services::Permissions>(),
            Arc::new(permissions),
        );
        self
    }

    /// Mounts Directus's `/items` REST face for every collection (feature `services`): `GET`
    /// and `POST /items/{collection}`, `GET`, `PATCH` and `DELETE /items/{collection}/{id}`,
    /// through the request pipeline and the caller's [`Permissions`](crate::services::Permissions),
    /// each collection documented in the OpenAPI document served at start-up. See
    /// [`services`](crate::services). An endpoint under `/items` is then a route conflict.
    #[cfg(feature = "services")]
    pub fn items_api(mut self) -> Self {
        self.state.insert(
            TypeId::of::<crate::services::api::ItemsApi>(),
            Arc::new(crate::services::api::ItemsApi),
        );
        self
    }

    /// Opens the database at start-up and applies `migrations` (see
    /// [`migrations!`](crate::migrations)): `ENDPOINT_DATABASE_URL` / `DATABASE_URL`, or an
    /// SQLite file named after the binary (`<binary>.db`) in the working directory, created on
    /// first start. Applied migrations are recorded, so a restart applies nothing twice.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub fn migrations(mut self, migrations: Migrations) -> Self {
        self.migrations = Some(migrations);
        self
    }

    /// Without the `sqlite` and `postgres` features there is no database: calling this is a
    /// compile error naming them.
    #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
    pub fn migrations(mut self, migrations: Migrations) -> Self
    where
        for<'a> Self: crate::database::DatabaseFeature<'a>,
    {
        self.migrations = Some(migrations);
        self
    }

    /// Subscribes `handler` to `event` on every instance of the application: it receives the
    /// events emitted on any of them (for cache invalidation and the like), over Redis pub/sub
    /// when `ENDPOINT_REDIS_URL` is set (feature `redis`), else this instance's only.
    ///
    /// Delivery is **at most once**: an event published while an instance is disconnected
    /// from Redis is lost to it. It runs after the event's hooks and subscribers succeeded, in a
    /// task of its own: it cannot veto the request, and its failure is logged. On other
    /// instances the event's accountability is anonymous (the caller's identity does not
    /// travel). Durable hooks are the at-least-once path.
    ///
    /// ```no_run
    /// use endpoint_runtime::App;
    ///
    /// # async fn run() -> Result<(), endpoint_runtime::Error> {
    /// App::new()
    ///     .subscribe_cluster("article.published", |event, _ctx| async move {
    ///         println!("drop the cached article {}", event.payload["id"]);
    ///         Ok(())
    ///     })
    ///     .run()
    ///     .await
    /// # }
    /// ```
    pub fn subscribe_cluster<F, Fut>(mut self, event: &str, handler: F) -> Self
    where
        F: Fn(Event, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), EndpointError>> + Send + 'static,
    {
        self.cluster_subscribers
            .entry(event.to_string())
            .or_default()
            .push(subscriber(handler));
        self
    }

    /// Subscribes `handler` to `event`, after the event's `#[hook]`s (see
    /// [`events`](crate::events)).
    pub fn subscribe<F, Fut>(mut self, event: &str, handler: F) -> Self
    where
        F: Fn(Event, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), EndpointError>> + Send + 'static,
    {
        self.subscribers
            .entry(event.to_string())
            .or_default()
            .push(subscriber(handler));
        self
    }

    /// Everything the router needs. `serving`: start the pool of confined workers and the
    /// outbox's deliverer, and keep idempotent responses (not for `build`, which calls only
    /// prerendered GET endpoints: `prerender` excludes `confined`, and `idempotent` is for
    /// POST and PATCH).
    async fn runtime(self, serving: bool) -> Result<(Arc<Runtime>, Vec<&'static Endpoint>), Error> {
        let App {
            config,
            authenticators,
            state,
            migrations,
            subscribers,
            cluster_subscribers,
            layers,
            #[cfg(feature = "static-files")]
            static_files,
        } = self;
        let config = given_or_env(config)?;
        let mut builtin = Vec::new();
        if !config.static_tokens.is_empty() {
            builtin.push(Builtin::StaticTokens(StaticTokenAuthenticator::new(
                &config.static_tokens,
            )));
        }
        #[cfg(feature = "jwt")]
        if let Some(jwt) = &config.jwt {
            let authenticator = crate::auth::JwtAuthenticator::new(jwt)?;
            builtin.push(Builtin::Jwt(Box::new(authenticator)));
        }
        // A check that cannot run refuses: tokens would otherwise go unverified.
        #[cfg(not(feature = "jwt"))]
        if config.jwt.is_some() {
            return Err(Error::Config(crate::ConfigError {
                variable: "Config::jwt",
                value: "<redacted>".into(),
                expected: "`None`: verifying JWTs needs the `jwt` feature of endpoint-runtime (features = [\"jwt\"])",
            }));
        }
        // The registry is checked before anything with a side effect (the database, its
        // migrations, the confined workers): a conflict leaves no trace.
        let endpoints = endpoints();
        if endpoints.is_empty() {
            tracing::warn!(
                "no endpoints are registered. If they live in a library crate, the binary must \
                 mention that crate or its endpoints are not linked: add \
                 `endpoint_runtime::link!(that_crate);` to the binary"
            );
        }
        crate::routing::check_all(&endpoints, &config)?;
        #[cfg(feature = "services")]
        if state.contains_key(&TypeId::of::<crate::services::api::ItemsApi>()) {
            crate::routing::check_items_api(&endpoints)?;
        }
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        let database = open_database(&config, migrations.as_ref()).await?;
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        if let Some(url) = &config.database_url {
            // Set in code (the environment's value is refused when read): refuse, as a
            // check that cannot run does.
            return Err(Error::database(format!(
                "`{}` needs the `sqlite` or `postgres` feature of endpoint-runtime",
                crate::database::redact(&url.0)
            )));
        }
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        let _ = migrations;
        // The data services: the schema, read once, and the permissions checked against it.
        #[cfg(feature = "services")]
        if let Some(database) = &database {
            let schema = database.refresh_schema().await?;
            if let Some(permissions) = state
                .get(&TypeId::of::<crate::services::Permissions>())
                .and_then(|value| value.downcast_ref::<crate::services::Permissions>())
            {
                permissions.check(&schema)?;
            }
        }
        // Confined endpoints: the self-test and warm workers, before anything is served.
        #[cfg(feature = "confined")]
        let confined = if serving && endpoints.iter().any(|e| e.confined().is_some()) {
            Some(crate::confined::Pool::start(&config.confined).await?)
        } else {
            None
        };
        #[cfg(feature = "confined")]
        let mut state = state;
        #[cfg(feature = "confined")]
        if let Some(pool) = confined {
            // Found by the confined endpoints' handlers as any state is, by type; no
            // application can name the type.
            state.insert(TypeId::of::<crate::confined::Pool>(), pool);
        }
        // Events to the other instances: over the Redis they share, else over PostgreSQL
        // `LISTEN/NOTIFY` when the database is PostgreSQL.
        #[cfg(any(feature = "redis", feature = "postgres"))]
        let instance = crate::cluster::instance_id();
        #[cfg(feature = "redis")]
        let publisher = match &config.redis {
            Some(redis) => Some(
                crate::cluster::publisher(&redis.url, Arc::clone(&instance))
                    .map_err(|reason| unusable_redis_url(&redis.url, &reason))?,
            ),
            None => None,
        };
        #[cfg(not(feature = "redis"))]
        let publisher = None;
        #[cfg(feature = "postgres")]
        let notify_pool = match (&publisher, database.as_ref().map(|d| d.pool())) {
            (None, Some(crate::Pool::Postgres(pool))) if !cluster_subscribers.is_empty() => {
                Some(pool.clone())
            }
            _ => None,
        };
        #[cfg(feature = "postgres")]
        let publisher = publisher.or_else(|| {
            notify_pool
                .clone()
                .map(|pool| crate::cluster::postgres_publisher(pool, Arc::clone(&instance)))
        });
        let health: Arc<crate::ops::health::Health> = Arc::default();
        let shared = Arc::new(Shared {
            config: config.clone(),
            stopping: health.stopping(),
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            database,
            emitter: Emitter::new(subscribers, cluster_subscribers, publisher),
            state,
        });
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        let idempotency = if serving {
            durable_hooks(&shared).await?;
            idempotency(&shared, &endpoints).await?
        } else {
            None
        };
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        if serving {
            durable_hooks(&shared).await?;
            idempotency(&endpoints)?;
        }
        // Other instances' events are heard only by a serving instance (not by `build`).
        #[cfg(feature = "redis")]
        if serving
            && let Some(redis) = &config.redis
            && shared.emitter.has_cluster_subscribers()
        {
            crate::cluster::listen(&redis.url, &shared, Arc::clone(&instance))
                .await
                .map_err(|reason| unusable_redis_url(&redis.url, &reason))?;
        }
        #[cfg(feature = "postgres")]
        if serving && let Some(pool) = &notify_pool {
            crate::cluster::listen_postgres(pool, &shared, instance).await;
        }
        #[cfg(feature = "metrics")]
        let prometheus = (config.metrics_addr.is_some() || config.metrics_path.is_some())
            .then(crate::ops::metrics::install)
            .flatten();
        let rate_store = rate_store(&config)?;
        Ok((
            Arc::new(Runtime {
                auth: Arc::new(crate::auth::Chain {
                    authenticators,
                    builtin,
                    trusted_proxies: config.trusted_proxies.clone(),
                    forwarded_header: config.forwarded_header,
                }),
                config,
                shared,
                health,
                layers,
                rate_store,
                #[cfg(any(feature = "sqlite", feature = "postgres"))]
                idempotency,
                #[cfg(feature = "metrics")]
                prometheus,
                #[cfg(feature = "static-files")]
                static_files,
            }),
            endpoints,
        ))
    }

    /// The application's router with its middleware, to embed in another axum application.
    ///
    /// # Errors
    ///
    /// - [`Error::Config`], [`Error::Conflicts`] and [`Error::Database`], as for [`run()`].
    pub async fn into_router(self) -> Result<Router, Error> {
        let (runtime, endpoints) = self.runtime(true).await?;
        crate::routing::build(&endpoints, runtime)
    }

    /// Prerenders every endpoint marked `prerender` into `out`: what the `build` command does,
    /// without printing. See [`prerender`](crate::prerender) for the request each endpoint
    /// gets, the file each URL becomes and what fails a build.
    ///
    /// # Errors
    ///
    /// - [`Error::Prerender`] naming the endpoint: a non-2xx answer, two URLs writing one file,
    ///   a parameter value that could escape `out`, or `out` not written by a build. Nothing
    ///   is written then.
    /// - [`Error::Config`], [`Error::Conflicts`] and [`Error::Database`], as for [`run()`].
    #[cfg(feature = "prerender")]
    pub async fn prerender(
        self,
        out: impl AsRef<std::path::Path>,
    ) -> Result<crate::prerender::Report, Error> {
        self.prerender_endpoints(out, endpoints(), &mut |_| {})
            .await
    }

    /// [`prerender`](Self::prerender) for the prerendered endpoints among `selected` only (for
    /// tests and tools that build part of an application), telling `on_file` of each file as
    /// its answer arrives.
    ///
    /// # Errors
    ///
    /// As for [`prerender`](Self::prerender).
    #[cfg(feature = "prerender")]
    pub async fn prerender_endpoints(
        mut self,
        out: impl AsRef<std::path::Path>,
        selected: impl IntoIterator<Item = &'static Endpoint>,
        on_file: &mut dyn FnMut(&crate::prerender::Written),
    ) -> Result<crate::prerender::Report, Error> {
        let mut config = given_or_env(self.config.take())?;
        let site = config.site.clone().unwrap_or_else(|| config.server_url());
        // During the build the site is the public base URL, as in Astro.
        config.server_url = Some(site.clone());
        let mut selected: Vec<&'static Endpoint> = selected.into_iter().collect();
        selected.sort_by_key(|e| (e.path(), e.location()));
        let (runtime, endpoints) = self.config(config).runtime(false).await?;
        let router = crate::routing::build(&endpoints, runtime)?;
        crate::prerender::build(router, &selected, &site, out.as_ref(), on_file).await
    }

    /// An in-process client of this application, for tests (see [`testing`](crate::testing)).
    ///
    /// When the application has [migrations](Self::migrations), the client gets a database
    /// of its own with them applied, so that tests never share data or touch a real
    /// database: a new SQLite file in a temporary directory (an in-memory `sqlite::memory:`
    /// URL stays in memory), or, when `ENDPOINT_DATABASE_URL` is a PostgreSQL URL, a new
    /// schema on that server (`endpoint_test_<uuid>`, as the connections' `search_path`).
    /// Either is removed when the client's last clone is dropped.
    ///
    /// # Errors
    ///
    /// - [`Error::NoEndpoints`] when this binary has no endpoint: an integration test in
    ///   `tests/` of a binary crate does not see the binary's endpoints (the message says
    ///   what to do).
    /// - [`Error::Config`], [`Error::Conflicts`] and [`Error::Database`], as for [`run()`].
    pub async fn test_client(self) -> Result<crate::testing::TestClient, Error> {
        if endpoints().is_empty() {
            return Err(Error::NoEndpoints);
        }
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        {
            let mut app = self;
            let mut config = given_or_env(app.config.take())?;
            let scratch = match app.migrations {
                Some(_) => Some(crate::testing::scratch::Scratch::create(&mut config).await?),
                None => None,
            };
            let (runtime, endpoints) = app.config(config).runtime(true).await?;
            let database = runtime.shared.database.clone();
            let router = crate::routing::build(&endpoints, runtime)?;
            Ok(crate::testing::TestClient::from_router(
                router, database, scratch,
            ))
        }
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        Ok(crate::testing::TestClient::from_router(
            self.into_router().await?,
        ))
    }

    /// Validates the registry, opens the database, builds the router and opens the listening
    /// socket, without serving yet: [`Server::local_addr`] tells the bound address (useful
    /// with port `0`).
    ///
    /// # Errors
    ///
    /// - [`Error::Config`], [`Error::Conflicts`], [`Error::Database`] and [`Error::Bind`], as
    ///   for [`run()`].
    pub async fn bind(self) -> Result<Server, Error> {
        let (runtime, endpoints) = self.runtime(true).await?;
        let config = runtime.config.clone();
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        let database_pool = runtime
            .shared
            .database
            .as_ref()
            .map_or(0, |database| database.kind().pool_size());
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        let database_pool = 0;
        let health = Arc::clone(&runtime.health);
        #[cfg(feature = "schedule")]
        let scheduler = crate::schedule::Scheduler::prepare(&runtime.shared).await?;
        #[cfg(feature = "metrics")]
        let metrics = runtime
            .prometheus
            .clone()
            .zip(runtime.config.metrics_addr)
            .map(|(handle, addr)| crate::ops::metrics::Exposition {
                handle,
                addr,
                shared: Arc::clone(&runtime.shared),
            });
        #[cfg(feature = "static-files")]
        let static_files = runtime.static_files.clone();
        #[cfg(not(feature = "static-files"))]
        let static_files = Vec::new();
        let router = crate::routing::build(&endpoints, runtime)?;
        crate::serve::raise_nofile_limit();
        let max_connections = config
            .max_connections
            .unwrap_or_else(|| crate::serve::default_max_connections(&config, database_pool));
        let addr = config.addr();
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let local_addr = listener.local_addr()?;
        Ok(Server {
            listener,
            local_addr,
            router,
            config,
            max_connections,
            endpoints,
            static_files,
            health,
            #[cfg(feature = "metrics")]
            metrics,
            #[cfg(feature = "schedule")]
            scheduler,
        })
    }

    /// Runs the `#[schedule]` job named `name` once, now, as the `run-job` command does:
    /// claimed as a tick is (refused while a run of it holds the claim, on any instance
    /// sharing the database), as [`Accountability::system`](crate::Accountability::system)
    /// with `scheduled_at` null. The application starts as for serving (database, services,
    /// state) but binds no socket, delivers no outbox rows and runs no other job. See
    /// [`schedule`](mod@crate::schedule).
    ///
    /// # Errors
    ///
    /// - [`Error::Schedule`] when no job has that name (the message lists them), the job is
    ///   running elsewhere, it cannot be claimed, or it returns an error or panics.
    /// - [`Error::Config`], [`Error::Database`], as for [`run()`].
    #[cfg(feature = "schedule")]
    pub async fn run_job(mut self, name: &str) -> Result<(), Error> {
        let mut config = given_or_env(self.config.take())?;
        // A one-off run delivers no outbox rows: the serving instances do.
        config.outbox.deliver = false;
        let (runtime, _) = self.config(config).runtime(true).await?;
        crate::schedule::run_by_hand(&runtime.shared, name).await
    }

    /// The folders given to [`App::static_files`], for the route table.
    fn static_mounts(&self) -> &[(String, std::path::PathBuf)] {
        #[cfg(feature = "static-files")]
        return &self.static_files;
        #[cfg(not(feature = "static-files"))]
        return &[];
    }

    /// Reads the command line, then runs its command: `serve` (the default) installs
    /// logging, binds, prints the route table and serves until SIGINT or SIGTERM; `routes`,
    /// `openapi`, `check [--strict]`, `build [--out DIR]` and `token` print and exit
    /// (`--help` lists them).
    ///
    /// # Errors
    ///
    /// As for [`run()`].
    pub async fn run(self) -> Result<(), Error> {
        cli::run(self).await
    }
}

/// Durable hooks: the outbox table created, and this instance's deliverer started unless
/// `ENDPOINT_OUTBOX_DELIVER=off`.
///
/// # Errors
///
/// - [`Error::Database`] when durable hooks are linked in and the application has no database
///   (naming them), or the table cannot be created.
async fn durable_hooks(shared: &Arc<Shared>) -> Result<(), Error> {
    let hooks = shared.emitter.all_durable_hooks();
    if hooks.is_empty() {
        return Ok(());
    }
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    if let Some(database) = &shared.database {
        database
            .ensure_tables(&crate::events::outbox::TABLES)
            .await?;
        if shared.config.outbox.deliver {
            crate::events::outbox::start(shared, hooks);
        }
        return Ok(());
    }
    let mut sites: Vec<String> = hooks.values().map(|hook| hook.site()).collect();
    sites.sort();
    Err(Error::database(format!(
        "durable hooks are delivered through an outbox table in the application's database, \
         and the application has none: call App::migrations(..) or set ENDPOINT_DATABASE_URL \
         (with the `sqlite` or `postgres` feature). Durable hooks: {}",
        sites.join(", ")
    )))
}

/// Idempotent endpoints' store: the `endpoint_idempotency` table in the application's
/// database, created if needed; `None` when no endpoint is idempotent.
///
/// # Errors
///
/// - [`Error::Database`] when an endpoint is idempotent and the application has no database
///   (naming the endpoints), or the table cannot be created.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn idempotency(
    shared: &Shared,
    endpoints: &[&'static Endpoint],
) -> Result<Option<Arc<crate::policy::idempotency::Store>>, Error> {
    let idempotent = idempotent_endpoints(endpoints);
    if idempotent.is_empty() {
        return Ok(None);
    }
    let Some(database) = &shared.database else {
        return Err(no_idempotency_store(&idempotent));
    };
    database
        .ensure_tables(&crate::policy::idempotency::TABLES)
        .await?;
    Ok(Some(crate::policy::idempotency::Store::new(
        database.clone(),
        shared.config.idempotency_ttl,
        shared.config.request_timeout,
    )))
}

/// Without a database feature an idempotent endpoint cannot keep its responses: refused.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
fn idempotency(endpoints: &[&'static Endpoint]) -> Result<(), Error> {
    let idempotent = idempotent_endpoints(endpoints);
    if idempotent.is_empty() {
        Ok(())
    } else {
        Err(no_idempotency_store(&idempotent))
    }
}

/// `METHOD /route (module::function)` of every `#[endpoint(idempotent)]`.
fn idempotent_endpoints(endpoints: &[&'static Endpoint]) -> Vec<String> {
    endpoints
        .iter()
        .filter(|endpoint| endpoint.policy().idempotent)
        .map(|endpoint| {
            format!(
                "{} ({}::{})",
                endpoint.path(),
                endpoint.module_path(),
                endpoint.handler()
            )
        })
        .collect()
}

fn no_idempotency_store(idempotent: &[String]) -> Error {
    Error::database(format!(
        "idempotent endpoints keep their responses in the application's database, and the \
         application has none: call App::migrations(..) or set ENDPOINT_DATABASE_URL (with the \
         `sqlite` or `postgres` feature). Idempotent endpoints: {}",
        idempotent.join(", ")
    ))
}

/// Where the rate limits' buckets live: the instances' Redis when [`Config::redis`] is set
/// (`ENDPOINT_REDIS_URL`), else this process.
fn rate_store(config: &Config) -> Result<crate::policy::Store, Error> {
    let Some(redis) = &config.redis else {
        return Ok(crate::policy::Store::Local);
    };
    #[cfg(feature = "redis")]
    {
        let store = crate::policy::shared::Store::new(redis)
            .map_err(|reason| unusable_redis_url(&redis.url, &reason))?;
        tracing::info!(
            url = %crate::config::redacted_redis_url(&redis.url),
            on_store_error = ?redis.on_store_error,
            "rate limits shared in Redis"
        );
        Ok(crate::policy::Store::Shared(Arc::new(store)))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = redis;
        Err(Error::MissingFeature {
            feature: "redis",
            what: "`Config::redis` (ENDPOINT_REDIS_URL)".into(),
        })
    }
}

/// The start-up error for an `ENDPOINT_REDIS_URL` the `redis` client refuses (`reason`), its
/// password hidden.
#[cfg(feature = "redis")]
fn unusable_redis_url(url: &str, reason: &str) -> Error {
    Error::Config(crate::env::ConfigError {
        variable: "ENDPOINT_REDIS_URL",
        value: format!("{} ({reason})", crate::config::redacted_redis_url(url)),
        expected: "a URL the redis client accepts, such as redis://127.0.0.1:6379/0",
    })
}

/// `handler` as the emitter keeps it.
fn subscriber<F, Fut>(handler: F) -> Subscriber
where
    F: Fn(Event, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), EndpointError>> + Send + 'static,
{
    Arc::new(move |event, context| Box::pin(handler(event, context)))
}

/// `sqlite://<binary name>.db` in the working directory.
/// The configuration given with [`App::config`], else the environment's
/// ([`Config::from_env`]): the one rule every entry point follows.
pub(super) fn given_or_env(config: Option<Config>) -> Result<Config, Error> {
    let config = match config {
        // `RUST_LOG` and the `OTEL_*` trace export variables are the log subscriber's, read
        // from the environment either way.
        Some(config) => {
            let lookup = |name: &str| std::env::var(name).ok();
            crate::logging::filter_from_env(&crate::env::Env(&lookup))?;
            crate::config::trace_export(&crate::env::Env(&lookup))?;
            config
        }
        None => Config::from_env()?,
    };
    // Export the environment asks for and that could not start refuses, as a bad variable does.
    #[cfg(feature = "otel")]
    if let Some(reason) = crate::otel::failure() {
        return Err(Error::TraceExport(reason.to_string()));
    }
    Ok(config)
}

/// Opens the configured database, or the default SQLite file when the application has
/// migrations, and applies them; `None` when there is neither.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn open_database(
    config: &Config,
    migrations: Option<&Migrations>,
) -> Result<Option<crate::database::Database>, Error> {
    let url = match (&config.database_url, migrations) {
        (Some(url), _) => url.0.clone(),
        (None, Some(_)) => default_database_url(),
        (None, None) => return Ok(None),
    };
    let database = crate::database::Database::connect(&url, config.database_timeout).await?;
    if let Some(migrations) = migrations {
        database.migrate(migrations).await?;
    }
    tracing::info!(url = %crate::database::redact(&url), kind = ?database.kind(), "database ready");
    Ok(Some(database))
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn default_database_url() -> String {
    let name = std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "endpoint".into());
    format!("sqlite://{name}.db")
}

/// A bound, routed server that is not serving yet.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    config: Config,
    max_connections: usize,
    endpoints: Vec<&'static Endpoint>,
    /// The folders served under a path, for the route table.
    static_files: Vec<(String, std::path::PathBuf)>,
    health: Arc<crate::ops::health::Health>,
    /// The metrics listener's recorder, address and database (`ENDPOINT_METRICS_ADDR`).
    #[cfg(feature = "metrics")]
    metrics: Option<crate::ops::metrics::Exposition>,
    /// The `#[schedule]` jobs, started with serving; `None` without jobs or with
    /// `ENDPOINT_SCHEDULES=off`.
    #[cfg(feature = "schedule")]
    scheduler: Option<crate::schedule::Scheduler>,
}

impl Server {
    /// The address the socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The most connections served at once: `ENDPOINT_MAX_CONNECTIONS`, or the default
    /// derived from the file-descriptor limit (see [`serve`](crate::serve)).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The route table: one line per endpoint with method, full path, access level in force,
    /// handler and `file:line`.
    pub fn route_table(&self) -> String {
        cli::route_table(&self.endpoints, &self.config, &self.static_files)
    }

    /// Serves until `signal` completes, then drains: `/readyz` answers 503 while everything
    /// is still served for [`Config::drain_delay`] (`ENDPOINT_DRAIN_DELAY`, default none), so
    /// a load balancer stops sending. Then it stops accepting, lets in-flight requests (and
    /// handlers whose client went away) finish for up to [`Config::shutdown_grace`], and
    /// closes what remains. Connections are bounded by the limits described in
    /// [`serve`](crate::serve): header-read and keep-alive timeouts, and a connection cap.
    ///
    /// # Errors
    ///
    /// - [`Error::Io`] if the listener fails irrecoverably.
    pub async fn serve_until(self, signal: impl Future<Output = ()> + Send) -> Result<(), Error> {
        let Server {
            listener,
            router,
            config,
            max_connections,
            health,
            #[cfg(feature = "metrics")]
            metrics,
            #[cfg(feature = "schedule")]
            scheduler,
            ..
        } = self;
        #[cfg(feature = "metrics")]
        let _metrics = match metrics {
            Some(exposition) => Some(exposition.listen().await?),
            None => None,
        };
        let delay = config.drain_delay;
        let drained = async move {
            signal.await;
            health.drain();
            if !delay.is_zero() {
                tracing::info!(delay = ?delay, "draining: /readyz answers 503, still serving");
                tokio::time::sleep(delay).await;
            }
        };
        let serving = crate::serve::serve(listener, router, &config, max_connections, drained);
        // The jobs stop taking ticks when draining starts, and finish within the grace.
        #[cfg(feature = "schedule")]
        {
            // Draining cancels it; so does the end of serving, however it came.
            let stopping = scheduler.as_ref().map(crate::schedule::Scheduler::stopping);
            tokio::join!(
                async {
                    serving.await;
                    if let Some(stopping) = stopping {
                        stopping.cancel();
                    }
                },
                async {
                    if let Some(scheduler) = scheduler {
                        scheduler.run(config.shutdown_grace).await;
                    }
                }
            );
        }
        #[cfg(not(feature = "schedule"))]
        serving.await;
        // The last requests' spans reach the collector before the process goes.
        #[cfg(feature = "otel")]
        crate::otel::flush().await;
        Ok(())
    }
}

/// Runs `future` to completion on a new multi-threaded Tokio runtime (`#[main]`), with the
/// log subscriber installed first (`ENDPOINT_LOG_FORMAT`, `RUST_LOG`), so that what the
/// application logs before it builds its `App` is not lost.
pub fn block_on<F: Future>(future: F) -> F::Output {
    // A confined worker is this binary started again: it never reaches the runtime.
    #[cfg(feature = "confined")]
    crate::confined::enter_worker_if_requested();
    // A malformed ENDPOINT_LOG_FORMAT is reported by the configuration, naming it; the lines
    // before that are text.
    let lookup = |name: &str| std::env::var(name).ok();
    let format = crate::logging::LogFormat::from_env(&crate::env::Env(&lookup));
    init_logging(format.ok().flatten().unwrap_or_default());
    let output = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("failed to start the Tokio runtime")
        .block_on(future);
    #[cfg(feature = "otel")]
    crate::otel::shutdown();
    output
}

/// Installs the default log subscriber ([`logging`](crate::logging)), with trace export when
/// the `OTEL_*` variables ask for it (feature `otel`); keeps one the application installed.
pub(crate) fn init_logging(format: crate::logging::LogFormat) {
    #[cfg(feature = "otel")]
    {
        let (export, provider) = crate::otel::layer().unzip();
        let installed = crate::logging::init(format, export);
        if let Some(provider) = provider {
            crate::otel::installed(provider, installed);
        }
    }
    #[cfg(not(feature = "otel"))]
    crate::logging::init(format, None);
}

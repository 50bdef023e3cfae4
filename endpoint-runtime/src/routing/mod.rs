//! From the registry to an axum `Router`: conflict checks naming both sites, then routing.

use std::collections::BTreeMap;

use std::sync::Arc;

use axum::Router;
use axum::extract::{OriginalUri, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use crate::EndpointError;
use crate::error::{Conflict, Error};
use crate::pipeline::Runtime;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::registry::HandlerFuture;
use crate::registry::{Endpoint, Methods, endpoints, split_suffix};
use crate::version;

fn site(endpoint: &Endpoint) -> String {
    format!(
        "{}::{} at {}",
        endpoint.module_path(),
        endpoint.handler(),
        endpoint.location()
    )
}

/// Checks the registry for routes that cannot be served together, and reports them all.
///
/// Two kinds of conflict are found, each naming both endpoints with their `file:line`:
/// the same method on the same full path (including two `method = all` on one path), and
/// paths that the router cannot tell apart, such as `/users/{id}` and `/users/{name}`
/// (matchit 0.8 rules, the version axum uses). Call it from a test so that `cargo test`
/// fails before a deploy would.
///
/// # Errors
///
/// - [`Error::Conflicts`] listing every conflict found.
pub fn validate() -> Result<(), Error> {
    check(&endpoints())
}

pub(crate) fn check(endpoints: &[&'static Endpoint]) -> Result<(), Error> {
    let mut conflicts = Vec::new();
    let mut by_path: BTreeMap<String, Vec<&Endpoint>> = BTreeMap::new();
    for endpoint in endpoints {
        by_path.entry(endpoint.path()).or_default().push(endpoint);
    }
    for (path, group) in &by_path {
        let mut claims: Vec<(String, &Endpoint)> = Vec::new();
        for endpoint in group {
            let names: Vec<String> = match endpoint.methods() {
                Methods::All => vec!["ALL".into()],
                Methods::List(list) => list.iter().map(|m| m.as_str().to_string()).collect(),
            };
            for name in names {
                // One method twice on a path is a conflict unless no API version serves both
                // (`until = "2.0"` and `since = "2.0"`).
                if let Some((_, first)) = claims.iter().find(|(claimed, other)| {
                    *claimed == name
                        && version::ApiVersion::overlap(other.lifecycle(), endpoint.lifecycle())
                }) {
                    conflicts.push(Conflict {
                        what: if name == "ALL" {
                            format!("`method = all` on `{path}` is defined twice")
                        } else {
                            format!("`{name} {path}` is defined twice")
                        },
                        first: site(first),
                        second: site(endpoint),
                    });
                } else {
                    claims.push((name, endpoint));
                }
            }
        }
    }
    // The paths as axum routes them: `/api/{id}.json` and `/api/{id}` are one routed path,
    // told apart by the runtime (see `build`), so they are inserted once.
    let mut routed: BTreeMap<&str, (&String, &Endpoint)> = BTreeMap::new();
    for (path, group) in &by_path {
        routed
            .entry(split_suffix(path).0)
            .or_insert((path, group[0]));
    }
    let mut matcher = matchit::Router::new();
    for (shape, (path, endpoint)) in &routed {
        match matcher.insert(*shape, *endpoint) {
            Ok(()) => {}
            Err(matchit::InsertError::Conflict { with }) => {
                let (with, first) = routed
                    .get(with.as_str())
                    .map_or((with.clone(), with.clone()), |(path, e)| {
                        (path.to_string(), site(e))
                    });
                conflicts.push(Conflict {
                    what: format!(
                        "`{path}` conflicts with `{with}` (the router cannot tell them apart)"
                    ),
                    first,
                    second: site(endpoint),
                });
            }
            Err(other) => conflicts.push(Conflict {
                what: format!("`{path}` is rejected by the router ({other})"),
                first: site(endpoint),
                second: site(endpoint),
            }),
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(Error::Conflicts(conflicts))
    }
}

/// Refuses endpoints on the paths the runtime serves itself (the document and the docs page).
fn check_reserved(endpoints: &[&'static Endpoint], config: &crate::Config) -> Result<(), Error> {
    let reserved = [
        ("ENDPOINT_OPENAPI_PATH", &config.openapi_path),
        ("ENDPOINT_DOCS_PATH", &config.docs_path),
        ("ENDPOINT_LIVEZ_PATH", &config.livez_path),
        ("ENDPOINT_READYZ_PATH", &config.readyz_path),
        ("ENDPOINT_METRICS_PATH", &config.metrics_path),
    ];
    let mut conflicts = Vec::new();
    for (variable, path) in reserved {
        let Some(path) = path else { continue };
        for endpoint in endpoints.iter().filter(|e| &e.path() == path) {
            conflicts.push(Conflict {
                what: format!("`{path}` is served by the runtime ({variable}; set it to another path or `off`)"),
                first: site(endpoint),
                second: variable.to_string(),
            });
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(Error::Conflicts(conflicts))
    }
}

/// The router of every registered endpoint, to serve with [`run()`](crate::run) or to embed in
/// an existing axum application with `Router::merge` or `Router::nest`, configured from the
/// environment ([`Config::from_env`](crate::Config::from_env)) and with the runtime's
/// middleware: request ids, the authenticator chain, the request timeout, panic capture and
/// the error envelope. Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so
/// that [`Accountability::ip`](crate::Accountability::ip) is known.
///
/// The runtime's middleware runs inside each route, around the endpoint's handler: a layer added
/// to this router (`layer`, `route_layer`: CORS, compression, tracing) runs before it, so it
/// sees neither the request id nor the accountability, and its own error responses are not put
/// in the envelope.
///
/// Each endpoint is mounted at `/<id><route>`. Unknown paths answer 404 `ROUTE_NOT_FOUND`, a
/// known path with a method it does not serve answers 405 `METHOD_NOT_ALLOWED` with an `Allow`
/// header; both with the JSON envelope of [`EndpointError`].
///
/// # Errors
///
/// - [`Error::Config`] when an `ENDPOINT_*` variable is malformed.
/// - [`Error::Conflicts`] when [`validate()`] finds conflicts; the router is never half-built.
pub async fn router() -> Result<Router, Error> {
    crate::App::new().into_router().await
}

/// Every check of the registry: route conflicts, and paths the runtime's own routes take
/// (`ENDPOINT_OPENAPI_PATH`, `ENDPOINT_DOCS_PATH`).
/// Refuses endpoints under `/items` when the runtime serves the `/items` REST face there.
#[cfg(feature = "services")]
pub(crate) fn check_items_api(endpoints: &[&'static Endpoint]) -> Result<(), Error> {
    let conflicts: Vec<Conflict> = endpoints
        .iter()
        .filter(|e| {
            let path = e.path();
            path == "/items" || path.starts_with("/items/")
        })
        .map(|e| Conflict {
            what: format!(
                "`{}` is served by the runtime's `/items` REST face (App::items_api)",
                e.path()
            ),
            first: site(e),
            second: "App::items_api".into(),
        })
        .collect();
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(Error::Conflicts(conflicts))
    }
}

pub(crate) fn check_all(
    endpoints: &[&'static Endpoint],
    config: &crate::Config,
) -> Result<(), Error> {
    check(endpoints)?;
    #[cfg(not(feature = "rate-limit"))]
    if let Some(endpoint) = endpoints.iter().find(|e| e.policy().rate_limit.is_some()) {
        return Err(Error::MissingFeature {
            feature: "rate-limit",
            what: format!("`rate_limit` of {}", site(endpoint)),
        });
    }
    check_reserved(endpoints, config)
}

/// The router of `endpoints`, which [`check_all`] has accepted (the bootstrap checks before
/// any side effect).
pub(crate) fn build(
    endpoints: &[&'static Endpoint],
    runtime: Arc<Runtime>,
) -> Result<Router, Error> {
    // Each routed path's routes by suffix ("" for none): `/api/{id}.json` and `/api/{id}`
    // share the routed path `/api/{id}`.
    let mut by_path: BTreeMap<String, BTreeMap<&'static str, MethodRouter>> = BTreeMap::new();
    let newest = version::ApiVersion::newest(endpoints);
    let versioned = newest.is_some();
    match newest {
        // A versioned API: each routed path (and suffix) dispatches by the request's version.
        Some(newest) => {
            let mut groups: BTreeMap<(String, &'static str), Vec<&'static Endpoint>> =
                BTreeMap::new();
            for endpoint in endpoints {
                let suffix = endpoint.suffix().unwrap_or_default();
                groups
                    .entry((endpoint.routed_path(), suffix))
                    .or_default()
                    .push(endpoint);
            }
            for ((path, suffix), group) in groups {
                let route = by_version(&runtime, &group, newest);
                by_path.entry(path).or_default().insert(suffix, route);
            }
        }
        None => {
            for endpoint in endpoints {
                let route = endpoint_route(endpoint, Some(Arc::clone(&runtime)));
                let variants = by_path.entry(endpoint.routed_path()).or_default();
                let suffix = endpoint.suffix().unwrap_or_default();
                let merged = match variants.remove(suffix) {
                    Some(existing) => existing.merge(route),
                    None => route,
                };
                variants.insert(suffix, merged);
            }
        }
    }
    let mut router = Router::new();
    #[cfg(feature = "services")]
    if items_api(&runtime) {
        use crate::services::api;
        let body_limit = runtime.config.body_limit;
        let limit = || {
            let limit = axum::extract::DefaultBodyLimit::max(body_limit);
            // Request bodies decompressed as an endpoint's are (see `route`).
            #[cfg(feature = "compression")]
            let limit = tower::ServiceBuilder::new()
                .layer(limit)
                .layer(tower::layer::layer_fn(crate::ops::compression::decompress));
            limit
        };
        router = router
            .route(
                "/items/{collection}",
                axum::routing::get(served(&runtime, api::list))
                    .post(served(&runtime, api::create))
                    .layer(limit()),
            )
            .route(
                "/items/{collection}/{id}",
                axum::routing::get(served(&runtime, api::read))
                    .patch(served(&runtime, api::update))
                    .delete(served(&runtime, api::delete))
                    .layer(limit()),
            );
    }
    for (path, mut variants) in by_path {
        match variants.remove("") {
            Some(route) if variants.is_empty() => router = router.route(&path, route),
            plain => router = router.route(&path, by_suffix(&runtime, variants, plain, versioned)),
        }
    }
    #[cfg(feature = "static-files")]
    for (mount, directory) in &runtime.static_files {
        router = static_files(router, &runtime, endpoints, mount, directory)?;
    }
    // Metrics on the server's port: admins only (a scraper with an admin static token).
    #[cfg(feature = "metrics")]
    if let (Some(path), Some(handle)) = (&runtime.config.metrics_path, &runtime.prometheus) {
        let (handle, shared) = (handle.clone(), Arc::clone(&runtime.shared));
        router = router.route(
            path,
            axum::routing::get(guarded(
                &runtime,
                crate::registry::Access::Admin,
                move |_| {
                    let (handle, shared) = (handle.clone(), Arc::clone(&shared));
                    async move { crate::ops::metrics::render(&handle, &shared).await }
                },
            )),
        );
    }
    // Health: in the pipeline (request id, logging), outside the access rules.
    if let Some(path) = &runtime.config.livez_path {
        router = router.route(
            path,
            axum::routing::get(served(&runtime, |_| crate::ops::health::livez())),
        );
    }
    if let Some(path) = &runtime.config.readyz_path {
        let readiness = crate::ops::health::Readiness {
            health: Arc::clone(&runtime.health),
            confined: endpoints.iter().any(|e| e.confined().is_some()),
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            database: runtime.shared.database.clone(),
        };
        router = router.route(
            path,
            axum::routing::get(served(&runtime, move |_| {
                crate::ops::health::readyz(readiness.clone())
            })),
        );
    }
    #[cfg(feature = "openapi")]
    if let Some(spec_path) = runtime.config.openapi_path.clone() {
        // Built on the first request, not at start-up: with thousands of endpoints the document
        // is the largest thing the runtime would otherwise build and keep before serving.
        let document: Arc<std::sync::OnceLock<axum::body::Bytes>> = Arc::default();
        let endpoints = endpoints.to_vec();
        let config = runtime.config.clone();
        #[cfg(feature = "services")]
        let items_schema = items_api(&runtime)
            .then(|| runtime.shared.database.clone())
            .flatten();
        // ENDPOINT_DOCS_ACCESS, checked in the pipeline as an endpoint's access level is.
        let access = runtime.config.effective_docs_access();
        router = router.route(
            &spec_path,
            axum::routing::get(guarded(&runtime, access, move |_| {
                let bytes = document
                    .get_or_init(|| {
                        #[allow(unused_mut)]
                        let mut document = crate::openapi::document(&endpoints, &config);
                        #[cfg(feature = "services")]
                        if let Some(schema) = items_schema.as_ref().and_then(|d| d.cached_schema())
                        {
                            crate::openapi::items_paths(&mut document, &schema, &config);
                        }
                        serde_json::to_vec(&document).unwrap_or_default().into()
                    })
                    .clone();
                let response = (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    bytes,
                )
                    .into_response();
                std::future::ready(response)
            })),
        );
        if let Some(docs_path) = runtime.config.docs_path.clone() {
            let page = crate::openapi::docs_page(&spec_path);
            router = router.route(
                &docs_path,
                axum::routing::get(guarded(&runtime, access, move |_| {
                    std::future::ready(axum::response::Html(page.clone()).into_response())
                })),
            );
        }
    }
    let router = router
        .fallback(served(&runtime, not_found))
        .method_not_allowed_fallback(served(&runtime, not_allowed));
    // Request bodies are decompressed in each route (see `route`), inside the application's
    // outer layers. Outside them: responses are compressed after every layer wrote them.
    let router = runtime.layers.wrap_router(router);
    #[cfg(feature = "compression")]
    let router = crate::ops::compression::compress(router, runtime.config.compression);
    // Outermost: a preflight is answered before anything else runs.
    #[cfg(feature = "cors")]
    let router = match &runtime.config.cors {
        Some(cors) => router.layer(crate::ops::cors::layer(cors)),
        None => router,
    };
    Ok(router.with_state(()))
}

/// The route of a routed path some of whose endpoints have a suffixed last segment
/// (`/api/{id}.json`): the request goes to the route of the longest suffix its last segment
/// ends with (after at least one character), else to the route without a suffix (`plain`),
/// else 404 `ROUTE_NOT_FOUND`. A method a chosen route does not answer is 405 with `Allow`,
/// as on any other path.
fn by_suffix(
    runtime: &Arc<Runtime>,
    variants: BTreeMap<&'static str, MethodRouter>,
    plain: Option<MethodRouter>,
    versioned: bool,
) -> MethodRouter {
    let not_allowed = served(runtime, not_allowed);
    // A versioned route (`by_version`) answers 405 itself, and is a fallback already.
    let finish = |route: MethodRouter| {
        if versioned {
            route
        } else {
            route.fallback(not_allowed.clone())
        }
    };
    let mut routes: Vec<(&'static str, MethodRouter)> = variants
        .into_iter()
        .map(|(suffix, route)| (suffix, finish(route)))
        .collect();
    routes.sort_by_key(|(suffix, _)| std::cmp::Reverse(suffix.len()));
    let not_found = axum::routing::any(served(runtime, not_found));
    let plain = plain.map_or(not_found, finish);
    let routes: Arc<(Vec<(&'static str, MethodRouter)>, MethodRouter)> = Arc::new((routes, plain));
    axum::routing::any(move |request: Request| {
        let routes = Arc::clone(&routes);
        async move {
            let last = request.uri().path().rsplit('/').next().unwrap_or_default();
            let (suffixed, plain) = &*routes;
            let route = suffixed
                .iter()
                .find(|(suffix, _)| last.len() > suffix.len() && last.ends_with(suffix))
                .map_or(plain, |(_, route)| route)
                .clone();
            match tower::ServiceExt::oneshot(route, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    })
}

/// The route of one routed path (and suffix) of a versioned API: the request's `api-version`
/// (default `newest`) picks the endpoints that version serves, and the answer names the
/// version in its own `api-version` header. A path no endpoint serves at that version is 404
/// `ROUTE_NOT_FOUND`; a method it does not answer there, 405; a header that is no version, or
/// names one after `newest`, 400 (see [`version::ApiVersion::selected`]), all in the pipeline.
fn by_version(
    runtime: &Arc<Runtime>,
    group: &[&'static Endpoint],
    newest: version::ApiVersion,
) -> MethodRouter {
    let not_allowed = served(runtime, not_allowed);
    let spans = version::Spans::new(
        group,
        |endpoint| endpoint_route(endpoint, Some(Arc::clone(runtime))),
        |merged, all| {
            // `method = all` is the fallback already; else a method not routed is 405.
            if all {
                merged
            } else {
                merged.fallback(not_allowed.clone())
            }
        },
    );
    let not_found = axum::routing::any(served(runtime, not_found));
    let refused = axum::routing::any(served(runtime, move |request| {
        let error = version::ApiVersion::selected(request.headers(), newest)
            .err()
            .unwrap_or_else(|| EndpointError::route_not_found(original_path(&request)));
        std::future::ready(error.into_response())
    }));
    let routes = Arc::new((spans, not_found, refused));
    axum::routing::any(move |request: Request| {
        let routes = Arc::clone(&routes);
        async move {
            let (spans, not_found, refused) = &*routes;
            let selected = version::ApiVersion::selected(request.headers(), newest).ok();
            let route = match selected {
                Some(version) => spans.at(version).unwrap_or(not_found),
                None => refused,
            }
            .clone();
            let mut response = match tower::ServiceExt::oneshot(route, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if let Some(version) = selected {
                response
                    .headers_mut()
                    .insert(version::API_VERSION_HEADER, version::header_value(version));
            }
            // The answer depends on the request's `api-version`: shared caches must key on it.
            response.headers_mut().append(
                axum::http::header::VARY,
                axum::http::HeaderValue::from_static("api-version"),
            );
            response
        }
    })
}

/// Whether [`App::items_api`](crate::App::items_api) asked for the `/items` routes.
#[cfg(feature = "services")]
fn items_api(runtime: &Runtime) -> bool {
    runtime
        .shared
        .state
        .contains_key(&std::any::TypeId::of::<crate::services::api::ItemsApi>())
}

/// A handler for the runtime's own routes: `inner` inside the request pipeline.
/// 404 `ROUTE_NOT_FOUND` for the request's path, as the router's fallback answers.
fn not_found(request: Request) -> std::future::Ready<Response> {
    std::future::ready(EndpointError::route_not_found(original_path(&request)).into_response())
}

/// 405 `METHOD_NOT_ALLOWED` for the request's method and path.
fn not_allowed(request: Request) -> std::future::Ready<Response> {
    std::future::ready(
        EndpointError::method_not_allowed(request.method().as_str(), original_path(&request))
            .into_response(),
    )
}

fn served<F, Fut>(
    runtime: &Arc<Runtime>,
    inner: F,
) -> impl Fn(Request) -> crate::pipeline::Pipeline<F, Fut> + Clone + Send + Sync + 'static
where
    F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let runtime = Arc::clone(runtime);
    move |request: Request| crate::pipeline::run(Arc::clone(&runtime), None, request, inner.clone())
}

/// A handler for the runtime's own routes that are readable at `access` only: `inner` inside
/// the request pipeline, after the same access check as an endpoint's.
#[cfg(any(feature = "openapi", feature = "metrics"))]
fn guarded<F, Fut>(
    runtime: &Arc<Runtime>,
    access: crate::registry::Access,
    inner: F,
) -> impl Fn(Request) -> crate::pipeline::Pipeline<F, Fut> + Clone + Send + Sync + 'static
where
    F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let served = served(runtime, inner);
    move |request: Request| served(request).guarded(access)
}

/// `router` serving `directory` under `mount` (see [`App::static_files`](crate::App::static_files)).
#[cfg(feature = "static-files")]
fn static_files(
    router: Router,
    runtime: &Arc<Runtime>,
    endpoints: &[&'static Endpoint],
    mount: &str,
    directory: &std::path::Path,
) -> Result<Router, Error> {
    use tower::ServiceExt as _;
    // A `*` too: in a nested route it would read as a catch-all.
    if !crate::env::literal_path(mount) || mount.contains('*') {
        return Err(Error::StaticFiles(format!(
            "`{mount}` is not a mount path: expected a literal path such as `/assets`"
        )));
    }
    if !directory.is_dir() {
        return Err(Error::StaticFiles(format!(
            "`{}` (served under `{mount}`) is not a directory",
            directory.display()
        )));
    }
    let under = format!("{mount}/");
    let conflicts: Vec<Conflict> = endpoints
        .iter()
        .filter(|e| {
            let path = e.path();
            path == mount || path.starts_with(&under)
        })
        .map(|e| Conflict {
            what: format!(
                "`{}` is under `{mount}`, where App::static_files serves `{}`",
                e.path(),
                directory.display()
            ),
            first: site(e),
            second: "App::static_files".into(),
        })
        .collect();
    if !conflicts.is_empty() {
        return Err(Error::Conflicts(conflicts));
    }
    let files = tower_http::services::ServeDir::new(directory)
        .precompressed_br()
        .precompressed_zstd()
        .precompressed_gzip();
    let service = served(runtime, move |request: Request| {
        let files = files.clone();
        async move {
            let response = match files.oneshot(request).await {
                Ok(response) => response.into_response(),
                Err(never) => match never {},
            };
            crate::middleware::in_envelope(response)
        }
    });
    Ok(router.nest_service(mount, axum::routing::any(service)))
}

/// The path as the client sent it, before any `nest` stripped a prefix.
fn original_path(request: &Request) -> &str {
    request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |uri| uri.path())
}

/// A fresh axum `MethodRouter` for `endpoint` alone, its access check included, to mount
/// one endpoint in an application's own axum `Router`. Without the runtime's middleware (see
/// [`router()`]) every caller is anonymous, so a protected endpoint answers 401, and errors
/// are JSend bodies without a request id.
pub fn method_router(endpoint: &'static Endpoint) -> MethodRouter {
    endpoint_route(endpoint, None)
}

/// The `MethodRouter` of one endpoint: its methods, or a fallback for `method = all`. With
/// `runtime`, the handler runs inside the runtime's pipeline (request id, accountability,
/// access check, timeout, panic capture, envelope); without it, only the access check runs, in
/// front of the generated handler (before any extractor runs), and every caller is anonymous.
/// Not generic, so axum's routing types are compiled once for every endpoint.
fn endpoint_route(endpoint: &'static Endpoint, runtime: Option<Arc<Runtime>>) -> MethodRouter {
    let route = endpoint_route_inner(endpoint, runtime);
    // A deprecated endpoint's answers say so (RFC 9745 `Deprecation`, RFC 8594 `Sunset`).
    let headers = version::lifecycle_headers(endpoint.lifecycle());
    if headers.is_empty() {
        return route;
    }
    let headers = Arc::new(headers);
    route.layer(axum::middleware::map_response(
        move |mut response: Response| {
            let headers = Arc::clone(&headers);
            async move {
                for (name, value) in headers.iter() {
                    response.headers_mut().insert(name.clone(), value.clone());
                }
                response
            }
        },
    ))
}

fn endpoint_route_inner(
    endpoint: &'static Endpoint,
    runtime: Option<Arc<Runtime>>,
) -> MethodRouter {
    let handler = endpoint.call();
    match runtime {
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        Some(runtime) if endpoint.policy().idempotent && runtime.idempotency.is_some() => {
            // Replays by `Idempotency-Key` wrap the handler, inside the application's layers
            // and middleware: a replay passes through them, and what they answer is not kept.
            let store = runtime.idempotency.clone().expect("checked by the guard");
            let replaying = move |request: Request| -> HandlerFuture {
                Box::pin(crate::policy::idempotency::serve(
                    Arc::clone(&store),
                    endpoint,
                    request,
                    handler,
                ))
            };
            let limit = crate::policy::body_limit(Some(endpoint), runtime.config.body_limit);
            match runtime.layers.wrap(endpoint, replaying.clone()) {
                Some(layered) => route(
                    endpoint,
                    Limit::Guarded(limit),
                    crate::pipeline::EndpointService::new(Arc::clone(&runtime), endpoint, layered),
                ),
                None => route(
                    endpoint,
                    Limit::Guarded(limit),
                    crate::pipeline::EndpointService::new(runtime, endpoint, replaying),
                ),
            }
        }
        Some(runtime) => match runtime.layers.wrap(endpoint, handler) {
            Some(layered) => route(
                endpoint,
                Limit::Guarded(crate::policy::body_limit(
                    Some(endpoint),
                    runtime.config.body_limit,
                )),
                crate::pipeline::EndpointService::new(Arc::clone(&runtime), endpoint, layered),
            ),
            None => route(
                endpoint,
                Limit::Guarded(crate::policy::body_limit(
                    Some(endpoint),
                    runtime.config.body_limit,
                )),
                crate::pipeline::EndpointService::new(runtime, endpoint, handler),
            ),
        },
        // Without the runtime, the default of `ENDPOINT_BODY_LIMIT`.
        None => route(
            endpoint,
            Limit::Extractors(crate::config::DEFAULT_BODY_LIMIT),
            axum::handler::Handler::with_state(
                move |request: Request| {
                    let refused =
                        crate::pipeline::unsupported_method(endpoint, &request).or_else(|| {
                            crate::pipeline::authorize(endpoint, request.extensions())
                                .err()
                                .map(IntoResponse::into_response)
                        });
                    match refused {
                        Some(response) => Box::pin(std::future::ready(response)),
                        None => handler(request),
                    }
                },
                (),
            ),
        ),
    }
}

/// The body limit of a route, in bytes, and who enforces it.
#[derive(Clone, Copy)]
enum Limit {
    /// The pipeline enforces it on the body itself (see `body_limit`); axum's extractors are
    /// told it only when it is above their own default, which it would otherwise cut first.
    Guarded(usize),
    /// axum's extractors alone (`DefaultBodyLimit`): no pipeline runs.
    Extractors(usize),
}

/// axum's own body limit for its extractors without a `DefaultBodyLimit` (2 MiB, axum-core's
/// `DEFAULT_LIMIT`).
const AXUM_DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// `service` as the `MethodRouter` of `endpoint`'s methods, with the body limit and request
/// decompression (feature `compression`) on the service itself: a layer on the router would
/// wrap each route in a second boxed route. Bodies are read decompressed, so the pipeline's
/// body limit counts decompressed bytes, and only decompression's own 415 is put in the
/// envelope there. A guarded limit within axum's default adds no `DefaultBodyLimit`: one
/// request extension fewer (about 170 userland instructions a request, callgrind, 2026-12-02)
/// for the same answers.
fn route<S>(endpoint: &'static Endpoint, limit: Limit, service: S) -> MethodRouter
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    #[cfg(feature = "compression")]
    let service = crate::ops::compression::decompress(service);
    let service = match limit {
        Limit::Guarded(limit) if limit <= AXUM_DEFAULT_BODY_LIMIT => {
            tower::util::Either::Right(service)
        }
        Limit::Guarded(limit) | Limit::Extractors(limit) => tower::util::Either::Left(
            tower::Layer::layer(&axum::extract::DefaultBodyLimit::max(limit), service),
        ),
    };
    match endpoint.methods() {
        Methods::All => axum::routing::any_service(service),
        Methods::List(list) => {
            let filter = list
                .iter()
                .map(|m| m.filter())
                .reduce(axum::routing::MethodFilter::or)
                .unwrap_or(axum::routing::MethodFilter::GET);
            axum::routing::on_service(filter, service)
        }
    }
}

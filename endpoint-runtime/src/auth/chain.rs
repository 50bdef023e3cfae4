//! The authenticator chain: the application's authenticators, then static tokens, then JWT;
//! the first to decide wins, a credential nobody accepts is 401, no credential is anonymous.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::http::header;
use futures_util::FutureExt as _;

use super::{Accountability, Authenticator, Builtin, Outcome};
use super::{ForwardedHeader, IpNet};
use crate::error::EndpointError;

/// An identity set by the in-process test client. Extensions cannot come from the network,
/// so a remote caller can never set this.
#[derive(Debug, Clone)]
pub(crate) struct TestIdentity(pub(crate) Accountability);

/// Whether the process's test client has sent an identity ([`TestIdentity::attach`]): until
/// it has, requests are not searched for one (a lookup in every request's extensions).
static TEST_IDENTITIES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl TestIdentity {
    /// Sends `request` as `identity` (the test client only).
    pub(crate) fn attach(request: &mut Request, identity: Accountability) {
        TEST_IDENTITIES.store(true, std::sync::atomic::Ordering::Relaxed);
        request.extensions_mut().insert(TestIdentity(identity));
    }
}

/// Everything that identifies callers, shared by all requests.
pub(crate) struct Chain {
    /// The application's authenticators, run first.
    pub(crate) authenticators: Vec<Box<dyn Authenticator>>,
    /// Static tokens, then JWT, when configured.
    pub(crate) builtin: Vec<Builtin>,
    /// `ENDPOINT_TRUSTED_PROXIES`.
    pub(crate) trusted_proxies: Vec<IpNet>,
    /// `ENDPOINT_FORWARDED_HEADER`.
    pub(crate) forwarded_header: ForwardedHeader,
}

/// What an application authenticator chain resolves to: the request back and the caller, or
/// the panic of an authenticator (answered 500, as a handler's).
pub(crate) type Pending = futures_util::future::BoxFuture<
    'static,
    std::thread::Result<(Request, Result<Accountability, EndpointError>)>,
>;

/// What one authenticator's [`Outcome`] means for the chain: `None` to ask the next one.
fn decide(
    name: &'static str,
    outcome: Outcome,
    accountability: &mut Accountability,
) -> Option<Result<(), EndpointError>> {
    match outcome {
        Outcome::Skip => None,
        Outcome::Invalid(reason) => {
            tracing::warn!(authenticator = name, %reason, "credential rejected");
            Some(Err(EndpointError::invalid_credentials()))
        }
        Outcome::Authenticated(identity) => {
            if identity.user.is_empty() {
                tracing::warn!(
                    authenticator = name,
                    "authenticator returned an identity without a user"
                );
                return Some(Err(EndpointError::invalid_credentials()));
            }
            accountability.roles = identity.all_roles();
            accountability.user = Some(identity.user);
            accountability.role = accountability.roles.first().cloned();
            accountability.admin = identity.admin;
            accountability.app = identity.app;
            accountability.claims = identity.claims;
            accountability.authenticator = Some(name);
            tracing::debug!(
                authenticator = name,
                user = accountability.user.as_deref(),
                "authenticated"
            );
            Some(Ok(()))
        }
    }
}

/// Where the authenticator chain stands after the built-in part of [`Chain::identify`].
pub(crate) enum Identified {
    /// The caller, or the 401 to answer.
    Done(Result<Accountability, EndpointError>),
    /// The application's authenticators must run: an `async` chain.
    Pending(Pending),
}

impl Chain {
    /// Runs the chain: the caller's [`Accountability`], or the 401 to answer. Application
    /// authenticators see the request head as [`Parts`](axum::http::request::Parts), in a
    /// boxed future (only when there are any); the built-in ones read the headers in place.
    pub(crate) fn identify(self: &Arc<Self>, request: &mut Request) -> Identified {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let headers = request.headers();
        let header = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let accountability = Accountability {
            ip: peer.map(|peer| {
                super::client_ip::client_ip(
                    peer,
                    headers,
                    &self.trusted_proxies,
                    self.forwarded_header,
                )
            }),
            user_agent: header(header::USER_AGENT),
            origin: header(header::ORIGIN),
            ..Accountability::default()
        };
        let credentials = headers.get_all(header::AUTHORIZATION).iter().count();
        if TEST_IDENTITIES.load(std::sync::atomic::Ordering::Relaxed)
            && let Some(TestIdentity(identity)) = request.extensions_mut().remove::<TestIdentity>()
        {
            return Identified::Done(Ok(Accountability {
                ip: accountability.ip,
                user_agent: accountability.user_agent,
                origin: accountability.origin,
                ..identity
            }));
        }
        if credentials > 1 {
            tracing::warn!(
                reason = "more than one Authorization header",
                "credential rejected"
            );
            return Identified::Done(Err(EndpointError::invalid_credentials()));
        }
        if self.authenticators.is_empty() {
            return Identified::Done(builtin(
                self,
                request.headers(),
                accountability,
                credentials,
            ));
        }
        let chain = Arc::clone(self);
        let request = std::mem::take(request);
        Identified::Pending(Box::pin(
            AssertUnwindSafe(async move {
                let mut accountability = accountability;
                let (parts, body) = request.into_parts();
                let mut decided = None;
                for authenticator in &chain.authenticators {
                    let outcome = authenticator.authenticate(&parts).await;
                    decided = decide(authenticator.name(), outcome, &mut accountability);
                    if decided.is_some() {
                        break;
                    }
                }
                let request = Request::from_parts(parts, body);
                let caller = match decided {
                    Some(decided) => decided.map(|()| accountability),
                    None => builtin(&chain, request.headers(), accountability, credentials),
                };
                (request, caller)
            })
            .catch_unwind(),
        ))
    }
}

/// The rest of the chain: static tokens, then JWT; a credential nobody accepted is 401.
fn builtin(
    chain: &Chain,
    headers: &HeaderMap,
    mut accountability: Accountability,
    credentials: usize,
) -> Result<Accountability, EndpointError> {
    for authenticator in &chain.builtin {
        let outcome = authenticator.outcome(headers);
        if let Some(decided) = decide(authenticator.name(), outcome, &mut accountability) {
            return decided.map(|()| accountability);
        }
    }
    if credentials == 1 {
        tracing::warn!(
            reason = "no authenticator accepted the Authorization header",
            "credential rejected"
        );
        return Err(EndpointError::invalid_credentials());
    }
    Ok(accountability)
}

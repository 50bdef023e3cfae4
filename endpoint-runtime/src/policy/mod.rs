//! An endpoint's traffic policy at run time: its `concurrency` bound and its `rate_limit`
//! buckets (GCRA, with the `governor` crate; feature `rate-limit`), checked in the request
//! pipeline after the access check. `timeout` and `body_limit` are read where the global ones
//! are ([`timeout`], [`body_limit`]).
//!
//! A request over the rate is answered `429 TOO_MANY_REQUESTS` with `Retry-After` (seconds)
//! and the IETF headers of draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy:
//! "endpoint";q=10;w=60` (10 requests per 60 s) and `RateLimit: "endpoint";r=0;t=6` (none
//! left, 6 s until the next); admitted requests carry the same two headers with what remains.
//! A request past `concurrency` is answered `503 SERVICE_UNAVAILABLE` with `Retry-After: 1` at
//! once, never queued.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod idempotency;
#[cfg(feature = "redis")]
pub(crate) mod shared;

use crate::auth::Accountability;
use crate::error::EndpointError;
#[cfg(feature = "rate-limit")]
use crate::registry::RateKey;
use crate::registry::{Endpoint, Rate};

/// The handler timeout of `endpoint`: its `timeout`, else `default` (`ENDPOINT_REQUEST_TIMEOUT`).
pub(crate) fn timeout(endpoint: Option<&Endpoint>, default: Duration) -> Duration {
    endpoint.and_then(|e| e.policy().timeout).unwrap_or(default)
}

/// The body limit of `endpoint`: its `body_limit`, else `default` (`ENDPOINT_BODY_LIMIT`).
pub(crate) fn body_limit(endpoint: Option<&Endpoint>, default: usize) -> usize {
    endpoint
        .and_then(|e| e.policy().body_limit)
        .unwrap_or(default)
}

/// The bounds of one endpoint, shared by its requests.
pub(crate) struct Limits {
    concurrency: Option<Arc<Semaphore>>,
    #[cfg(feature = "rate-limit")]
    rate: Option<Arc<Buckets>>,
}

/// Where the rate limits' buckets live: this process, or the instances' Redis (feature
/// `redis`, `ENDPOINT_REDIS_URL`).
#[derive(Clone, Default)]
pub(crate) enum Store {
    /// In this process (`governor`).
    #[default]
    Local,
    /// In Redis, shared by every instance.
    #[cfg(feature = "redis")]
    Shared(Arc<shared::Store>),
}

/// The outcome of [`Limits::admit`]: decided at once, or after a round trip to the store.
pub(crate) enum Admission {
    /// Decided in process.
    Decided(Result<Admitted, Box<Response>>),
    /// Waiting for the shared store.
    #[cfg(feature = "redis")]
    Pending(std::pin::Pin<Box<dyn Future<Output = Result<Admitted, Box<Response>>> + Send>>),
}

/// What an admitted request holds until its response: its place under `concurrency`, and the
/// rate-limit headers to add.
pub(crate) struct Admitted {
    _permit: Option<OwnedSemaphorePermit>,
    headers: Option<[(HeaderName, HeaderValue); 2]>,
}

impl Admitted {
    /// Adds the rate-limit headers to `response`.
    pub(crate) fn mark(&mut self, response: &mut Response) {
        if let Some(headers) = self.headers.take() {
            for (name, value) in headers {
                response.headers_mut().insert(name, value);
            }
        }
    }
}

impl Limits {
    /// The limits of `endpoint` (`default_rate`: `ENDPOINT_RATE_LIMIT`, for an endpoint that
    /// states none); `None` when it has none.
    pub(crate) fn of(
        endpoint: &Endpoint,
        default_rate: Option<Rate>,
        store: &Store,
    ) -> Option<Arc<Limits>> {
        #[cfg(not(feature = "rate-limit"))]
        let _ = store;
        let policy = endpoint.policy();
        let rate = policy.rate_limit.or(default_rate);
        let concurrency = policy
            .concurrency
            .map(|n| Arc::new(Semaphore::new(n as usize)));
        if concurrency.is_none() && rate.is_none() {
            return None;
        }
        Some(Arc::new(Limits {
            concurrency,
            #[cfg(feature = "rate-limit")]
            rate: rate
                .and_then(|rate| Buckets::new(rate, endpoint, store))
                .map(Arc::new),
        }))
    }

    /// Admits the request of `who`, or answers it: 429 over the rate, 503 past the
    /// concurrency bound (or when the shared store cannot answer and
    /// `ENDPOINT_RATE_LIMIT_ON_STORE_ERROR=deny`).
    pub(crate) fn admit(self: &Arc<Self>, who: &Accountability) -> Admission {
        #[cfg(feature = "redis")]
        if let Some(buckets) = &self.rate
            && let Store::Shared(store) = &buckets.store
        {
            let (limits, buckets, store) =
                (Arc::clone(self), Arc::clone(buckets), Arc::clone(store));
            let key = key(buckets.rate.per, who);
            return Admission::Pending(Box::pin(async move {
                let headers = buckets.check_shared(&store, &key).await?;
                limits.permit(headers)
            }));
        }
        #[cfg(feature = "rate-limit")]
        let headers = match &self.rate {
            Some(buckets) => match buckets.check(who) {
                Ok(headers) => Some(headers),
                Err(refused) => return Admission::Decided(Err(refused)),
            },
            None => None,
        };
        #[cfg(not(feature = "rate-limit"))]
        let headers = {
            let _ = who;
            None
        };
        Admission::Decided(self.permit(headers))
    }

    /// The place under `concurrency`, for a request the rate admitted (`headers`: its
    /// `RateLimit` headers).
    fn permit(
        &self,
        headers: Option<[(HeaderName, HeaderValue); 2]>,
    ) -> Result<Admitted, Box<Response>> {
        let permit = match &self.concurrency {
            Some(semaphore) => match Arc::clone(semaphore).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    let mut refused = EndpointError::service_unavailable(
                        "too many requests of this endpoint at once; retry shortly",
                    )
                    .with_header(
                        axum::http::header::RETRY_AFTER,
                        HeaderValue::from_static("1"),
                    )
                    .into_response();
                    if let Some(headers) = headers {
                        refused.headers_mut().extend(headers);
                    }
                    return Err(Box::new(refused));
                }
            },
            None => None,
        };
        Ok(Admitted {
            _permit: permit,
            headers,
        })
    }
}

/// A rate-limit bucket.
#[cfg(feature = "rate-limit")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// An authenticated caller (`per = user`).
    User(String),
    /// A client IP (an IPv6 address's /64 network, see `network`); `None` when the request has
    /// no peer address (served in process): one bucket for all of those.
    Ip(Option<std::net::IpAddr>),
    /// Everyone (`per = global`).
    Global,
}

/// The bucket `who` draws from under `per`: the user for an authenticated caller (`per =
/// user`), else the client IP; one for everyone under `per = global`. The client IP is the
/// accountability's, which a forwarding header sets only when the peer is a trusted proxy.
#[cfg(feature = "rate-limit")]
pub(crate) fn key(per: RateKey, who: &Accountability) -> Key {
    match (per, &who.user) {
        (RateKey::Global, _) => Key::Global,
        (RateKey::User, Some(user)) => Key::User(user.clone()),
        (RateKey::User | RateKey::Ip, _) => Key::Ip(who.ip.map(network)),
    }
}

/// The address a per-IP bucket is keyed by: an IPv4 address as it is, an IPv6 address's /64
/// network (one subscriber's allocation: a client with a /64 could otherwise take a fresh
/// bucket, and a fresh key in Redis, for every request).
#[cfg(feature = "rate-limit")]
fn network(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V4(_) => ip,
        std::net::IpAddr::V6(v6) => {
            std::net::IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into())
        }
    }
}

#[cfg(feature = "rate-limit")]
type Limiter = governor::RateLimiter<
    Key,
    // foldhash rather than SipHash for the lookup every request makes: the keys are a user id
    // the authenticator vouched for, or an address.
    governor::state::keyed::DashMapStateStore<Key, foldhash::fast::RandomState>,
    governor::clock::DefaultClock,
    governor::middleware::StateInformationMiddleware,
>;

/// One endpoint's rate-limit buckets.
#[cfg(feature = "rate-limit")]
struct Buckets {
    rate: Rate,
    /// The endpoint's route template, the metric's label.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    route: String,
    limiter: Limiter,
    policy: HeaderValue,
    /// Checks since buckets were last swept of keys that are full again.
    checks: std::sync::atomic::AtomicU32,
    /// Where the buckets live; in Redis, `prefix` starts each bucket's key.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    store: Store,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    prefix: String,
}

/// How many checks between two sweeps of the buckets that are full again (governor keeps a
/// key until swept): memory stays bounded by the callers of the last few thousand requests.
#[cfg(feature = "rate-limit")]
const SWEEP_EVERY: u32 = 4096;

#[cfg(feature = "rate-limit")]
impl Buckets {
    fn new(rate: Rate, endpoint: &Endpoint, store: &Store) -> Option<Self> {
        let route = endpoint.path();
        use std::num::NonZeroU32;
        let requests = NonZeroU32::new(rate.requests)?;
        let quota =
            governor::Quota::with_period(rate.period / rate.requests)?.allow_burst(requests);
        let policy = HeaderValue::from_str(&format!(
            "\"endpoint\";q={};w={}",
            rate.requests,
            rate.period.as_secs().max(1)
        ))
        .ok()?;
        // The same in every instance of the application, and different for each endpoint:
        // methods, route template and handler with its module.
        let prefix = format!(
            "endpoint:ratelimit:{} {route} {}::{}:",
            endpoint.methods(),
            endpoint.module_path(),
            endpoint.handler()
        );
        Some(Buckets {
            rate,
            limiter: governor::RateLimiter::dashmap_with_hasher(
                quota,
                foldhash::fast::RandomState::default(),
            )
            .with_middleware::<governor::middleware::StateInformationMiddleware>(),
            policy,
            checks: std::sync::atomic::AtomicU32::new(0),
            store: store.clone(),
            prefix,
            route,
        })
    }

    /// One GCRA step for `who`'s bucket: the headers to add, or the 429.
    fn check(&self, who: &Accountability) -> Result<[(HeaderName, HeaderValue); 2], Box<Response>> {
        use governor::clock::Clock as _;
        if self
            .checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(&key(self.rate.per, who)) {
            Ok(snapshot) => Ok(self.admitted(snapshot.remaining_burst_capacity())),
            Err(not_until) => {
                Err(self.refused(not_until.wait_time_from(self.limiter.clock().now())))
            }
        }
    }

    /// One GCRA step for the bucket of `key` in the shared store: the headers to add (none
    /// when the store did not answer and the policy admits), or the 429 (or the 503 when it
    /// did not answer and the policy refuses).
    #[cfg(feature = "redis")]
    async fn check_shared(
        &self,
        store: &shared::Store,
        key: &Key,
    ) -> Result<Option<[(HeaderName, HeaderValue); 2]>, Box<Response>> {
        let bucket = match key {
            Key::User(user) => format!("{}user:{user}", self.prefix),
            Key::Ip(Some(ip)) => format!("{}ip:{ip}", self.prefix),
            Key::Ip(None) => format!("{}ip:-", self.prefix),
            Key::Global => format!("{}global", self.prefix),
        };
        match store.step(&bucket, self.rate).await {
            Ok(shared::Step::Admitted { remaining }) => Ok(Some(self.admitted(remaining))),
            Ok(shared::Step::Refused { wait }) => Err(self.refused(wait)),
            Err(crate::config::StoreErrorPolicy::Allow) => Ok(None),
            Err(crate::config::StoreErrorPolicy::Deny) => Err(Box::new(
                EndpointError::service_unavailable(
                    "the rate limit cannot be checked now; retry shortly",
                )
                .with_header(
                    axum::http::header::RETRY_AFTER,
                    HeaderValue::from_static("1"),
                )
                .into_response(),
            )),
        }
    }

    /// The `RateLimit-Policy` and `RateLimit` headers of an admitted request, with `remaining`
    /// more admissible now; the reset is the seconds until the bucket is full again.
    fn admitted(&self, remaining: u32) -> [(HeaderName, HeaderValue); 2] {
        let used = self.rate.requests.saturating_sub(remaining);
        let reset = (self.rate.period.as_secs_f64() * f64::from(used)
            / f64::from(self.rate.requests))
        .ceil() as u64;
        [
            (POLICY_HEADER, self.policy.clone()),
            (STATE_HEADER, state_header_value(remaining, reset)),
        ]
    }

    /// The 429 of a request over the rate, admissible again after `wait` (at least 1 s in
    /// `Retry-After`), counted in `endpoint_rate_limited_total`.
    fn refused(&self, wait: Duration) -> Box<Response> {
        #[cfg(feature = "metrics")]
        metrics::counter!("endpoint_rate_limited_total", "http_route" => self.route.clone())
            .increment(1);
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let seconds = seconds.max(1);
        let mut refused = EndpointError::too_many_requests(format!(
            "over the rate of {}; retry in {seconds}s",
            self.rate
        ))
        .with_header(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds))
        .into_response();
        refused.headers_mut().extend([
            (POLICY_HEADER, self.policy.clone()),
            (STATE_HEADER, state_header_value(0, seconds)),
        ]);
        Box::new(refused)
    }
}

// Made at compile time: `from_static` at run time checked each name again (about 230
// instructions per request for the two).
#[cfg(feature = "rate-limit")]
const POLICY_HEADER: HeaderName = HeaderName::from_static("ratelimit-policy");
#[cfg(feature = "rate-limit")]
const STATE_HEADER: HeaderName = HeaderName::from_static("ratelimit");

/// `"endpoint";r=3;t=20`: the `RateLimit` header's value, written on the stack with `itoa`
/// and copied once. `write!` into a `String` cost about 850 instructions per request, a
/// quarter of what a rate limit adds (`python3 bench/run.py policy --instructions`, 2026-12-02);
/// this costs about 200.
#[cfg(feature = "rate-limit")]
fn state_header_value(remaining: u32, reset: u64) -> HeaderValue {
    const PREFIX: &[u8] = b"\"endpoint\";r=";
    // The prefix, `;t=`, and at most 10 and 20 digits.
    let mut text = [0u8; PREFIX.len() + 3 + 10 + 20];
    let mut len = 0;
    for piece in [
        PREFIX,
        itoa::Buffer::new().format(remaining).as_bytes(),
        b";t=",
        itoa::Buffer::new().format(reset).as_bytes(),
    ] {
        text[len..len + piece.len()].copy_from_slice(piece);
        len += piece.len();
    }
    HeaderValue::from_bytes(&text[..len])
        .unwrap_or_else(|_| HeaderValue::from_static("\"endpoint\""))
}

#[cfg(all(test, feature = "rate-limit"))]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::auth::{ForwardedHeader, IpNet};

    #[test]
    fn a_forged_forwarding_header_from_an_untrusted_peer_does_not_get_a_fresh_bucket() {
        let peer: IpAddr = "203.0.113.7".parse().unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.99"));
        let untrusted: Vec<IpNet> = Vec::new();
        let who = Accountability {
            ip: Some(crate::auth::client_ip(
                peer,
                &headers,
                &untrusted,
                ForwardedHeader::XForwardedFor,
            )),
            ..Accountability::default()
        };
        assert_eq!(key(RateKey::Ip, &who), Key::Ip(Some(peer)));
        assert_eq!(key(RateKey::User, &who), Key::Ip(Some(peer)));
        // From a trusted proxy, the header names the client.
        let trusted: Vec<IpNet> = vec!["203.0.113.0/24".parse().unwrap()];
        let via_proxy = Accountability {
            ip: Some(crate::auth::client_ip(
                peer,
                &headers,
                &trusted,
                ForwardedHeader::XForwardedFor,
            )),
            ..Accountability::default()
        };
        assert_eq!(
            key(RateKey::Ip, &via_proxy),
            Key::Ip(Some("198.51.100.99".parse().unwrap()))
        );
    }

    #[test]
    fn the_ratelimit_header_says_what_remains_and_when_it_is_full() {
        assert_eq!(state_header_value(3, 20), "\"endpoint\";r=3;t=20");
        assert_eq!(
            state_header_value(u32::MAX, u64::MAX),
            format!("\"endpoint\";r={};t={}", u32::MAX, u64::MAX).as_str()
        );
    }

    #[test]
    fn authenticated_callers_have_their_own_bucket_unless_per_ip_or_global() {
        let ann = Accountability {
            user: Some("ann".into()),
            ip: Some("192.0.2.1".parse().unwrap()),
            ..Accountability::default()
        };
        assert_eq!(key(RateKey::User, &ann), Key::User("ann".into()));
        assert_eq!(
            key(RateKey::Ip, &ann),
            Key::Ip(Some("192.0.2.1".parse().unwrap()))
        );
        assert_eq!(key(RateKey::Global, &ann), Key::Global);
    }

    #[test]
    fn ipv6_callers_are_keyed_by_their_64_network() {
        let at = |ip: &str| Accountability {
            ip: Some(ip.parse().unwrap()),
            ..Accountability::default()
        };
        let network = Key::Ip(Some("2001:db8:1:2::".parse().unwrap()));
        assert_eq!(key(RateKey::Ip, &at("2001:db8:1:2::1")), network);
        assert_eq!(key(RateKey::Ip, &at("2001:db8:1:2:ffff:1:2:3")), network);
        assert_ne!(key(RateKey::Ip, &at("2001:db8:1:3::1")), network);
        assert_eq!(
            key(RateKey::Ip, &at("203.0.113.7")),
            Key::Ip(Some("203.0.113.7".parse().unwrap()))
        );
    }
}

//! The server's outbound client for confined endpoints: exact origin match, no redirects,
//! addresses checked at connect time, bounded size, time and count.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, Request};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

use super::{HostError, HostResponse};

/// Requests per confined call.
pub(crate) const MAX_REQUESTS: u32 = 8;
/// The largest response body a confined call receives.
pub(crate) const MAX_RESPONSE: usize = 1024 * 1024;
/// How long one outbound request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Headers a confined handler cannot set.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// An origin as compared: scheme, host (lower case, IDNA, no trailing dot) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: String,
    host: url::Host<String>,
    port: u16,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The origin of `url`, refusing what cannot be one of ours (user info, other schemes).
pub(crate) fn origin_of(url: &url::Url) -> Result<Origin, String> {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(format!("the scheme `{scheme}` is not http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a URL with user info (`user@`) is refused".into());
    }
    let host = match url.host() {
        Some(url::Host::Domain(domain)) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            if domain.is_empty() {
                return Err("the URL has an empty host".into());
            }
            url::Host::Domain(domain)
        }
        Some(url::Host::Ipv4(ip)) => url::Host::Ipv4(ip),
        Some(url::Host::Ipv6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => url::Host::Ipv4(v4),
            None => url::Host::Ipv6(ip),
        },
        None => return Err("the URL has no host".into()),
    };
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    Ok(Origin {
        scheme: scheme.to_string(),
        host,
        port,
    })
}

/// Why an address may not be reached, if it may not: loopback, private, link-local (cloud
/// metadata), unique-local, shared, multicast, unspecified, reserved, documentation, and the
/// IPv6 forms embedding such an IPv4 address.
pub(crate) fn blocked(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return blocked_v4(v4);
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("unique-local (private)")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if (s[0] & 0xff00) == 0xff00 {
                Some("multicast")
            } else if s[0] == 0x64 && s[1] == 0xff9b {
                // NAT64: the embedded IPv4 address decides.
                blocked_v4(Ipv4Addr::from(((u32::from(s[6])) << 16) | u32::from(s[7])))
            } else if s[0] == 0x2002 {
                // 6to4: the embedded IPv4 address decides.
                blocked_v4(Ipv4Addr::from(((u32::from(s[1])) << 16) | u32::from(s[2])))
            } else if s[..6] == [0, 0, 0, 0, 0, 0] {
                Some("IPv4-compatible (deprecated)")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("documentation")
            } else {
                None
            }
        }
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local (cloud metadata)")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("multicast, broadcast or reserved")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if a == 192 && b == 0 && c == 0 {
        Some("IETF protocol assignments")
    } else if a == 198 && (18..20).contains(&b) {
        Some("benchmarking")
    } else if ip.is_documentation() {
        Some("documentation")
    } else {
        None
    }
}

/// Resolves names for the outbound client, refusing any name with a blocked address: the
/// addresses checked are the ones connected to, so a DNS answer cannot change in between.
#[derive(Clone)]
struct GuardedResolver;

type Resolving =
    Pin<Box<dyn Future<Output = std::io::Result<std::vec::IntoIter<SocketAddr>>> + Send>>;

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Resolving;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(std::io::Error::other(format!("`{host}` has no address")));
            }
            for addr in &addrs {
                if let Some(reason) = blocked(addr.ip()) {
                    return Err(std::io::Error::other(format!(
                        "`{host}` resolves to {} ({reason}), which confined endpoints may not reach",
                        addr.ip()
                    )));
                }
            }
            Ok(addrs.into_iter())
        })
    }
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector<GuardedResolver>>;

/// The outbound client, one per pool.
pub(crate) struct Outbound {
    client: Client<Connector, Full<Bytes>>,
}

impl Outbound {
    pub(crate) fn new() -> Result<Self, String> {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver);
        http.enforce_http(false);
        http.set_connect_timeout(Some(REQUEST_TIMEOUT));
        // ring as the crypto provider of this client only (no process-wide default), and the
        // system's root certificates.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Outbound { client })
    }

    /// Sends one request for a confined handler whose declared origins are `declared`.
    pub(crate) async fn send(
        &self,
        declared: &[&str],
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HostResponse, HostError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| HostError::Refused(format!("`{url}` is not an absolute URL: {e}")))?;
        let origin = origin_of(&parsed).map_err(HostError::Refused)?;
        let allowed = declared.iter().any(|d| {
            url::Url::parse(d)
                .ok()
                .and_then(|d| origin_of(&d).ok())
                .is_some_and(|d| d == origin)
        });
        if !allowed {
            return Err(HostError::Undeclared(format!(
                "{origin} is not a declared origin (declared: {})",
                declared.join(", ")
            )));
        }
        // An address written in the URL (any numeric form) is not resolved: it equals the
        // declared origin's address, so the declaration names it. A name is resolved by
        // `GuardedResolver`, which refuses internal addresses.
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| HostError::Refused(format!("`{method}` is not an HTTP method")))?;
        let mut request = Request::builder().method(method).uri(parsed.as_str());
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            if FORBIDDEN_HEADERS.contains(&lower.as_str()) {
                return Err(HostError::Refused(format!(
                    "the header `{name}` is set by the server"
                )));
            }
            request = request.header(name.as_str(), value.as_str());
        }
        #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
        let mut request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| HostError::Refused(format!("invalid request: {e}")))?;
        // The call is a `client` span of the request's trace, and carries its `traceparent`.
        #[cfg(feature = "otel")]
        let span = if crate::otel::enabled() {
            let method = crate::registry::method_label(request.method());
            let span = tracing::info_span!(
                "outbound",
                otel.name = crate::otel::span_name(method, None).as_str(),
                otel.kind = "client",
                http.request.method = method,
                server.address = parsed.host_str(),
                server.port = parsed.port_or_known_default(),
                url.full = redacted(&parsed).as_str(),
            );
            crate::otel::inject(&span, request.headers_mut());
            span
        } else {
            tracing::Span::none()
        };
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| HostError::Failed(describe(&e)))?;
            let status = response.status().as_u16();
            #[cfg(feature = "otel")]
            crate::otel::answered(&span, status, crate::otel::Side::Client);
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = Limited::new(response.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map_err(|e| {
                    HostError::Failed(format!(
                        "reading the response failed ({e}); at most {MAX_RESPONSE} bytes are read"
                    ))
                })?
                .to_bytes()
                .to_vec();
            Ok(HostResponse {
                status,
                headers,
                body,
            })
        };
        let exchange = tokio::time::timeout(REQUEST_TIMEOUT, exchange);
        #[cfg(feature = "otel")]
        let exchange = tracing::Instrument::instrument(exchange, span.clone());
        let outcome = exchange.await.unwrap_or_else(|_| {
            Err(HostError::Failed(format!(
                "no complete response within {REQUEST_TIMEOUT:?}"
            )))
        });
        #[cfg(feature = "otel")]
        if let Err(HostError::Failed(reason)) = &outcome {
            crate::otel::failed(&span, reason);
        }
        outcome
    }
}

/// `url` as a trace may show it: no user name, password, query or fragment (OpenTelemetry's
/// `url.full` must not carry credentials, and a query often does).
#[cfg(feature = "otel")]
fn redacted(url: &url::Url) -> url::Url {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// An error with its sources, which say why (a refused address, a timeout).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Result<Origin, String> {
        origin_of(&url::Url::parse(url).map_err(|e| e.to_string())?)
    }

    #[test]
    fn origins_are_normalized_before_comparing() {
        let declared = origin("https://api.example.com").unwrap();
        assert_eq!(origin("https://API.Example.COM/v1?x").unwrap(), declared);
        assert_eq!(origin("https://api.example.com.:443/").unwrap(), declared);
        assert_ne!(
            origin("http://api.example.com").unwrap(),
            declared,
            "scheme"
        );
        assert_ne!(
            origin("https://api.example.com:8443").unwrap(),
            declared,
            "port"
        );
        assert!(
            origin("https://api.example.com@evil.test/").is_err(),
            "user info"
        );
        assert!(
            origin("https://user:pw@api.example.com/").is_err(),
            "user info"
        );
        assert!(origin("ftp://api.example.com/").is_err());
        // Numeric IPv4 forms are one address.
        let loopback = origin("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            origin("http://2130706433:8080").unwrap(),
            loopback,
            "decimal"
        );
        assert_eq!(origin("http://0177.0.0.1:8080").unwrap(), loopback, "octal");
        assert_eq!(
            origin("http://[::ffff:127.0.0.1]:8080").unwrap(),
            loopback,
            "mapped"
        );
        // IDNA.
        assert_eq!(
            origin("https://bücher.example").unwrap(),
            origin("https://xn--bcher-kva.example").unwrap()
        );
    }

    #[test]
    fn internal_addresses_are_blocked() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
        ] {
            assert!(blocked(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
        ] {
            assert!(blocked(ip.parse().unwrap()).is_none(), "{ip}");
        }
    }
}

//! The client's address: the socket peer, or what a trusted proxy says in the configured
//! forwarding header (`ENDPOINT_TRUSTED_PROXIES`, `ENDPOINT_FORWARDED_HEADER`).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use axum::http::header;

pub use ipnet::IpNet;

use crate::env::{ConfigError, Env, chosen};

/// The header a trusted proxy names the client in (`ENDPOINT_FORWARDED_HEADER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, ...` (the default: what nginx, HAProxy, AWS and GCP
    /// load balancers send).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client;proto=https, for=proxy1` (RFC 7239 §5.2).
    Forwarded,
}

impl ForwardedHeader {
    /// `ENDPOINT_FORWARDED_HEADER`: `x-forwarded-for` (the default) or `forwarded`.
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Option<Self>, ConfigError> {
        chosen(
            env,
            "ENDPOINT_FORWARDED_HEADER",
            &[
                ("x-forwarded-for", ForwardedHeader::XForwardedFor),
                ("forwarded", ForwardedHeader::Forwarded),
            ],
            "`x-forwarded-for` or `forwarded` (RFC 7239)",
        )
    }
}

/// `ENDPOINT_TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges; none by default.
pub(crate) fn trusted_proxies_from_env(env: &Env<'_>) -> Result<Option<Vec<IpNet>>, ConfigError> {
    let Some((name, value)) = env.get("ENDPOINT_TRUSTED_PROXIES") else {
        return Ok(None);
    };
    match parse_proxies(&value) {
        Some(proxies) => Ok(Some(proxies)),
        None => Err(ConfigError {
            variable: name,
            value,
            expected: "comma-separated IP addresses or CIDR ranges, such as `10.0.0.0/8, 127.0.0.1`",
        }),
    }
}

fn parse_proxies(value: &str) -> Option<Vec<IpNet>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .ok()
                .or_else(|| item.parse::<IpAddr>().ok().map(IpNet::from))
        })
        .collect()
}

/// Whether `peer` is one of the `trusted` proxies (`ENDPOINT_TRUSTED_PROXIES`), whose
/// forwarding and trace headers are believed.
pub(crate) fn is_trusted_proxy(peer: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&peer))
}

/// The client address: the socket peer, unless the peer is a trusted proxy, in which case the
/// right-most address of the configured forwarding header (`X-Forwarded-For`, or the `for=`
/// parameters of RFC 7239 `Forwarded`; see [`ForwardedHeader`]) that is not itself a trusted
/// proxy. The other header is never read: not merged, not a fallback. A chosen header that is
/// absent or unparseable is ignored (the peer is kept).
pub(crate) fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    which: ForwardedHeader,
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| is_trusted_proxy(*ip, trusted);
    if !is_trusted(&peer) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    match which {
        ForwardedHeader::XForwardedFor => {
            for item in headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
            {
                match parse_node(item) {
                    Some(ip) => chain.push(ip),
                    None => return peer,
                }
            }
        }
        ForwardedHeader::Forwarded => {
            for element in headers
                .get_all(header::FORWARDED)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
            {
                let node = element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(key, _)| key.trim().eq_ignore_ascii_case("for"));
                if let Some((_, node)) = node {
                    match parse_node(node) {
                        Some(ip) => chain.push(ip),
                        None => return peer,
                    }
                }
            }
        }
    }
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(chain.first())
        .copied()
        .unwrap_or(peer)
}

/// Parses `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]:80`, `"[2001:db8::1]"` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn parts(headers: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn forwarded_addresses_only_from_trusted_peers() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let xff = parts(&[("x-forwarded-for", "198.51.100.7, 10.0.0.5")]);
        assert_eq!(client_ip(stranger, &xff, &trusted, XFF), stranger);
        assert_eq!(
            client_ip(proxy, &xff, &trusted, XFF),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // A client cannot hide behind a spoofed left-most entry: the right-most untrusted wins.
        let spoofed = parts(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7")]);
        assert_eq!(
            client_ip(proxy, &spoofed, &trusted, XFF),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let forwarded = parts(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(
            client_ip(proxy, &forwarded, &trusted, FORWARDED),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        let garbage = parts(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(client_ip(proxy, &garbage, &trusted, XFF), proxy);
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FORWARDED: ForwardedHeader = ForwardedHeader::Forwarded;

    #[test]
    fn only_the_configured_forwarding_header_is_read() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        // A proxy that sets one header while the client forged the other: whichever is
        // configured wins, the other is neither merged nor consulted.
        let both = parts(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=203.0.113.9;proto=https"),
        ]);
        assert_eq!(client_ip(proxy, &both, &trusted, XFF), ip("198.51.100.7"));
        assert_eq!(
            client_ip(proxy, &both, &trusted, FORWARDED),
            ip("203.0.113.9")
        );
        // Only the other header present: the peer, not a fallback to it.
        let only_forwarded = parts(&[("forwarded", "for=203.0.113.9")]);
        assert_eq!(client_ip(proxy, &only_forwarded, &trusted, XFF), proxy);
        let only_xff = parts(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(client_ip(proxy, &only_xff, &trusted, FORWARDED), proxy);
        // RFC 7239 chains, in several header lines and elements: the right-most untrusted.
        let chain = parts(&[
            ("forwarded", "for=192.0.2.60;proto=http, for=198.51.100.17"),
            ("forwarded", "for=\"10.0.0.5:8080\""),
        ]);
        assert_eq!(
            client_ip(proxy, &chain, &trusted, FORWARDED),
            ip("198.51.100.17")
        );
        // An unparseable chosen header keeps the peer, even when the other one would parse.
        let bad_forwarded = parts(&[
            ("forwarded", "for=unknown"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(client_ip(proxy, &bad_forwarded, &trusted, FORWARDED), proxy);
        // An untrusted peer is itself the client, whatever it sends.
        let stranger = ip("203.0.113.50");
        assert_eq!(client_ip(stranger, &both, &trusted, FORWARDED), stranger);
    }
}

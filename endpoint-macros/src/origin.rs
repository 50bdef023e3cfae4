//! The URL-origin grammar of `capabilities(request = [...])`, checked at compile time.
//!
//! An origin is `http://` or `https://`, then a host, then an optional `:port`, and nothing
//! else: no user info, path, query or fragment. The host is an ASCII DNS name (a non-ASCII
//! name is written in its punycode form), an IPv4 address, or an IPv6 address in brackets; the
//! port is a number from 1 to 65535. Pure string code, so it is unit-tested without a compiler.

/// Checks `value` against the grammar and returns it normalized: the scheme and host in lower
/// case, the host without its trailing dot, the port without leading zeros.
pub(crate) fn parse(value: &str) -> Result<String, String> {
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(format!(
            "`{value}` is not an origin: write `https://host` or `http://host:port`"
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "`{value}`: only `http` and `https` origins can be requested"
        ));
    }
    if rest.contains('@') {
        return Err(format!(
            "`{value}`: an origin has no user info (`user@`); credentials go in headers"
        ));
    }
    if let Some(position) = rest.find(['/', '?', '#']) {
        let extra = &rest[position..];
        return Err(format!(
            "`{value}`: an origin is scheme, host and port only; remove `{extra}`"
        ));
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let Some((address, after)) = inner.split_once(']') else {
            return Err(format!("`{value}`: unclosed `[` in an IPv6 address"));
        };
        if address.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{value}`: `{address}` is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(format!("`{value}`: expected `:port` after `]`")),
            },
        };
        (format!("[{}]", address.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        if !host.is_ascii() {
            return Err(format!(
                "`{value}`: write the host in ASCII (its punycode form, `xn--...`)"
            ));
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let valid = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(format!(
                "`{value}`: `{host}` is not a host name or IPv4 address"
            ));
        }
        (host, port)
    };
    let port = match port {
        None => String::new(),
        Some(port) => match port.parse::<u16>() {
            Ok(number) if number > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {
                format!(":{number}")
            }
            _ => return Err(format!("`{value}`: `{port}` is not a port from 1 to 65535")),
        },
    };
    Ok(format!("{scheme}://{host}{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_and_normalized() {
        assert_eq!(
            parse("HTTPS://API.Example.com.").unwrap(),
            "https://api.example.com"
        );
        assert_eq!(
            parse("http://127.0.0.1:3299").unwrap(),
            "http://127.0.0.1:3299"
        );
        assert_eq!(parse("http://[::1]:80").unwrap(), "http://[::1]:80");
        for bad in [
            "https://api.example.com/",
            "https://a@b.example",
            "https://example.com?q",
            "https://example.com#f",
            "ws://example.com",
            "https://bücher.example",
            "https://example.com:0",
            "https://example.com:99999",
            "https://exa mple.com",
            "https://",
            "http://[::1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

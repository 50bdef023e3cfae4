//! The traffic policy of one endpoint: `timeout`, `body_limit`, `concurrency`, `rate_limit`
//! and `per`, each checked here at its token so a bad value never reaches the runtime.

use syn::{Ident, LitInt, LitStr};

use crate::errors::Errors;

/// Who shares a `rate_limit` bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RateKey {
    /// `per = user` (the default): the user when authenticated, else the client IP.
    User,
    /// `per = ip`: the client IP, authenticated or not.
    Ip,
    /// `per = global`: one bucket for every caller.
    Global,
}

/// The checked policy; every part `None` when not written.
#[derive(Default)]
pub(crate) struct Policy {
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) body_limit: Option<u64>,
    pub(crate) concurrency: Option<u32>,
    /// `(requests, period in seconds, key)`.
    pub(crate) rate_limit: Option<(u32, u64, RateKey)>,
    /// `idempotent`: `Idempotency-Key` replays.
    pub(crate) idempotent: bool,
}

/// What the attribute wrote.
pub(crate) struct PolicyArgs {
    pub(crate) timeout: Option<LitStr>,
    pub(crate) body_limit: Option<LitStr>,
    pub(crate) concurrency: Option<LitInt>,
    pub(crate) rate_limit: Option<LitStr>,
    pub(crate) per: Option<Ident>,
    /// `idempotent`, the flag's own token.
    pub(crate) idempotent: Option<Ident>,
}

pub(crate) fn policy(
    args: PolicyArgs,
    methods: Option<&super::Methods>,
    errors: &Errors,
) -> Policy {
    let PolicyArgs {
        timeout,
        body_limit,
        concurrency,
        rate_limit,
        per,
        idempotent,
    } = args;
    // Replays are for the methods HTTP does not make idempotent itself (RFC 9110 §9.2.2):
    // POST and PATCH, as the Idempotency-Key draft says.
    if let (Some(flag), Some(methods)) = (&idempotent, methods) {
        let others: Vec<&str> = match methods {
            super::Methods::All => vec!["all"],
            super::Methods::List(list) => list
                .iter()
                .filter(|m| !matches!(**m, "Post" | "Patch"))
                .copied()
                .collect(),
        };
        if !others.is_empty() {
            errors.spanned(
                flag,
                format!(
                    "`idempotent` replays POST and PATCH requests by their `Idempotency-Key`; \
                     this endpoint also serves `{}`: GET, HEAD, PUT, DELETE and OPTIONS are \
                     idempotent by HTTP's definition already. Write `method = post` or \
                     `method = patch`",
                    others.join("`, `").to_lowercase()
                ),
            );
        }
    }
    let key = match per.as_ref().map(|p| (p, p.to_string())) {
        None => RateKey::User,
        Some((_, text)) if text == "user" => RateKey::User,
        Some((_, text)) if text == "ip" => RateKey::Ip,
        Some((_, text)) if text == "global" => RateKey::Global,
        Some((token, text)) => {
            errors.spanned(
                token,
                format!("unknown `per = {text}`: expected `user` (the default: the user, else the client IP), `ip` or `global`"),
            );
            RateKey::User
        }
    };
    if let (Some(per), None) = (&per, &rate_limit) {
        errors.spanned(
            per,
            "`per` chooses who shares a `rate_limit` bucket: add `rate_limit = \"10/minute\"`",
        );
    }
    Policy {
        idempotent: idempotent.is_some(),
        timeout_ms: timeout.and_then(|lit| {
            let parsed = duration_ms(&lit.value());
            match parsed {
                Some(0) => {
                    errors.spanned(&lit, "a timeout of zero fails every request: write at least `\"1ms\"`");
                    None
                }
                Some(ms) => Some(ms),
                None => {
                    errors.spanned(
                        &lit,
                        format!(
                            "`{}` is not a duration: write a number and a unit, such as `\"2s\"`, `\"500ms\"`, `\"1m\"` or `\"1h\"`",
                            lit.value()
                        ),
                    );
                    None
                }
            }
        }),
        body_limit: body_limit.and_then(|lit| match size(&lit.value()) {
            Some(0) => {
                errors.spanned(&lit, "a body limit of zero refuses every body: write at least `\"1\"` (bytes) or use `method = get`");
                None
            }
            Some(bytes) => Some(bytes),
            None => {
                errors.spanned(
                    &lit,
                    format!(
                        "`{}` is not a size: write bytes, or a number and a unit, such as `\"512KiB\"`, `\"10MiB\"` or `\"1MB\"`",
                        lit.value()
                    ),
                );
                None
            }
        }),
        concurrency: concurrency.and_then(|lit| match lit.base10_parse::<u32>() {
            Ok(0) => {
                errors.spanned(&lit, "a concurrency of zero refuses every request: write at least `1`");
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                errors.spanned(&lit, "expected a number of requests at once, such as `concurrency = 16`");
                None
            }
        }),
        rate_limit: rate_limit.and_then(|lit| match rate(&lit.value()) {
            Some((0, _)) => {
                errors.spanned(&lit, "a rate of zero refuses every request: write at least `\"1/minute\"`");
                None
            }
            Some((count, seconds)) => Some((count, seconds, key)),
            None => {
                errors.spanned(
                    &lit,
                    format!(
                        "`{}` is not a rate: write requests per period, such as `\"10/minute\"`, `\"5/second\"`, `\"100/hour\"` or `\"1000/day\"`",
                        lit.value()
                    ),
                );
                None
            }
        }),
    }
}

/// `"2s"`, `"500ms"`, `"1m"`, `"1h"` in milliseconds.
fn duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// `"10MiB"`, `"512KiB"`, `"1MB"`, `"4096"` in bytes (the runtime's `ENDPOINT_BODY_LIMIT`
/// forms).
fn size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// `"10/minute"` as `(10, 60)`.
fn rate(text: &str) -> Option<(u32, u64)> {
    let (count, period) = text.trim().split_once('/')?;
    let count: u32 = count.trim().parse().ok()?;
    let seconds = match period.trim() {
        "second" | "s" | "sec" => 1,
        "minute" | "m" | "min" => 60,
        "hour" | "h" => 3_600,
        "day" | "d" => 86_400,
        _ => return None,
    };
    Some((count, seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(duration_ms("2s"), Some(2_000));
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("1m"), Some(60_000));
        assert_eq!(duration_ms("2 s"), Some(2_000));
        assert_eq!(duration_ms("2"), None);
        assert_eq!(duration_ms("fast"), None);
        assert_eq!(size("10MiB"), Some(10 << 20));
        assert_eq!(size("4096"), Some(4096));
        assert_eq!(size("1MB"), Some(1_000_000));
        assert_eq!(size("ten"), None);
        assert_eq!(rate("10/minute"), Some((10, 60)));
        assert_eq!(rate("5/second"), Some((5, 1)));
        assert_eq!(rate("10 per minute"), None);
        assert_eq!(rate("10/fortnight"), None);
    }
}

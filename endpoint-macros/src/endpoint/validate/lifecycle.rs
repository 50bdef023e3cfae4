//! An endpoint's place in the API's history: `since = "1.4"` / `until = "2.0"` (the API
//! versions that serve it, dropshot's `versions = "1.4".."2.0"`), `deprecated = "2026-06-30"`
//! (RFC 9745's `Deprecation` header) and `sunset = "2027-01-01"` (RFC 8594's `Sunset`), each
//! checked here at its token.

use syn::{Ident, LitStr};

use crate::errors::Errors;

/// What the attribute wrote.
#[derive(Default)]
pub(crate) struct LifecycleArgs {
    /// `deprecated` (its token) and its date, if written.
    pub(crate) deprecated: Option<(Ident, Option<LitStr>)>,
    pub(crate) sunset: Option<LitStr>,
    pub(crate) since: Option<LitStr>,
    pub(crate) until: Option<LitStr>,
}

/// The checked values, as written (the runtime parses them again, infallibly).
#[derive(Default)]
pub(crate) struct Lifecycle {
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
    /// `YYYY-MM-DD`.
    pub(crate) deprecated: Option<String>,
    /// `YYYY-MM-DD`.
    pub(crate) sunset: Option<String>,
}

/// `MAJOR`, `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, each a number that fits `u32`.
fn version(text: &str) -> Option<[u32; 3]> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut out = [0u32; 3];
    for (slot, part) in out.iter_mut().zip(&parts) {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    Some(out)
}

/// A calendar date `YYYY-MM-DD` (1970 to 9999), as `(year, month, day)`.
fn date(text: &str) -> Option<(u32, u32, u32)> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &text[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (year >= 1970 && (1..=days).contains(&day)).then_some((year, month, day))
}

pub(super) fn lifecycle(args: LifecycleArgs, errors: &Errors) -> Lifecycle {
    let LifecycleArgs {
        deprecated,
        sunset,
        since,
        until,
    } = args;
    let checked_version = |lit: &LitStr| -> Option<[u32; 3]> {
        let parsed = version(&lit.value());
        if parsed.is_none() {
            errors.spanned(
                lit,
                format!(
                    "`{}` is not a version: write `MAJOR`, `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, \
                     such as \"1.4\"",
                    lit.value()
                ),
            );
        }
        parsed
    };
    let since_version = since.as_ref().and_then(checked_version);
    let until_version = until.as_ref().and_then(checked_version);
    if let (Some(from), Some(to), Some(lit)) = (since_version, until_version, &until)
        && to <= from
    {
        errors.spanned(
            lit,
            format!(
                "`until` is the first version without the endpoint: it must come after `since` \
                 (\"{}\"), or no version serves it",
                since.as_ref().map(LitStr::value).unwrap_or_default()
            ),
        );
    }
    let checked_date = |lit: &LitStr, key: &str| -> Option<(u32, u32, u32)> {
        let parsed = date(&lit.value());
        if parsed.is_none() {
            errors.spanned(
                lit,
                format!(
                    "`{key}` takes a calendar date, `YYYY-MM-DD` (UTC), such as \"2026-06-30\""
                ),
            );
        }
        parsed
    };
    let deprecated_date = match &deprecated {
        None => None,
        Some((key, None)) => {
            errors.spanned(
                key,
                "write the date the endpoint is deprecated from: `deprecated = \"2026-06-30\"` \
                 (RFC 9745's `Deprecation` header carries it; a past date means \"already\")",
            );
            None
        }
        Some((_, Some(lit))) => checked_date(lit, "deprecated").map(|d| (d, lit.value())),
    };
    let sunset_date = sunset
        .as_ref()
        .and_then(|lit| checked_date(lit, "sunset").map(|d| (d, lit.value())));
    if let Some(lit) = &sunset {
        match (&deprecated, &deprecated_date, &sunset_date) {
            (None, _, _) => errors.spanned(
                lit,
                "`sunset` is when a deprecated endpoint stops answering: add \
                 `deprecated = \"YYYY-MM-DD\"` too",
            ),
            (_, Some((from, _)), Some((to, _))) if to < from => errors.spanned(
                lit,
                "`sunset` comes before `deprecated`: an endpoint is deprecated before it goes",
            ),
            _ => {}
        }
    }
    Lifecycle {
        since: since_version.and(since.map(|lit| lit.value())),
        until: until_version.and(until.map(|lit| lit.value())),
        deprecated: deprecated_date.map(|(_, text)| text),
        sunset: sunset_date.map(|(_, text)| text),
    }
}

#[cfg(test)]
mod tests {
    use super::{date, version};

    #[test]
    fn versions_and_dates() {
        assert_eq!(version("1"), Some([1, 0, 0]));
        assert_eq!(version("1.4"), Some([1, 4, 0]));
        assert_eq!(version("2.0.11"), Some([2, 0, 11]));
        for bad in ["", "1.", ".1", "v1", "1.2.3.4", "1.-2", "99999999999"] {
            assert_eq!(version(bad), None, "{bad}");
        }
        assert_eq!(date("2026-06-30"), Some((2026, 6, 30)));
        assert_eq!(date("2028-02-29"), Some((2028, 2, 29)));
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-6-30",
            "1969-12-31",
            "2026/06/30",
            "tomorrow",
        ] {
            assert_eq!(date(bad), None, "{bad}");
        }
    }
}

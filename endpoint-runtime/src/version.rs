//! The API's lifecycle: versions and deprecation. API versions (dropshot's versioned APIs,
//! selected by header as ASP.NET's API versioning does): endpoints state `since = "1.4"` / `until = "2.0"`, a request selects a version with
//! the `api-version` header (default: the newest version any endpoint names), and each routed
//! path dispatches to the endpoints that version serves. An API whose endpoints name no version
//! is not versioned: the header is ignored and nothing here runs. Deprecated endpoints'
//! answers carry RFC 9745's `Deprecation` and RFC 8594's `Sunset` ([`lifecycle_headers`]).

use std::fmt;
use std::str::FromStr;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::routing::MethodRouter;

use crate::error::EndpointError;
use crate::registry::{Endpoint, Lifecycle};

/// The request header that selects a version, and the response header that names the one
/// served.
pub const API_VERSION_HEADER: HeaderName = HeaderName::from_static("api-version");

/// A version of the API: `MAJOR`, `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, compared part by part
/// (`1.10` is after `1.9`; `2` is `2.0.0`). Displayed as `MAJOR.MINOR`, with `.PATCH` when it is
/// not 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion([u32; 3]);

impl FromStr for ApiVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let refused = || {
            format!(
                "`{text}` is not a version: write `MAJOR`, `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, \
                 such as `1.4`"
            )
        };
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() > 3 {
            return Err(refused());
        }
        let mut version = [0u32; 3];
        for (slot, part) in version.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(refused());
            }
            *slot = part.parse().map_err(|_| refused())?;
        }
        Ok(ApiVersion(version))
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [major, minor, patch] = self.0;
        if patch == 0 {
            write!(f, "{major}.{minor}")
        } else {
            write!(f, "{major}.{minor}.{patch}")
        }
    }
}

impl ApiVersion {
    /// `0.0`: the lock's name for the versions before the first one an endpoint names.
    pub(crate) const FIRST: ApiVersion = ApiVersion([0, 0, 0]);
}

/// A bound the macro checked (it parses), as a version.
fn bound(text: Option<&'static str>) -> Option<ApiVersion> {
    text.and_then(|text| text.parse().ok())
}

impl ApiVersion {
    /// The newest version `endpoints` name in a `since` or `until`; `None` when none does (the
    /// API is not versioned).
    pub fn newest(endpoints: &[&'static Endpoint]) -> Option<ApiVersion> {
        boundaries(endpoints).last().copied()
    }

    /// Whether two endpoints' version spans share a version (both served at once).
    pub(crate) fn overlap(a: &Lifecycle, b: &Lifecycle) -> bool {
        let starts_before_end = |start: Option<&'static str>, end: Option<&'static str>| match (
            bound(start),
            bound(end),
        ) {
            (Some(start), Some(end)) => start < end,
            _ => true,
        };
        starts_before_end(a.since, b.until) && starts_before_end(b.since, a.until)
    }

    /// Whether an endpoint with `lifecycle` is served at this version: `since <= self < until`.
    pub fn serves(self, lifecycle: &Lifecycle) -> bool {
        bound(lifecycle.since).is_none_or(|since| since <= self)
            && bound(lifecycle.until).is_none_or(|until| self < until)
    }

    /// The version a request selects with its `api-version` header, or `newest` without one.
    ///
    /// # Errors
    ///
    /// 400 `INVALID_API_VERSION` for a header that is not a version, 400
    /// `UNSUPPORTED_API_VERSION` for one after `newest` (naming it).
    pub fn selected(headers: &HeaderMap, newest: ApiVersion) -> Result<ApiVersion, EndpointError> {
        let Some(value) = headers.get(API_VERSION_HEADER) else {
            return Ok(newest);
        };
        let version: ApiVersion = value
            .to_str()
            .map_err(|_| "the header is not visible ASCII".to_string())
            .and_then(|text| text.trim().parse())
            .map_err(|reason| {
                EndpointError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "INVALID_API_VERSION",
                    format!("invalid `api-version` header: {reason}"),
                )
            })?;
        if version > newest {
            return Err(EndpointError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "UNSUPPORTED_API_VERSION",
                format!(
                    "this API's newest version is {newest}; `api-version: {version}` is after it"
                ),
            ));
        }
        Ok(version)
    }
}

/// Every version `endpoints` name in a `since` or `until`, in order, without repeats: where
/// the set of endpoints served changes.
pub(crate) fn boundaries(endpoints: &[&'static Endpoint]) -> Vec<ApiVersion> {
    let mut all: Vec<ApiVersion> = endpoints
        .iter()
        .flat_map(|e| [bound(e.lifecycle().since), bound(e.lifecycle().until)])
        .flatten()
        .collect();
    all.sort();
    all.dedup();
    all
}

/// One routed path's endpoints by version: the route of each span of versions between two
/// boundaries, the request's version picking its span. `routes[i]` serves versions from
/// `boundaries[i - 1]` (inclusive) to `boundaries[i]` (exclusive); `None` where no endpoint of
/// the path is served.
pub(crate) struct Spans {
    boundaries: Vec<ApiVersion>,
    routes: Vec<Option<MethodRouter>>,
}

impl Spans {
    /// Builds the spans of `endpoints` (one routed path, one suffix), each endpoint's route
    /// made by `route` once and merged into every span that serves it, then given to `finish`
    /// with whether a `method = all` endpoint is among them (its route is the fallback).
    /// Overlapping methods were refused by the routing's conflict check before.
    pub(crate) fn new(
        endpoints: &[&'static Endpoint],
        mut route: impl FnMut(&'static Endpoint) -> MethodRouter,
        finish: impl Fn(MethodRouter, bool) -> MethodRouter,
    ) -> Spans {
        let boundaries = boundaries(endpoints);
        let built: Vec<(&'static Endpoint, MethodRouter)> =
            endpoints.iter().map(|e| (*e, route(e))).collect();
        // A representative version of each span: the boundary it starts at, or, for the span
        // before the first boundary, version 0.
        let starts = std::iter::once(ApiVersion::FIRST).chain(boundaries.iter().copied());
        let routes = starts
            .map(|start| {
                let served = || {
                    built
                        .iter()
                        .filter(move |(endpoint, _)| start.serves(endpoint.lifecycle()))
                };
                let all = served().any(|(e, _)| matches!(e.methods(), crate::Methods::All));
                served()
                    .map(|(_, route)| route.clone())
                    .reduce(MethodRouter::merge)
                    .map(|merged| finish(merged, all))
            })
            .collect();
        Spans { boundaries, routes }
    }

    /// The route that serves `version`, if any endpoint of the path does.
    pub(crate) fn at(&self, version: ApiVersion) -> Option<&MethodRouter> {
        let index = self.boundaries.partition_point(|b| *b <= version);
        self.routes[index].as_ref()
    }
}

/// The response header naming the version served.
pub(crate) fn header_value(version: ApiVersion) -> HeaderValue {
    HeaderValue::from_str(&version.to_string()).unwrap_or(HeaderValue::from_static("0.0"))
}

/// Days from 1970-01-01 to the date `YYYY-MM-DD` (checked by the macro; `None` if it is not
/// one), by Howard Hinnant's `days_from_civil`.
fn days(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// The IMF-fixdate (RFC 9110 §5.6.7) of midnight UTC `days` after 1970-01-01:
/// `Wed, 30 Jun 2027 00:00:00 GMT` (the `httpdate` crate hyper uses for `Date`; a day before
/// 1970, which the macro refuses, is written as 1970-01-01).
fn http_date(days: i64) -> String {
    let seconds = u64::try_from(days).unwrap_or(0).saturating_mul(86_400);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}

/// The headers a deprecated endpoint's answers carry: `Deprecation: @<seconds>` (RFC 9745, a
/// structured-field date: midnight UTC of `deprecated`) and `Sunset: <HTTP-date>` (RFC 8594).
/// Empty for an endpoint that is not deprecated.
pub(crate) fn lifecycle_headers(lifecycle: &Lifecycle) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::new();
    if let Some(seconds) = lifecycle
        .deprecated
        .and_then(days)
        .and_then(|days| days.checked_mul(86_400))
        && let Ok(value) = HeaderValue::from_str(&format!("@{seconds}"))
    {
        headers.push((HeaderName::from_static("deprecation"), value));
    }
    if let Some(days) = lifecycle.sunset.and_then(days)
        && let Ok(value) = HeaderValue::from_str(&http_date(days))
    {
        headers.push((HeaderName::from_static("sunset"), value));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_order_and_print() {
        let v = |text: &str| text.parse::<ApiVersion>().unwrap();
        assert!(v("1.9") < v("1.10") && v("1.10") < v("2"));
        assert_eq!(v("2"), v("2.0.0"));
        assert_eq!(
            (v("2").to_string(), v("1.4.2").to_string()),
            ("2.0".into(), "1.4.2".into())
        );
        for bad in ["", "v1", "1..2", "1.2.3.4", "-1", "1.x"] {
            assert!(bad.parse::<ApiVersion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_are_half_open() {
        let lifecycle = |since, until| Lifecycle {
            since,
            until,
            ..Lifecycle::default()
        };
        let old = lifecycle(None, Some("2.0"));
        let new = lifecycle(Some("2.0"), None);
        let v = |text: &str| text.parse::<ApiVersion>().unwrap();
        assert!(v("1.9").serves(&old) && !v("1.9").serves(&new));
        assert!(!v("2.0").serves(&old) && v("2.0").serves(&new));
        assert!(!ApiVersion::overlap(&old, &new));
        assert!(ApiVersion::overlap(&old, &lifecycle(Some("1.5"), None)));
        assert!(ApiVersion::overlap(&lifecycle(None, None), &new));
    }

    #[test]
    fn deprecation_and_sunset_headers() {
        let headers = lifecycle_headers(&Lifecycle {
            deprecated: Some("2026-06-30"),
            sunset: Some("2027-06-30"),
            ..Lifecycle::default()
        });
        // 2026-06-30T00:00:00Z is 1782777600 (`date -u -d 2026-06-30 +%s`).
        assert_eq!(headers[0].1, "@1782777600");
        // 2027-06-30 is a Wednesday.
        assert_eq!(headers[1].1, "Wed, 30 Jun 2027 00:00:00 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(days("2000-02-29").unwrap()),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert!(lifecycle_headers(&Lifecycle::default()).is_empty());
    }
}

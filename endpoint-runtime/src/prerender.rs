//! Astro's static mode: endpoints marked `prerender` are called at build time and their bodies
//! written to files, by the application's `build` command or [`App::prerender`](crate::App::prerender).
//!
//! # How a build runs
//!
//! 1. The application is built as for `serve` (configuration, state, database, migrations),
//!    and each prerendered endpoint is called **in-process through the real router and
//!    middleware**, with `GET`, no credentials (anonymous accountability) and an absolute
//!    request URL whose origin is the site: `ENDPOINT_SITE` (such as `https://example.com`),
//!    else the server URL (`ENDPOINT_SERVER_URL`, else `http://<host>:<port>`). The site also
//!    becomes [`Context::server_url`](crate::Context::server_url) during the build.
//! 2. A route with parameters is called once per item of its `static_paths` function (Astro's
//!    `getStaticPaths()`), each value written into the URL with `Display` and percent-encoded.
//! 3. Every answer must be 2xx. Its body is kept byte for byte (binary bodies included).
//! 4. When every call succeeded, the files are written into a temporary directory beside the
//!    output directory, which then replaces the output directory in one rename.
//!
//! # Which file a URL becomes
//!
//! The URL's path, percent-decoded, names the file under the output directory:
//!
//! - a last segment with an extension names the file itself: `/builtwith.json` →
//!   `builtwith.json`, `/api/logo.png` → `api/logo.png`;
//! - otherwise (`/about`, `/api/users/0`, or a path ending in `/`), an HTML answer
//!   (`Content-Type: text/html`) is written to `<path>/index.html`, the layout static hosts
//!   serve at `/about`; any other answer is written to the extension-less file `<path>`
//!   (`<path>/index` for a path ending in `/`).
//!
//! A file named `.prerendered` lists the files written, one per line; it marks the directory
//! as a build's output, so the next build may replace it.
//!
//! # Failures
//!
//! The build stops, names the endpoint (handler, `file:line`, URL) and leaves no output
//! directory behind (an earlier build's output is left untouched) when: an answer is not 2xx;
//! two URLs would write the same file (or one's file is another's directory); a parameter
//! value is empty, contains `/` (outside a `{*catch_all}`), `\`, NUL, or is a `.` or `..`
//! segment, which could escape the output directory; the output directory exists and was not
//! written by a build.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use tower::ServiceExt as _;

use crate::error::Error;
use crate::registry::Endpoint;

pub use crate::registry::StaticPathsFuture;

/// The name of the file that lists a build's files and marks its output directory.
pub const MANIFEST: &str = ".prerendered";

/// One file written by a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The handler, as `module::function`.
    pub handler: String,
    /// The URL path requested, percent-encoded as sent: `/api/users/0`.
    pub url: String,
    /// The file, relative to the output directory: `api/users/0`.
    pub file: PathBuf,
    /// The body's size in bytes.
    pub bytes: usize,
}

/// What a build wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The output directory.
    pub out: PathBuf,
    /// The files written, in the order of the endpoints (by path) and their `static_paths`.
    pub files: Vec<Written>,
    /// How long the build took.
    pub elapsed: Duration,
}

impl Report {
    /// The total size of the files written, in bytes.
    pub fn bytes(&self) -> usize {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// Formats a `static_paths` value for the URL. Not public API: generated code calls it.
#[doc(hidden)]
pub fn param_text<T: Display>(value: &T) -> String {
    value.to_string()
}

/// The function named by `static_paths`, probed by generated code: sync or async. Not public
/// API.
#[doc(hidden)]
pub struct StaticPaths<F>(pub F);

/// Not public API: the traits generated code uses to call a sync or an async `static_paths`.
#[doc(hidden)]
pub mod traits {
    use std::future::Future;

    use super::StaticPaths;

    /// An `async fn` (or a function returning a future) of an iterable.
    pub trait AsyncStaticPaths {
        type Item;
        fn __endpoint_static_paths(&self) -> impl Future<Output = Vec<Self::Item>>;
    }

    impl<F, Fut, I> AsyncStaticPaths for &StaticPaths<F>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = I>,
        I: IntoIterator,
    {
        type Item = I::Item;
        fn __endpoint_static_paths(&self) -> impl Future<Output = Vec<I::Item>> {
            let future = (self.0)();
            async move { future.await.into_iter().collect() }
        }
    }

    /// A plain function returning an iterable.
    pub trait SyncStaticPaths {
        type Item;
        fn __endpoint_static_paths(&self) -> impl Future<Output = Vec<Self::Item>>;
    }

    impl<F, I> SyncStaticPaths for StaticPaths<F>
    where
        F: Fn() -> I,
        I: IntoIterator,
    {
        type Item = I::Item;
        fn __endpoint_static_paths(&self) -> impl Future<Output = Vec<I::Item>> {
            std::future::ready((self.0)().into_iter().collect())
        }
    }
}

fn handler_of(endpoint: &Endpoint) -> String {
    let module = endpoint
        .module_path()
        .split_once("::")
        .map_or("", |(_, rest)| rest);
    if module.is_empty() {
        endpoint.handler().to_string()
    } else {
        format!("{module}::{}", endpoint.handler())
    }
}

fn who(endpoint: &Endpoint) -> String {
    format!(
        "`{}` ({} at {})",
        endpoint.path(),
        handler_of(endpoint),
        endpoint.location()
    )
}

fn failure(message: String) -> Error {
    Error::prerender(message, None)
}

/// Percent-encodes one path segment: unreserved and sub-delimiter characters, `:` and `@`
/// stay (RFC 3986, `pchar`).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Checks one decoded segment of a file path: nothing that could leave the output directory
/// or name something else than a plain file or directory.
fn safe_segment(segment: &str) -> Result<(), String> {
    if segment.is_empty() {
        return Err("an empty path segment".into());
    }
    if segment == "." || segment == ".." {
        return Err(format!(
            "the segment `{segment}`, which would escape the output directory"
        ));
    }
    if segment.contains(['\\', '\0']) {
        return Err(format!(
            "the segment {segment:?}, with a backslash or NUL that could escape the output directory"
        ));
    }
    Ok(())
}

/// One URL to prerender: the URL path as sent, and its decoded segments.
struct Target {
    url: String,
    segments: Vec<String>,
    trailing_slash: bool,
}

/// The URL of `endpoint` with `values` filled in.
fn target(endpoint: &Endpoint, values: &[(&'static str, String)]) -> Result<Target, String> {
    let path = endpoint.path();
    let mut url = String::new();
    let mut segments = Vec::new();
    for raw in path.split('/').skip(1) {
        // `{name}`, `{*name}`, or `{name}.json` (a literal suffix, last segment only).
        let param = raw
            .strip_prefix('{')
            .and_then(|r| r.split_once('}'))
            .map(|(inner, suffix)| match inner.strip_prefix('*') {
                Some(name) => (name, true, suffix),
                None => (inner, false, suffix),
            });
        match param {
            None => {
                url.push('/');
                url.push_str(raw);
                if !raw.is_empty() {
                    segments.push(raw.to_string());
                }
            }
            Some((name, catch_all, suffix)) => {
                let value = values
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.as_str())
                    .ok_or_else(|| format!("`static_paths` gave no value for `{{{name}}}`"))?;
                if value.is_empty() {
                    return Err(format!(
                        "`static_paths` gave an empty value for `{{{name}}}`"
                    ));
                }
                let parts: Vec<&str> = if catch_all {
                    value.split('/').collect()
                } else {
                    if value.contains('/') {
                        return Err(format!(
                            "`static_paths` gave {value:?} for `{{{name}}}`: a `/` in a parameter \
                             would write another directory than the URL names (use `{{*{name}}}` \
                             for values spanning segments)"
                        ));
                    }
                    vec![value]
                };
                let mut encoded = Vec::new();
                for part in parts {
                    safe_segment(part).map_err(|reason| {
                        format!("`static_paths` gave {value:?} for `{{{name}}}`, with {reason}")
                    })?;
                    encoded.push(encode_segment(part));
                    segments.push(part.to_string());
                }
                url.push('/');
                url.push_str(&encoded.join("/"));
                url.push_str(suffix);
                if let Some(last) = segments.last_mut() {
                    last.push_str(suffix);
                }
            }
        }
    }
    for segment in &segments {
        safe_segment(segment).map_err(|reason| format!("the route has {reason}"))?;
    }
    if url.is_empty() {
        url.push('/');
    }
    let trailing_slash = url.ends_with('/');
    Ok(Target {
        url,
        segments,
        trailing_slash,
    })
}

/// The file a URL's answer is written to (see the module docs).
fn file_for(target: &Target, html: bool) -> PathBuf {
    let mut file: PathBuf = target.segments.iter().collect();
    let has_extension = !target.trailing_slash
        && target
            .segments
            .last()
            .and_then(|last| last.rsplit_once('.'))
            .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty());
    if has_extension {
        file
    } else if html {
        file.push("index.html");
        file
    } else if target.trailing_slash || target.segments.is_empty() {
        file.push("index");
        file
    } else {
        file
    }
}

/// Calls every endpoint in `endpoints` marked `prerender` through `router`, then writes the
/// files into `out`. `on_file` is told of each answer as it arrives.
pub(crate) async fn build(
    router: Router,
    endpoints: &[&'static Endpoint],
    site: &str,
    out: &Path,
    on_file: &mut dyn FnMut(&Written),
) -> Result<Report, Error> {
    let started = Instant::now();
    check_output(out)?;
    let (scheme, authority) = site.split_once("://").unwrap_or(("http", site));
    // The files, by path, with the endpoint that writes each (for conflict messages).
    let mut files: BTreeMap<PathBuf, (&'static Endpoint, String, axum::body::Bytes)> =
        BTreeMap::new();
    let mut written = Vec::new();
    for endpoint in endpoints.iter().copied().filter(|e| e.prerender()) {
        let value_sets = match endpoint.static_paths().await {
            Some(sets) => sets,
            None if endpoint.params().is_empty() => vec![Vec::new()],
            None => {
                return Err(failure(format!(
                    "{}: the route has parameters but no `static_paths`",
                    who(endpoint)
                )));
            }
        };
        for values in value_sets {
            let target = target(endpoint, &values)
                .map_err(|reason| failure(format!("{}: {reason}", who(endpoint))))?;
            let request = Request::get(format!("{scheme}://{authority}{}", target.url))
                .header(header::HOST, authority)
                .body(Body::empty())
                .map_err(|e| {
                    failure(format!(
                        "{}: the URL `{}` is not valid: {e}",
                        who(endpoint),
                        target.url
                    ))
                })?;
            let response = match router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let status = response.status();
            let html = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map_err(|e| {
                    failure(format!(
                        "{}: GET {} failed while reading the body: {e}",
                        who(endpoint),
                        target.url
                    ))
                })?;
            if !status.is_success() {
                let excerpt: String = String::from_utf8_lossy(&body).chars().take(300).collect();
                return Err(failure(format!(
                    "{}: GET {} answered {status}, not 2xx: {excerpt}",
                    who(endpoint),
                    target.url
                )));
            }
            let file = file_for(&target, html);
            if let Some((other, other_url, _)) = files.get(&file) {
                return Err(failure(format!(
                    "{}: GET {} would write `{}`, which GET {other_url} of {} writes too",
                    who(endpoint),
                    target.url,
                    file.display(),
                    who(other)
                )));
            }
            // A file cannot also be a directory of another file.
            for (existing, (other, other_url, _)) in &files {
                if existing.starts_with(&file) || file.starts_with(existing) {
                    return Err(failure(format!(
                        "{}: GET {} would write `{}`, but GET {other_url} of {} writes `{}`: one \
                         would have to be both a file and a directory",
                        who(endpoint),
                        target.url,
                        file.display(),
                        who(other),
                        existing.display()
                    )));
                }
            }
            let entry = Written {
                handler: handler_of(endpoint),
                url: target.url.clone(),
                file: file.clone(),
                bytes: body.len(),
            };
            on_file(&entry);
            written.push(entry);
            files.insert(file, (endpoint, target.url, body));
        }
    }
    let contents: Vec<(&PathBuf, &axum::body::Bytes)> = files
        .iter()
        .map(|(path, (_, _, body))| (path, body))
        .collect();
    write_output(out, &contents).map_err(|e| {
        Error::prerender(
            format!("writing the output directory `{}` failed", out.display()),
            Some(e),
        )
    })?;
    Ok(Report {
        out: out.to_path_buf(),
        files: written,
        elapsed: started.elapsed(),
    })
}

/// An existing output directory may be replaced only if it is empty or a build wrote it.
fn check_output(out: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(out) {
        Err(_) => Ok(()),
        Ok(meta) if !meta.is_dir() => Err(failure(format!(
            "the output path `{}` exists and is not a directory",
            out.display()
        ))),
        Ok(_) => {
            let empty = std::fs::read_dir(out)
                .map(|mut entries| entries.next().is_none())
                .unwrap_or(false);
            if empty || out.join(MANIFEST).is_file() {
                Ok(())
            } else {
                Err(failure(format!(
                    "the output directory `{}` exists and was not written by a build (it has no \
                     `{MANIFEST}` file): remove it or choose another `--out`",
                    out.display()
                )))
            }
        }
    }
}

/// Writes `files` into a temporary directory beside `out`, then puts it in `out`'s place.
fn write_output(out: &Path, files: &[(&PathBuf, &axum::body::Bytes)]) -> std::io::Result<()> {
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dist".into());
    let pid = std::process::id();
    let temporary = parent.join(format!(".{name}.building-{pid}"));
    let previous = parent.join(format!(".{name}.previous-{pid}"));
    let _ = std::fs::remove_dir_all(&temporary);
    let result = (|| {
        std::fs::create_dir(&temporary)?;
        let mut manifest = String::new();
        for (path, body) in files {
            let file = temporary.join(path);
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&file, body)?;
            manifest.push_str(&path.to_string_lossy());
            manifest.push('\n');
        }
        std::fs::write(temporary.join(MANIFEST), manifest)?;
        let replaced = out.exists();
        if replaced {
            std::fs::rename(out, &previous)?;
        }
        if let Err(error) = std::fs::rename(&temporary, out) {
            if replaced {
                let _ = std::fs::rename(&previous, out);
            }
            return Err(error);
        }
        if replaced {
            std::fs::remove_dir_all(&previous)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str) -> Target {
        let segments: Vec<String> = url
            .split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        Target {
            url: url.into(),
            segments,
            trailing_slash: url.ends_with('/'),
        }
    }

    #[test]
    fn files_follow_the_documented_rule() {
        assert_eq!(
            file_for(&t("/builtwith.json"), false),
            PathBuf::from("builtwith.json")
        );
        assert_eq!(
            file_for(&t("/api/logo.png"), true),
            PathBuf::from("api/logo.png")
        );
        assert_eq!(
            file_for(&t("/about"), true),
            PathBuf::from("about/index.html")
        );
        assert_eq!(
            file_for(&t("/api/users/0"), false),
            PathBuf::from("api/users/0")
        );
        assert_eq!(file_for(&t("/docs/"), false), PathBuf::from("docs/index"));
        assert_eq!(
            file_for(&t("/docs/"), true),
            PathBuf::from("docs/index.html")
        );
        assert_eq!(file_for(&t("/"), true), PathBuf::from("index.html"));
        assert_eq!(file_for(&t("/.hidden"), false), PathBuf::from(".hidden"));
    }

    #[test]
    fn segments_are_encoded_and_checked() {
        assert_eq!(encode_segment("a b/ü?"), "a%20b%2F%C3%BC%3F");
        assert_eq!(encode_segment("v1.2:x@y"), "v1.2:x@y");
        assert!(safe_segment("..").is_err());
        assert!(safe_segment(".").is_err());
        assert!(safe_segment("").is_err());
        assert!(safe_segment("a\\b").is_err());
        assert!(safe_segment("a\0b").is_err());
        assert!(safe_segment("..a").is_ok());
    }
}

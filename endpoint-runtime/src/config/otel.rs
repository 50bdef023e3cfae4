//! Whether traces are exported over OTLP: OpenTelemetry's own variables
//! (the SDK environment variable specification), checked here with the rest of the
//! configuration; the `otel` feature's exporter (the `otel` module) reads the same.

use crate::env::{ConfigError, Env, chosen};

/// Where spans go, when the environment asks for export.
///
/// | variable | default | accepted form |
/// |---|---|---|
/// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | none | the full `http` URL spans are posted to (`http://collector:4318/v1/traces`) |
/// | `OTEL_EXPORTER_OTLP_ENDPOINT` | none | the collector's base `http` URL; `/v1/traces` is appended |
/// | `OTEL_TRACES_EXPORTER` | `otlp` once an endpoint is set | `otlp` (with no endpoint: `http://localhost:4318`), or `none` |
/// | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf` | `http/protobuf` (the only one built in) |
/// | `OTEL_SDK_DISABLED` | `false` | `true` turns export off whatever else is set |
///
/// No TLS client is built in (it would add a second TLS stack, or a crypto provider every
/// application's own `reqwest` would then have to install): an `https` endpoint is refused at
/// start-up. Export to an OpenTelemetry Collector beside the server (a sidecar, a node agent),
/// which forwards over TLS.
///
/// The SDK reads the rest as the specification says: `OTEL_SERVICE_NAME` (default here: the
/// binary's name), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS` (secrets never
/// logged), `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceExport {
    /// The variable that names the endpoint, and its value (`None`: the default endpoint).
    pub(crate) endpoint: Option<(&'static str, String)>,
}

/// What the protocol variables accept.
const PROTOCOL: &str = "`http/protobuf` (the protocol the `otel` feature exports with)";

/// The export the environment asks for, or `None`.
///
/// # Errors
///
/// A [`ConfigError`] naming the variable: a malformed `OTEL_SDK_DISABLED`, an exporter other
/// than `otlp` or `none`; once export is asked for (an endpoint, or `OTEL_TRACES_EXPORTER=otlp`):
/// a protocol other than `http/protobuf`, an endpoint that is not an `http` URL, or a build
/// without the `otel` feature. A protocol variable alone asks for nothing and is not checked.
pub(crate) fn from_env(env: &Env<'_>) -> Result<Option<TraceExport>, ConfigError> {
    let disabled = chosen(
        env,
        "OTEL_SDK_DISABLED",
        &[("true", true), ("false", false)],
        "`true` or `false`",
    )?;
    if disabled == Some(true) {
        return Ok(None);
    }
    let exporter = chosen(
        env,
        "OTEL_TRACES_EXPORTER",
        &[("otlp", true), ("none", false)],
        "`otlp` or `none` (OTLP over HTTP is the exporter built in)",
    )?;
    if exporter == Some(false) {
        return Ok(None);
    }
    // An empty variable is unset, as the SDK reads it: an empty signal endpoint leaves the
    // general one in force.
    let set = |name| env.get(name).filter(|(_, value)| !value.trim().is_empty());
    let endpoint =
        set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"));
    if endpoint.is_none() && exporter.is_none() {
        return Ok(None);
    }
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some((variable, value)) = set(name)
            && value.trim() != "http/protobuf"
        {
            return Err(ConfigError {
                variable,
                value,
                expected: PROTOCOL,
            });
        }
    }
    if let Some((variable, value)) = &endpoint
        && !is_http_url(value)
    {
        return Err(ConfigError {
            variable,
            value: value.clone(),
            expected: "an http URL such as http://127.0.0.1:4318 (no TLS client is built in: \
                export to an OpenTelemetry Collector beside the server, which can forward over \
                TLS)",
        });
    }
    if !cfg!(feature = "otel") {
        let (variable, value) = endpoint
            .clone()
            .unwrap_or(("OTEL_TRACES_EXPORTER", "otlp".into()));
        return Err(ConfigError {
            variable,
            value,
            expected: "unset (or OTEL_SDK_DISABLED=true): trace export needs the `otel` feature \
                of endpoint-runtime",
        });
    }
    Ok(Some(TraceExport { endpoint }))
}

/// `http://` followed by a host, no whitespace.
fn is_http_url(value: &str) -> bool {
    let value = value.trim();
    let scheme = "http://";
    value.len() > scheme.len()
        && value[..scheme.len()].eq_ignore_ascii_case(scheme)
        && !value[scheme.len()..].starts_with('/')
        && !value.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<TraceExport>, ConfigError> {
        crate::env::read_with(vars, from_env)
    }

    #[test]
    fn nothing_set_exports_nothing() {
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(read(&[("OTEL_TRACES_EXPORTER", "none")]), Ok(None));
        assert_eq!(
            read(&[
                ("OTEL_SDK_DISABLED", "true"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ]),
            Ok(None)
        );
        assert_eq!(
            read(&[
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ]),
            Ok(None)
        );
    }

    #[test]
    fn variables_that_ask_for_nothing_are_left_alone() {
        // A protocol set cluster-wide for other processes, with no endpoint here.
        assert_eq!(read(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]), Ok(None));
        // An empty signal endpoint is unset: the general one is in force.
        let vars = [
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ];
        let read = read(&vars);
        if cfg!(feature = "otel") {
            assert_eq!(
                read.unwrap().unwrap().endpoint,
                Some((
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "http://127.0.0.1:4318".into()
                ))
            );
        } else {
            assert_eq!(read.unwrap_err().variable, "OTEL_EXPORTER_OTLP_ENDPOINT");
        }
    }

    #[test]
    fn malformed_values_name_their_variable() {
        for (vars, variable) in [
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318")][..],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://collector")][..],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://api.honeycomb.io")][..],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ][..],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                &[("OTEL_TRACES_EXPORTER", "zipkin")][..],
                "OTEL_TRACES_EXPORTER",
            ),
            (&[("OTEL_SDK_DISABLED", "yes")][..], "OTEL_SDK_DISABLED"),
        ] {
            let error = read(vars).unwrap_err();
            assert_eq!(error.variable, variable, "{vars:?}");
        }
    }

    #[test]
    fn an_endpoint_asks_for_export_when_the_feature_is_built() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://collector.internal:4318/v1/traces",
            ),
        ];
        let read = read(&vars);
        if cfg!(feature = "otel") {
            let export = read.unwrap().unwrap();
            // The signal's own variable wins, as the specification says.
            assert_eq!(
                export.endpoint.unwrap().0,
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
            );
        } else {
            let error = read.unwrap_err();
            assert_eq!(error.variable, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
            assert!(error.to_string().contains("`otel` feature"), "{error}");
        }
    }
}

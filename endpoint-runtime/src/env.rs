//! Reading `ENDPOINT_*` variables: the error that names a bad one, and the parsers of the
//! forms every feature shares (durations, sizes, choices). A leaf: each feature parses its own
//! settings with these, and [`Config`](crate::Config) assembles them.

use std::time::Duration;

/// A configuration value that could not be used; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}={value:?}: expected {expected}")]
pub struct ConfigError {
    /// The environment variable, such as `ENDPOINT_PORT`.
    pub variable: &'static str,
    /// The value found.
    pub value: String,
    /// The accepted form, such as `a port number from 0 to 65535`.
    pub expected: &'static str,
}

/// Where variables come from: the process environment, or a test's lookup function.
pub(crate) struct Env<'a>(pub(crate) &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// The variable's name and value, when it is set.
    pub(crate) fn get(&self, name: &'static str) -> Option<(&'static str, String)> {
        (self.0)(name).map(|value| (name, value))
    }
}

/// `from_env` on the variables `vars` (a test's environment).
#[cfg(test)]
pub(crate) fn read_with<T>(vars: &[(&str, &str)], from_env: impl Fn(&Env<'_>) -> T) -> T {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    };
    from_env(&Env(&lookup))
}

/// What an error shows instead of a secret's value.
pub(crate) const REDACTED: &str = "<redacted>";

/// Whether `path` is a literal path the runtime can serve a route of its own at (`/docs`,
/// `/livez`, `/assets`): a leading `/`, no trailing `/`, no route syntax (`{`, `}`), no query
/// or fragment, no space.
pub(crate) fn literal_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() > 1
        && !path.ends_with('/')
        && !path.contains(['{', '}', '?', '#', ' '])
}

/// A size in bytes: a number, or with a unit (`512KiB`, `2MiB`, `1MB`, `1GB`).
pub(crate) fn size(value: &str) -> Option<usize> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: usize = number.parse().ok()?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1024,
        "m" | "mb" => 1000 * 1000,
        "mib" => 1024 * 1024,
        "g" | "gb" => 1000 * 1000 * 1000,
        "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// The value of the `(text, value)` pair whose text `value` is, ignoring case and spaces
/// around it; else an error naming the variable with `expected`.
pub(crate) fn choice<T: Copy>(
    name: &'static str,
    value: String,
    choices: &[(&str, T)],
    expected: &'static str,
) -> Result<T, ConfigError> {
    let wanted = value.trim().to_ascii_lowercase();
    match choices.iter().find(|(text, _)| *text == wanted) {
        Some((_, chosen)) => Ok(*chosen),
        None => Err(ConfigError {
            variable: name,
            value,
            expected,
        }),
    }
}

/// A switch: `on` or `true`, `off` or `false` (any case); else an error naming the variable.
pub(crate) fn on_off(name: &'static str, value: String) -> Result<bool, ConfigError> {
    choice(
        name,
        value,
        &[
            ("on", true),
            ("true", true),
            ("off", false),
            ("false", false),
        ],
        "`on` or `off`",
    )
}

/// `value` as a whole number inside `range`; else an error naming the variable with
/// `expected`.
pub(crate) fn number_in(
    name: &'static str,
    value: String,
    range: std::ops::RangeInclusive<usize>,
    expected: &'static str,
) -> Result<usize, ConfigError> {
    match value.trim().parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError {
            variable: name,
            value,
            expected,
        }),
    }
}

/// The value `name` is set to among `choices` (see [`choice`]); `None` when it is unset.
pub(crate) fn chosen<T: Copy>(
    env: &Env<'_>,
    name: &'static str,
    choices: &[(&str, T)],
    expected: &'static str,
) -> Result<Option<T>, ConfigError> {
    env.get(name)
        .map(|(name, value)| choice(name, value, choices, expected))
        .transpose()
}

/// [`duration`], refusing zero (a timeout of zero would close every connection).
pub(crate) fn positive_duration(
    name: &'static str,
    value: String,
) -> Result<Duration, ConfigError> {
    match duration(name, value.clone())? {
        duration if duration.is_zero() => Err(ConfigError {
            variable: name,
            value,
            expected: "a duration greater than zero",
        }),
        duration => Ok(duration),
    }
}

pub(crate) fn duration(name: &'static str, value: String) -> Result<Duration, ConfigError> {
    let trimmed = value.trim();
    let parsed = match trimmed.parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => humantime::parse_duration(trimmed),
    };
    parsed.map_err(|_| ConfigError {
        variable: name,
        value,
        expected: "a duration such as `30s`, `500ms` or `2m` (a bare number is seconds)",
    })
}

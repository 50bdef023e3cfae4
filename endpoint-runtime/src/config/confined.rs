//! The settings of confined endpoints' workers (`ENDPOINT_CONFINED_*`). They live with the
//! configuration rather than in `confined`, which reads the request's context (itself holding
//! the configuration): here, the dependency stays one-way.

use std::time::Duration;

use crate::env::{ConfigError, Env, choice, duration, number_in, size};

/// Whether confined endpoints may run without the kernel's enforcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hardening {
    /// Refuse to start unless Landlock and seccomp are enforced and the start-up self-test
    /// proves a worker can neither read a file nor open a socket (the default); afterwards,
    /// every worker whose sandbox report falls short is killed unused and its call answered
    /// 503.
    #[default]
    Required,
    /// Run confined endpoints even where the kernel cannot enforce the boundary, saying so
    /// loudly in the route table and the log.
    Auto,
}

/// Limits of the worker processes that run confined endpoints (see
/// the `confined` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfinedConfig {
    /// `ENDPOINT_CONFINED_HARDENING`, default [`Hardening::Required`].
    pub hardening: Hardening,
    /// `ENDPOINT_CONFINED_WORKERS`, default 2: worker processes, so calls at once.
    pub workers: usize,
    /// `ENDPOINT_CONFINED_MEMORY`, default 256 MiB: a worker's address-space limit in bytes.
    pub memory: usize,
    /// `ENDPOINT_CONFINED_TIMEOUT`, default 5 s: one call's limit, host calls included; a
    /// worker past it is killed and the caller answered 503.
    pub timeout: Duration,
    /// `ENDPOINT_CONFINED_QUEUE`, default 32: calls that may wait for a busy worker, all
    /// confined endpoints together, holding their request head only (the body is read once a
    /// worker is free); past it a call is answered 503 with `Retry-After: 1`. `0`: none wait.
    pub queue: usize,
}

impl Default for ConfinedConfig {
    fn default() -> Self {
        ConfinedConfig {
            hardening: Hardening::Required,
            workers: 2,
            memory: 256 * 1024 * 1024,
            timeout: Duration::from_secs(5),
            queue: 32,
        }
    }
}

impl ConfinedConfig {
    /// `ENDPOINT_CONFINED_HARDENING`, `_WORKERS`, `_MEMORY`, `_TIMEOUT` and `_QUEUE` over the
    /// defaults.
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut config = ConfinedConfig::default();
        if let Some((name, value)) = env.get("ENDPOINT_CONFINED_HARDENING") {
            config.hardening = choice(
                name,
                value,
                &[("required", Hardening::Required), ("auto", Hardening::Auto)],
                "`required` or `auto`",
            )?;
        }
        if let Some((name, value)) = env.get("ENDPOINT_CONFINED_WORKERS") {
            config.workers = number_in(
                name,
                value,
                1..=256,
                "a number of worker processes from 1 to 256",
            )?;
        }
        if let Some((name, value)) = env.get("ENDPOINT_CONFINED_MEMORY") {
            config.memory = match size(&value) {
                Some(bytes) if bytes >= 16 * 1024 * 1024 => bytes,
                _ => {
                    return Err(ConfigError {
                        variable: name,
                        value,
                        expected: "a size of at least 16MiB, such as `256MiB`",
                    });
                }
            };
        }
        if let Some((name, value)) = env.get("ENDPOINT_CONFINED_TIMEOUT") {
            config.timeout = duration(name, value)?;
        }
        if let Some((name, value)) = env.get("ENDPOINT_CONFINED_QUEUE") {
            config.queue = number_in(
                name,
                value,
                0..=65_536,
                "a number of waiting calls from 0 to 65536",
            )?;
        }
        Ok(config)
    }
}

//! Durable hooks' delivery (`ENDPOINT_OUTBOX_*`) and idempotency keys' lifetime
//! (`ENDPOINT_IDEMPOTENCY_TTL`).

use std::time::Duration;

use crate::env::{ConfigError, Env, on_off, positive_duration};

/// How the outbox delivers to durable hooks (`#[hook(event = "…", durable)]`; the `events`
/// module describes the guarantees).
///
/// | variable | field | default | accepted form |
/// |---|---|---|---|
/// | `ENDPOINT_OUTBOX_DELIVER` | [`deliver`](Self::deliver) | `on` | `on` or `off` |
/// | `ENDPOINT_OUTBOX_ATTEMPTS` | [`attempts`](Self::attempts) | `10` | a number from 1 to 100 |
/// | `ENDPOINT_OUTBOX_BACKOFF` | [`backoff`](Self::backoff) | `1s` | a duration |
/// | `ENDPOINT_OUTBOX_POLL` | [`poll`](Self::poll) | `5s` | a duration |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxConfig {
    /// Whether this instance delivers the outbox's events to durable hooks. `off`: it writes
    /// them and leaves delivery to the instances that have it `on` (a web tier beside worker
    /// instances). At least one instance must deliver, or the events wait.
    pub deliver: bool,
    /// How many times one event is offered to one durable hook (an attempt counts when it is
    /// claimed, so one whose instance stops during it counts too) before it is dead-lettered
    /// (kept in the table with its last error, logged at `error`, counted in
    /// `endpoint_outbox_dead_letters_total`).
    pub attempts: u32,
    /// The wait before the first retry (at most 5 minutes); each retry waits twice the one
    /// before, up to 5 minutes. With the defaults an event is dead-lettered about 8.5 minutes after its
    /// first failure.
    pub backoff: Duration,
    /// How often the outbox is read when nothing wakes it: the fallback when no notification
    /// arrives (an event committed by an instance that stopped before delivering, a
    /// notification lost with the database connection).
    pub poll: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            deliver: true,
            attempts: 10,
            backoff: Duration::from_secs(1),
            poll: Duration::from_secs(5),
        }
    }
}

/// The longest retry wait of the outbox: 5 minutes.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl OutboxConfig {
    /// The wait after the `failures`-th failed attempt (1 for the first): `backoff × 2^(n-1)`,
    /// at most [`MAX_BACKOFF`].
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn retry_after(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.backoff.saturating_mul(factor).min(MAX_BACKOFF)
    }

    /// `ENDPOINT_OUTBOX_*`.
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut config = OutboxConfig::default();
        if let Some((name, value)) = env.get("ENDPOINT_OUTBOX_DELIVER") {
            config.deliver = on_off(name, value)?;
        }
        if let Some((name, value)) = env.get("ENDPOINT_OUTBOX_ATTEMPTS") {
            config.attempts = match value.trim().parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(ConfigError {
                        variable: name,
                        value,
                        expected: "a number of attempts from 1 to 100",
                    });
                }
            };
        }
        if let Some((name, value)) = env.get("ENDPOINT_OUTBOX_BACKOFF") {
            config.backoff = positive_duration(name, value)?;
        }
        if let Some((name, value)) = env.get("ENDPOINT_OUTBOX_POLL") {
            config.poll = positive_duration(name, value)?;
        }
        Ok(config)
    }
}

/// `ENDPOINT_IDEMPOTENCY_TTL`: how long a stored response answers a retry (default 24 hours,
/// as the IETF draft's examples and Stripe keep them).
pub(crate) fn idempotency_ttl(env: &Env<'_>) -> Result<Option<Duration>, ConfigError> {
    env.get("ENDPOINT_IDEMPOTENCY_TTL")
        .map(|(name, value)| positive_duration(name, value))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<OutboxConfig, ConfigError> {
        crate::env::read_with(vars, OutboxConfig::from_env)
    }

    #[test]
    fn defaults_and_variables() {
        assert_eq!(read(&[]), Ok(OutboxConfig::default()));
        let config = read(&[
            ("ENDPOINT_OUTBOX_DELIVER", "off"),
            ("ENDPOINT_OUTBOX_ATTEMPTS", "3"),
            ("ENDPOINT_OUTBOX_BACKOFF", "250ms"),
            ("ENDPOINT_OUTBOX_POLL", "2s"),
        ])
        .unwrap();
        assert!(!config.deliver);
        assert_eq!(config.attempts, 3);
        assert_eq!(config.backoff, Duration::from_millis(250));
        assert_eq!(config.poll, Duration::from_secs(2));
        for (name, value) in [
            ("ENDPOINT_OUTBOX_DELIVER", "maybe"),
            ("ENDPOINT_OUTBOX_ATTEMPTS", "0"),
            ("ENDPOINT_OUTBOX_ATTEMPTS", "101"),
            ("ENDPOINT_OUTBOX_BACKOFF", "0s"),
            ("ENDPOINT_OUTBOX_POLL", "soon"),
        ] {
            assert_eq!(read(&[(name, value)]).unwrap_err().variable, name);
        }
    }

    #[test]
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn retries_double_up_to_five_minutes() {
        let config = OutboxConfig::default();
        let waits: Vec<u64> = (1..=10).map(|n| config.retry_after(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(config.retry_after(1000), MAX_BACKOFF);
    }
}

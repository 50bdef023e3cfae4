//! Rate-limit buckets in Redis (feature `redis`, `ENDPOINT_REDIS_URL`): one GCRA step per
//! request in a Lua script, atomic on the server and timed by the server's clock (`TIME`), so
//! N instances together allow what one would, whatever their own clocks say.
//!
//! A bucket is one string key, `endpoint:ratelimit:{route} {handler}:{caller}`, holding the
//! bucket's theoretical arrival time in microseconds; it expires when the bucket is full again,
//! so Redis holds only the callers of the last period. When Redis does not answer within
//! [`STORE_TIMEOUT`], the request is admitted or refused as
//! `ENDPOINT_RATE_LIMIT_ON_STORE_ERROR` says; the first failure of an outage is logged, the
//! recovery too, and every failure is counted (`endpoint_rate_limit_store_errors_total`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::{RedisConfig, StoreErrorPolicy};
use crate::registry::Rate;

/// How long one step may take, connecting included, before it counts as a store error.
pub(crate) const STORE_TIMEOUT: Duration = Duration::from_millis(250);

/// The GCRA step (the generic cell rate algorithm, as `governor` runs it in process).
/// `KEYS[1]`: the bucket; `ARGV[1]`: the emission interval in whole microseconds (the period
/// over the requests allowed in it, at least 1), `ARGV[2]`: the burst (the requests allowed at
/// once). Returns `{1, remaining, 0}` when admitted, `{0, 0, microseconds until the next is}`
/// when not. Every number is a whole number of microseconds below 2^53, so the script's
/// floating-point arithmetic is exact (a fractional interval made `remaining` one short for
/// rates such as 7/second). `replicate_commands` lets a script write after `TIME` on Redis
/// 3.2 to 4 (5 and later replicate effects anyway).
const GCRA: &str = r"
redis.replicate_commands()
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then tat = math.max(tonumber(stored), now) end
local next_tat = tat + interval
local allow_at = next_tat - burst * interval
if now < allow_at then
  return {0, 0, math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX',
  math.max(1, math.ceil((next_tat - now) / 1000)))
return {1, math.floor((now - allow_at) / interval), 0}
";

/// A connection manager to the Redis at `url` that connects on first use (and again after a
/// failure), each attempt and each answer bounded by `timeout`, retrying once.
///
/// # Errors
///
/// The `redis` crate's reason, when the URL cannot be used.
pub(crate) fn connection(
    url: &str,
    timeout: Duration,
) -> Result<redis::aio::ConnectionManager, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let settings = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1);
    redis::aio::ConnectionManager::new_lazy_with_config(client, settings).map_err(|e| e.to_string())
}

/// What one step decided.
pub(crate) enum Step {
    /// Admitted, with this many more admissible now.
    Admitted {
        /// Requests the bucket still allows at once.
        remaining: u32,
    },
    /// Over the rate: the next request is admissible after `wait`.
    Refused {
        /// Until the bucket admits one again.
        wait: Duration,
    },
}

/// The connection to the instances' Redis, shared by every endpoint's buckets.
pub(crate) struct Store {
    connection: redis::aio::ConnectionManager,
    script: redis::Script,
    on_error: StoreErrorPolicy,
    /// Whether the last step failed (an outage is logged when it starts and when it ends).
    failing: AtomicBool,
}

impl Store {
    /// A store on `config`'s server. It connects on first use (and again after a failure), so
    /// a server that is down at start-up is an outage like any other, not a refusal to start.
    ///
    /// # Errors
    ///
    /// The `redis` crate's reason, when the URL cannot be used.
    pub(crate) fn new(config: &RedisConfig) -> Result<Store, String> {
        let connection = connection(&config.url, STORE_TIMEOUT)?;
        Ok(Store {
            connection,
            script: redis::Script::new(GCRA),
            on_error: config.on_store_error,
            failing: AtomicBool::new(false),
        })
    }

    /// One GCRA step on `bucket` under `rate`; `Err` with the policy to apply when the store
    /// did not answer in time.
    pub(crate) async fn step(&self, bucket: &str, rate: Rate) -> Result<Step, StoreErrorPolicy> {
        // Whole microseconds, at least 1, rounded down as `governor` rounds its nanoseconds.
        let interval = (rate.period.as_micros() / u128::from(rate.requests.max(1))).max(1);
        let interval = u64::try_from(interval).unwrap_or(u64::MAX);
        let mut connection = self.connection.clone();
        let mut invocation = self.script.key(bucket);
        invocation.arg(interval).arg(rate.requests);
        let answer = tokio::time::timeout(
            STORE_TIMEOUT,
            invocation.invoke_async::<(i64, i64, i64)>(&mut connection),
        )
        .await;
        match answer {
            Ok(Ok((admitted, remaining, wait))) => {
                if self.failing.load(Ordering::Relaxed)
                    && self.failing.swap(false, Ordering::Relaxed)
                {
                    tracing::info!("the rate-limit store answers again");
                }
                Ok(if admitted == 1 {
                    Step::Admitted {
                        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                    }
                } else {
                    Step::Refused {
                        wait: Duration::from_micros(u64::try_from(wait).unwrap_or(0)),
                    }
                })
            }
            Ok(Err(error)) => Err(self.failed(&error.to_string())),
            Err(_) => Err(self.failed(&format!("no answer within {STORE_TIMEOUT:?}"))),
        }
    }

    /// Counts a failed step, logs the first of an outage, and says what to do.
    fn failed(&self, reason: &str) -> StoreErrorPolicy {
        #[cfg(feature = "metrics")]
        metrics::counter!("endpoint_rate_limit_store_errors_total").increment(1);
        if !self.failing.swap(true, Ordering::Relaxed) {
            let consequence = match self.on_error {
                StoreErrorPolicy::Allow => "requests are admitted without a limit",
                StoreErrorPolicy::Deny => "rate-limited requests are refused with 503",
            };
            tracing::warn!(
                reason,
                "the rate-limit store does not answer: {consequence} until it does \
                 (ENDPOINT_RATE_LIMIT_ON_STORE_ERROR)"
            );
        }
        self.on_error
    }
}

//! Events: [`Context::emit`](crate::Context::emit) delivers to `#[hook(event = "...")]`
//! functions and to subscribers added with [`App::subscribe`](crate::App::subscribe).
//!
//! # Delivery
//!
//! - **Awaited, in order.** `emit` runs the event's hooks one after another, sorted by source
//!   location (`file:line`, so the order is stable), then its subscribers in the order they
//!   were added, and returns when all have finished. A hook therefore sees the database
//!   changes the emitter made before emitting, and the request's response waits for it.
//! - **A failing hook stops the delivery** and `emit` returns [`EmitError::HookFailed`] with
//!   the hook's [`EndpointError`]; the hooks after it do not run. Converted with `?` inside an
//!   endpoint, the request answers with that hook's error (a hook returning
//!   `EndpointError::forbidden` makes the request 403, like a Directus filter hook throwing).
//!   An endpoint that wants fire-and-forget semantics can ignore the result.
//! - **No loops.** A hook that emits the event it is handling, directly or through other
//!   hooks (`a` → `b` → `a`), gets [`EmitError::Reentrant`] instead of looping forever, as do
//!   chains deeper than 8 events. The chain is tracked per task, so concurrent requests that
//!   emit the same event do not interfere.
//! - **Then every instance.** After the hooks and subscribers succeeded, the cluster
//!   subscribers of [`App::subscribe_cluster`](crate::App::subscribe_cluster) run, each in a
//!   task of its own, on this instance and (with `ENDPOINT_REDIS_URL`, over Redis pub/sub) on
//!   every other: at most once, never failing `emit`.
//!
//! # Durable hooks: the transactional outbox
//!
//! `#[hook(event = "…", durable)]` is delivered **at least once, after commit**, by whichever
//! instance claims it, surviving restarts and crashes:
//!
//! - [`Context::transaction`](crate::Context::transaction) opens a database transaction;
//!   its [`emit`](Transaction::emit) writes one outbox row per durable hook of the event *in
//!   that transaction* (table `endpoint_outbox`, created at start-up), so the change and the
//!   event commit together or not at all. The in-request hooks and subscribers run at `emit`,
//!   as above, and can still veto: the error drops the transaction, which rolls back.
//!   [`Context::emit`] outside a transaction writes the rows in a transaction of their own,
//!   after the in-request hooks succeeded. In-request hooks run outside the emitting
//!   transaction (see [`Transaction::emit`] for what that means for their writes).
//! - After commit the instance's deliverer is woken at once; other instances are woken by
//!   PostgreSQL `NOTIFY endpoint_outbox`, and every deliverer also reads the table every
//!   `ENDPOINT_OUTBOX_POLL` (5 s) and when a retry falls due.
//! - One row is claimed at a time, in one statement that commits before the hook runs
//!   (`UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)` on PostgreSQL, so one instance
//!   gets it): the claim counts an attempt and leases the row for `ENDPOINT_REQUEST_TIMEOUT`
//!   plus 5 s. An instance that stops while delivering leaves the lease to run out; another
//!   instance then claims the row again (after the last attempt, it is dead-lettered instead).
//!   No connection is held while a hook runs. On SQLite (one machine's file) the claim is
//!   atomic too, and one instance delivers.
//! - A delivery that fails (an error, a panic, or longer than `ENDPOINT_REQUEST_TIMEOUT`) is
//!   retried after `ENDPOINT_OUTBOX_BACKOFF` (1 s), doubling up to 5 minutes; after
//!   `ENDPOINT_OUTBOX_ATTEMPTS` (10) it is dead-lettered: kept with `dead_at` and
//!   `last_error`, logged at `error`, counted in `endpoint_outbox_dead_letters_total`.
//! - At least once means a hook can see an event twice (an instance killed after the hook
//!   ran, before its row was deleted): [`Event::id`] is the same on every delivery, so the
//!   hook deduplicates by it (a unique column, `ON CONFLICT DO NOTHING`). Deliveries are not
//!   ordered; one instance delivers one row at a time. A durable hook sees the emitter's
//!   user, roles, admin and app flags and IP as they were at the emission, with the
//!   authenticator `outbox`; not the credential's claims. A row's hook is named by its
//!   module path and function name: rows of a hook renamed or moved wait (a warning at
//!   start-up says so) until an instance has it.
//!
//! | path | registered with | when | guarantee | can veto |
//! |---|---|---|---|---|
//! | hook | `#[hook(event)]` | during `emit`, awaited | once, in this process | yes |
//! | subscriber | [`App::subscribe`](crate::App::subscribe) | during `emit`, after the hooks | once, in this process | yes |
//! | durable hook | `#[hook(event, durable)]` | after commit, by one instance | at least once, retried, dead-lettered | no |
//! | cluster subscriber | [`App::subscribe_cluster`](crate::App::subscribe_cluster) | after `emit` (after commit in a transaction), on every instance | at most once | no |

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::auth::Accountability;
use crate::context::Context;
use crate::error::EndpointError;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod outbox;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod transaction;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use transaction::Transaction;

/// An emitted event, as a hook receives it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The emission's id (a UUID): the same on every delivery of one emission (a durable
    /// hook's retries, every instance's cluster subscribers), so that a hook delivered at
    /// least once can deduplicate by it.
    pub id: String,
    /// The event name, such as `article.published`.
    pub name: String,
    /// The payload given to `emit`, as JSON.
    pub payload: Value,
    /// Who caused it: the accountability of the request that emitted it.
    pub accountability: Accountability,
}

impl Event {
    /// A new emission of `name`: its own id.
    pub(crate) fn new(name: &str, payload: Value, accountability: Accountability) -> Self {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            payload,
            accountability,
        }
    }
}

/// The future a hook or subscriber returns.
pub type HookFuture = Pin<Box<dyn Future<Output = Result<(), EndpointError>> + Send>>;

/// A runtime subscriber: a function of the event and a context.
pub type Subscriber = Arc<dyn Fn(Event, Context) -> HookFuture + Send + Sync>;

/// What the macro writes for a `#[hook]`. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct HookSpec {
    pub event: &'static str,
    pub handler: &'static str,
    pub module_path: &'static str,
    pub file: &'static str,
    pub line: u32,
    /// `#[hook(…, durable)]`: delivered through the outbox.
    pub durable: bool,
    pub run: fn(Event, Context) -> HookFuture,
}

/// One registered `#[hook]`.
#[derive(Debug)]
pub struct Hook {
    spec: HookSpec,
}

impl Hook {
    #[doc(hidden)]
    pub const fn __new(spec: HookSpec) -> Self {
        Hook { spec }
    }

    /// The event it handles.
    pub fn event(&self) -> &'static str {
        self.spec.event
    }

    /// Whether it is durable (`#[hook(…, durable)]`): delivered after commit, at least once,
    /// through the outbox.
    pub fn durable(&self) -> bool {
        self.spec.durable
    }

    /// `module::function`: how the outbox names it.
    pub(crate) fn key(&self) -> String {
        format!("{}::{}", self.spec.module_path, self.spec.handler)
    }

    /// `module::function at file:line`.
    pub fn site(&self) -> String {
        format!(
            "{}::{} at {}:{}",
            self.spec.module_path, self.spec.handler, self.spec.file, self.spec.line
        )
    }
}

inventory::collect!(Hook);

/// Every `#[hook]` linked into the binary, sorted by event, then `file:line`.
pub fn hooks() -> Vec<&'static Hook> {
    let mut all: Vec<&'static Hook> = inventory::iter::<Hook>.into_iter().collect();
    all.sort_by_key(|h| (h.spec.event, h.spec.file, h.spec.line));
    all
}

/// Why an emission did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The event is already being handled further up this chain: emitting it again would
    /// loop forever.
    #[error("refused to emit `{event}` re-entrantly (chain: {})", chain.join(" -> "))]
    Reentrant {
        /// The event that was refused.
        event: String,
        /// The events being handled, outermost first.
        chain: Vec<String>,
    },
    /// A hook or subscriber failed; the ones after it did not run.
    #[error("hook `{hook}` failed on `{event}`: {error}")]
    HookFailed {
        /// The event.
        event: String,
        /// The failing hook's site, or `subscriber #n`.
        hook: String,
        /// What it returned.
        error: EndpointError,
    },
    /// The payload could not be serialized.
    #[error("event payload is not serializable: {0}")]
    Payload(String),
    /// The event could not be written to the outbox (durable hooks): the database did not
    /// answer (503), or the application has none (500).
    #[error("the event could not be written to the outbox: {0}")]
    Outbox(EndpointError),
}

impl From<EmitError> for EndpointError {
    /// A failed hook answers with the hook's own error; a refused re-entrant emission or a bad
    /// payload is a 500 (logged).
    fn from(error: EmitError) -> Self {
        match error {
            EmitError::HookFailed { error, hook, event } => {
                tracing::warn!(%hook, %event, %error, "hook failed");
                error
            }
            EmitError::Outbox(error) => error,
            other => EndpointError::internal("event emission failed").with_source(other),
        }
    }
}

const MAX_DEPTH: usize = 8;

tokio::task_local! {
    static CHAIN: Vec<String>;
}

/// Delivers events to hooks and subscribers.
pub(crate) struct Emitter {
    /// In-request hooks, by event.
    hooks: HashMap<&'static str, Vec<&'static Hook>>,
    /// Durable hooks, by event: delivered through the outbox.
    durable: HashMap<&'static str, Vec<&'static Hook>>,
    subscribers: HashMap<String, Vec<Subscriber>>,
    /// [`App::subscribe_cluster`](crate::App::subscribe_cluster)'s subscribers.
    cluster: HashMap<String, Vec<Subscriber>>,
    /// Sends an event to the other instances (`ENDPOINT_REDIS_URL`), when there are any.
    publisher: Option<Publisher>,
    /// Wakes this instance's outbox deliverer after a commit.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) outbox_wake: Arc<tokio::sync::Notify>,
}

/// Sends an event (name, payload, the chain of events that led to it, and its id) to the other
/// instances of the application; it waits a bounded time and logs a failure (delivery to other
/// instances is at most once).
pub(crate) type Publisher =
    Arc<dyn Fn(String, Value, Vec<String>, String) -> PublishFuture + Send + Sync>;

/// The future of a [`Publisher`].
pub(crate) type PublishFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Emitter {
    pub(crate) fn new(
        subscribers: HashMap<String, Vec<Subscriber>>,
        cluster: HashMap<String, Vec<Subscriber>>,
        publisher: Option<Publisher>,
    ) -> Self {
        let mut hooks: HashMap<&'static str, Vec<&'static Hook>> = HashMap::new();
        let mut durable: HashMap<&'static str, Vec<&'static Hook>> = HashMap::new();
        for hook in self::hooks() {
            let by_event = if hook.durable() {
                &mut durable
            } else {
                &mut hooks
            };
            by_event.entry(hook.event()).or_default().push(hook);
        }
        Emitter {
            hooks,
            durable,
            subscribers,
            cluster,
            publisher,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            outbox_wake: Arc::default(),
        }
    }

    /// The durable hooks of `event`.
    pub(crate) fn durable_hooks(&self, event: &str) -> &[&'static Hook] {
        self.durable
            .get(event)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Every durable hook, by its [`key`](Hook::key).
    pub(crate) fn all_durable_hooks(&self) -> HashMap<String, &'static Hook> {
        self.durable
            .values()
            .flatten()
            .map(|hook| (hook.key(), *hook))
            .collect()
    }

    /// Whether any cluster subscriber is registered here (the instance then listens).
    #[cfg(feature = "redis")]
    pub(crate) fn has_cluster_subscribers(&self) -> bool {
        !self.cluster.is_empty()
    }

    /// Runs this instance's cluster subscribers of `event`, each in a task of its own, without
    /// waiting: they cannot veto the request, and a failure is logged (at most once). `chain`
    /// is the events that led to this one, `event` included, on whichever instance: an event a
    /// cluster subscriber emits is refused when it is already in the chain, across instances
    /// too, as for hooks. `room`, when given, is held until every one of them has finished
    /// (the bound on deliveries from other instances).
    pub(crate) fn deliver_to_cluster_subscribers(
        &self,
        context: &Context,
        event: Event,
        chain: &[String],
        room: Option<tokio::sync::OwnedSemaphorePermit>,
    ) {
        let Some(subscribers) = self.cluster.get(&event.name) else {
            return;
        };
        let room = room.map(Arc::new);
        for subscriber in subscribers {
            let run = CHAIN.scope(chain.to_vec(), subscriber(event.clone(), context.clone()));
            let name = event.name.clone();
            let room = room.clone();
            tokio::spawn(async move {
                let outcome = run.await;
                drop(room);
                delivered(outcome.is_ok());
                if let Err(error) = outcome {
                    tracing::warn!(event = name, %error, "a cluster subscriber failed");
                }
            });
        }
    }

    /// The chain of events an emission of `event` runs in (the current one, then `event`).
    ///
    /// # Errors
    ///
    /// [`EmitError::Reentrant`] when `event` is already in the chain, or the chain is 8
    /// events deep.
    #[allow(
        clippy::result_large_err,
        reason = "the error of `emit`, whose callers convert it"
    )]
    pub(crate) fn enter(&self, event: &str) -> Result<Vec<String>, EmitError> {
        let mut chain = CHAIN.try_with(Clone::clone).unwrap_or_default();
        if chain.iter().any(|e| e == event) || chain.len() >= MAX_DEPTH {
            // Not logged here: the caller's error (a 500 when it becomes the response, logged
            // once by the pipeline with this error as its source).
            return Err(EmitError::Reentrant {
                event: event.to_string(),
                chain,
            });
        }
        chain.push(event.to_string());
        #[cfg(feature = "metrics")]
        metrics::counter!("endpoint_events_emitted_total").increment(1);
        Ok(chain)
    }

    /// Runs `event`'s in-request hooks, then its subscribers, in `chain`.
    ///
    /// # Errors
    ///
    /// [`EmitError::HookFailed`] at the first that fails.
    pub(crate) async fn run_in_request(
        &self,
        context: &Context,
        event: &Event,
        chain: &[String],
    ) -> Result<(), EmitError> {
        let name = event.name.as_str();
        let hooks = self.hooks.get(name).map(Vec::as_slice).unwrap_or_default();
        let subscribers = self
            .subscribers
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        tracing::debug!(
            event = name,
            hooks = hooks.len(),
            subscribers = subscribers.len(),
            durable = self.durable_hooks(name).len(),
            "emit"
        );
        let runs = hooks
            .iter()
            .map(|hook| (hook.site(), (hook.spec.run)(event.clone(), context.clone())))
            .chain(subscribers.iter().enumerate().map(|(index, subscriber)| {
                (
                    format!("subscriber #{}", index + 1),
                    subscriber(event.clone(), context.clone()),
                )
            }));
        for (site, run) in runs {
            let outcome = CHAIN.scope(chain.to_vec(), run).await;
            delivered(outcome.is_ok());
            if let Err(error) = outcome {
                return Err(EmitError::HookFailed {
                    event: name.to_string(),
                    hook: site,
                    error,
                });
            }
        }
        Ok(())
    }

    /// Delivers `event` to every instance's cluster subscribers: this one's at once, the
    /// others' through the publisher. Only events the application subscribes to cluster-wide
    /// are published (its instances register the same subscribers).
    pub(crate) async fn to_cluster(&self, context: &Context, event: Event, chain: Vec<String>) {
        if !self.cluster.contains_key(&event.name) {
            return;
        }
        let (name, payload, id) = (event.name.clone(), event.payload.clone(), event.id.clone());
        self.deliver_to_cluster_subscribers(context, event, &chain, None);
        if let Some(publish) = &self.publisher {
            publish(name, payload, chain, id).await;
        }
    }

    pub(crate) async fn emit(
        &self,
        context: &Context,
        event: &str,
        payload: Value,
    ) -> Result<(), EmitError> {
        let chain = self.enter(event)?;
        let event = Event::new(event, payload, context.accountability().clone());
        self.run_in_request(context, &event, &chain).await?;
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        if !self.durable_hooks(&event.name).is_empty() {
            let mut transaction = Transaction::begin(context.clone())
                .await
                .map_err(EmitError::Outbox)?;
            transaction.write_outbox(&event, &chain).await?;
            transaction.commit().await.map_err(EmitError::Outbox)?;
        }
        self.to_cluster(context, event, chain).await;
        Ok(())
    }
}

/// Counts one delivery to a hook or subscriber (`endpoint_events_delivered_total` or
/// `endpoint_events_failed_total`, feature `metrics`).
fn delivered(ok: bool) {
    #[cfg(feature = "metrics")]
    if ok {
        metrics::counter!("endpoint_events_delivered_total").increment(1);
    } else {
        metrics::counter!("endpoint_events_failed_total").increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = ok;
}

/// What a `#[hook]` or `#[schedule]` function may return: `()` or `Result<(), E>` with
/// `E: Into<EndpointError>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a hook or job result",
    note = "a #[hook] or #[schedule] function returns `()` or `Result<(), E>` where `E: Into<EndpointError>`"
)]
pub trait HookOutput {
    /// Converts into the hook's result.
    fn into_hook_result(self) -> Result<(), EndpointError>;
}

impl HookOutput for () {
    fn into_hook_result(self) -> Result<(), EndpointError> {
        Ok(())
    }
}

impl<E: Into<EndpointError>> HookOutput for Result<(), E> {
    fn into_hook_result(self) -> Result<(), EndpointError> {
        self.map_err(Into::into)
    }
}

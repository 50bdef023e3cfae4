//! The timer behind the HTTP/1 header-read timeout: one Tokio timer per connection, moved
//! lazily, instead of one per request.
//!
//! hyper arms the header-read timeout each time it starts reading a request head, and drops it
//! once the head is read: with `hyper_util`'s `TokioTimer` that is a timer-wheel insertion and
//! removal per request, and a clock read or two. Here each connection owns one [`tokio::time::Sleep`]; a request's [`HeadSleep`]
//! only records its deadline and makes sure the connection's timer fires no later than it. A
//! timer left over from an earlier request fires early at most once per timeout period; the
//! head that is still being read then moves it to its own deadline. The deadline a request
//! gets, and the 408-and-close when it passes, are hyper's, unchanged.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

/// A [`hyper::rt::Timer`] for one connection. Clones share the connection's timer.
#[derive(Clone, Default)]
pub(crate) struct ConnectionTimer {
    timer: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl hyper::rt::Timer for ConnectionTimer {
    fn sleep(&self, duration: std::time::Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HeadSleep {
            timer: Arc::clone(&self.timer),
            deadline,
        })
    }

    /// Tokio's clock, as `TokioTimer`'s: it follows a paused runtime in tests.
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// One request head's deadline on its connection's timer.
struct HeadSleep {
    timer: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
    deadline: Instant,
}

impl hyper::rt::Sleep for HeadSleep {}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = tokio::time::Instant::from_std(self.deadline);
        // Only this connection's task polls it: the lock is never contended. A poisoned lock
        // (a panic while held, which nothing here can cause) still holds a usable timer.
        let mut timer = self
            .timer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        // The connection's timer must fire no later than this deadline; earlier is fine.
        if sleep.deadline() > deadline {
            sleep.as_mut().reset(deadline);
        }
        // No clock read here: the timer's own state says whether its deadline has passed.
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if sleep.deadline() >= deadline {
                return Poll::Ready(());
            }
            // An earlier head's deadline passed: move the timer to this one and wait again.
            sleep.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hyper::rt::Timer as _;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_later_head_waits_for_its_own_deadline() {
        let timer = ConnectionTimer::default();
        let started = tokio::time::Instant::now();
        // A first head arms the connection's timer at +1 s, then is read in time.
        let first = timer.sleep(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_millis(100), first)
            .await
            .unwrap_err();
        // A second head, started at +0.5 s, must not end at the first one's deadline.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let second = timer.sleep(Duration::from_secs(1));
        second.await;
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_millis(1600),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_moves_the_timer_forward() {
        let timer = ConnectionTimer::default();
        let started = tokio::time::Instant::now();
        let long = timer.sleep(Duration::from_secs(10));
        tokio::time::timeout(Duration::from_millis(10), long)
            .await
            .unwrap_err();
        timer.sleep(Duration::from_secs(1)).await;
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(1100),
            "{elapsed:?}"
        );
    }
}

//! Busy polling ([`Options::busy_poll`](crate::options::Options::busy_poll)).
//!
//! A task that, after the driver did some work, keeps yielding to the
//! runtime for a while. A tokio runtime with a yielded task polls its I/O
//! driver without blocking instead of sleeping in `epoll_wait`, so data
//! that arrives from a peer meanwhile is seen at once: no thread has to be
//! woken. When the window passes without work, the task waits, and the
//! runtime sleeps as usual.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The driver's side: [`Spinner::touch`] after work, [`Spinner::stop`] at the end.
pub(crate) struct Spinner {
    window: Duration,
    work: AtomicU64,
    /// Times the task yielded (for tests and diagnostics).
    polls: AtomicU64,
    wake: Notify,
    stopped: AtomicBool,
}

impl Spinner {
    /// Starts the polling task on `handle`.
    pub(crate) fn start(handle: &tokio::runtime::Handle, window: Duration) -> Arc<Spinner> {
        let spinner = Spinner::new(window);
        handle.spawn(Arc::clone(&spinner).run());
        spinner
    }

    fn new(window: Duration) -> Arc<Spinner> {
        Arc::new(Spinner {
            window,
            work: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            wake: Notify::new(),
            stopped: AtomicBool::new(false),
        })
    }

    /// Work was done: poll for the next window.
    pub(crate) fn touch(&self) {
        self.work.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Ends the polling task.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    async fn run(self: Arc<Self>) {
        loop {
            self.wake.notified().await;
            let mut seen = self.work.load(Ordering::Relaxed);
            let mut until = Instant::now() + self.window;
            while !self.stopped.load(Ordering::Relaxed) {
                tokio::task::yield_now().await;
                self.polls.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                let work = self.work.load(Ordering::Relaxed);
                if work != seen {
                    seen = work;
                    until = now + self.window;
                } else if now >= until {
                    break;
                }
            }
            if self.stopped.load(Ordering::Relaxed) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polls(spinner: &Spinner) -> u64 {
        spinner.polls.load(Ordering::Relaxed)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn polls_for_the_window_after_work_then_sleeps_then_stops() {
        let spinner = Spinner::new(Duration::from_millis(5));
        let task = tokio::spawn(Arc::clone(&spinner).run());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(polls(&spinner), 0, "no work yet: no polling");

        spinner.touch();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let during = polls(&spinner);
        assert!(during > 0, "polling after work");

        // Well past the window the task waits again.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = polls(&spinner);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(polls(&spinner), after, "asleep after the window");

        // More work keeps it polling past the first window.
        spinner.touch();
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(2)).await;
            spinner.touch();
        }
        assert!(polls(&spinner) > after);

        spinner.stop();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the task ends after stop")
            .expect("no panic");
    }
}

//! A bounded channel whose receiver takes everything waiting in one step,
//! for the hops that carry one small message after another: publications
//! to the driver, and deliveries from the driver to a subscriber.
//!
//! A sender locks, pushes and wakes the receiver only when the queue was
//! empty; the receiver swaps the whole queue for its own empty buffer under
//! the same lock and then pops without locking. A burst of messages thus
//! costs one uncontended lock each and one wakeup in all, where a channel
//! of the general kind pays a semaphore, a linked-list slot and a wakeup
//! check per message.
//!
//! Capacity counts what waits in the shared queue; a batch the receiver
//! took is its own (at most one capacity more).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use tokio::sync::Notify;

/// How far [`Sender::try_send_run`] got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Run {
    /// The whole run is in the channel.
    Sent,
    /// The channel filled up; the rest of the run still waits.
    Full,
}

/// Why a message was not sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TrySendError<T> {
    /// The queue is at its capacity.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    receiver_alive: bool,
    /// Senders waiting for room.
    waiting: usize,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Wakes the receiver: something to take, or the last sender left.
    items: Notify,
    /// Wakes senders waiting for room (or the receiver's departure).
    room: Notify,
    capacity: usize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every update under this lock is a single push, swap or counter
        // change: a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A channel of `capacity` messages (at least one).
pub(crate) fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receiver_alive: true,
            waiting: 0,
        }),
        items: Notify::new(),
        room: Notify::new(),
        capacity: capacity.max(1),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver {
            shared,
            batch: VecDeque::new(),
        },
    )
}

/// The sending side; clones send into the same queue.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let last = {
            let mut state = self.shared.lock();
            state.senders -= 1;
            state.senders == 0
        };
        if last {
            self.shared.items.notify_one();
        }
    }
}

impl<T> Sender<T> {
    /// Sends without waiting.
    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let was_empty = {
            let mut state = self.shared.lock();
            if !state.receiver_alive {
                return Err(TrySendError::Closed(msg));
            }
            if state.queue.len() >= self.shared.capacity {
                return Err(TrySendError::Full(msg));
            }
            state.queue.push_back(msg);
            state.queue.len() == 1
        };
        if was_empty {
            self.shared.items.notify_one();
        }
        Ok(())
    }

    /// Sends the run of messages for `key` at the front of `queue`, under
    /// one lock, as far as there is room, each as `convert` makes it (and
    /// not at all where it gives `None`); `Err` if the receiver is gone (the
    /// run is then dropped from `queue`).
    pub(crate) fn try_send_run<K: PartialEq, U>(
        &self,
        queue: &mut VecDeque<(K, U)>,
        key: &K,
        mut convert: impl FnMut(U) -> Option<T>,
    ) -> Result<Run, ()> {
        let (was_empty, run) = {
            let mut state = self.shared.lock();
            let was_empty = state.queue.is_empty();
            let mut run = Run::Sent;
            while queue.front().is_some_and(|(k, _)| k == key) {
                if !state.receiver_alive {
                    drop(state);
                    while queue.front().is_some_and(|(k, _)| k == key) {
                        queue.pop_front();
                    }
                    return Err(());
                }
                if state.queue.len() >= self.shared.capacity {
                    run = Run::Full;
                    break;
                }
                if let Some(msg) = queue.pop_front().and_then(|(_, msg)| convert(msg)) {
                    state.queue.push_back(msg);
                }
            }
            (was_empty && !state.queue.is_empty(), run)
        };
        if was_empty {
            self.shared.items.notify_one();
        }
        Ok(run)
    }

    /// Sends, waiting for room; gives the message back if the receiver is
    /// gone.
    pub(crate) async fn send(&self, mut msg: T) -> Result<(), T> {
        loop {
            match self.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(m)) => return Err(m),
                Err(TrySendError::Full(m)) => msg = m,
            }
            self.room().await;
        }
    }

    /// Resolves once the queue has room (or the receiver is gone).
    pub(crate) async fn room(&self) {
        let mut notified = pin!(self.shared.room.notified());
        notified.as_mut().enable();
        {
            let mut state = self.shared.lock();
            if !state.receiver_alive || state.queue.len() < self.shared.capacity {
                return;
            }
            state.waiting += 1;
        }
        // Counted as waiting until this future completes or is dropped.
        let _waiting = Waiting(&self.shared);
        notified.await;
    }
}

/// A sender waiting for room, until dropped.
struct Waiting<'a, T>(&'a Shared<T>);

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        self.0.lock().waiting -= 1;
    }
}

/// The receiving side.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The batch taken last, being handed out.
    batch: VecDeque<T>,
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.lock().receiver_alive = false;
        self.shared.room.notify_waiters();
    }
}

impl<T> Receiver<T> {
    /// The next message if one is waiting; `Err(true)` once every sender is
    /// gone and nothing is left, `Err(false)` when it is just empty.
    fn take(&mut self) -> Result<T, bool> {
        if let Some(msg) = self.batch.pop_front() {
            return Ok(msg);
        }
        let (wake_senders, closed) = {
            let mut state = self.shared.lock();
            std::mem::swap(&mut state.queue, &mut self.batch);
            (state.waiting > 0, state.senders == 0)
        };
        if wake_senders && !self.batch.is_empty() {
            self.shared.room.notify_waiters();
        }
        self.batch.pop_front().ok_or(closed)
    }

    /// The next message; `None` once every sender is gone and the queue is
    /// empty.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        loop {
            match self.take() {
                Ok(msg) => return Some(msg),
                Err(true) => return None,
                // `notify_one` keeps a permit when nobody waits, so a send
                // between `take` and here is not missed.
                Err(false) => self.shared.items.notified().await,
            }
        }
    }

    /// The next message if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        self.take().ok()
    }

    /// [`Receiver::recv`] for code outside any runtime: parks the thread.
    pub(crate) fn blocking_recv(&mut self) -> Option<T> {
        block_on(self.recv())
    }

    /// Messages waiting (taken or not).
    pub(crate) fn len(&self) -> usize {
        self.batch.len() + self.shared.lock().queue.len()
    }
}

/// Wakes a parked thread.
struct Unpark {
    thread: std::thread::Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Runs `future` to completion on this thread, parking between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    let unpark = Arc::new(Unpark {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(unpark.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        while !unpark.woken.swap(false, Ordering::Acquire) {
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn messages_arrive_in_order_and_the_end_is_seen_after_them() {
        let (tx, mut rx) = channel(4);
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        drop(tx);
        assert_eq!(rx.recv().await, Some(0));
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_run_for_one_key_goes_in_one_step_as_far_as_there_is_room() {
        let (tx, mut rx) = channel(3);
        let mut queue: VecDeque<(char, i32)> = [('a', 1), ('a', 2), ('b', 3), ('a', 4)]
            .into_iter()
            .collect();
        // Stops where the run of 'a' ends.
        assert_eq!(tx.try_send_run(&mut queue, &'a', Some), Ok(Run::Sent));
        assert_eq!(queue.front(), Some(&('b', 3)));
        queue.pop_front();
        // Stops at the capacity (two in the channel, room for one).
        queue.push_back(('a', 5));
        assert_eq!(tx.try_send_run(&mut queue, &'a', Some), Ok(Run::Full));
        assert_eq!(queue, [('a', 5)]);
        let got: Vec<i32> = std::iter::from_fn(|| rx.try_recv()).collect();
        assert_eq!(got, [1, 2, 4]);
        // A receiver that is gone: the run is dropped, the rest stays.
        queue.push_back(('b', 6));
        drop(rx);
        assert_eq!(tx.try_send_run(&mut queue, &'a', Some), Err(()));
        assert_eq!(queue, [('b', 6)]);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_then_takes_once_drained() {
        let (tx, mut rx) = channel(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        // Taking a batch makes room for a whole capacity more.
        assert_eq!(rx.try_recv(), Some(1));
        tx.try_send(3).unwrap();
        tx.try_send(4).unwrap();
        assert_eq!(tx.try_send(5), Err(TrySendError::Full(5)));
        let got: Vec<i32> = std::iter::from_fn(|| rx.try_recv()).collect();
        assert_eq!(got, [2, 3, 4]);
    }

    #[tokio::test]
    async fn a_waiting_sender_goes_on_when_the_receiver_takes() {
        let (tx, mut rx) = channel(1);
        tx.try_send(0).unwrap();
        let sender = tokio::spawn(async move {
            for i in 1..100 {
                tx.send(i).await.unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(i) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("no stall")
        {
            got.push(i);
        }
        sender.await.unwrap();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn senders_learn_that_the_receiver_is_gone() {
        let (tx, rx) = channel(1);
        tx.try_send(1).unwrap();
        let waiting = {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(2).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
        assert_eq!(waiting.await.unwrap(), Err(2));
        assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    }

    #[test]
    fn blocking_receive_works_across_threads() {
        let (tx, mut rx) = channel(8);
        let producer = std::thread::spawn(move || {
            for i in 0..1000u64 {
                while tx.try_send(i).is_err() {
                    std::thread::yield_now();
                }
            }
        });
        let mut sum = 0u64;
        while let Some(i) = rx.blocking_recv() {
            sum += i;
        }
        producer.join().unwrap();
        assert_eq!(sum, (0..1000u64).sum::<u64>());
    }
}

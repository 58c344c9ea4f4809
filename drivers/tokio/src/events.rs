//! The channel that carries the session's events from the driver task to the application
//! ([`Events`]).
//!
//! It moves events in batches: the driver hands over every event of one wake-up under one
//! lock, and [`Events`] takes everything waiting under one lock, then serves its own batch
//! without touching shared state. Per event that is a `VecDeque` push and pop; the lock, the
//! wake-up and the room check are paid once per batch (a bounded `tokio::sync::mpsc` pays a
//! semaphore permit, a list push and a waker per event, about a tenth of a subscriber's CPU).
//!
//! Bound: at most `capacity` events wait in the channel; past that the driver keeps the rest
//! and stops reading the socket (see the crate's backpressure notes), so at most `capacity`
//! more sit in the batch the application is working through.

use super::Error;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::sync::Notify;
use wasmqtt::session::Event;

/// The two ends, for one driver.
pub(super) fn channel(capacity: usize) -> (EventSender, Events) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            receiver: None,
            sender_waiting: false,
            sender_closed: false,
            receiver_closed: false,
        }),
        room: Notify::new(),
    });
    let sender = EventSender {
        shared: Arc::clone(&shared),
        capacity: capacity.max(1),
    };
    let events = Events {
        shared,
        batch: VecDeque::new(),
    };
    (sender, events)
}

struct Shared {
    state: Mutex<State>,
    /// Notified when the application took events the driver is waiting to hand over, or
    /// dropped [`Events`].
    room: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while it holds the lock; if something did, the queue is still whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct State {
    /// Handed over by the driver, not yet taken by the application.
    queue: VecDeque<Event>,
    /// The application's task, waiting for an event.
    receiver: Option<Waker>,
    /// The driver holds events that did not fit.
    sender_waiting: bool,
    /// The driver has ended: once the queue is empty, [`Events::recv`] answers `None`.
    sender_closed: bool,
    /// [`Events`] was dropped: events are dropped from now on.
    receiver_closed: bool,
}

/// The driver's end.
pub(super) struct EventSender {
    shared: Arc<Shared>,
    capacity: usize,
}

impl EventSender {
    /// Moves from `pending` (oldest first) as many events as the channel has room for, and
    /// wakes the application if any moved. Drops them all if the application dropped
    /// [`Events`]. What is left in `pending` waits for [`EventSender::room`].
    pub(super) fn send_from(&self, pending: &mut VecDeque<Event>) {
        if pending.is_empty() {
            return;
        }
        let mut state = self.shared.lock();
        if state.receiver_closed {
            drop(state);
            pending.clear();
            return;
        }
        let room = self.capacity.saturating_sub(state.queue.len());
        if state.queue.is_empty() && pending.len() <= room {
            // The common case: the whole batch, by swapping the deques (`pending` gets the
            // queue's empty allocation back).
            std::mem::swap(&mut state.queue, pending);
        } else {
            let n = room.min(pending.len());
            state.queue.extend(pending.drain(..n));
        }
        state.sender_waiting = !pending.is_empty();
        let waker = if state.queue.is_empty() {
            None
        } else {
            state.receiver.take()
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Resolves once the application took events after a [`EventSender::send_from`] that
    /// left some behind, or dropped [`Events`] (at once if that happened since).
    pub(super) async fn room(&self) {
        self.shared.room.notified().await
    }

    /// Whether the application dropped [`Events`].
    pub(super) fn is_closed(&self) -> bool {
        self.shared.lock().receiver_closed
    }
}

impl Drop for EventSender {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.shared.lock();
            state.sender_closed = true;
            state.receiver.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The session's events for the application: [`Event::Connected`], [`Event::Disconnected`],
/// [`Event::Message`], [`Event::Resubscribing`] and [`Event::AuthChallenge`].
///
/// Completions (`PublishComplete`, `Subscribed`, `Unsubscribed`, `RequestFailed`) are not
/// sent here: they resolve the [`PublishHandle`](super::PublishHandle) or the call that made
/// the request. The stream ends (`recv` answers `None`) when the driver has ended.
///
/// Receiving takes part in tokio's cooperative scheduling like a tokio channel does: a task
/// that only ever receives still yields to the others now and then.
pub struct Events {
    shared: Arc<Shared>,
    /// Taken from the channel, not yet returned.
    batch: VecDeque<Event>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("taken", &self.batch.len())
            .finish_non_exhaustive()
    }
}

impl Events {
    /// The next event; `None` once the driver has ended and every event was taken.
    pub async fn recv(&mut self) -> Option<Event> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next event if one is waiting (`Ok(None)` when none is), or `Err(Error::Closed)`
    /// once the driver has ended and every event was taken.
    pub fn try_recv(&mut self) -> Result<Option<Event>, Error> {
        if let Some(e) = self.batch.pop_front() {
            return Ok(Some(e));
        }
        match self.refill(None) {
            Refill::Taken => Ok(self.batch.pop_front()),
            Refill::Empty => Ok(None),
            Refill::Ended => Err(Error::Closed),
        }
    }

    /// Polls for the next event (for use in a hand-written `Future` or `Stream`).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        if let Some(e) = self.batch.pop_front() {
            coop.made_progress();
            return Poll::Ready(Some(e));
        }
        match self.refill(Some(cx.waker())) {
            Refill::Taken => {
                coop.made_progress();
                Poll::Ready(self.batch.pop_front())
            }
            Refill::Empty => Poll::Pending,
            Refill::Ended => {
                coop.made_progress();
                Poll::Ready(None)
            }
        }
    }

    /// Takes everything the channel holds into `batch` (empty when called); with nothing
    /// there and the driver still running, leaves `waker` to be woken by the next event.
    fn refill(&mut self, waker: Option<&Waker>) -> Refill {
        let mut state = self.shared.lock();
        if !state.queue.is_empty() {
            std::mem::swap(&mut state.queue, &mut self.batch);
            let notify = std::mem::take(&mut state.sender_waiting);
            drop(state);
            if notify {
                self.shared.room.notify_one();
            }
            return Refill::Taken;
        }
        if state.sender_closed {
            return Refill::Ended;
        }
        if let Some(waker) = waker {
            match &mut state.receiver {
                Some(w) if w.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
        Refill::Empty
    }
}

enum Refill {
    Taken,
    Empty,
    Ended,
}

impl Drop for Events {
    fn drop(&mut self) {
        let queue = {
            let mut state = self.shared.lock();
            state.receiver_closed = true;
            state.receiver = None;
            std::mem::take(&mut state.queue)
        };
        // Dropped outside the lock.
        drop(queue);
        self.shared.room.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmqtt::session::Event;

    fn event(n: u16) -> Event {
        Event::Resubscribing {
            filters: n as usize,
        }
    }

    fn count(e: Event) -> usize {
        match e {
            Event::Resubscribing { filters } => filters,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn events_arrive_in_order_across_batches_and_the_bound_holds() {
        let (tx, mut rx) = channel(3);
        let mut pending: VecDeque<Event> = (0..5).map(event).collect();
        tx.send_from(&mut pending);
        // Three fit; two wait with the driver.
        assert_eq!(pending.len(), 2);
        assert_eq!(count(rx.recv().await.unwrap()), 0);
        // Taking the batch made room: the driver is told.
        tokio::time::timeout(std::time::Duration::from_secs(5), tx.room())
            .await
            .expect("room notified");
        tx.send_from(&mut pending);
        assert!(pending.is_empty());
        pending.push_back(event(5));
        tx.send_from(&mut pending);
        let mut got = Vec::new();
        while let Ok(Some(e)) = rx.try_recv() {
            got.push(count(e));
        }
        assert_eq!(got, [1, 2, 3, 4, 5]);
        drop(tx);
        assert!(rx.recv().await.is_none());
        assert!(matches!(rx.try_recv(), Err(Error::Closed)));
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_and_a_dropped_one_discards() {
        let (tx, mut rx) = channel(8);
        let waiter = tokio::spawn(async move {
            let first = rx.recv().await.map(count);
            (first, rx)
        });
        tokio::task::yield_now().await;
        // The test runtime has one thread: the waiter ran up to its `recv` and waits.
        assert!(tx.shared.lock().receiver.is_some(), "the receiver waits");
        tx.send_from(&mut VecDeque::from([event(7)]));
        let (first, rx) = waiter.await.unwrap();
        assert_eq!(first, Some(7));
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
        let mut pending: VecDeque<Event> = (0..20).map(event).collect();
        tx.send_from(&mut pending);
        assert!(pending.is_empty(), "nobody wants them: dropped");
        tokio::time::timeout(std::time::Duration::from_secs(5), tx.room())
            .await
            .expect("a dropped receiver wakes a waiting driver");
    }
}

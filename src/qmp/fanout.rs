//! Hands every item sent to each subscriber, through a queue per subscriber that grows only
//! while items wait in it and is bounded by a backlog.
//!
//! A broadcast ring allocates its whole backlog up front (for QMP notices, ~400 KiB per
//! connection); here an idle connection costs a few words per subscriber. A subscriber more
//! than the backlog behind loses the oldest items and is told how many. Closing delivers what
//! is queued, then ends every subscription. Knows nothing of QMP.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use tokio::sync::Notify;

/// A queue emptied to this capacity or below keeps its memory; a larger one gives it back.
const KEPT_CAPACITY: usize = 16;

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received<T> {
    /// The next item.
    Item(T),
    /// The subscriber fell behind and this many items were dropped (the oldest).
    Missed(u64),
    /// The fan-out was closed and everything queued was delivered.
    Closed,
}

struct Pending<T> {
    items: VecDeque<T>,
    missed: u64,
    closed: bool,
}

struct Queue<T> {
    pending: Mutex<Pending<T>>,
    ready: Notify,
}

impl<T> Queue<T> {
    fn pending(&self) -> MutexGuard<'_, Pending<T>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Subscribers<T> {
    queues: Vec<Weak<Queue<T>>>,
    closed: bool,
}

/// The sending side: hands each item to every live subscriber.
pub struct Fanout<T> {
    subscribers: Mutex<Subscribers<T>>,
    backlog: usize,
}

/// One subscriber's end.
pub struct Receiver<T> {
    queue: Arc<Queue<T>>,
}

impl<T: Clone> Fanout<T> {
    /// A fan-out whose subscribers may fall `backlog` items behind (at least one).
    pub fn new(backlog: usize) -> Fanout<T> {
        Fanout {
            subscribers: Mutex::new(Subscribers {
                queues: Vec::new(),
                closed: false,
            }),
            backlog: backlog.max(1),
        }
    }

    fn subscribers(&self) -> MutexGuard<'_, Subscribers<T>> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A new subscriber, receiving what is sent from now on (nothing, if already closed).
    pub fn subscribe(&self) -> Receiver<T> {
        let mut subscribers = self.subscribers();
        let queue = Arc::new(Queue {
            pending: Mutex::new(Pending {
                items: VecDeque::new(),
                missed: 0,
                closed: subscribers.closed,
            }),
            ready: Notify::new(),
        });
        subscribers.queues.push(Arc::downgrade(&queue));
        Receiver { queue }
    }

    /// Hands `item` to every live subscriber (the last one gets it without a copy).
    pub fn send(&self, item: T) {
        let live: Vec<Arc<Queue<T>>> = {
            let mut subscribers = self.subscribers();
            subscribers.queues.retain(|queue| queue.strong_count() > 0);
            subscribers
                .queues
                .iter()
                .filter_map(Weak::upgrade)
                .collect()
        };
        let mut item = Some(item);
        let count = live.len();
        for (at, queue) in live.into_iter().enumerate() {
            let copy = if at + 1 == count {
                item.take()
            } else {
                item.clone()
            };
            let Some(copy) = copy else {
                break;
            };
            {
                let mut pending = queue.pending();
                if pending.items.len() >= self.backlog {
                    pending.items.pop_front();
                    pending.missed += 1;
                }
                pending.items.push_back(copy);
            }
            queue.ready.notify_one();
        }
    }

    /// Ends every subscription once what is queued has been received.
    pub fn close(&self) {
        let queues: Vec<Arc<Queue<T>>> = {
            let mut subscribers = self.subscribers();
            subscribers.closed = true;
            subscribers
                .queues
                .drain(..)
                .filter_map(|queue| queue.upgrade())
                .collect()
        };
        for queue in queues {
            queue.pending().closed = true;
            queue.ready.notify_one();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item, a count of missed items, or the end.
    pub async fn recv(&mut self) -> Received<T> {
        loop {
            {
                let mut pending = self.queue.pending();
                if pending.missed > 0 {
                    return Received::Missed(std::mem::take(&mut pending.missed));
                }
                if let Some(item) = pending.items.pop_front() {
                    if pending.items.is_empty() && pending.items.capacity() > KEPT_CAPACITY {
                        pending.items.shrink_to(KEPT_CAPACITY);
                    }
                    return Received::Item(item);
                }
                if pending.closed {
                    return Received::Closed;
                }
            }
            // A notification sent since the check above is kept as a permit, so none is lost.
            self.queue.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn now<T>(receiver: &mut Receiver<T>) -> Option<Received<T>> {
        receiver.recv().now_or_never()
    }

    #[test]
    fn every_subscriber_gets_every_item_then_the_end() {
        let fanout = Fanout::new(8);
        let mut first = fanout.subscribe();
        fanout.send(1);
        let mut second = fanout.subscribe();
        fanout.send(2);
        fanout.close();
        assert_eq!(now(&mut first), Some(Received::Item(1)));
        assert_eq!(now(&mut first), Some(Received::Item(2)));
        assert_eq!(now(&mut first), Some(Received::Closed));
        assert_eq!(now(&mut second), Some(Received::Item(2)));
        assert_eq!(now(&mut second), Some(Received::Closed));
        assert_eq!(now(&mut fanout.subscribe()), Some(Received::Closed));
    }

    #[test]
    fn a_subscriber_far_behind_loses_the_oldest_and_is_told() {
        let fanout = Fanout::new(3);
        let mut slow = fanout.subscribe();
        for n in 0..10 {
            fanout.send(n);
        }
        assert_eq!(now(&mut slow), Some(Received::Missed(7)));
        assert_eq!(now(&mut slow), Some(Received::Item(7)));
        assert_eq!(now(&mut slow), Some(Received::Item(8)));
        assert_eq!(now(&mut slow), Some(Received::Item(9)));
        assert_eq!(now(&mut slow), None, "nothing more yet");
    }

    #[test]
    fn queues_grow_on_use_and_dropped_subscribers_are_forgotten() {
        let fanout = Fanout::new(4096);
        let mut receiver = fanout.subscribe();
        assert_eq!(receiver.queue.pending().items.capacity(), 0);
        for n in 0..1000 {
            fanout.send(n);
        }
        for _ in 0..1000 {
            assert!(matches!(now(&mut receiver), Some(Received::Item(_))));
        }
        assert!(receiver.queue.pending().items.capacity() <= KEPT_CAPACITY);
        drop(fanout.subscribe());
        fanout.send(0);
        assert_eq!(fanout.subscribers().queues.len(), 1);
    }

    #[tokio::test]
    async fn a_waiting_subscriber_wakes_for_an_item() {
        let fanout = Arc::new(Fanout::new(4));
        let mut receiver = fanout.subscribe();
        let sender = fanout.clone();
        let sending = tokio::spawn(async move {
            tokio::task::yield_now().await;
            sender.send("x");
        });
        assert_eq!(receiver.recv().await, Received::Item("x"));
        sending.await.unwrap();
    }
}

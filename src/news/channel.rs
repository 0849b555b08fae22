//! The news channel from the background tasks to the app loop, bounded against floods.
//!
//! A peer that floods QMP events must not grow the queue without end when the app loop falls
//! behind: at most [`QUEUE_EVENTS`] QMP events (and [`QUEUE_BYTES`] of them, by
//! [`EventRecord::cost`](super::EventRecord::cost)) wait at once. Events beyond that are
//! dropped and counted per VM, and the count arrives as [`AppEvent::EventsMissed`] before that
//! VM's next piece of news, or once the queue has drained. Everything else (samples,
//! connections, command results) is never dropped: it comes at the pace of the poll interval
//! or of the user's keys, not of the peer.
//!
//! This module only moves news; it never looks inside it beyond its VM and its size.

use super::{AppEvent, VmId};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// The most QMP events waiting for the app loop at once.
pub const QUEUE_EVENTS: usize = 1024;
/// The most memory QMP events waiting for the app loop take at once.
pub const QUEUE_BYTES: usize = 8 * 1024 * 1024;

/// What the sending and receiving ends share.
#[derive(Default)]
struct Shared {
    queued_events: AtomicUsize,
    queued_bytes: AtomicUsize,
    missed: Mutex<BTreeMap<VmId, u64>>,
}

impl Shared {
    fn missed(&self) -> std::sync::MutexGuard<'_, BTreeMap<VmId, u64>> {
        self.missed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_full(&self) -> bool {
        self.queued_events.load(Ordering::Relaxed) >= QUEUE_EVENTS
            || self.queued_bytes.load(Ordering::Relaxed) >= QUEUE_BYTES
    }
}

/// The cost a piece of news counts against the queue's limits: `Some` for QMP events only.
fn event_cost(news: &AppEvent) -> Option<usize> {
    match news {
        AppEvent::Event { record, .. } => Some(record.cost()),
        _ => None,
    }
}

/// A new channel: the senders for the background tasks, the receiver for the app loop.
pub fn channel() -> (NewsSender, NewsReceiver) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    (
        NewsSender {
            inner: sender,
            shared: shared.clone(),
        },
        NewsReceiver {
            inner: receiver,
            shared,
        },
    )
}

/// The app loop is gone: news can no longer be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the app loop is gone")]
pub struct Closed;

/// The sending end; clones share the queue's limits.
#[derive(Clone)]
pub struct NewsSender {
    inner: mpsc::UnboundedSender<AppEvent>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NewsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewsSender").finish_non_exhaustive()
    }
}

impl NewsSender {
    /// Queues a piece of news without waiting. A QMP event that finds the queue full is
    /// counted as missed instead. Fails only once the app loop is gone.
    pub fn send(&self, news: AppEvent) -> Result<(), Closed> {
        if self.inner.is_closed() {
            return Err(Closed);
        }
        let vm = news.vm();
        let cost = event_cost(&news);
        let mut missed = self.shared.missed();
        if cost.is_some() && self.shared.is_full() {
            let count = missed.entry(vm).or_default();
            *count = count.saturating_add(1);
            return Ok(());
        }
        if let Some(count) = missed.remove(&vm) {
            // Said first, so the VM's news stays in the order it happened.
            self.inner
                .send(AppEvent::EventsMissed { vm, count })
                .map_err(|_| Closed)?;
        }
        if let Some(cost) = cost {
            self.shared.queued_events.fetch_add(1, Ordering::Relaxed);
            self.shared.queued_bytes.fetch_add(cost, Ordering::Relaxed);
        }
        drop(missed);
        self.inner.send(news).map_err(|_| Closed)
    }
}

impl NewsSender {
    /// A function for the monitor's tasks ([`crate::monitor::run`],
    /// [`crate::monitor::migration::follow`]) that wraps their news as
    /// [`AppEvent::Monitor`] about `vm`.
    pub fn monitor_reporter(
        &self,
        vm: VmId,
    ) -> impl Fn(crate::monitor::News) -> Result<(), crate::monitor::Unheard> + Send + Sync + 'static
    {
        let sender = self.clone();
        move |news| {
            sender
                .send(AppEvent::Monitor { vm, news })
                .map_err(|Closed| crate::monitor::Unheard)
        }
    }
}

/// The receiving end, read by the app loop.
pub struct NewsReceiver {
    inner: mpsc::UnboundedReceiver<AppEvent>,
    shared: Arc<Shared>,
}

impl NewsReceiver {
    /// The next piece of news; `None` once every sender is gone and everything was delivered.
    /// Cancel-safe (usable in `tokio::select!`).
    pub async fn recv(&mut self) -> Option<AppEvent> {
        if let Ok(news) = self.try_recv() {
            return Some(news);
        }
        let news = self.inner.recv().await?;
        Some(self.taken(news))
    }

    /// True when no news waits in the queue (news may still arrive).
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The next piece of news if one is waiting (missed events are reported once the queue
    /// has drained).
    pub fn try_recv(&mut self) -> Result<AppEvent, mpsc::error::TryRecvError> {
        match self.inner.try_recv() {
            Ok(news) => Ok(self.taken(news)),
            Err(mpsc::error::TryRecvError::Empty) => self
                .shared
                .missed()
                .pop_first()
                .map(|(vm, count)| AppEvent::EventsMissed { vm, count })
                .ok_or(mpsc::error::TryRecvError::Empty),
            Err(error) => Err(error),
        }
    }

    fn taken(&self, news: AppEvent) -> AppEvent {
        if let Some(cost) = event_cost(&news) {
            self.shared.queued_events.fetch_sub(1, Ordering::Relaxed);
            self.shared.queued_bytes.fetch_sub(cost, Ordering::Relaxed);
        }
        news
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::news::EventRecord;

    fn event(text: &str) -> AppEvent {
        AppEvent::Event {
            vm: 3,
            record: EventRecord::note(text),
        }
    }

    #[test]
    fn a_flood_waits_up_to_the_limit_and_says_what_it_dropped() {
        let (sender, mut receiver) = channel();
        for _ in 0..QUEUE_EVENTS + 100 {
            sender.send(event("FLOOD")).unwrap();
        }
        let notice = AppEvent::Notice {
            vm: 3,
            text: "never dropped".to_string(),
        };
        sender.send(notice).unwrap();
        sender.send(event("LATER")).unwrap();
        let mut names = Vec::new();
        let mut missed = 0;
        while let Ok(news) = receiver.try_recv() {
            match news {
                AppEvent::Event { record, .. } => names.push(record.text),
                AppEvent::EventsMissed { vm: 3, count } => {
                    missed += count;
                    names.push(format!("missed {count}"));
                }
                AppEvent::Notice { text, .. } => names.push(text),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(missed, 101, "the flood's excess and LATER are counted");
        assert_eq!(names.len(), QUEUE_EVENTS + 3);
        assert_eq!(
            names[QUEUE_EVENTS..],
            ["missed 100", "never dropped", "missed 1"].map(String::from),
            "the count comes before the VM's next news, and the rest once the queue drained"
        );
        let last = receiver.try_recv();
        assert!(last.is_err(), "{last:?}");
    }

    #[tokio::test]
    async fn what_was_missed_is_said_once_the_queue_drains() {
        let (sender, mut receiver) = channel();
        for _ in 0..QUEUE_EVENTS + 5 {
            sender.send(event("FLOOD")).unwrap();
        }
        let mut events = 0;
        loop {
            match receiver.recv().await {
                Some(AppEvent::Event { .. }) => events += 1,
                Some(AppEvent::EventsMissed { count, .. }) => {
                    assert_eq!((events, count), (QUEUE_EVENTS, 5));
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        sender.send(event("AFTER")).unwrap();
        assert!(matches!(
            receiver.recv().await,
            Some(AppEvent::Event { .. })
        ));
    }
}

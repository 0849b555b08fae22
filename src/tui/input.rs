//! Terminal input (keys, the mouse, pastes, resizes) read on a thread of its own and handed
//! to the event loop over a channel ([`Input`]).
//!
//! crossterm's `EventStream` looks for input each time it is polled, with a zero-timeout
//! `try_lock` of crossterm's input reader, which its own waiting thread holds: every look
//! spins and yields the CPU several times before it gives up. The event loop polls all its
//! sources at every piece of news, so with 50 VMs at a quarter of a second (200 samples a
//! second) those looks took a fifth of the dashboard's CPU (perf: `sched_yield`,
//! `finish_task_switch`, `RawMutex::lock_slow`). Here one thread waits for input with
//! `crossterm::event::poll`, and the loop only looks at a channel.

use crossterm::event::Event;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the reading thread waits for input before it looks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// The terminal's input, read by a thread that stops when this is dropped (within
/// [`STOP_CHECK`], so that input typed after the dashboard ends goes to the shell).
pub struct Input {
    events: mpsc::UnboundedReceiver<std::io::Result<Event>>,
    stop: Arc<AtomicBool>,
}

impl Input {
    /// Starts the reading thread.
    pub fn start() -> std::io::Result<Input> {
        let (sender, events) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("terminal input".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    let event = match crossterm::event::poll(STOP_CHECK) {
                        Ok(false) => continue,
                        Ok(true) => crossterm::event::read(),
                        Err(error) => Err(error),
                    };
                    let failed = event.is_err();
                    if sender.send(event).is_err() || failed {
                        break;
                    }
                }
            })?;
        Ok(Input { events, stop })
    }

    /// The next input, or an error reading the terminal; `None` once the thread has stopped.
    pub async fn next(&mut self) -> Option<std::io::Result<Event>> {
        self.events.recv().await
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

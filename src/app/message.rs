//! The message line and its history: what the dashboard says ([`Message`]), on which screen
//! and about which VM, how long it stays, and which one the current screen shows.

use super::{Model, View};
use crate::news::VmId;
use std::time::{Duration, Instant};

/// How long an information message stays on the message line.
pub const INFO_LIFETIME: Duration = Duration::from_secs(10);
/// How long an error stays on the message line.
pub const ERROR_LIFETIME: Duration = Duration::from_secs(30);
/// Messages kept in the history.
pub const MESSAGE_HISTORY_LEN: usize = 500;

/// A message for the message line, kept in the history afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The text (QEMU's errors verbatim).
    pub text: String,
    /// Shown as an error.
    pub is_error: bool,
    /// When it was said (wall clock, for the history).
    pub at: chrono::DateTime<chrono::Local>,
    /// When it was said (monotonic, for fading); set when the model says it.
    pub said: Option<Instant>,
    /// The VM it is about, if any.
    pub vm: Option<VmId>,
    /// The screen it was said on; `None` for news from the background, which belongs to
    /// every screen of its VM and to the fleet table.
    pub view: Option<View>,
}

impl Message {
    /// A success or information message.
    pub fn info(text: impl Into<String>) -> Message {
        Message::new(text.into(), false)
    }

    /// An error message.
    pub fn error(text: impl Into<String>) -> Message {
        Message::new(text.into(), true)
    }

    fn new(text: String, is_error: bool) -> Message {
        Message {
            text,
            is_error,
            at: chrono::Local::now(),
            said: None,
            vm: None,
            view: None,
        }
    }

    /// True while it is young enough for the message line (errors stay longer).
    pub fn is_fresh(&self, now: Instant) -> bool {
        let lifetime = if self.is_error {
            ERROR_LIFETIME
        } else {
            INFO_LIFETIME
        };
        self.said
            .is_none_or(|said| now.saturating_duration_since(said) < lifetime)
    }
}

impl Model {
    /// Says `message` on the screen showing now (the fleet, or a screen of the current VM).
    pub fn say(&mut self, message: Message) {
        let vm = (self.view != View::Fleet).then_some(self.current);
        self.record(Message {
            vm,
            view: Some(self.view),
            ..message
        });
    }

    /// Says `message` on every screen: news about the whole program (the event log file, the
    /// discovery directory, the targets), not about one VM.
    pub fn say_everywhere(&mut self, message: Message) {
        self.record(Message {
            vm: None,
            view: None,
            ..message
        });
    }

    /// Says `message` as news about `vm` from the background, for every screen of that VM.
    pub(crate) fn say_about(&mut self, vm: VmId, message: Message) {
        self.record(Message {
            vm: Some(vm),
            view: None,
            ..message
        });
    }

    fn record(&mut self, mut message: Message) {
        message.said = Some(self.clock.unwrap_or_else(Instant::now));
        if self.messages.len() == MESSAGE_HISTORY_LEN {
            self.messages.pop_front();
        }
        self.messages.push_back(message.clone());
        self.message = Some(message);
    }

    /// Shows an information message from outside the model on every screen (e.g. a note about
    /// the targets).
    pub fn note(&mut self, text: &str) {
        self.say_everywhere(Message::info(text));
    }

    /// The message the message line shows now: the newest that belongs to this screen (said
    /// on it, or background news about its VM; the fleet shows news about every VM) and has
    /// not faded.
    pub fn message_for_screen(&self, now: Instant) -> Option<&Message> {
        self.messages.iter().rev().find(|message| {
            let everywhere = message.vm.is_none() && message.view.is_none();
            let belongs = everywhere
                || match (self.view, message.view) {
                    (View::Fleet, view) => view.is_none_or(|v| v == View::Fleet),
                    (view, said_on) => {
                        message.vm == Some(self.current) && said_on.is_none_or(|v| v == view)
                    }
                };
            belongs && message.is_fresh(now)
        })
    }
}

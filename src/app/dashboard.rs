//! One VM's dashboard: the keys of its panels (focus, scrolling, the event log's filter and
//! details), pause/resume and the questions for reset, power down and quit, and the poll
//! interval (shared with the fleet).

use super::ListId;
use super::keymap::Action;
use super::lists::Movement;
use super::prompt::{InputLine, InputPurpose};
use super::question::{Dangerous, Question};
use super::{Effect, INTERVAL_RANGE, Message, Model, View};
use crate::news::VmCommand;

/// The panel that arrows act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// vCPUs.
    Cpus,
    /// Block devices.
    Blocks,
    /// Event log.
    Events,
}

impl Panel {
    /// The dashboard panel that shows `list`, if it is one of the dashboard's.
    pub fn of(list: ListId) -> Option<Panel> {
        match list {
            ListId::Cpus => Some(Panel::Cpus),
            ListId::Blocks => Some(Panel::Blocks),
            ListId::Events => Some(Panel::Events),
            _ => None,
        }
    }

    /// The list the panel shows.
    pub fn list(self) -> ListId {
        match self {
            Panel::Cpus => ListId::Cpus,
            Panel::Blocks => ListId::Blocks,
            Panel::Events => ListId::Events,
        }
    }

    const ORDER: [Panel; 3] = [Panel::Cpus, Panel::Blocks, Panel::Events];

    fn step(self, forward: bool) -> Panel {
        let at = Self::ORDER.iter().position(|&p| p == self).unwrap_or(0);
        let len = Self::ORDER.len();
        Self::ORDER[if forward {
            (at + 1) % len
        } else {
            (at + len - 1) % len
        }]
    }
}

impl Model {
    pub(super) fn act_vm(&mut self, action: Action) -> Vec<Effect> {
        if let Some(movement) = Movement::of(action) {
            self.move_list(self.focus.list(), movement);
            return Vec::new();
        }
        match action {
            Action::TogglePause => {
                let running = self
                    .vm()
                    .and_then(|vm| vm.status.as_ref())
                    .is_some_and(|s| s.running);
                if running {
                    return self.execute(self.current, VmCommand::Pause);
                }
                return self.execute(self.current, VmCommand::Resume);
            }
            Action::Reset => self.ask(Question::Vm(Dangerous::Reset)),
            Action::PowerDown => self.ask(Question::Vm(Dangerous::PowerDown)),
            Action::QuitVm => self.ask(Question::Vm(Dangerous::QuitVm)),
            Action::Help => self.help = true,
            Action::Filter => {
                self.focus = Panel::Events;
                self.input = Some(InputLine::new(
                    InputPurpose::EventFilter,
                    self.event_filter.clone(),
                ));
            }
            Action::Open if self.focus == Panel::Events => {
                let chosen = self.vm().and_then(|vm| {
                    let shown = self.shown_events(vm);
                    let at = shown.len().checked_sub(1 + self.event_scroll)?;
                    shown.get(at).map(|record| (*record).clone())
                });
                match chosen {
                    Some(record) => self.event_detail = Some(record),
                    None => self.say(Message::error("no event to open")),
                }
            }
            Action::Open => self.say(Message::error(
                "Enter opens an event: Tab to the event log first",
            )),
            Action::Cancel if !self.event_filter.is_empty() => {
                self.set_filter(InputPurpose::EventFilter, String::new())
            }
            Action::Cancel if self.has_fleet() => self.view = View::Fleet,
            Action::FocusNext | Action::FocusPrevious => {
                self.focus = self.focus.step(action == Action::FocusNext);
            }
            Action::Faster | Action::Slower => {
                return self.change_interval(action == Action::Faster);
            }
            Action::Snapshots => {
                self.view = View::Snapshots;
                return self.list_snapshots();
            }
            Action::Monitor(key) => return self.act_monitor_key(key),
            _ => {}
        }
        Vec::new()
    }

    pub(super) fn change_interval(&mut self, faster: bool) -> Vec<Effect> {
        let factor = if faster { 0.5 } else { 2.0 };
        let next = self
            .interval
            .mul_f64(factor)
            .clamp(INTERVAL_RANGE.0, INTERVAL_RANGE.1);
        self.interval = next;
        self.say(Message::info(format!(
            "polling every {}",
            crate::format::seconds(next)
        )));
        vec![Effect::SetInterval(next)]
    }
}

//! One VM's dashboard: the keys of its panels (focus, scrolling, the event log's filter and
//! details), pause/resume and the questions for reset, power down and quit, and the poll
//! interval (shared with the fleet).

use super::keymap::Action;
use super::prompt::{InputLine, InputPurpose};
use super::question::{Dangerous, Question};
use super::{Effect, INTERVAL_RANGE, Message, Model, View};
use crate::collect::VmCommand;

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
            Action::Up | Action::Down => self.scroll(action == Action::Down),
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

    pub(super) fn scroll(&mut self, down: bool) {
        let Some(vm) = self.vms.get(self.current) else {
            return;
        };
        let step = |value: usize, max: usize| {
            if down {
                (value + 1).min(max)
            } else {
                value.saturating_sub(1)
            }
        };
        match self.focus {
            Panel::Cpus => {
                self.cpu_scroll = step(self.cpu_scroll, vm.vcpus.len().saturating_sub(1))
            }
            Panel::Blocks => {
                self.selected_block = step(self.selected_block, vm.blocks.len().saturating_sub(1))
            }
            // The log's offset counts up from the newest line: down moves towards it.
            Panel::Events => {
                let max = self.shown_events(vm).len().saturating_sub(1);
                self.event_scroll = if down {
                    self.event_scroll.saturating_sub(1)
                } else {
                    (self.event_scroll + 1).min(max)
                };
            }
        }
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

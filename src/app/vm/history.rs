//! A bounded series of samples ([`History`]) for the sparklines and charts: the newest
//! [`HISTORY_LEN`] values, oldest first.

use super::HISTORY_LEN;
use std::collections::VecDeque;

/// A bounded series for sparklines.
#[derive(Debug, Clone, Default)]
pub struct History {
    values: VecDeque<u64>,
}

impl History {
    /// Appends a value, dropping the oldest beyond [`HISTORY_LEN`].
    pub fn push(&mut self, value: u64) {
        if self.values.len() == HISTORY_LEN {
            self.values.pop_front();
        }
        self.values.push_back(value);
    }

    /// The newest `count` values, oldest first.
    pub fn last(&self, count: usize) -> Vec<u64> {
        let skip = self.values.len().saturating_sub(count);
        self.values.iter().skip(skip).copied().collect()
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

//! The media of a VM's block devices ([`Media`]): which `query-block` entry and medium each
//! polled block device has, found by drive id or node name, and its I/O errors in words.

use crate::news::BlockSample;
use crate::qmp::types::{BlockDeviceInfo, BlockInfo};
use std::collections::HashMap;

/// The media of a VM's block devices, indexed by drive id and node name, so that matching
/// every block row to its medium costs one lookup each.
#[derive(Debug)]
pub struct Media<'a> {
    infos: &'a [BlockInfo],
    by_device: HashMap<&'a str, usize>,
    by_node: HashMap<&'a str, usize>,
}

impl<'a> Media<'a> {
    pub(super) fn new(infos: &'a [BlockInfo]) -> Media<'a> {
        let mut by_device = HashMap::new();
        let mut by_node = HashMap::new();
        for (at, info) in infos.iter().enumerate() {
            let Some(medium) = &info.inserted else {
                continue;
            };
            if !info.device.is_empty() {
                by_device.entry(info.device.as_str()).or_insert(at);
            }
            if let Some(node) = &medium.node_name {
                by_node.entry(node.as_str()).or_insert(at);
            }
        }
        Media {
            infos,
            by_device,
            by_node,
        }
    }

    /// The `query-block` entry of a block device: the first device with a medium whose drive
    /// id or node name matches.
    pub fn info_of(&self, block: &BlockSample) -> Option<&'a BlockInfo> {
        let by_device = (!block.device.is_empty())
            .then(|| self.by_device.get(block.device.as_str()))
            .flatten();
        let by_node = block
            .node_name
            .as_deref()
            .and_then(|node| self.by_node.get(node));
        let at = match (by_device, by_node) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) | (None, Some(&a)) => a,
            (None, None) => return None,
        };
        self.infos.get(at)
    }

    /// The medium of a block device (see [`Media::info_of`]).
    pub fn of(&self, block: &BlockSample) -> Option<&'a BlockDeviceInfo> {
        self.info_of(block).and_then(|info| info.inserted.as_ref())
    }

    /// A block device's I/O errors in a few words ("failed: 2 reads, 1 write"), or `None`
    /// when QEMU reports none: failed operations counted, and the error state of devices
    /// with an error policy (`io-status` "failed" or "nospace").
    pub fn io_errors(&self, block: &BlockSample) -> Option<String> {
        let totals = &block.totals;
        let mut parts = Vec::new();
        let mut count = |n: u64, what: &str| {
            if n > 0 {
                parts.push(format!("{n} {what}{}", if n == 1 { "" } else { "s" }));
            }
        };
        count(totals.failed_rd_operations, "read");
        count(totals.failed_wr_operations, "write");
        count(totals.failed_flush_operations, "flush");
        let status = self
            .info_of(block)
            .and_then(|info| info.io_status.as_deref())
            .filter(|status| *status != "ok");
        match (status, parts.is_empty()) {
            (None, true) => None,
            (None, false) => Some(format!("failed {}", parts.join(", "))),
            (Some(status), true) => Some(status.to_string()),
            (Some(status), false) => Some(format!("{status}; failed {}", parts.join(", "))),
        }
    }
}

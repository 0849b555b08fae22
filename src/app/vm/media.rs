//! The media of a VM's block devices ([`Media`]): which `query-block` entry and medium each
//! polled block device has, found by drive id or node name, and its I/O errors in words.

use crate::news::BlockSample;
use crate::qmp::types::{BlockDeviceInfo, BlockInfo};
use std::collections::HashMap;

/// The media of a VM's block devices. A VM with more than [`SCAN_UP_TO`] of them has its
/// list indexed by drive id and node name, so that matching every block row to its medium
/// costs one lookup each; a shorter list is scanned, which costs less than building maps.
#[derive(Debug)]
pub struct Media<'a> {
    infos: &'a [BlockInfo],
    index: Option<MediaIndex<'a>>,
}

/// Block devices up to which [`Media`] scans its list rather than index it.
const SCAN_UP_TO: usize = 8;

/// Where each drive id and node name with a medium first appears in a `query-block` list.
#[derive(Debug)]
struct MediaIndex<'a> {
    by_device: HashMap<&'a str, usize>,
    by_node: HashMap<&'a str, usize>,
}

impl<'a> MediaIndex<'a> {
    fn new(infos: &'a [BlockInfo]) -> MediaIndex<'a> {
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
        MediaIndex { by_device, by_node }
    }

    /// The first place of `block`'s drive id or node name.
    fn find(&self, block: &BlockSample) -> Option<usize> {
        let by_device = (!block.device.is_empty())
            .then(|| self.by_device.get(block.device.as_str()))
            .flatten();
        let by_node = block
            .node_name
            .as_deref()
            .and_then(|node| self.by_node.get(node));
        match (by_device, by_node) {
            (Some(&a), Some(&b)) => Some(a.min(b)),
            (Some(&a), None) | (None, Some(&a)) => Some(a),
            (None, None) => None,
        }
    }
}

/// The first place in `infos` of a medium with `block`'s drive id or node name.
fn scan(infos: &[BlockInfo], block: &BlockSample) -> Option<usize> {
    infos.iter().position(|info| {
        info.inserted.as_ref().is_some_and(|medium| {
            (!info.device.is_empty() && info.device == block.device)
                || (medium.node_name.is_some() && medium.node_name == block.node_name)
        })
    })
}

impl<'a> Media<'a> {
    pub(super) fn new(infos: &'a [BlockInfo]) -> Media<'a> {
        let index = (infos.len() > SCAN_UP_TO).then(|| MediaIndex::new(infos));
        Media { infos, index }
    }

    /// The `query-block` entry of a block device: the first device with a medium whose drive
    /// id or node name matches.
    pub fn info_of(&self, block: &BlockSample) -> Option<&'a BlockInfo> {
        let at = match &self.index {
            Some(index) => index.find(block)?,
            None => scan(self.infos, block)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info(device: &str, node: Option<&str>, medium: bool) -> BlockInfo {
        BlockInfo {
            device: device.into(),
            inserted: medium.then(|| BlockDeviceInfo {
                node_name: node.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn block(device: &str, node: Option<&str>) -> BlockSample {
        BlockSample {
            device: device.into(),
            node_name: node.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn the_scan_and_the_index_find_the_same_medium() {
        let mut infos = vec![
            info("cd0", None, false),
            info("", Some("n1"), true),
            info("vda", Some("n2"), true),
            info("vda", Some("n3"), true),
            info("cd0", Some("n4"), true),
        ];
        infos.extend((0..SCAN_UP_TO).map(|i| info(&format!("d{i}"), None, true)));
        let index = MediaIndex::new(&infos);
        let blocks = [
            block("vda", None),
            block("", Some("n1")),
            block("", Some("n3")),
            block("vda", Some("n3")),
            block("x", Some("n4")),
            block("cd0", None),
            block("d5", Some("n2")),
            block("", None),
            block("nothing", Some("none")),
        ];
        let expected = [
            Some(2),
            Some(1),
            Some(3),
            Some(2),
            Some(4),
            Some(4),
            Some(2),
            None,
            None,
        ];
        for (block, expected) in blocks.iter().zip(expected) {
            assert_eq!(scan(&infos, block), expected, "scan for {block:?}");
            assert_eq!(index.find(block), expected, "index for {block:?}");
        }
        assert!(Media::new(&infos).index.is_some());
        assert!(Media::new(&infos[..SCAN_UP_TO]).index.is_none());
    }
}

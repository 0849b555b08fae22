//! What the mouse can point at: the lists on screen, and what a wheel notch or a click did to
//! one. Input vocabulary only (the key map's actions carry it); moving a selection is
//! `lists`' work.

/// A list on screen that the pointer can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListId {
    /// The dashboard's vCPU table.
    Cpus,
    /// The dashboard's block device table.
    Blocks,
    /// The dashboard's event log.
    Events,
    /// The fleet table.
    Fleet,
    /// The snapshot table.
    Snapshots,
    /// The removable media table.
    Media,
    /// The host forwards table.
    Forwards,
    /// The hot-plug device table.
    Hotplug,
    /// The monitor console's transcript.
    Console,
}

/// What the mouse did to a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointer {
    /// A wheel notch over the list.
    Wheel {
        /// Which list.
        list: ListId,
        /// Towards the end of the list.
        down: bool,
    },
    /// A click on the list: on a row, or elsewhere in its panel.
    Click {
        /// Which list.
        list: ListId,
        /// The row clicked (an index into the list), if a row was hit.
        row: Option<usize>,
    },
    /// A click on a tab of the devices screen: its place in the tab bar
    /// (`devices::Tab::ALL`; an index, so this vocabulary needs nothing of the screens).
    Tab(usize),
}

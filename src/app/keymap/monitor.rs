//! The monitor screens' actions (the console, the devices screen's tabs and their prompts),
//! one variant of [`super::Action`] so that the key table stays one table ([`super::ROWS`]).

/// A monitor action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorKey {
    /// Open the monitor console.
    OpenConsole,
    /// Open the removable media tab.
    OpenMedia,
    /// Open the network tab.
    OpenNetwork,
    /// Open the hot-plug (devices) tab.
    OpenDevices,
    /// Open the migration tab.
    OpenMigration,
    /// Eject the selected medium.
    Eject,
    /// Eject even from a tray the guest locked (asks first).
    ForceEject,
    /// Insert a new medium (prompts for the image).
    ChangeMedium,
    /// Add a host forward or a device (prompts).
    Add,
    /// Remove the selected host forward or device.
    Remove,
    /// Start a migration (prompts for the URI, then asks).
    StartMigration,
    /// Cancel the running migration.
    CancelMigration,
    /// Switch the console between HMP and QMP.
    ToggleMode,
    /// The next choice in a prompt (format, netdev).
    NextChoice,
}

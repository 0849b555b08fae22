//! qemu-dash: a terminal dashboard for running QEMU virtual machines, over QMP.
//!
//! The library holds everything; `main.rs` only parses the command line and runs it. Modules:
//! [`qmp`] speaks the protocol; [`snapshot`] lists, checks and runs internal snapshots.

pub mod qmp;
pub mod snapshot;

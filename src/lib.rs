//! qemu-dash: a terminal dashboard for running QEMU virtual machines, over QMP.
//!
//! The library holds everything; `main.rs` only parses the command line and runs it. Modules:
//! [`qmp`] speaks the protocol.

pub mod qmp;

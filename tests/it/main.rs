//! Integration tests: one binary so that the QEMU harness can bound how many QEMUs run at once.

mod qmp_fake;
mod qmp_real;
mod snapshot_fake;
mod snapshot_real;
mod support;

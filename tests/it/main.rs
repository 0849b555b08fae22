//! Integration tests: one binary so that the QEMU harness can bound how many QEMUs run at once.

mod batch_real;
mod cli_input;
mod console_e2e;
mod dashboard_e2e;
mod demo;
mod devices_e2e;
mod exporter;
mod files_and_pipes;
mod fleet;
mod guest_real;
mod hmp;
mod hostile;
mod monitor_model;
mod monitor_real;
mod peer_text;
mod process_life;
mod qmp_fake;
mod qmp_real;
mod reliability;
mod render;
mod snapshot_e2e;
mod snapshot_fake;
mod snapshot_real;
mod ssh;
mod support;
mod truth;

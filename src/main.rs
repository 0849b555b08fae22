//! The `qemu-dash` binary: parses the command line, sets up logging, runs, and turns errors
//! into one clear line and a non-zero exit.

use clap::Parser;
use qemu_dash::cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Ends the ssh connections to other hosts (if any) on every way out of main.
    let _ssh = qemu_dash::ssh::Cleanup;
    // One thread: nothing here is CPU-parallel, and a single thread saves the wake-ups of
    // tasks hopping between workers (measured in bench/: about a third of the CPU per poll).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("qemu-dash: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The work runs as a task, not as `block_on`'s own future: waking a task from another
    // task on this thread is a push onto the run queue, while waking `block_on`'s future
    // writes to the runtime's eventfd (measured: about four writes per VM-poll in batch mode).
    let result = runtime.block_on(async move {
        let work = tokio::spawn(async move {
            match cli.command {
                Some(Command::Demo(args)) => qemu_dash::demo::run(args).await,
                Some(Command::Snapshot(command)) => qemu_dash::snapshot::run_cli(command).await,
                Some(Command::Exporter(args)) => qemu_dash::exporter::run(args).await,
                Some(Command::DemoGuard) => qemu_dash::demo::guard::run(),
                None => qemu_dash::watch(cli).await,
            }
        });
        match work.await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(anyhow::anyhow!("the main task ended: {error}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Errors carry peer text (QEMU's replies, socket names): escaped, never raw.
            let text = format!("{error:#}");
            eprintln!("qemu-dash: {}", qemu_dash::safe_text::for_terminal(&text));
            ExitCode::FAILURE
        }
    }
}

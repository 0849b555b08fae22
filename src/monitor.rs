//! The rest of the monitor: the console (HMP and raw QMP), removable media, user-mode
//! networking, migration and hot-plug.
//!
//! A [`Job`] is what the user asked for, already validated by the model; [`run`] carries it
//! out on a spawned task and reports the outcome as [`News`] to a function its caller gives
//! (the runtime wraps it in the app's news), so this module knows nothing of the app or of
//! the collectors.
//! QEMU's errors are kept verbatim. This module speaks QMP and never imports ratatui.

pub mod console;
pub mod history;
pub mod hotplug;
pub mod media;
pub mod migration;
pub mod network;

use crate::qmp::types::BlockInfo;
use crate::qmp::{Client, QmpError};
use console::ConsoleCommand;
use hotplug::{DeviceSpec, Peripheral};
use media::FormatChoice;
use migration::MigrationInfo;
use network::{ForwardKey, HostForward, NetworkInfo};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// Timeout for opening a new medium (the image may sit on a slow disk).
const MEDIUM_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout for `migrate` itself (the migration then runs in the background).
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(15);

/// Work for the monitor, validated before it gets here.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// A console command.
    Console {
        /// The line as typed, for the transcript.
        line: String,
        /// The parsed command.
        command: ConsoleCommand,
    },
    /// Read `query-block` again (media and trays).
    QueryBlock,
    /// Eject a removable medium.
    Eject {
        /// The device's arguments (`id` or `device`).
        device: Value,
        /// Its name, for messages.
        name: String,
        /// Eject even if the guest locked the tray.
        force: bool,
    },
    /// Insert a new medium.
    ChangeMedium {
        /// The device's arguments (`id` or `device`).
        device: Value,
        /// Its name, for messages.
        name: String,
        /// The image path as typed.
        path: String,
        /// The format to send.
        format: FormatChoice,
        /// QEMU runs on this host, so the file can be checked here.
        local: bool,
    },
    /// Read `info network` and `info usernet`.
    Network,
    /// `hostfwd_add`.
    AddForward {
        /// The user-mode netdev.
        netdev: String,
        /// The rule.
        rule: HostForward,
    },
    /// `hostfwd_remove`.
    RemoveForward {
        /// The user-mode netdev.
        netdev: String,
        /// The forward.
        key: ForwardKey,
    },
    /// List the devices with ids.
    ListDevices,
    /// `device_add`.
    AddDevice(DeviceSpec),
    /// `device_del`.
    DeleteDevice {
        /// The device's id.
        id: String,
    },
    /// Start a migration.
    Migrate {
        /// The destination URI (checked).
        uri: String,
    },
    /// `migrate_cancel`.
    CancelMigration,
    /// Read the command names the console completes: QMP's `query-commands`, and HMP's
    /// `help` unless only queries may be sent.
    CommandNames {
        /// Ask HMP's `help` too (not under `--read-only`: it is no query).
        hmp_help: bool,
    },
    /// Read the device drivers the hot-plug prompt completes (`qom-list-types`).
    DeviceTypes,
    /// List the files that complete a path typed on QEMU's host (this host).
    Paths {
        /// The path as typed.
        typed: String,
    },
}

/// What the monitor's tasks report.
#[derive(Debug, Clone, PartialEq)]
pub enum News {
    /// A console command's output.
    Console {
        /// The line as typed.
        line: String,
        /// The output, or the error (QEMU's verbatim).
        result: Result<String, MonitorError>,
    },
    /// Fresh `query-block`.
    BlockInfo(Vec<BlockInfo>),
    /// NICs, netdevs and user-mode networking, or why they could not be read.
    Network(Result<NetworkInfo, MonitorError>),
    /// Devices with ids, or why they could not be listed.
    Devices(Result<Vec<Peripheral>, MonitorError>),
    /// The migration's state.
    Migration(MigrationInfo),
    /// An action finished: a sentence for the message line, or the error.
    Done {
        /// The job that finished (its [`Job::what`] names it in messages; a prompt waiting
        /// for it knows it by value).
        job: Job,
        /// Success text, or the error (QEMU's verbatim).
        result: Result<String, MonitorError>,
    },
    /// `device_del` was accepted; the device goes when `DEVICE_DELETED` says so.
    UnplugRequested {
        /// The device's id.
        id: String,
    },
    /// The console history could not be written.
    HistoryNotSaved(String),
    /// The command names the console completes (empty where they could not be read).
    CommandNames(CommandNames),
    /// The device drivers `device_add` takes, or why they could not be read.
    DeviceTypes(Result<Vec<String>, MonitorError>),
    /// The paths that complete `typed` (a directory ends with `/`).
    Paths {
        /// The path as typed.
        typed: String,
        /// Whole paths that start with it.
        candidates: Vec<String>,
    },
}

/// Why the monitor's work failed. QEMU's words are kept verbatim; the variants say what a
/// caller may do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonitorError {
    /// QEMU refused the command.
    #[error("{desc} ({class})")]
    Qemu {
        /// QEMU's error class.
        class: String,
        /// QEMU's description, verbatim.
        desc: String,
    },
    /// The guest holds the tray locked: the medium comes out only by force.
    #[error("{desc} ({class})")]
    TrayLocked {
        /// QEMU's error class (`GenericError`).
        class: String,
        /// QEMU's description, verbatim.
        desc: String,
    },
    /// HMP printed an error instead of doing what was asked (its words, verbatim).
    #[error("{0}")]
    Hmp(String),
    /// No answer QEMU meant came back: the connection dropped, the command timed out, the
    /// reply could not be read.
    #[error("{0}")]
    Connection(String),
    /// Refused before anything was sent: an image that cannot be inserted, an invalid rule.
    #[error("{0}")]
    Refused(String),
}

impl From<QmpError> for MonitorError {
    fn from(error: QmpError) -> MonitorError {
        match error {
            QmpError::Qemu { class, desc } => MonitorError::Qemu { class, desc },
            other => MonitorError::Connection(other.to_string()),
        }
    }
}

impl MonitorError {
    /// An `eject` without force failed: a locked tray says so in QEMU's own words (a
    /// `GenericError` whose description says the device "is locked"), any other error stays
    /// as it is.
    fn of_eject(error: QmpError) -> MonitorError {
        match error {
            QmpError::Qemu { class, desc }
                if class == "GenericError" && desc.contains("is locked") =>
            {
                MonitorError::TrayLocked { class, desc }
            }
            other => other.into(),
        }
    }
}

/// Names the console completes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandNames {
    /// HMP commands (`help`).
    pub hmp: Vec<String>,
    /// HMP `info` subcommands (`help info`).
    pub hmp_info: Vec<String>,
    /// QMP commands (`query-commands`).
    pub qmp: Vec<String>,
}

impl Job {
    /// What the job is called in messages ("eject cd0").
    pub fn what(&self) -> String {
        match self {
            Job::Console { line, .. } => line.clone(),
            Job::QueryBlock => "query-block".to_string(),
            Job::Eject { name, .. } => format!("eject {name}"),
            Job::ChangeMedium { name, .. } => format!("change medium of {name}"),
            Job::Network => "info network".to_string(),
            Job::AddForward { rule, .. } => format!("hostfwd_add {rule}"),
            Job::RemoveForward { key, .. } => format!("hostfwd_remove {key}"),
            Job::ListDevices => "qom-list".to_string(),
            Job::AddDevice(spec) => format!("device_add {}", spec.driver),
            Job::DeleteDevice { id } => format!("device_del {id}"),
            Job::Migrate { uri } => format!("migration to {uri}"),
            Job::CancelMigration => "migrate_cancel".to_string(),
            Job::CommandNames { .. } => "query-commands".to_string(),
            Job::DeviceTypes => "qom-list-types".to_string(),
            Job::Paths { typed } => format!("complete {typed}"),
        }
    }
}

/// Nobody listens to the monitor's news any more (the dashboard stopped): the task may end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("nobody listens to the monitor's news")]
pub struct Unheard;

/// Runs `job` on `client` and tells `report` what happened.
pub async fn run(
    client: Client,
    job: Job,
    report: impl Fn(News) -> Result<(), Unheard> + Send + Sync,
) {
    // The job runs to its end even when nobody listens: a command sent is not taken back.
    let send = |news: News| {
        let _ = report(news);
    };
    let asked = job.clone();
    let done = |result: Result<String, MonitorError>| {
        send(News::Done {
            job: asked.clone(),
            result,
        });
    };
    match job {
        Job::Console { line, command } => {
            let result = command.run(&client).await;
            send(News::Console { line, result });
        }
        Job::QueryBlock => refresh_blocks(&client, &send).await,
        Job::Eject {
            device,
            name,
            force,
        } => {
            let mut arguments = device;
            arguments["force"] = json!(force);
            let result = client
                .execute("eject", Some(arguments))
                .await
                .map(|_| format!("{name}: medium ejected, tray open"))
                .map_err(MonitorError::of_eject);
            done(result);
            refresh_blocks(&client, &send).await;
        }
        Job::ChangeMedium {
            device,
            name,
            path,
            format,
            local,
        } => {
            let result = change_medium(&client, device, &name, &path, format, local).await;
            done(result);
            refresh_blocks(&client, &send).await;
        }
        Job::Network => send(News::Network(network_info(&client).await)),
        Job::AddForward { netdev, rule } => {
            let result = match network::hostfwd_add_line(&netdev, &rule) {
                Ok(line) => hmp(&client, &line).await.and_then(|output| {
                    if output.trim().is_empty() {
                        Ok(format!("host forward {rule} added on {netdev}"))
                    } else {
                        Err(MonitorError::Hmp(output.trim().to_string()))
                    }
                }),
                Err(error) => Err(MonitorError::Refused(error.to_string())),
            };
            done(result);
            send(News::Network(network_info(&client).await));
        }
        Job::RemoveForward { netdev, key } => {
            let result = match network::hostfwd_remove_line(&netdev, &key) {
                Ok(line) => hmp(&client, &line).await.and_then(|output| {
                    let output = output.trim().to_string();
                    if output.ends_with("removed") {
                        Ok(output)
                    } else if output.is_empty() {
                        Ok(format!("host forward {key} removed from {netdev}"))
                    } else {
                        Err(MonitorError::Hmp(output))
                    }
                }),
                Err(error) => Err(MonitorError::Refused(error.to_string())),
            };
            done(result);
            send(News::Network(network_info(&client).await));
        }
        Job::ListDevices => send(News::Devices(list_devices(&client).await)),
        Job::AddDevice(spec) => {
            let result = client
                .execute("device_add", Some(spec.arguments()))
                .await
                .map(|_| format!("device {} ({}) added", spec.id, spec.driver))
                .map_err(MonitorError::from);
            done(result);
            send(News::Devices(list_devices(&client).await));
        }
        Job::DeleteDevice { id } => {
            match client
                .execute("device_del", Some(json!({ "id": id })))
                .await
            {
                Ok(_) => send(News::UnplugRequested { id }),
                Err(error) => done(Err(error.into())),
            }
        }
        Job::Migrate { uri } => {
            // MIGRATION events let the follower see each step at once; older QEMUs or a
            // migration already set up may refuse, and polling still works then.
            let _ = client
                .execute(
                    "migrate-set-capabilities",
                    Some(json!({"capabilities": [{"capability": "events", "state": true}]})),
                )
                .await;
            let result = client
                .execute_with_timeout("migrate", Some(json!({ "uri": uri })), MIGRATE_TIMEOUT)
                .await
                .map(|_| format!("migration to {uri} started"))
                .map_err(MonitorError::from);
            let started = result.is_ok();
            done(result);
            if started {
                // Every migration starts in setup; saying so first lets the screen see the
                // change even when QEMU fails it before the next query.
                send(News::Migration(MigrationInfo {
                    status: Some("setup".to_string()),
                    ..Default::default()
                }));
                if let Ok(info) = migration::query(&client).await {
                    send(News::Migration(info));
                }
            }
        }
        Job::CancelMigration => {
            let result = client
                .execute("migrate_cancel", None)
                .await
                .map(|_| "migration cancel requested".to_string())
                .map_err(MonitorError::from);
            done(result);
            if let Ok(info) = migration::query(&client).await {
                send(News::Migration(info));
            }
        }
        Job::CommandNames { hmp_help } => {
            send(News::CommandNames(command_names(&client, hmp_help).await));
        }
        Job::DeviceTypes => send(News::DeviceTypes(hotplug::device_types(&client).await)),
        Job::Paths { typed } => {
            let listed = typed.clone();
            let candidates = tokio::task::spawn_blocking(move || media::complete_path(&listed))
                .await
                .unwrap_or_default();
            send(News::Paths { typed, candidates });
        }
    }
}

/// The names the console completes; a list that cannot be read stays empty (HMP over a
/// QMP socket needs `human-monitor-command`, which some proxies refuse).
async fn command_names(client: &Client, hmp_help: bool) -> CommandNames {
    let first_words = |text: &str, skip: usize| -> Vec<String> {
        text.lines()
            .filter_map(|line| line.split_whitespace().nth(skip))
            .flat_map(|word| word.split('|'))
            .filter(|word| !word.is_empty() && !word.starts_with(['[', '-']))
            .map(str::to_string)
            .collect()
    };
    let qmp = client.query_command_names().await.unwrap_or_default();
    if !hmp_help {
        return CommandNames {
            qmp,
            ..Default::default()
        };
    }
    CommandNames {
        hmp: hmp(client, "help")
            .await
            .map(|text| first_words(&text, 0))
            .unwrap_or_default(),
        hmp_info: hmp(client, "help info")
            .await
            .map(|text| first_words(&text, 1))
            .unwrap_or_default(),
        qmp,
    }
}

/// Appends a command to the console history file; a failure is reported, never fatal.
pub async fn save_history(
    path: Option<PathBuf>,
    line: String,
    report: impl Fn(News) -> Result<(), Unheard>,
) {
    let result = match path {
        None => Err("neither XDG_DATA_HOME nor HOME is set".to_string()),
        Some(path) => {
            let shown = path.display().to_string();
            tokio::task::spawn_blocking(move || history::append(&path, &line))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| format!("{shown}: {e}")))
        }
    };
    if let Err(error) = result {
        let _ = report(News::HistoryNotSaved(error));
    }
}

async fn hmp(client: &Client, line: &str) -> Result<String, MonitorError> {
    let reply = client
        .execute(
            "human-monitor-command",
            Some(json!({ "command-line": line })),
        )
        .await?;
    Ok(console::hmp_text(&reply))
}

async fn refresh_blocks(client: &Client, send: &impl Fn(News)) {
    if let Ok(blocks) = client.query_block().await {
        send(News::BlockInfo(blocks));
    }
}

async fn change_medium(
    client: &Client,
    device: Value,
    name: &str,
    path: &str,
    format: FormatChoice,
    local: bool,
) -> Result<String, MonitorError> {
    let typed = path.to_string();
    let checked = tokio::task::spawn_blocking(move || media::check_image(&typed, format, local))
        .await
        .map_err(|e| MonitorError::Refused(e.to_string()))?
        .map_err(MonitorError::Refused)?;
    let mut arguments = device;
    arguments["filename"] = json!(checked.path);
    arguments["format"] = json!(checked.format.label());
    client
        .execute_with_timeout("blockdev-change-medium", Some(arguments), MEDIUM_TIMEOUT)
        .await?;
    Ok(format!(
        "{name}: inserted {} ({})",
        media::file_name(&checked.path),
        checked.format.label()
    ))
}

async fn network_info(client: &Client) -> Result<NetworkInfo, MonitorError> {
    let network = hmp(client, "info network").await?;
    let usernet = hmp(client, "info usernet").await?;
    Ok(NetworkInfo {
        entries: network::parse_info_network(&network),
        usernet: network::parse_info_usernet(&usernet),
        usernet_text: usernet.trim_end().to_string(),
    })
}

async fn list_devices(client: &Client) -> Result<Vec<Peripheral>, MonitorError> {
    let reply = client
        .execute("qom-list", Some(json!({ "path": "/machine/peripheral" })))
        .await?;
    Ok(hotplug::peripherals(reply))
}

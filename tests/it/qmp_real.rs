//! The QMP client against a real QEMU.

use crate::support::Qemu;
use qemu_dash::qmp::{Client, ConnectOptions, Notice, QmpError, Target};
use serde_json::json;
use std::time::Duration;

async fn connect(qemu: &Qemu) -> Client {
    let target: Target = qemu.target().parse().unwrap();
    Client::connect(&target, &ConnectOptions::default())
        .await
        .expect("connect to QEMU")
}

async fn next_event(sub: &mut qemu_dash::qmp::Subscription, name: &str) -> qemu_dash::qmp::Event {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match sub.recv().await {
                Some(Notice::Event(event)) if event.name == name => return event,
                Some(_) => continue,
                None => panic!("connection closed before {name}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {name} event"))
}

#[tokio::test]
async fn greeting_version_and_typed_queries_decode() {
    let qemu = Qemu::builder()
        .name("decode-vm")
        .disk("disk0", "qcow2")
        .start();
    let client = connect(&qemu).await;

    let version = client.query_version().await.unwrap();
    let greeting = client.greeting();
    assert!(greeting.version.major >= 7, "{:?}", greeting.version);
    assert_eq!(
        (version.qemu.major, version.qemu.minor, version.qemu.micro),
        (
            greeting.version.major,
            greeting.version.minor,
            greeting.version.micro
        )
    );
    assert_eq!(client.peer_pid(), Some(qemu.pid()));

    let status = client.query_status().await.unwrap();
    assert_eq!(status.status, "running");
    assert!(status.running);

    let cpus = client.query_cpus_fast().await.unwrap();
    assert_eq!(cpus.len(), 1);
    assert!(cpus[0].thread_id > 0);

    let stats = client.query_blockstats().await.unwrap();
    assert!(stats.iter().any(|s| s.device == "disk0"), "{stats:?}");

    let block = client.query_block().await.unwrap();
    let disk = block.iter().find(|b| b.device == "disk0").expect("disk0");
    let inserted = disk.inserted.as_ref().expect("medium");
    assert_eq!(inserted.drv, "qcow2");
    assert!(inserted.file.ends_with("disk0.qcow2"), "{}", inserted.file);
    assert_eq!(inserted.image.as_ref().unwrap().virtual_size, 64 << 20);

    assert_eq!(
        client.query_name().await.unwrap().name.as_deref(),
        Some("decode-vm")
    );
    assert_eq!(
        client
            .query_memory_size_summary()
            .await
            .unwrap()
            .base_memory,
        128 << 20
    );
    assert!(client.query_jobs().await.unwrap().is_empty());
    let commands = client.query_command_names().await.unwrap();
    assert!(commands.iter().any(|c| c == "query-status"));
}

#[tokio::test]
async fn stop_cont_and_reset_give_state_changes_and_events() {
    let qemu = Qemu::builder().observer().start();
    let mut observer = qemu.observer();
    let client = connect(&qemu).await;
    let mut events = client.subscribe();

    client.execute("stop", None).await.unwrap();
    next_event(&mut events, "STOP").await;
    assert_eq!(client.query_status().await.unwrap().status, "paused");
    assert_eq!(observer.status(), "paused");

    client.execute("cont", None).await.unwrap();
    next_event(&mut events, "RESUME").await;
    assert_eq!(observer.status(), "running");

    client.execute("system_reset", None).await.unwrap();
    let reset = next_event(&mut events, "RESET").await;
    assert_eq!(reset.data["guest"], false);
    assert_eq!(reset.data["reason"], "host-qmp-system-reset");
    observer.wait_event("RESET", Duration::from_secs(5));
}

#[tokio::test]
async fn unknown_command_is_command_not_found_with_qemus_text() {
    let qemu = Qemu::builder().machine("none").start();
    let client = connect(&qemu).await;
    let error = client.execute("no-such-command", None).await.unwrap_err();
    match &error {
        QmpError::Qemu { class, desc } => {
            assert_eq!(class, "CommandNotFound");
            assert_eq!(desc, "The command no-such-command has not been found");
        }
        other => panic!("expected a QEMU error, got {other:?}"),
    }
    // The connection is still usable.
    assert!(client.query_status().await.is_ok());
}

#[tokio::test]
async fn two_hundred_commands_from_ten_tasks_each_get_their_own_reply() {
    let qemu = Qemu::builder().start();
    let client = connect(&qemu).await;
    let mut tasks = Vec::new();
    for task in 0..10u64 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..20u64 {
                let value = 0x1000 + task * 0x100 + n;
                let reply = client
                    .execute(
                        "human-monitor-command",
                        Some(json!({"command-line": format!("print {value}")})),
                    )
                    .await
                    .unwrap();
                assert_eq!(reply.as_str().unwrap().trim(), format!("{value:#x}"));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(client.pending_count(), 0);
}

#[tokio::test]
async fn qemu_exit_fails_calls_and_says_disconnected() {
    let qemu = Qemu::builder().machine("none").start();
    let client = connect(&qemu).await;
    let mut events = client.subscribe();
    client.execute("quit", None).await.unwrap();
    let shutdown = next_event(&mut events, "SHUTDOWN").await;
    assert_eq!(shutdown.data["reason"], "host-qmp-quit");
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(Notice::Disconnected(reason)) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .expect("a Disconnected notice");
    assert!(closed.contains("closed"), "{closed}");
    let error = client.query_status().await.unwrap_err();
    assert!(error.is_disconnect(), "{error:?}");
}

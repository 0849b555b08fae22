//! The QMP client against a scripted fake server: what a real QEMU will not do on demand.

use crate::support::{FakeQmp, fake};
use qemu_dash::qmp::{Client, ConnectOptions, Notice, QmpError, Target};
use serde_json::json;
use std::time::{Duration, Instant};

async fn connect(fake: &FakeQmp) -> Result<Client, QmpError> {
    let target: Target = fake.target().parse().unwrap();
    let options = ConnectOptions {
        greeting_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    Client::connect(&target, &options).await
}

#[tokio::test]
async fn events_interleaved_with_replies_and_before_their_reply() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        while let Some(cmd) = conn.command().await {
            // An event before the reply of the command that caused it, then the reply
            // broken by another event in the same write.
            conn.event(
                "JOB_STATUS_CHANGE",
                json!({"id": "job0", "status": "created"}),
            )
            .await;
            let reply = format!(
                "{}\n{}\n",
                json!({"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 0}}),
                json!({"return": {"ok": cmd["execute"]}, "id": cmd["id"]})
            );
            conn.send_raw(reply.as_bytes()).await;
        }
    });
    let client = connect(&fake).await.unwrap();
    let mut events = client.subscribe();
    let reply = client.execute("snapshot-save", None).await.unwrap();
    assert_eq!(reply, json!({"ok": "snapshot-save"}));
    let mut names = Vec::new();
    for _ in 0..2 {
        match events.recv().await {
            Some(Notice::Event(event)) => names.push(event.name),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(names, ["JOB_STATUS_CHANGE", "RESUME"]);
    assert_eq!(client.events_seen(), 2);
}

#[tokio::test]
async fn idless_error_goes_to_the_oldest_pending_command() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        let first = conn.command().await.unwrap();
        let second = conn.command().await.unwrap();
        conn.send(json!({"error": {"class": "GenericError", "desc": "JSON parse error, x"}}))
            .await;
        conn.reply(&second["id"], json!({"second": true})).await;
        let _ = first;
        conn.command().await;
    });
    let client = connect(&fake).await.unwrap();
    let (first, second) = tokio::join!(client.execute("first", None), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        client.execute("second", None).await
    });
    match first.unwrap_err() {
        QmpError::Qemu { class, desc } => {
            assert_eq!(class, "GenericError");
            assert_eq!(desc, "JSON parse error, x");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(second.unwrap(), json!({"second": true}));
}

#[tokio::test]
async fn idless_error_with_nothing_pending_is_a_protocol_notice() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        conn.send(json!({"error": {"class": "GenericError", "desc": "stray"}}))
            .await;
        conn.command().await;
    });
    let client = connect(&fake).await.unwrap();
    let mut notices = client.subscribe();
    match tokio::time::timeout(Duration::from_secs(5), notices.recv()).await {
        Ok(Some(Notice::ProtocolError(text))) => assert!(text.contains("stray"), "{text}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_reply_with_an_id_never_sent_takes_its_turn_and_the_next_replies_find_their_callers() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        let _first = conn.command().await.unwrap();
        let second = conn.command().await.unwrap();
        // The first command's turn, answered with an id nobody sent; then the second's reply.
        conn.reply(&json!(987654), json!({"wrong": true})).await;
        conn.reply(&second["id"], json!({"right": true})).await;
        conn.command().await;
    });
    let client = connect(&fake).await.unwrap();
    let (first, second) = tokio::join!(
        client.execute_with_timeout("query-status", None, Duration::from_millis(500)),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            client.execute("query-name", None).await
        }
    );
    assert!(
        matches!(first, Err(QmpError::Timeout { .. })),
        "a stray id is never taken for a reply: {first:?}"
    );
    assert_eq!(second.unwrap(), json!({"right": true}));
    assert_eq!(client.pending_count(), 0);
}

#[tokio::test]
async fn hang_up_with_calls_pending_fails_them_all_at_once() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        for _ in 0..5 {
            conn.command().await;
        }
        // Hang up without answering.
    });
    let client = connect(&fake).await.unwrap();
    let started = Instant::now();
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .execute_with_timeout("query-status", None, Duration::from_secs(30))
                    .await
            })
        })
        .collect();
    for call in calls {
        let error = call.await.unwrap().unwrap_err();
        assert!(matches!(error, QmpError::Disconnected { .. }), "{error:?}");
    }
    // All failed at the hang-up, long before their 30 s timeout.
    assert!(started.elapsed() < Duration::from_secs(10));
    let error = client.execute("query-status", None).await.unwrap_err();
    assert!(error.is_disconnect(), "{error:?}");
}

#[tokio::test]
async fn greeting_that_never_comes_names_the_other_client() {
    let fake = FakeQmp::start(|conn| async move {
        // Accept, say nothing, keep the connection open.
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(conn);
    });
    let error = connect(&fake).await.expect_err("must fail");
    let text = error.to_string();
    assert!(matches!(error, QmpError::GreetingTimeout { .. }), "{text}");
    assert!(text.contains("another client"), "{text}");
    assert!(text.contains("-qmp unix:"), "{text}");
}

#[tokio::test]
async fn garbage_greeting_is_a_protocol_error() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.send_raw(b"SSH-2.0-OpenSSH_9.2\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let error = connect(&fake).await.expect_err("must fail");
    assert!(matches!(error, QmpError::InvalidJson { .. }), "{error}");
}

#[tokio::test]
async fn command_without_reply_times_out_and_the_next_one_works() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        conn.command().await; // never answered
        let cmd = conn.command().await.unwrap();
        conn.reply(&cmd["id"], fake::plausible_reply("query-status"))
            .await;
        conn.command().await;
    });
    let client = connect(&fake).await.unwrap();
    let error = client
        .execute_with_timeout("query-status", None, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(error, QmpError::Timeout { .. }), "{error}");
    assert_eq!(client.pending_count(), 0);
    assert_eq!(client.query_status().await.unwrap().status, "running");
}

#[tokio::test]
async fn over_long_line_fails_the_pending_call_and_the_connection_survives() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        let cmd = conn.command().await.unwrap();
        let mut huge = format!("{{\"return\": \"{}", "x".repeat(17 << 20));
        huge.push_str(&format!("\", \"id\": {}}}\n", cmd["id"]));
        conn.send_raw(huge.as_bytes()).await;
        let cmd = conn.command().await.unwrap();
        conn.reply(&cmd["id"], fake::plausible_reply("query-status"))
            .await;
        conn.command().await;
    });
    let client = connect(&fake).await.unwrap();
    let error = client
        .execute_with_timeout("query-block", None, Duration::from_secs(20))
        .await
        .unwrap_err();
    assert!(matches!(error, QmpError::LineTooLong { .. }), "{error}");
    assert_eq!(client.query_status().await.unwrap().status, "running");
}

#[tokio::test]
async fn socket_errors_are_one_clear_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.qmp");
    let text = Client::connect(&Target::Unix(missing), &ConnectOptions::default())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(text.contains("no socket at"), "{text}");

    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let text = Client::connect(&Target::Unix(file), &ConnectOptions::default())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(text.contains("is not a socket"), "{text}");

    let stale = dir.path().join("stale.qmp");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let text = Client::connect(&Target::Unix(stale), &ConnectOptions::default())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(text.contains("nothing is listening"), "{text}");
    assert!(!text.contains('\n'));
}

#[tokio::test]
async fn commands_go_without_ids_until_a_caller_gives_up_on_one() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        let _given_up = conn.command().await.unwrap();
        let second = conn.command().await.unwrap();
        // The late reply of the first command, then the second's.
        conn.send(json!({"return": {"first": true}})).await;
        conn.reply(&second["id"], json!({"second": true})).await;
        let third = conn.command().await.unwrap();
        conn.reply(&third["id"], json!({"third": true})).await;
        conn.command().await;
    });
    let client = connect(&fake).await.unwrap();
    let error = client
        .execute_with_timeout("first", None, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(error, QmpError::Timeout { .. }), "{error}");
    assert_eq!(
        client.execute("second", None).await.unwrap(),
        json!({"second": true}),
        "the first command's late reply is not taken for the second's"
    );
    assert_eq!(
        client.execute("third", None).await.unwrap(),
        json!({"third": true})
    );
    let received = fake.received();
    assert_eq!(
        received[0],
        json!({"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}),
        "the greeting offers oob: it is negotiated"
    );
    assert_eq!(
        received[1],
        json!({"execute": "first"}),
        "no id while in step"
    );
    assert!(
        received[2]["id"].is_u64(),
        "an id while a reply is outstanding for a caller that gave up: {}",
        received[2]
    );
    assert_eq!(
        received[3],
        json!({"execute": "third"}),
        "in step again once the late reply came"
    );
}

#[tokio::test]
async fn oob_is_left_alone_when_turned_off() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        conn.command().await;
    });
    let target: Target = fake.target().parse().unwrap();
    let options = ConnectOptions {
        oob: false,
        ..Default::default()
    };
    let _client = Client::connect(&target, &options).await.unwrap();
    assert_eq!(fake.received()[0], json!({"execute": "qmp_capabilities"}));
}

#[tokio::test]
async fn a_batch_gets_its_replies_in_order_with_an_idless_error_in_its_turn() {
    use qemu_dash::qmp::types::{BlockStats, CpuInfo, StatusInfo};
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        let status = conn.command().await.unwrap();
        let cpus = conn.command().await.unwrap();
        let blocks = conn.command().await.unwrap();
        assert_eq!(
            [&status, &cpus, &blocks].map(|c| c["execute"].clone()),
            ["query-status", "query-cpus-fast", "query-blockstats"]
        );
        conn.reply(&status["id"], fake::plausible_reply("query-status"))
            .await;
        conn.event("RESUME", json!({})).await;
        // An error without an id: QEMU's answer to the command in its turn.
        conn.send(json!({"error": {"class": "GenericError", "desc": "no vCPUs today"}}))
            .await;
        conn.reply(&blocks["id"], fake::plausible_reply("query-blockstats"))
            .await;
        conn.serve_plausibly().await;
    });
    let client = connect(&fake).await.unwrap();
    let mut events = client.subscribe();
    let mut replies = client
        .query_batch()
        .query::<StatusInfo>("query-status")
        .query::<Vec<CpuInfo>>("query-cpus-fast")
        .query::<Vec<BlockStats>>("query-blockstats")
        .run(Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(replies.take::<StatusInfo>().unwrap().status, "running");
    match replies.take::<Vec<CpuInfo>>().unwrap_err() {
        QmpError::Qemu { class, desc } => {
            assert_eq!(
                (class.as_str(), desc.as_str()),
                ("GenericError", "no vCPUs today")
            );
        }
        other => panic!("{other:?}"),
    }
    let blocks = replies.take::<Vec<BlockStats>>().unwrap();
    assert_eq!(blocks.len(), 1);
    assert!(matches!(events.recv().await, Some(Notice::Event(e)) if e.name == "RESUME"));
    // The connection is in step after the batch.
    let name = client.execute("query-name", None).await.unwrap();
    assert_eq!(name, fake::plausible_reply("query-name"));
}

#[tokio::test]
async fn a_batch_fails_at_once_when_the_connection_drops_mid_batch() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        let first = conn.command().await.unwrap();
        conn.command().await.unwrap();
        conn.reply(&first["id"], fake::plausible_reply("query-status"))
            .await;
        // Hangs up with the second reply owed.
    });
    let client = connect(&fake).await.unwrap();
    let started = Instant::now();
    let error = client
        .execute_batch(&["query-status", "query-name"], Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(error.is_disconnect(), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_batch_that_times_out_leaves_the_replies_after_it_in_step() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        let status = conn.command().await.unwrap();
        let cpus = conn.command().await.unwrap();
        // The next command comes after the batch gave up: only then the late replies.
        let name = conn.command().await.unwrap();
        conn.reply(&status["id"], json!({"status": "late", "running": false}))
            .await;
        conn.reply(&cpus["id"], json!([])).await;
        conn.reply(&name["id"], json!({"name": "in step"})).await;
        conn.serve_plausibly().await;
    });
    let client = connect(&fake).await.unwrap();
    let error = client
        .execute_batch(
            &["query-status", "query-cpus-fast"],
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    match error {
        QmpError::Timeout { command, .. } => assert_eq!(command, "query-status"),
        other => panic!("{other:?}"),
    }
    let name = client.execute("query-name", None).await.unwrap();
    assert_eq!(name, json!({"name": "in step"}));
}

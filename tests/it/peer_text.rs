//! Text a peer controls never drives the user's terminal outside the full-screen view: error
//! lines escape control characters, and JSON lines keep them as JSON escapes.

use crate::support::FakeQmp;
use crate::support::pty::run;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greeting_with_escape_sequences_is_printed_escaped() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.send_raw(b"\x1b]0;PWNED\x07\x1b[2J\xc2\x9b31m\n").await;
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    });
    let target = fake.target();
    let finished = tokio::task::spawn_blocking(move || {
        run(["--batch", "-n", "1", "--greeting-timeout", "0.5", &target])
    })
    .await
    .unwrap();
    assert!(!finished.success);
    assert!(
        !finished.stderr.contains(['\u{1b}', '\u{7}', '\u{9b}']),
        "{:?}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("\\u{1b}]0;PWNED\\u{7}"),
        "{}",
        finished.stderr
    );
    assert_eq!(
        finished.stderr.trim().lines().count(),
        1,
        "{}",
        finished.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_lines_escape_c1_controls_and_stay_valid_json() {
    let name = "vm\u{9b}31m\u{ad}red\u{202e}";
    let fake = FakeQmp::start(move |mut conn| async move {
        if conn.handshake().await.is_none() {
            return;
        }
        while let Some(command) = conn.command().await {
            let execute = command["execute"].as_str().unwrap_or_default();
            let reply = match execute {
                "query-name" => json!({"name": name}),
                other => crate::support::fake::plausible_reply(other),
            };
            conn.reply(&command["id"], reply).await;
        }
    });
    let target = fake.target();
    let finished = tokio::task::spawn_blocking(move || run(["--batch", "-n", "1", &target]))
        .await
        .unwrap();
    assert!(
        !finished.stdout.contains(['\u{9b}', '\u{ad}', '\u{202e}']),
        "{:?}",
        finished.stdout
    );
    let lines = finished.json_lines();
    assert_eq!(lines[0]["name"], name, "the same text once decoded");
}

//! `wallsocket-tools bench speed` and `bench fanout`, run as real processes against the real
//! server, started in-process with the server's own test helpers.

#[path = "../../server/tests/api/helpers.rs"]
#[allow(dead_code)] // The server's tests use the rest.
mod helpers;

use helpers::spawn_app;
use std::time::Duration;

#[tokio::test]
async fn the_cli_speed_run_measures_every_transport() {
    let app = spawn_app().await;
    let base = format!("http://127.0.0.1:{}", app.port);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_wallsocket-tools"))
        .args(["bench", "speed", "--url", &base, "--n", "50", "--size", "64", "--json"])
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out).await.unwrap().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<app::lab::SpeedResult> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = results.iter().map(|r| r.transport.as_str()).collect();
    assert_eq!(names, ["http", "ws", "sse"]);
    for r in &results {
        assert_eq!(r.round_trips, 50);
        assert!(r.latency.p50 > 0.0 && r.latency.p50 <= r.latency.p99 && r.latency.p99 <= r.latency.max);
        let wire = r.wire.as_ref().expect("the server counted this transport");
        assert_eq!(wire.up_payload_bytes, 50 * 64, "{}", r.transport);
    }
    assert_eq!(results[1].header_bytes_per_round_trip(), Some(8.0), "6-byte masked frame up, 2-byte frame down");

    let table = tokio::process::Command::new(env!("CARGO_BIN_EXE_wallsocket-tools"))
        .args(["bench", "speed", "--url", &base, "--n", "20", "--pipelined"])
        .output()
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("20 round trips of 32 bytes, pipelined"), "{table}");
    assert!(table.contains("WebSocket:") && table.lines().any(|l| l.starts_with("sse ")), "{table}");
}

#[tokio::test]
async fn the_cli_fanout_run_counts_every_delivery_with_no_loss_or_reordering() {
    let flags = ["--rate-per-sec", "100000", "--rate-burst", "100000"];
    let app = helpers::spawn_app_with(std::sync::Arc::new(tempfile::tempdir().unwrap()), &flags).await;
    let base = format!("http://127.0.0.1:{}", app.port);
    let args = [
        "bench",
        "fanout",
        "--url",
        &base,
        "--clients",
        "5",
        "--publishers",
        "2",
        "--rate",
        "20",
        "--seconds",
        "1",
        "--json",
    ];
    // Twice against one server, as scripts/bench.sh does: names are claimed by their first
    // use, so each run joins under names of its own.
    for _ in 0..2 {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_wallsocket-tools")).args(args).output();
        let out = tokio::time::timeout(Duration::from_secs(60), out).await.unwrap().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        check(serde_json::from_slice(&out.stdout).unwrap());
    }
}

fn check(report: serde_json::Value) {
    assert_eq!(report["posts"], 40);
    assert_eq!(report["deliveries"], 200);
    assert_eq!(report["expected_deliveries"], 200);
    assert_eq!(
        (report["lost"].as_u64(), report["duplicated"].as_u64(), report["out_of_order"].as_u64()),
        (Some(0), Some(0), Some(0))
    );
    assert!(report["latency"]["p99"].as_f64().unwrap() > 0.0);
}

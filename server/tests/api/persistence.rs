//! Posts survive a restart, and seqs continue where they stopped.

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn a_restart_keeps_history_and_seq_continues() {
    let app = spawn_app().await;
    let dir = app.dir.clone();
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    assert_eq!(alice.post("lobby", "before the restart", "r-1").await, 1);
    assert_eq!(alice.post("lobby", "also before", "r-2").await, 2);
    drop(alice);
    app.stop().await;

    let app = spawn_app_with(dir, &[]).await;
    let mut bob = app.client().await;
    let (history, _) = bob.join("lobby", "bob", None).await;
    let texts: Vec<&str> = history.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["before the restart", "also before"]);
    assert_eq!(bob.post("lobby", "after the restart", "r-3").await, 3);
    // A retry of a post stored before the restart is still recognised.
    assert_eq!(bob.post("lobby", "before the restart", "r-1").await, 1);
}

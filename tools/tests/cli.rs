//! The terminal client (`wallsocket-tools client`), run as a real process against the real
//! server, started in-process with the server's own test helpers.

#[path = "../../server/tests/api/helpers.rs"]
#[allow(dead_code)] // The server's tests use the rest.
mod helpers;

use app::protocol::{ClientMsg, ServerMsg};
use helpers::{spawn_app, spawn_app_with, TestApp};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

fn cli(app: &TestApp, extra: &[&str]) -> Command {
    cli_as(app, &["--user", "cli"], extra)
}

/// The client in room `term`, as `who` (`--user NAME` or `--watch`).
fn cli_as(app: &TestApp, who: &[&str], extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wallsocket-tools"));
    cmd.args(["client", "--url", &app.ws_url(), "--room", "term"]).args(who).args(extra);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    cmd
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("a line within 10 s")
        .unwrap()
        .expect("stdout open")
}

async fn wait_success(child: Child) -> std::process::Output {
    // A guard against a hang, not a speed goal: 100 paced lines take about 5 s.
    tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.expect("exits within 30 s").unwrap()
}

#[tokio::test]
async fn once_posts_each_stdin_line_and_exits() {
    let app = spawn_app().await;
    let mut child = cli(&app, &["--once"]).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"hello from a script\nsecond line\n").await.unwrap();
    let out = wait_success(child).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "posted [1]\nposted [2]\n");
    let (history, _) = app.client().await.join("term", "reader", None).await;
    let texts: Vec<&str> = history.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["hello from a script", "second line"]);
}

#[tokio::test]
async fn once_paces_100_lines_to_the_advertised_rate_so_none_is_refused_and_each_is_stored_once() {
    // The per-name allowance at its defaults (the test helpers lift it otherwise): a pasted
    // list of 100 lines fits its burst.
    let defaults = ["--posts-per-claim-per-min", "30", "--posts-per-claim-burst", "100"];
    let app = spawn_app_with(std::sync::Arc::new(tempfile::tempdir().unwrap()), &defaults).await;
    let mut child = cli(&app, &["--once"]).spawn().unwrap();
    // 100 lines at once: well past the default burst of 40 messages.
    let lines: String = (1..=100).map(|i| format!("line {i}\n")).collect();
    child.stdin.take().unwrap().write_all(lines.as_bytes()).await.unwrap();
    let out = wait_success(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with('!')), "no error line: the client paced itself\n{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("posted")).count(), 100);
    let mut reader = app.client().await;
    let (history, _) = reader.join("term", "reader", Some(0)).await;
    let texts: Vec<String> = history.iter().map(|p| p.text.as_str().to_owned()).collect();
    assert_eq!(texts, (1..=100).map(|i| format!("line {i}")).collect::<Vec<_>>(), "each line once, in order");
}

#[tokio::test]
async fn once_reports_a_refused_line_and_fails() {
    let app = spawn_app().await;
    let mut child = cli(&app, &["--once"]).spawn().unwrap();
    let long = format!("{}\n", "x".repeat(2_001));
    child.stdin.take().unwrap().write_all(long.as_bytes()).await.unwrap();
    let out = wait_success(child).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("post must be 1–2000 characters"));
}

/// Runs `client --once` as `user` (with `extra` flags), posting `line`: its output.
async fn post_once(app: &TestApp, user: &str, extra: &[&str], line: &str) -> std::process::Output {
    let mut child = cli_as(app, &["--user", user], &[&["--once"], extra].concat()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{line}\n").as_bytes()).await.unwrap();
    wait_success(child).await
}

#[tokio::test]
async fn identity_keeps_the_claim_on_a_name_across_runs_in_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("identity.json");
    let identity = ["--identity", file.to_str().unwrap()];

    let first = post_once(&app, "dana", &identity, "first run").await;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let mode = std::fs::metadata(&file).expect("created on first use").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only its owner may read a file of secrets");
    let second = post_once(&app, "dana", &identity, "second run").await;
    assert!(second.status.success(), "the kept claim is accepted: {}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(String::from_utf8_lossy(&second.stdout), "posted [2]\n");

    // Without the file the name is someone else's: refused, and nothing is posted.
    let stranger = post_once(&app, "Dana", &[], "an impostor").await;
    assert!(!stranger.status.success());
    assert!(String::from_utf8_lossy(&stranger.stderr).contains("(name_taken)"));
    let (history, _) = app.client().await.join("term", "reader", Some(0)).await;
    let texts: Vec<&str> = history.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["first run", "second run"]);
    assert_eq!(history[0].fingerprint, history[1].fingerprint, "one claim across both runs");
}

#[tokio::test]
async fn watch_prints_posts_without_a_name_is_counted_not_listed_and_posts_nothing() {
    let app = spawn_app().await;
    let mut child = cli_as(&app, &["--watch"], &[]).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    // Lines typed into a watcher go nowhere.
    stdin.write_all(b"not a post\n").await.unwrap();

    let mut bob = app.client().await;
    bob.send(&ClientMsg::Join {
        room: "term".parse().unwrap(),
        username: Some("bob".parse().unwrap()),
        since: None,
        claim: None,
        from: None,
    })
    .await;
    let mut counts = loop {
        if let ServerMsg::Joined { present, watching, .. } = bob.recv().await {
            break (present.len(), watching);
        }
    };
    // The watcher may join after bob: then its arrival reaches bob as a `presence`.
    while counts.1 == 0 {
        if let ServerMsg::Presence { members, watching, .. } = bob.recv().await {
            counts = (members as usize, watching);
        }
    }
    assert_eq!(counts, (1, 1), "bob alone listed, the terminal counted as watching");
    bob.post("term", "hi watcher", "b-1").await;
    assert_eq!(next_line(&mut out).await, "[1] bob: hi watcher");
    let (history, _) = app.client().await.join("term", "reader", Some(0)).await;
    assert_eq!(history.len(), 1, "the typed line was not posted");
    // Standard input ending does not end a watcher: it still prints what comes next.
    drop(stdin);
    bob.post("term", "still there?", "b-2").await;
    assert_eq!(next_line(&mut out).await, "[2] bob: still there?");
    assert!(child.try_wait().unwrap().is_none(), "a watcher keeps watching after standard input ends");
}

#[test]
fn watch_and_user_or_once_are_refused_together() {
    for extra in [&["--watch", "--user", "al"][..], &["--watch", "--once"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wallsocket-tools"))
            .args(["client", "--room", "term"])
            .args(extra)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{extra:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"), "{extra:?}");
    }
}

#[tokio::test]
async fn interactive_prints_posts_sends_lines_and_resumes_after_a_restart() {
    let app = spawn_app().await;
    let (port, dir) = (app.port, app.dir.clone());
    let mut child = cli(&app, &[]).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();

    let mut bob = app.client().await;
    let (_, members) = bob.join("term", "bob", None).await;
    // Wait until the CLI is in the room: already (bob's `joined` counts it), or its arrival
    // reaches bob.
    if members < 2 {
        assert!(matches!(bob.recv().await, ServerMsg::Presence { .. }));
    }
    bob.post("term", "hi terminal", "b-1").await;
    assert_eq!(next_line(&mut out).await, "[1] bob: hi terminal");
    stdin.write_all(b"hi bob\n").await.unwrap();
    assert_eq!(next_line(&mut out).await, "[2] cli: hi bob");
    drop(bob);

    // The server goes away; a line typed meanwhile waits; the CLI comes back by itself.
    app.stop().await;
    stdin.write_all(b"typed while the server was down\n").await.unwrap();
    let app = spawn_app_with(dir, &["--listen", &format!("127.0.0.1:{port}")]).await;
    assert_eq!(next_line(&mut out).await, "[3] cli: typed while the server was down");
    let mut carol = app.client().await;
    let (history, _) = carol.join("term", "carol", None).await;
    assert_eq!(history.iter().map(|p| p.seq).collect::<Vec<_>>(), [1, 2, 3], "stored once, no gap");
    carol.post("term", "welcome back", "c-1").await;
    assert_eq!(next_line(&mut out).await, "[4] carol: welcome back");

    drop(stdin); // Ctrl-D
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn a_moderator_deletes_and_blocks_from_the_terminal_with_the_secret_in_a_file() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir.clone(), &[]).await;
    let mut alice = app.client().await;
    alice.join("term", "alice", None).await;
    assert_eq!(alice.post("term", "spam", "s-1").await, 1);
    assert_eq!(alice.post("term", "more spam", "s-2").await, 2);
    let store = wallsocket::store::Store::connect(&format!("sqlite://{}/wall.db", dir.path().display())).await.unwrap();
    let secret = wallsocket::moderation::Moderation::add(&store, &"mo".parse().unwrap()).await.unwrap().unwrap();
    let file = dir.path().join("moderator.secret");
    std::fs::write(&file, format!("{}\n", secret.expose())).unwrap();

    let file = file.to_string_lossy().into_owned();
    let mut child = cli_as(&app, &["--user", "mo"], &["--once", "--moderator", &file]).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"/delete 1\n/block 2 30\n").await.unwrap();
    drop(stdin);
    let out = wait_success(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("signed in as the moderator mo"), "{stderr}");
    // --once ends only once both commands were answered: the block is in place.
    assert!(stderr.contains("the author of post [2] may not post"), "{stderr}");
    loop {
        match alice.recv().await {
            ServerMsg::Deleted { seq, .. } => break assert_eq!(seq, 1),
            ServerMsg::Presence { .. } => continue,
            other => panic!("alice is told post 1 was deleted: {other:?}"),
        }
    }
    alice.send(&helpers::post_msg("term", "still spam", "s-3")).await;
    loop {
        match alice.recv().await {
            ServerMsg::Error { code: app::protocol::ErrorCode::Blocked, .. } => break,
            ServerMsg::Presence { .. } => continue,
            other => panic!("alice is blocked from posting: {other:?}"),
        }
    }
}

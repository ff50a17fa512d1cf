//! The Python example client, run as a real process against the real server.

use crate::helpers::spawn_app;
use std::path::PathBuf;
use std::time::Duration;
use tokio::process::Command;

/// The venv's Python (made by scripts/install-tools.sh) and the example script.
fn python_and_script() -> (PathBuf, PathBuf) {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/install-tools.sh to create it", python.display());
    (python, PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/python_client.py"))
}

#[tokio::test]
async fn the_python_example_joins_posts_and_sees_its_ack() {
    let (python, script) = python_and_script();
    let app = spawn_app().await;
    let mut bob = app.client().await;
    bob.join("pycon", "bob", None).await;

    let out = Command::new(python)
        .arg(script)
        .args(["--url", &app.ws_url(), "--room", "pycon", "--user", "py", "--text", "hello from Python"])
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), out).await.expect("finishes").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("broadcast: [1] py: hello from Python"), "{stdout}");
    assert!(stdout.contains("ack: stored as seq 1"), "{stdout}");
    let post = bob.next_post().await;
    assert_eq!((post.username.as_str(), post.text.as_str()), ("py", "hello from Python"));
}

#[tokio::test]
async fn the_python_example_paces_60_posts_to_the_advertised_rate_and_none_is_refused() {
    let (python, script) = python_and_script();
    let app = spawn_app().await;
    // 60 posts and a join: past the default burst of 40 messages.
    let args = ["--url", &app.ws_url(), "--room", "pycon", "--user", "py", "--text", "hi", "--count", "60"];
    let out = Command::new(python).arg(script).args(args).output();
    let out = tokio::time::timeout(Duration::from_secs(30), out).await.expect("finishes").unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ack: stored as seq")).count(), 60, "{stdout}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[tokio::test]
async fn the_python_example_keeps_its_claim_in_an_identity_file_and_a_second_run_posts_under_it() {
    let (python, script) = python_and_script();
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let identity = dir.path().join("py.json");
    let run = |with_identity: bool| {
        let mut cmd = Command::new(&python);
        cmd.arg(&script).args(["--url", &app.ws_url(), "--room", "pycon", "--user", "py", "--text", "hi"]);
        if with_identity {
            cmd.arg("--identity").arg(&identity);
        }
        async move { tokio::time::timeout(Duration::from_secs(20), cmd.output()).await.expect("finishes").unwrap() }
    };
    let first = run(true).await;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("claimed py (#"));
    let second = run(true).await;
    assert!(second.status.success(), "the kept claim: {}", String::from_utf8_lossy(&second.stderr));
    let stranger = run(false).await;
    assert!(!stranger.status.success(), "no claim, no name");
    assert!(String::from_utf8_lossy(&stranger.stderr).contains("error name_taken"));
}

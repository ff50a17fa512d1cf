//! Moderators: added on the host (`wallsocket moderator add`, whose secret is printed once),
//! signed in with `moderate`; they delete any post and block a post's author (`blocked`,
//! with the time left; kept across a restart); every action is in the audit log.

use crate::helpers::{is_presence, spawn_app_with, Client};
use app::domain::ClaimSecret;
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use std::process::Command;
use std::sync::Arc;
use tokio_tungstenite::tungstenite;
use wallsocket::store::Store;

/// The next message that is not presence, typing or a claim.
async fn answer(client: &mut Client) -> ServerMsg {
    loop {
        match client.recv().await {
            msg if is_presence(&msg) => continue,
            msg => return msg,
        }
    }
}

/// Runs `wallsocket moderator add NAME` on the database in `dir`: exit code and stdout.
fn add_moderator(dir: &std::path::Path, name: &str) -> (Option<i32>, String) {
    let db = format!("sqlite://{}/wall.db", dir.display());
    let out = Command::new(env!("CARGO_BIN_EXE_wallsocket"))
        .args(["moderator", "add", name, "--database-url", &db])
        .output()
        .expect("moderation: the binary runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn moderate(secret: &str) -> ClientMsg {
    ClientMsg::Moderate { secret: ClaimSecret::parse(secret).expect("a secret's shape") }
}

#[tokio::test]
async fn moderator_add_prints_a_working_secret_once() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let (code, secret) = add_moderator(dir.path(), "mo");
    assert_eq!(code, Some(0));
    let (again, printed) = add_moderator(dir.path(), "mo");
    assert_eq!((again, printed.as_str()), (Some(1), ""), "a second add prints no secret");

    let app = spawn_app_with(dir, &[]).await;
    let mut client = app.client().await;
    client.send(&moderate(&"0".repeat(64))).await;
    assert!(matches!(answer(&mut client).await, ServerMsg::Error { code: ErrorCode::NotAllowed, .. }));
    client.send(&moderate(&secret)).await;
    match answer(&mut client).await {
        ServerMsg::Moderating { moderator } => assert_eq!(moderator.as_str(), "mo"),
        other => panic!("the printed secret signs in: {other:?}"),
    }
}

#[tokio::test]
async fn a_moderator_deletes_any_post_and_blocks_its_author_across_a_restart() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let (_, secret) = add_moderator(dir.path(), "mo");
    let app = spawn_app_with(dir.clone(), &[]).await;
    let mut bob = app.client().await;
    bob.join("lobby", "bob", None).await;
    let bob_claim = match bob.claimed.first() {
        Some(ServerMsg::Claimed { claim, .. }) => claim.clone(),
        other => panic!("bob's name was claimed: {other:?}"),
    };
    assert_eq!(bob.post("lobby", "spam", "s1").await, 1);
    assert_eq!(bob.post("lobby", "more spam", "s2").await, 2);

    let mut eve = app.client().await;
    eve.send(&ClientMsg::Block { room: "lobby".parse().unwrap(), seq: 2, minutes: 5 }).await;
    assert!(matches!(answer(&mut eve).await, ServerMsg::Error { code: ErrorCode::NotAllowed, .. }), "no moderator");

    let mut mo = app.client().await;
    mo.send(&moderate(&secret)).await;
    assert!(matches!(answer(&mut mo).await, ServerMsg::Moderating { .. }));
    // Not in the room, and not the author: a moderator deletes all the same.
    mo.send(&ClientMsg::Delete { room: "lobby".parse().unwrap(), seq: 1 }).await;
    assert!(matches!(answer(&mut bob).await, ServerMsg::Deleted { seq: 1, .. }), "every member is told");
    assert!(matches!(answer(&mut mo).await, ServerMsg::Deleted { seq: 1, .. }), "and the moderator, in no room");
    mo.send(&ClientMsg::Block { room: "lobby".parse().unwrap(), seq: 2, minutes: 0 }).await;
    assert!(matches!(answer(&mut mo).await, ServerMsg::Error { code: ErrorCode::InvalidMessage, .. }));
    mo.send(&ClientMsg::Block { room: "lobby".parse().unwrap(), seq: 2, minutes: 90 }).await;
    let until = match answer(&mut mo).await {
        ServerMsg::AuthorBlocked { seq: 2, until_ms, .. } => until_ms,
        other => panic!("expected author_blocked, got {other:?}"),
    };
    assert!(until > wallsocket::store::now_ms() + 89 * 60_000, "90 minutes from now");

    let refused = |msg: ServerMsg| match msg {
        ServerMsg::Error { code: ErrorCode::Blocked, message, client_id: Some(id) } => {
            assert!(message.contains("1 h 30 min") || message.contains("1 h 29 min"), "{message}");
            assert_eq!(id.as_str(), "s3");
        }
        other => panic!("bob is blocked from posting: {other:?}"),
    };
    bob.send(&crate::helpers::post_msg("lobby", "still here", "s3")).await;
    refused(answer(&mut bob).await);
    // Giving the name up to claim it afresh, unblocked, is refused while the block runs.
    bob.send(&ClientMsg::Release { username: "bob".parse().unwrap(), claim: bob_claim.clone() }).await;
    assert!(matches!(answer(&mut bob).await, ServerMsg::Error { code: ErrorCode::Blocked, .. }));
    // A moderator removed on the host can do nothing more, even on a connection signed in.
    let db = format!("sqlite://{}/wall.db", dir.path().display());
    let removed = Command::new(env!("CARGO_BIN_EXE_wallsocket"))
        .args(["moderator", "remove", "mo", "--database-url", &db])
        .status()
        .expect("moderation: the binary runs");
    assert!(removed.success());
    mo.send(&ClientMsg::Delete { room: "lobby".parse().unwrap(), seq: 2 }).await;
    assert!(matches!(answer(&mut mo).await, ServerMsg::Error { code: ErrorCode::NotAllowed, .. }), "removed");
    drop((bob, mo, eve));
    app.stop().await;

    let app = spawn_app_with(dir.clone(), &[]).await;
    let mut bob = app.client().await;
    bob.send(&ClientMsg::Join {
        room: "lobby".parse().unwrap(),
        username: Some("bob".parse().unwrap()),
        since: Some(2),
        claim: Some(bob_claim),
        from: None,
    })
    .await;
    assert!(matches!(answer(&mut bob).await, ServerMsg::Joined { .. }));
    bob.send(&crate::helpers::post_msg("lobby", "still here", "s3")).await;
    refused(answer(&mut bob).await);
    app.stop().await;

    let store = Store::connect(&format!("sqlite://{}/wall.db", dir.path().display())).await.unwrap();
    let audit = store.audit(10).await.unwrap();
    let actions: Vec<(&str, &str)> = audit.iter().map(|a| (a.moderator.as_str(), a.action.as_str())).collect();
    assert_eq!(actions, [("mo", "block_claim"), ("mo", "delete")], "newest first");
    assert!(audit[1].detail.contains("post 1 in #lobby"), "{:?}", audit[1]);
}

#[tokio::test]
async fn a_blocked_address_is_refused_at_admission_with_the_time_left_and_the_page_needs_the_secret() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let (_, secret) = add_moderator(dir.path(), "mo");
    let app = spawn_app_with(dir, &[]).await;
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(20)).build().unwrap();
    let call = |path: &'static str, form: Vec<(&'static str, String)>| {
        let request = http.post(app.http_url(path)).form(&form);
        async move {
            let response = request.send().await.expect("moderation: answer within 20 s");
            (response.status().as_u16(), response.text().await.expect("moderation: body within 20 s"))
        }
    };
    let wrong = "1".repeat(64);
    let (status, body) = call("/api/moderation/log", vec![("secret", wrong.clone())]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not a moderator"), "{body}");
    assert!(!body.contains(&wrong), "a secret is never repeated: {body}");
    let block =
        |address: &str| vec![("secret", secret.clone()), ("address", address.to_owned()), ("minutes", "5".into())];
    let (status, body) = call("/api/moderation/block_address", block("not-an-address")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not an IP address"), "{body}");

    let mut early = app.client().await;
    early.join("lobby", "early", None).await;
    let (status, body) = call("/api/moderation/block_address", block("127.0.0.1")).await;
    assert_eq!(status, 200, "{body}");
    match app.connect(None).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 403);
            let text = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
            assert!(text.contains("blocked for another 5 min"), "{text}");
        }
        other => panic!("a blocked address is refused: {:?}", other.map(|_| "admitted")),
    }
    early.send(&crate::helpers::post_msg("lobby", "from before the block", "e1")).await;
    match answer(&mut early).await {
        ServerMsg::Error { code: ErrorCode::Blocked, client_id: Some(_), .. } => {}
        other => panic!("a connection opened before the block may not post: {other:?}"),
    }
    let (status, body) = call("/api/moderation/log", vec![("secret", secret.clone())]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("block_address") && body.contains("127.0.0.1"), "{body}");
}

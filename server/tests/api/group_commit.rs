//! Group commit: posts stored together in one transaction keep dense seqs, recognise
//! retries (earlier in the store or earlier in the same batch), and reach every member in
//! seq order however many clients post at once.

use crate::helpers::{spawn_app, spawn_app_with};
use app::protocol::{ClientMsg, ServerMsg};
use wallsocket::store::{Inserted, PostToInsert, Store};

fn new_post(room: &str, client_id: &str, text: &str) -> PostToInsert {
    PostToInsert {
        room: room.parse().unwrap(),
        client_id: client_id.parse().unwrap(),
        username: "batcher".parse().unwrap(),
        text: text.parse().unwrap(),
        claim: None,
    }
}

fn seq_and_text(inserted: &Inserted) -> (bool, u64, &str) {
    match inserted {
        Inserted::New(p) => (true, p.seq, p.text.as_str()),
        Inserted::Duplicate(p) => (false, p.seq, p.text.as_str()),
        Inserted::Removed { seq } => (false, *seq, ""),
    }
}

#[tokio::test]
async fn one_batch_gives_dense_seqs_per_room_and_answers_retries_with_the_first_post() {
    let app = spawn_app().await;
    let store = Store::connect(&format!("sqlite://{}/batch.db", app.dir.path().display())).await.unwrap();
    let first = store.insert_posts(&[new_post("alpha", "a-1", "stored earlier")]).await.unwrap();
    assert_eq!(seq_and_text(&first[0]), (true, 1, "stored earlier"));

    let batch = [
        new_post("alpha", "a-2", "two"),
        new_post("beta", "b-1", "beta one"),
        new_post("alpha", "a-1", "a retry of a stored post"),
        new_post("alpha", "a-3", "three"),
        new_post("beta", "b-1", "a retry within the batch"),
        new_post("beta", "b-2", "beta two"),
    ];
    let answers = store.insert_posts(&batch).await.unwrap();
    let got: Vec<_> = answers.iter().map(seq_and_text).collect();
    assert_eq!(
        got,
        [
            (true, 2, "two"),
            (true, 1, "beta one"),
            (false, 1, "stored earlier"),
            (true, 3, "three"),
            (false, 1, "beta one"),
            (true, 2, "beta two"),
        ]
    );
    let (alpha, _) = store.page(&"alpha".parse().unwrap(), None, 50).await.unwrap();
    assert_eq!(alpha.posts.iter().map(|p| p.seq).collect::<Vec<_>>(), [1, 2, 3]);
    // The next post continues after the batch.
    let next = store.insert_posts(&[new_post("beta", "b-3", "after")]).await.unwrap();
    assert_eq!(seq_and_text(&next[0]), (true, 3, "after"));
    store.close().await;
}

#[tokio::test]
async fn many_concurrent_posters_get_distinct_acks_and_every_member_sees_one_gapless_order() {
    let app = spawn_app_with(
        std::sync::Arc::new(tempfile::tempdir().unwrap()),
        &["--rate-per-sec", "10000", "--rate-burst", "10000"],
    )
    .await;
    const POSTERS: usize = 12;
    const EACH: usize = 40;
    let mut watcher = app.client().await;
    watcher.join("crowd", "watcher", None).await;
    let mut tasks = Vec::new();
    for p in 0..POSTERS {
        let mut client = app.client().await;
        client.join("crowd", &format!("poster{p}"), None).await;
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                seqs.push(client.post("crowd", &format!("post {i} from {p}"), &format!("p{p}-{i}")).await);
            }
            seqs
        }));
    }
    let mut acked: Vec<u64> = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    acked.sort_unstable();
    let total = (POSTERS * EACH) as u64;
    assert_eq!(acked, (1..=total).collect::<Vec<_>>(), "every ack a distinct seq, none missing");
    let mut seen = Vec::new();
    while seen.len() < total as usize {
        seen.push(watcher.next_post().await.seq);
    }
    assert_eq!(seen, (1..=total).collect::<Vec<_>>(), "the watcher sees every post once, in seq order");
}

#[tokio::test]
async fn posts_sent_without_waiting_are_acked_in_the_order_they_were_sent() {
    let app = spawn_app_with(
        std::sync::Arc::new(tempfile::tempdir().unwrap()),
        &["--rate-per-sec", "10000", "--rate-burst", "10000"],
    )
    .await;
    let mut client = app.client().await;
    client.join("burst", "eager", None).await;
    // 30 posts back to back, then a ping: the server reads ahead while posts are stored.
    for i in 0..30 {
        client.send(&crate::helpers::post_msg("burst", &format!("post {i}"), &format!("b-{i}"))).await;
    }
    client.send(&ClientMsg::Ping).await;
    let mut answers = Vec::new();
    while answers.last() != Some(&"pong".to_owned()) {
        match client.recv().await {
            ServerMsg::Ack { client_id, seq, .. } => answers.push(format!("{client_id}={seq}")),
            ServerMsg::Pong => answers.push("pong".into()),
            _ => {}
        }
    }
    let mut expected: Vec<String> = (0..30).map(|i| format!("b-{i}={}", i + 1)).collect();
    expected.push("pong".into());
    assert_eq!(answers, expected, "every ack, in send order, then the pong");
}

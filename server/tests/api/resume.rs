//! Resume without gaps or duplicates: across a server restart, and under random disconnects.

use crate::helpers::{spawn_app, spawn_app_with, Client, TestApp};
use proptest::prelude::*;
use wallsocket::store::{PostToInsert, Store};

const ROOM: &str = "resume";

/// A native client that remembers every seq it was given and rejoins from the last one.
/// It records what the server sends without filtering, so a duplicate or a gap shows.
struct Resumer {
    name: String,
    seqs: Vec<u64>,
    client: Option<Client>,
}

impl Resumer {
    fn new(name: &str) -> Self {
        Self { name: name.into(), seqs: Vec::new(), client: None }
    }

    async fn connect(&mut self, app: &TestApp) {
        let mut client = app.client().await;
        let (history, _) = client.join(ROOM, &self.name, self.seqs.last().copied()).await;
        self.seqs.extend(history.iter().map(|p| p.seq));
        self.client = Some(client);
    }

    /// Reads live posts until it has seen `last`.
    async fn catch_up(&mut self, last: u64) {
        let client = self.client.as_mut().expect("connected");
        while self.seqs.last().copied().unwrap_or(0) < last {
            self.seqs.push(client.next_post().await.seq);
        }
    }
}

#[tokio::test]
async fn clients_resume_across_a_restart_with_no_gap_and_no_duplicate() {
    let app = spawn_app().await;
    let (port, dir) = (app.port, app.dir.clone());
    let mut readers: Vec<Resumer> = ["ann", "ben", "cat"].iter().map(|n| Resumer::new(n)).collect();
    for r in &mut readers {
        r.connect(&app).await;
    }
    let mut poster = app.client().await;
    poster.join(ROOM, "poster", None).await;
    for i in 1..=5 {
        poster.post(ROOM, &format!("before {i}"), &format!("b{i}")).await;
    }
    for r in &mut readers {
        r.catch_up(5).await;
    }
    drop(poster);
    app.stop().await;

    // While the server is down, posts arrive by another path (straight into the store).
    let store = Store::connect(&format!("sqlite://{}/wall.db", dir.path().display())).await.unwrap();
    for i in 6..=8 {
        let id = format!("side{i}").parse().unwrap();
        let post = PostToInsert {
            room: ROOM.parse().unwrap(),
            client_id: id,
            username: "side".parse().unwrap(),
            text: "meanwhile".parse().unwrap(),
            claim: None,
        };
        store.insert_posts(&[post]).await.unwrap();
    }
    store.close().await;

    let app = spawn_app_with(dir, &["--listen", &format!("127.0.0.1:{port}")]).await;
    for r in &mut readers {
        r.connect(&app).await;
    }
    let mut poster = app.client().await;
    poster.join(ROOM, "poster", None).await;
    assert_eq!(poster.post(ROOM, "after", "a1").await, 9);
    assert_eq!(poster.post(ROOM, "after again", "a2").await, 10);
    for r in &mut readers {
        r.catch_up(10).await;
        assert_eq!(r.seqs, (1..=10).collect::<Vec<_>>(), "{}", r.name);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Post,
    Drop(usize),
    Reconnect(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![3 => Just(Op::Post), 1 => (0..3usize).prop_map(Op::Drop), 1 => (0..3usize).prop_map(Op::Reconnect)]
}

async fn run_ops(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let app = spawn_app_with(
        std::sync::Arc::new(tempfile::tempdir().unwrap()),
        &["--rate-per-sec", "1000", "--rate-burst", "1000"],
    )
    .await;
    let mut readers: Vec<Resumer> = ["r0", "r1", "r2"].iter().map(|n| Resumer::new(n)).collect();
    for r in &mut readers {
        r.connect(&app).await;
    }
    let mut poster = app.client().await;
    poster.join(ROOM, "poster", None).await;
    let mut posted = 0u64;
    for op in ops {
        match op {
            Op::Post => {
                posted += 1;
                poster.post(ROOM, "x", &format!("p{posted}")).await;
            }
            Op::Drop(i) => readers[i].client = None,
            Op::Reconnect(i) if readers[i].client.is_none() => readers[i].connect(&app).await,
            Op::Reconnect(_) => {}
        }
    }
    let stored = app.client().await.join(ROOM, "auditor", Some(0)).await.0;
    for r in &mut readers {
        if r.client.is_none() {
            r.connect(&app).await;
        }
        r.catch_up(posted).await;
        let expected: Vec<u64> = stored.iter().map(|p| p.seq).collect();
        prop_assert_eq!(&r.seqs, &expected, "{} ended with another sequence than the store's", r.name);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_client_ends_with_exactly_the_stored_sequence(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run_ops(ops))?;
    }
}

#[tokio::test]
async fn a_resumer_that_missed_nothing_gets_nothing_again() {
    let app = spawn_app().await;
    let mut r = Resumer::new("solo");
    r.connect(&app).await;
    let mut poster = app.client().await;
    poster.join(ROOM, "poster", None).await;
    poster.post(ROOM, "one", "o1").await;
    r.catch_up(1).await;
    r.client = None;
    r.connect(&app).await;
    assert_eq!(r.seqs, [1]);
}

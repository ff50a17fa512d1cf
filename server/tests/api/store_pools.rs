//! The store's writer has its own connection: reads, however many wait, never queue a commit.

use app::domain::{ClientId, PostText, RoomName, Username};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wallsocket::store::{PostToInsert, Store};

fn new_post(room: &RoomName, n: usize) -> PostToInsert {
    PostToInsert {
        room: room.clone(),
        client_id: ClientId::parse(&format!("p-{n}")).unwrap(),
        username: Username::parse("alice").unwrap(),
        text: PostText::parse(&format!("post {n} {}", "words ".repeat(50))).unwrap(),
        claim: None,
    }
}

#[tokio::test]
async fn a_burst_of_reads_does_not_hold_up_a_commit() {
    const TEST: &str = "a_burst_of_reads_does_not_hold_up_a_commit";
    const READS: usize = 1000;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/pools.db", dir.path().display())).await.unwrap();
    let room: RoomName = "lobby".parse().unwrap();
    store.insert_posts(&(0..50).map(|n| new_post(&room, n)).collect::<Vec<_>>()).await.unwrap();

    // A burst of page reads (older posts, as the pages' server function asks for them: a
    // room's first page may come from memory, these never do), every one of them waiting for
    // a connection before the commit asks for one.
    let (started, finished) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut reads = Vec::new();
    for _ in 0..READS {
        let (store, room, started, finished) = (store.clone(), room.clone(), started.clone(), finished.clone());
        reads.push(tokio::spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            let (page, _) = store.page(&room, Some(51), 50).await.expect("a page");
            assert_eq!(page.posts.len(), 50);
            finished.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // This runtime has one thread: once every read has started, each waits for a connection
    // (or has one) before the commit asks.
    while started.load(Ordering::SeqCst) < READS {
        tokio::task::yield_now().await;
    }

    let stored = store.insert_posts(&[new_post(&room, 1000)]).await.expect("the commit succeeds");
    let reads_before_commit = finished.load(Ordering::SeqCst);
    assert_eq!(stored.len(), 1);
    assert!(
        reads_before_commit < READS / 2,
        "{TEST}: the commit waited for {reads_before_commit} of {READS} reads queued before it"
    );
    for read in reads {
        read.await.expect("every read succeeds");
    }
    // The reads and the writer see the same database.
    let (page, _) = store.page(&room, None, 1).await.unwrap();
    assert_eq!(page.posts[0].seq, 51, "{TEST}: the committed post is visible to readers");
    store.close().await;
}

//! Deleting across nodes: the author on one node deletes, and members on the other node are
//! told at once (the bus), and whoever joins there later finds only the tombstone.

use crate::nodes::{client, Services};
use app::protocol::{ClientMsg, ServerMsg};

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn a_post_deleted_on_one_node_is_removed_for_members_on_the_other() {
    let services = Services::start("deleting");
    let (a, b) = (services.node("a", &[]), services.node("b", &[]));
    let (mut alice, mut bob) = (client(a.port).await, client(b.port).await);
    alice.join("lobby", "alice", None).await;
    bob.join("lobby", "bob", None).await;
    let seq = alice.post("lobby", "a post to take back", "d-1").await;
    assert_eq!(bob.next_post().await.seq, seq, "bob on node b has it");

    alice.send(&ClientMsg::Delete { room: "lobby".parse().unwrap(), seq }).await;
    loop {
        match bob.recv().await {
            ServerMsg::Deleted { seq: removed, .. } => break assert_eq!(removed, seq),
            ServerMsg::Presence { .. } | ServerMsg::Typing { .. } => continue,
            other => panic!("bob on node b is told of the deletion: {other:?}"),
        }
    }
    let mut carol = client(b.port).await;
    carol
        .send(&ClientMsg::Join { room: "lobby".parse().unwrap(), username: None, since: None, claim: None, from: None })
        .await;
    loop {
        match carol.recv().await {
            ServerMsg::Joined { history, deleted, .. } => {
                assert!(history.is_empty(), "{history:?}");
                break assert_eq!(deleted, [seq]);
            }
            ServerMsg::Presence { .. } => continue,
            other => panic!("expected joined, got {other:?}"),
        }
    }
}

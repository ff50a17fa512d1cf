//! Name claims across nodes: one database holds them, so a name claimed on one node is
//! claimed on every node, and two first uses racing on two nodes give the name to one.

use crate::nodes::{client, Services};
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};

fn join(name: &str) -> ClientMsg {
    ClientMsg::Join {
        room: "lobby".parse().unwrap(),
        username: Some(name.parse().unwrap()),
        since: None,
        claim: None,
        from: None,
    }
}

/// The answer to a join sent as it is: `claimed` (the name is now this client's), `joined`
/// or the refusal, past arrivals.
async fn first_answer(client: &mut crate::helpers::Client, msg: &ClientMsg) -> ServerMsg {
    client.send_unclaimed(msg).await;
    loop {
        match client.recv().await {
            ServerMsg::Presence { .. } => continue,
            ServerMsg::Joined { .. } if !client.claimed.is_empty() => return client.claimed[0].clone(),
            other => return other,
        }
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn a_name_claimed_on_one_node_is_claimed_on_every_node_and_a_race_has_one_winner() {
    let services = Services::start("claims");
    let (a, b) = (services.node("a", &[]), services.node("b", &[]));
    let mut on_a = client(a.port).await;
    on_a.join("lobby", "alice", None).await;
    let mut on_b = client(b.port).await;
    let refused = first_answer(&mut on_b, &join("ALICE")).await;
    assert!(matches!(refused, ServerMsg::Error { code: ErrorCode::NameTaken, .. }), "on the other node: {refused:?}");
    // With the secret (the helpers present it): accepted there.
    on_b.join("lobby", "alice", None).await;

    for round in 0..5 {
        let name = format!("racer{round}");
        let (mut x, mut y) = (client(a.port).await, client(b.port).await);
        let msg = join(&name);
        let (from_a, from_b) = tokio::join!(first_answer(&mut x, &msg), first_answer(&mut y, &msg));
        let won = |m: &ServerMsg| matches!(m, ServerMsg::Claimed { .. });
        let lost = |m: &ServerMsg| matches!(m, ServerMsg::Error { code: ErrorCode::NameTaken, .. });
        assert!(
            (won(&from_a) && lost(&from_b)) || (lost(&from_a) && won(&from_b)),
            "round {round}: exactly one node's client gets {name}: {from_a:?} / {from_b:?}"
        );
    }
}

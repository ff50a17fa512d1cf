//! Real `wallsocket` processes sharing one PostgreSQL database and one Redis, and clients of
//! them.

use crate::helpers::{share_claims, spawn_binary, Binary, Client};
use crate::postgres::Postgres;
use crate::redis::Redis;
use app::protocol::{Post, ServerMsg};
use std::sync::OnceLock;

/// A database and a Redis for a test's nodes.
pub struct Services {
    pub pg: Postgres,
    pub redis: Redis,
    pub database: String,
    /// The first node's port: every node shares its name claims (one database).
    first_port: OnceLock<u16>,
}

impl Services {
    pub fn start(database: &str) -> Self {
        let pg = Postgres::start();
        let database = pg.database(database);
        Self { pg, redis: Redis::start(), database, first_port: OnceLock::new() }
    }

    /// A node of the cluster, named `name`, with `flags` besides the shared ones.
    pub fn node(&self, name: &str, flags: &[&str]) -> Binary {
        let redis = self.redis.url();
        let mut args = vec!["--log", "info", "--database-url", &self.database, "--redis-url", &redis];
        args.extend(["--node-name", name, "--ip-connect-rate", "100000"]);
        args.extend_from_slice(flags);
        let node = spawn_binary(&args);
        share_claims(node.port, *self.first_port.get_or_init(|| node.port));
        node
    }
}

/// A WebSocket client of the node on `port`, past its `hello`.
pub async fn client(port: u16) -> Client {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.expect("upgrade");
    let mut client = Client::from_stream(ws);
    assert!(matches!(client.recv().await, ServerMsg::Hello { .. }));
    client
}

/// Reads until `posts` posts and `acks` acks have arrived; checks that each ack comes after
/// its own post. Returns the posts in the order they arrived.
pub async fn collect(client: &mut Client, posts: usize, acks: usize) -> Vec<Post> {
    let (mut got, mut acked) = (Vec::new(), 0);
    while got.len() < posts || acked < acks {
        match client.recv().await {
            ServerMsg::Post(post) => got.push(post),
            ServerMsg::Ack { client_id, seq, .. } => {
                let before = got.iter().any(|p: &Post| p.client_id == client_id && p.seq == seq);
                assert!(before, "the ack of {client_id} (seq {seq}) came before its post");
                acked += 1;
            }
            ServerMsg::Presence { .. } | ServerMsg::Typing { .. } => {}
            other => panic!("expected posts and acks, got {other:?}"),
        }
    }
    got
}

pub fn seqs(posts: &[Post]) -> Vec<u64> {
    posts.iter().map(|p| p.seq).collect()
}

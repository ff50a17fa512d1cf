//! The store's contract on PostgreSQL (the same checks SQLite passes in `tests/api`), two
//! nodes' stores racing on one room, and a real server process running on PostgreSQL.

#[path = "../support/store_contract.rs"]
mod contract;
use crate::helpers;
use crate::postgres::Postgres;

#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it"]
async fn postgres_assigns_dense_seqs_under_two_racing_nodes() {
    let pg = Postgres::start();
    contract::two_stores_racing_on_one_room_number_densely_and_store_each_id_once(&pg.database("race")).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it"]
async fn postgres_keeps_the_store_contract() {
    let pg = Postgres::start();
    contract::numbers_densely_and_answers_a_retry_with_the_stored_post(&pg.database("dense")).await;
    contract::pages_and_replays_read_what_was_stored(&pg.database("pages")).await;
    contract::lists_rooms_newest_first_with_their_totals(&pg.database("rooms")).await;
    contract::deletes_only_for_its_author_and_keeps_a_tombstone(&pg.database("deletes")).await;
    contract::first_pages_follow_every_write(&pg.database("first")).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it"]
async fn a_server_on_postgres_stores_posts_and_keeps_them_across_a_restart() {
    let pg = Postgres::start();
    let url = pg.database("node");
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let app = helpers::spawn_app_with(dir.clone(), &["--database-url", &url]).await;
    let port = app.port;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    assert_eq!(alice.post("lobby", "one", "p1").await, 1);
    assert_eq!(alice.post("lobby", "two", "p2").await, 2);
    assert_eq!(alice.post("lobby", "one", "p1").await, 1, "a retry is answered with its seq");
    app.stop().await;

    let app = helpers::spawn_app_with(dir, &["--database-url", &url, "--listen", &format!("127.0.0.1:{port}")]).await;
    let (history, _) = app.client().await.join("lobby", "bob", Some(0)).await;
    let texts: Vec<&str> = history.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["one", "two"]);
}

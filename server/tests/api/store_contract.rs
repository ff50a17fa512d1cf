//! The store's contract (`tests/support/store_contract.rs`) on SQLite, the embedded default;
//! `tests/cluster` runs the same checks on PostgreSQL.

#[path = "../support/store_contract.rs"]
mod contract;

/// A fresh database file in a directory that lives as long as the test.
fn sqlite() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/contract.db", dir.path().display());
    (dir, url)
}

#[tokio::test]
async fn sqlite_numbers_densely_and_answers_a_retry_with_the_stored_post() {
    let (_dir, url) = sqlite();
    contract::numbers_densely_and_answers_a_retry_with_the_stored_post(&url).await;
}

#[tokio::test]
async fn sqlite_pages_and_replays_read_what_was_stored() {
    let (_dir, url) = sqlite();
    contract::pages_and_replays_read_what_was_stored(&url).await;
}

#[tokio::test]
async fn sqlite_lists_rooms_newest_first_with_their_totals() {
    let (_dir, url) = sqlite();
    contract::lists_rooms_newest_first_with_their_totals(&url).await;
}

#[tokio::test]
async fn sqlite_two_stores_racing_on_one_room_number_densely_and_store_each_id_once() {
    let (_dir, url) = sqlite();
    contract::two_stores_racing_on_one_room_number_densely_and_store_each_id_once(&url).await;
}

#[tokio::test]
async fn sqlite_deletes_only_for_its_author_and_keeps_a_tombstone() {
    let (_dir, url) = sqlite();
    contract::deletes_only_for_its_author_and_keeps_a_tombstone(&url).await;
}

#[tokio::test]
async fn sqlite_first_pages_follow_every_write() {
    let (_dir, url) = sqlite();
    contract::first_pages_follow_every_write(&url).await;
}

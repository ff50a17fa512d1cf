//! The store's contract, as checks any backend must pass: the SQLite tests (`tests/api`) and
//! the PostgreSQL ones (`tests/cluster`) run these same functions, each on a fresh database.

use app::domain::RoomName;
use app::protocol::Post;
use std::collections::{BTreeMap, HashMap};
use wallsocket::claims::ClaimId;
use wallsocket::store::{Deleter, Deletion, Entries, Inserted, PostToInsert, Store};

fn to_insert(room: &str, client_id: &str, text: &str) -> PostToInsert {
    PostToInsert {
        room: room.parse().unwrap(),
        client_id: client_id.parse().unwrap(),
        username: "al".parse().unwrap(),
        text: text.parse().unwrap(),
        claim: None,
    }
}

fn room(name: &str) -> RoomName {
    name.parse().unwrap()
}

fn seq_of(answer: &Inserted) -> (bool, u64) {
    match answer {
        Inserted::New(p) => (true, p.seq),
        Inserted::Duplicate(p) => (false, p.seq),
        Inserted::Removed { seq } => (false, *seq),
    }
}

/// Seqs are dense per room from 1; a client id repeated in the batch or sent again later is
/// answered with the post already stored, unchanged.
pub async fn numbers_densely_and_answers_a_retry_with_the_stored_post(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let batch = [to_insert("a", "a1", "one"), to_insert("b", "b1", "x"), to_insert("a", "a2", "two")];
    let answers = store.insert_posts(&batch).await.unwrap();
    assert_eq!(answers.iter().map(seq_of).collect::<Vec<_>>(), [(true, 1), (true, 1), (true, 2)]);
    let again = [to_insert("a", "a1", "changed text"), to_insert("a", "a3", "three"), to_insert("a", "a3", "dup")];
    let answers = store.insert_posts(&again).await.unwrap();
    assert_eq!(answers.iter().map(seq_of).collect::<Vec<_>>(), [(false, 1), (true, 3), (false, 3)]);
    let Inserted::Duplicate(first) = &answers[0] else { unreachable!() };
    assert_eq!(first.text.as_str(), "one", "a retry never changes what was stored");
    let (Entries { posts, .. }, _) = store.page(&room("a"), None, 50).await.unwrap();
    assert_eq!(posts.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(), ["one", "two", "three"]);
    store.close().await;
}

/// Pages go back in time; a replay returns what follows `since`, or nothing past its limits.
pub async fn pages_and_replays_read_what_was_stored(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let batch: Vec<PostToInsert> =
        (1..=60).map(|i| to_insert("lobby", &format!("c{i}"), &format!("post {i}"))).collect();
    store.insert_posts(&batch).await.unwrap();
    let seqs = |entries: &Entries| entries.posts.iter().map(|p: &Post| p.seq).collect::<Vec<_>>();
    let (newest, has_older) = store.page(&room("lobby"), None, 50).await.unwrap();
    assert_eq!((seqs(&newest), has_older), ((11..=60).collect(), true));
    let (oldest, has_older) = store.page(&room("lobby"), Some(11), 50).await.unwrap();
    assert_eq!((seqs(&oldest), has_older), ((1..=10).collect(), false));
    let replay = store.after_within(&room("lobby"), 55, 10, 1 << 20).await.unwrap().unwrap();
    assert_eq!(seqs(&replay), [56, 57, 58, 59, 60]);
    assert_eq!(store.after_within(&room("lobby"), 0, 10, 1 << 20).await.unwrap(), None, "past the post limit");
    assert_eq!(store.after_within(&room("lobby"), 50, 100, 20).await.unwrap(), None, "past the byte limit");
    assert_eq!(store.after_within(&room("lobby"), 60, 10, 1 << 20).await.unwrap(), Some(Entries::default()));
    assert_eq!(store.page(&room("empty"), None, 50).await.unwrap().0, Entries::default());
    store.close().await;
}

/// The directory's reads: rooms most recently active first, and the totals of named rooms.
pub async fn lists_rooms_newest_first_with_their_totals(url: &str) {
    let store = Store::connect(url).await.unwrap();
    store.insert_posts(&[to_insert("old", "o1", "x"), to_insert("old", "o2", "y")]).await.unwrap();
    // Later, by a clock step the database can see.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.insert_posts(&[to_insert("new", "n1", "z")]).await.unwrap();
    let listed: Vec<(String, u64)> =
        store.rooms(10).await.unwrap().into_iter().map(|t| (t.room.to_string(), t.posts)).collect();
    assert_eq!(listed, [("new".to_owned(), 1), ("old".to_owned(), 2)]);
    let totals = store.totals_of(&[room("old"), room("nothing")]).await.unwrap();
    assert_eq!(totals.iter().map(|t| (t.room.as_str(), t.posts)).collect::<Vec<_>>(), [("old", 2)]);
    store.close().await;
}

/// Two stores on one database (two nodes) posting to one room at once, with overlapping
/// client ids (retries racing their originals): every id is stored once, the room's seqs are
/// 1..=N with no gap, and each answer names the seq the id was stored under.
pub async fn two_stores_racing_on_one_room_number_densely_and_store_each_id_once(url: &str) {
    let (a, b) = (Store::connect(url).await.unwrap(), Store::connect(url).await.unwrap());
    let ids = 300;
    let writer = |store: Store, order: Vec<usize>| {
        tokio::spawn(async move {
            let mut answered = Vec::new();
            for chunk in order.chunks(5) {
                let batch: Vec<PostToInsert> =
                    chunk.iter().map(|i| to_insert("race", &format!("id{i}"), &format!("text {i}"))).collect();
                for (new, answer) in batch.iter().zip(store.insert_posts(&batch).await.unwrap()) {
                    answered.push((new.client_id.to_string(), seq_of(&answer).1));
                }
            }
            answered
        })
    };
    // Node a sends ids 0..300 in order; node b sends every other one, from the end.
    let (from_a, from_b) =
        (writer(a.clone(), (0..ids).collect()), writer(b.clone(), (0..ids).rev().step_by(2).collect()));
    let (from_a, from_b) = (from_a.await.unwrap(), from_b.await.unwrap());
    let stored = a.after_within(&room("race"), 0, 10_000, 1 << 30).await.unwrap().unwrap().posts;
    assert_eq!(stored.iter().map(|p| p.seq).collect::<Vec<_>>(), (1..=ids as u64).collect::<Vec<_>>(), "dense");
    let by_id: HashMap<String, u64> = stored.iter().map(|p| (p.client_id.to_string(), p.seq)).collect();
    assert_eq!(by_id.len(), ids, "each id stored once");
    for (id, seq) in from_a.iter().chain(&from_b) {
        assert_eq!(by_id.get(id), Some(seq), "the answer for {id} names the seq it was stored under");
    }
    let per_text: BTreeMap<&str, usize> = stored.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(p.text.as_str()).or_default() += 1;
        m
    });
    assert!(per_text.values().all(|n| *n == 1));
    a.close().await;
    b.close().await;
}

/// A post is deleted only by the claim that wrote it; it stays a tombstone (its seq taken,
/// its name and text gone) that pages, replays and the deletion range report; a retry of it
/// is answered with its seq, never stored again.
pub async fn deletes_only_for_its_author_and_keeps_a_tombstone(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let (author, other) = (ClaimId::from_stored("claim-author"), ClaimId::from_stored("claim-other"));
    let mut batch: Vec<PostToInsert> =
        (1..=4).map(|i| to_insert("lobby", &format!("c{i}"), &format!("secret text {i}"))).collect();
    batch.iter_mut().for_each(|p| p.claim = Some(author.clone()));
    batch[3].claim = None;
    store.insert_posts(&batch).await.unwrap();
    let version = store.version();
    let lobby = room("lobby");
    let (by_author, by_other) = (Deleter::Author(author), Deleter::Author(other));
    let delete = |seq, by| store.delete_post(&lobby, seq, by);
    assert_eq!(delete(2, &by_other).await.unwrap(), Deletion::NotAllowed, "someone else's post");
    assert_eq!(delete(4, &by_author).await.unwrap(), Deletion::NotAllowed, "a post from before claims is nobody's");
    assert_eq!(delete(9, &by_author).await.unwrap(), Deletion::NoSuchPost);
    assert_eq!(store.version(), version, "nothing changed");
    assert_eq!(delete(2, &by_author).await.unwrap(), Deletion::Deleted);
    assert_ne!(store.version(), version, "cached pages are out of date");
    assert_eq!(delete(2, &by_author).await.unwrap(), Deletion::AlreadyDeleted);
    assert_eq!(delete(3, &by_author).await.unwrap(), Deletion::Deleted);

    let (page, _) = store.page(&lobby, None, 50).await.unwrap();
    assert_eq!(page.posts.iter().map(|p| p.seq).collect::<Vec<_>>(), [1, 4]);
    assert_eq!(page.removed, [2, 3]);
    let replay = store.after_within(&lobby, 1, 10, 1 << 20).await.unwrap().unwrap();
    assert_eq!((replay.posts.len(), replay.removed), (1, vec![2, 3]));
    assert_eq!(store.removed_between(&lobby, 1, 2, 10).await.unwrap(), Some(vec![2]));
    assert_eq!(store.removed_between(&lobby, 1, 4, 1).await.unwrap(), None, "past the limit");
    let again = store.insert_posts(&[to_insert("lobby", "c2", "secret text 2")]).await.unwrap();
    assert_eq!(again, [Inserted::Removed { seq: 2 }], "a retry of a deleted post is not stored again");
    store.close().await;
}

/// A room's first page (which SQLite answers from memory once read) is what the database
/// holds after every kind of write: new posts, retries, deletions, other rooms' posts, and
/// more posts than a page holds.
pub async fn first_pages_follow_every_write(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let lobby = room("lobby");
    let check = |when: &'static str| {
        let store = store.clone();
        let lobby = lobby.clone();
        async move {
            for limit in [50, 7, 1] {
                let first = store.page(&lobby, None, limit).await.unwrap();
                let read = store.page(&lobby, Some(u64::MAX), limit).await.unwrap();
                assert_eq!(first, read, "first page of {limit} {when}");
                let (posts, written) = (first.0.posts.clone(), first.0.into_page_posts().0);
                let (written, fresh) = (serde_json::to_string(&written), serde_json::to_string(&posts));
                assert_eq!(written.unwrap(), fresh.unwrap(), "the page writes what its posts say, {limit} {when}");
            }
        }
    };
    check("of an empty room").await;
    store.insert_posts(&[to_insert("lobby", "c1", "one"), to_insert("lobby", "c2", "two")]).await.unwrap();
    check("after two posts").await;
    let batch: Vec<PostToInsert> = (3..=70)
        .flat_map(|i| [to_insert("lobby", &format!("c{i}"), &format!("post {i}")), to_insert("other", "o", "x")])
        .collect();
    store.insert_posts(&batch).await.unwrap();
    check("after more posts than a page").await;
    store.insert_posts(&[to_insert("lobby", "c5", "a retry"), to_insert("lobby", "c71", "new")]).await.unwrap();
    check("after a retry").await;
    let moderator = Deleter::Moderator("mod".into());
    assert_eq!(store.delete_post(&lobby, 70, &moderator).await.unwrap(), Deletion::Deleted);
    assert_eq!(store.delete_post(&lobby, 3, &moderator).await.unwrap(), Deletion::Deleted);
    check("after deletions").await;
    let (first, _) = store.page(&lobby, None, 50).await.unwrap();
    assert!(first.removed.contains(&70) && first.posts.iter().all(|p| p.text.as_str() != "post 70"));
    store.close().await;
}

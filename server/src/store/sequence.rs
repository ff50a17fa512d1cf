//! Giving each post of a batch its seq: the rule both backends follow inside their
//! transaction, once they have read (under lock) the rooms' last seqs and which of the batch's
//! client ids are already stored.

use super::{Inserted, PostToInsert};
use crate::claims::ClaimId;
use app::protocol::Post;
use std::collections::HashMap;

/// A (room, client id) pair: what makes a post the same post when it is sent again.
pub type PostKey = (String, String);

pub fn key_of(room: &str, client_id: &str) -> PostKey {
    (room.to_owned(), client_id.to_owned())
}

/// The batch's answers, in order, and the new posts among them to insert, each with the
/// claim it was written under.
pub struct Sequenced {
    pub answers: Vec<Inserted>,
    pub fresh: Vec<(Post, Option<ClaimId>)>,
}

/// Numbers the batch: a post already stored (`known`, as a duplicate or the tombstone it
/// became), or earlier in the batch, is answered with that; any other gets its room's next
/// seq after `last_seq` (0 for a room with none), stamped `ts`. So seqs stay dense and in
/// batch order.
pub fn sequence(
    batch: &[PostToInsert],
    mut known: HashMap<PostKey, Inserted>,
    mut last_seq: HashMap<String, u64>,
    ts: i64,
) -> Sequenced {
    let mut answers = Vec::with_capacity(batch.len());
    let mut fresh = Vec::new();
    for new in batch {
        let key = key_of(new.room.as_str(), new.client_id.as_str());
        if let Some(answer) = known.get(&key) {
            answers.push(answer.clone());
            continue;
        }
        let seq = last_seq.entry(new.room.as_str().to_owned()).or_insert(0);
        *seq += 1;
        let post = Post {
            room: new.room.clone(),
            seq: *seq,
            client_id: new.client_id.clone(),
            username: new.username.clone(),
            text: new.text.clone(),
            ts,
            fingerprint: new.claim.as_ref().map(ClaimId::fingerprint),
        };
        known.insert(key, Inserted::Duplicate(post.clone()));
        fresh.push((post.clone(), new.claim.clone()));
        answers.push(Inserted::New(post));
    }
    Sequenced { answers, fresh }
}

/// Each room's highest new seq, to move its counter to.
pub fn heads<'a>(fresh: impl Iterator<Item = &'a Post>) -> Vec<(String, u64)> {
    // In batch order, so each room's last entry is its highest seq.
    let heads: HashMap<&str, u64> = fresh.map(|p| (p.room.as_str(), p.seq)).collect();
    heads.into_iter().map(|(room, seq)| (room.to_owned(), seq)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to_insert(room: &str, client_id: &str) -> PostToInsert {
        PostToInsert {
            room: room.parse().unwrap(),
            client_id: client_id.parse().unwrap(),
            username: "al".parse().unwrap(),
            text: "hi".parse().unwrap(),
            claim: None,
        }
    }

    fn stored_post(room: &str, client_id: &str, seq: u64) -> Post {
        let p = to_insert(room, client_id);
        Post { room: p.room, seq, client_id: p.client_id, username: p.username, text: p.text, ts: 0, fingerprint: None }
    }

    #[test]
    fn a_post_sent_again_after_its_deletion_is_answered_with_its_tombstone_not_stored_again() {
        let known = HashMap::from([(key_of("a", "gone"), Inserted::Removed { seq: 3 })]);
        let batch = [to_insert("a", "gone"), to_insert("a", "new")];
        let out = sequence(&batch, known, HashMap::from([("a".to_owned(), 5)]), 7);
        assert_eq!(out.answers[0], Inserted::Removed { seq: 3 });
        assert_eq!(out.fresh.iter().map(|(p, _)| p.seq).collect::<Vec<_>>(), [6], "only the new one is stored");
    }

    proptest! {
        /// Whatever the batch (rooms interleaved, ids repeated, some stored before), each
        /// room's new seqs run on from its last one with no gap, in batch order; each id gets
        /// one seq; a repeat is answered with the post it repeats.
        #[test]
        fn seqs_are_dense_per_room_and_each_id_is_numbered_once(
            posts in proptest::collection::vec((0..3usize, 0..12usize), 0..60),
            stored in proptest::collection::vec(0..12usize, 0..4),
            start in proptest::collection::vec(0..50u64, 3),
        ) {
            let rooms = ["a", "b", "c"];
            let batch: Vec<PostToInsert> =
                posts.iter().map(|(r, id)| to_insert(rooms[*r], &format!("id{id}"))).collect();
            let last_seq: HashMap<String, u64> = rooms.iter().zip(&start).map(|(r, s)| (r.to_string(), *s)).collect();
            // Some ids of room "a" were stored before (at its last seq, as far as this rule cares).
            let known: HashMap<PostKey, Inserted> = stored
                .iter()
                .filter(|_| start[0] > 0)
                .map(|id| {
                    let post = stored_post("a", &format!("id{id}"), start[0]);
                    (key_of("a", &format!("id{id}")), Inserted::Duplicate(post))
                })
                .collect();
            let out = sequence(&batch, known.clone(), last_seq.clone(), 7);

            prop_assert_eq!(out.answers.len(), batch.len());
            for (i, room) in rooms.iter().enumerate() {
                let in_room = out.fresh.iter().filter(|(p, _)| p.room.as_str() == *room);
                let seqs: Vec<u64> = in_room.map(|(p, _)| p.seq).collect();
                let expected: Vec<u64> = (start[i] + 1..=start[i] + seqs.len() as u64).collect();
                prop_assert_eq!(seqs, expected, "room {} runs on from {}", room, start[i]);
            }
            let mut seen: HashMap<PostKey, u64> = HashMap::new();
            for (new, answer) in batch.iter().zip(&out.answers) {
                let key = key_of(new.room.as_str(), new.client_id.as_str());
                let (Inserted::New(post) | Inserted::Duplicate(post)) = answer else {
                    panic!("no tombstone was known: {answer:?}")
                };
                prop_assert_eq!(post.client_id.as_str(), new.client_id.as_str());
                if let Some(before) = known.get(&key) {
                    prop_assert_eq!(answer, before);
                } else if let Some(seq) = seen.get(&key) {
                    prop_assert_eq!(post.seq, *seq, "a repeat in the batch gets the first one's seq");
                    prop_assert!(matches!(answer, Inserted::Duplicate(_)));
                } else {
                    prop_assert!(matches!(answer, Inserted::New(_)));
                    seen.insert(key, post.seq);
                }
            }
            let heads: HashMap<String, u64> = heads(out.fresh.iter().map(|(p, _)| p)).into_iter().collect();
            for (p, _) in &out.fresh {
                prop_assert!(heads[p.room.as_str()] >= p.seq);
            }
        }
    }
}

//! Getting a frame to one member: queued, or held while it reads its history (posts and
//! deletions); and the
//! `joined` frame with the joiner's own encoded history spliced in.

use super::room::RoomMember;
use super::ConnId;
use crate::frame::Frame;
use crate::metrics::Metrics;
use crate::queue::Delivery;
use std::sync::Arc;

/// Posts held for one member while it reads its history; past it the member is closed as a
/// slow consumer (it would have overflowed its queue anyway).
const HELD_MAX: usize = 1024;

/// What a frame is to a member still reading its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The post with this seq: held, and skipped if its history has it (`fence`).
    Post(u64),
    /// The deletion of this seq: held in place of the post if that is held, and always sent
    /// (its history may have been read before it).
    Removal(u64),
    /// Anything else (typing, presence): skipped, its `joined` shows the room as it is then.
    Passing,
}

/// Queues `frame` for one member, or holds it while the member reads its history; true if
/// it took it. A member whose queue is full, whose held frames pass [`HELD_MAX`] (it is
/// counted and closes itself) or whose connection is gone is added to `failed`.
pub(super) fn queue_to(
    metrics: &Metrics,
    conn: ConnId,
    member: &mut RoomMember,
    frame: Arc<Frame>,
    kind: Kind,
    failed: &mut Vec<ConnId>,
) -> bool {
    match kind {
        Kind::Post(seq) if seq <= member.fence => return false,
        Kind::Passing if member.held.is_some() => return false,
        _ => {}
    }
    if let Some(held) = member.held.as_mut() {
        if let Kind::Removal(seq) = kind {
            held.retain(|(held, _)| *held != Kind::Post(seq));
        }
        if held.len() < HELD_MAX {
            held.push((kind, frame));
            return true;
        }
        member.client.give_up();
        metrics.overflowed();
        failed.push(conn);
        return false;
    }
    match member.client.deliver(frame) {
        Delivery::Queued => return true,
        Delivery::Overflowed => metrics.overflowed(),
        Delivery::Gone => {}
    }
    failed.push(conn);
    false
}

/// A `joined` frame encoded with an empty history, with `history` (a JSON array) put in its
/// place: the hub encodes the small part, the joiner already encoded the large one. The
/// first `"history":[]` is the field: `room` comes before it and cannot hold a quote, and
/// quotes inside the names after it are escaped.
pub(super) fn with_history(joined: &str, history: &str) -> String {
    joined.replacen(r#""history":[]"#, &format!(r#""history":{history}"#), 1)
}

#[cfg(test)]
mod tests {
    use super::with_history;
    use app::protocol::{encode_server, Post, ServerMsg};

    #[test]
    fn a_spliced_joined_is_the_joined_encoded_whole() {
        let post: Post = serde_json::from_str(
            r#"{"room":"lobby","seq":7,"client_id":"c","username":"\"history\":[]","text":"hi","ts":1}"#,
        )
        .unwrap();
        let joined = |history| ServerMsg::Joined {
            room: "lobby".parse().unwrap(),
            history,
            members: 1,
            present: vec![post.username.clone()],
            watching: 3,
            truncated: false,
            deleted: vec![4],
        };
        let history = serde_json::to_string(&vec![post.clone()]).unwrap();
        let spliced = with_history(&encode_server(&joined(Vec::new())), &history);
        assert_eq!(spliced, encode_server(&joined(vec![post.clone()])));
    }
}

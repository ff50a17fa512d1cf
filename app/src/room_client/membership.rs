//! Whether one connection is in its room yet, judged from what the server says, so that a
//! failed or forgotten join costs no post.

use crate::protocol::{ErrorCode, ServerMsg};

/// A `join` unanswered for this long means the connection is dead, as an unanswered `ping` does.
pub const JOIN_TIMEOUT_MS: i64 = 10_000;

/// What the connection must do after a server message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Nothing,
    /// `joined` arrived: the room is live; every post in the outbox may go.
    Joined,
    /// The server says this connection is not in the room: send `join` again. The refused
    /// posts stay in the outbox and go again after `joined`.
    Rejoin,
    /// The join was refused: drop the connection and reconnect with backoff. Whatever the
    /// code (`internal`, `rate_limited`, `too_many_rooms`, …), retrying on this connection
    /// at once would only be refused again.
    Reconnect,
}

/// One connection's standing in its room. Starts not joined, with no join sent.
#[derive(Debug, Default)]
pub struct Membership {
    /// `joined` answered the latest `join` on this connection.
    joined: bool,
    /// When the latest unanswered `join` was sent.
    join_sent_at: Option<i64>,
}

impl Membership {
    /// True once posts may be sent: a post sent before `joined` would be refused `not_joined`.
    pub fn joined(&self) -> bool {
        self.joined
    }

    /// True while a `join` waits for its answer.
    pub fn joining(&self) -> bool {
        self.join_sent_at.is_some()
    }

    /// A `join` went out at `now`: until its `joined`, posts wait.
    pub fn join_sent(&mut self, now: i64) {
        self.joined = false;
        // A second join (a rename, a resync) does not push back the first one's deadline.
        self.join_sent_at.get_or_insert(now);
    }

    /// True when a join has waited longer than [`JOIN_TIMEOUT_MS`] for its answer.
    pub fn join_overdue(&self, now: i64) -> bool {
        self.join_sent_at.is_some_and(|at| now - at > JOIN_TIMEOUT_MS)
    }

    /// Takes in a server message received at `now`.
    pub fn on_message(&mut self, msg: &ServerMsg, now: i64) -> Next {
        match msg {
            ServerMsg::Joined { .. } => {
                self.joined = true;
                self.join_sent_at = None;
                Next::Joined
            }
            // Errors about a post name it; one that names none while a join is unanswered
            // is the join's refusal (ephemeral messages, which could also draw one, are not
            // sent before `joined`).
            ServerMsg::Error { client_id: None, .. } if self.join_sent_at.is_some() => Next::Reconnect,
            ServerMsg::Error { code: ErrorCode::NotJoined, client_id: Some(_), .. } => {
                if self.join_sent_at.is_some() {
                    // Already joining again: its `joined` re-sends this post too.
                    return Next::Nothing;
                }
                // Counted as sent now, so that the other refusals of the same burst wait for
                // this one join instead of sending their own.
                self.join_sent(now);
                Next::Rejoin
            }
            _ => Next::Nothing,
        }
    }
}

/// True when a post refused with `code` will never be accepted as it is (its text or id is
/// invalid): the outbox forgets it and the page shows why. The others are retried: `internal`
/// and `rate_limited` after a pause (see `outbox.rs`), `not_joined` once joined again.
pub fn refused_for_good(code: ErrorCode) -> bool {
    !matches!(code, ErrorCode::Internal | ErrorCode::RateLimited | ErrorCode::NotJoined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ClientId;

    fn joined() -> ServerMsg {
        ServerMsg::Joined {
            room: "lobby".parse().unwrap(),
            history: vec![],
            members: 1,
            present: vec![],
            watching: 0,
            truncated: false,
            deleted: vec![],
        }
    }

    fn error(code: ErrorCode, client_id: Option<&str>) -> ServerMsg {
        let client_id = client_id.map(|id| ClientId::parse(id).unwrap());
        ServerMsg::Error { code, message: "no".into(), client_id }
    }

    #[test]
    fn posts_wait_for_joined_and_every_join_refusal_means_reconnect() {
        for code in [ErrorCode::Internal, ErrorCode::RateLimited, ErrorCode::TooManyRooms] {
            let mut m = Membership::default();
            assert!(!m.joined(), "not joined before any join");
            m.join_sent(0);
            assert!(!m.joined());
            assert_eq!(m.on_message(&error(code, None), 5), Next::Reconnect, "{code:?}");
            assert!(!m.joined(), "a refused join lets no post through");
        }
        let mut m = Membership::default();
        m.join_sent(0);
        assert_eq!(m.on_message(&joined(), 5), Next::Joined);
        assert!(m.joined());
        // Once joined, an error without a post (say, a `typing` refused) is not about the join.
        assert_eq!(m.on_message(&error(ErrorCode::RateLimited, None), 6), Next::Nothing);
        // A rename or resync: posts wait for its `joined` too.
        m.join_sent(7);
        assert!(!m.joined());
    }

    #[test]
    fn a_join_unanswered_for_ten_seconds_is_overdue_and_a_second_join_does_not_extend_it() {
        let mut m = Membership::default();
        assert!(!m.join_overdue(1_000_000), "nothing sent, nothing overdue");
        m.join_sent(1_000);
        m.join_sent(5_000);
        assert!(!m.join_overdue(1_000 + JOIN_TIMEOUT_MS));
        assert!(m.join_overdue(1_001 + JOIN_TIMEOUT_MS));
        m.on_message(&joined(), 2_000);
        assert!(!m.join_overdue(1_000_000), "answered");
    }

    #[test]
    fn not_joined_rejoins_once_per_burst_and_never_drops_the_post() {
        let mut m = Membership::default();
        m.join_sent(0);
        m.on_message(&joined(), 1);
        assert_eq!(m.on_message(&error(ErrorCode::NotJoined, Some("c1")), 2), Next::Rejoin);
        assert!(!m.joined(), "the next posts wait for the new join");
        assert_eq!(m.on_message(&error(ErrorCode::NotJoined, Some("c2")), 3), Next::Nothing, "one join is enough");
        assert!(m.join_overdue(3 + JOIN_TIMEOUT_MS), "the rejoin has a deadline too");
        assert_eq!(m.on_message(&joined(), 4), Next::Joined);
        assert!(!refused_for_good(ErrorCode::NotJoined));
    }

    #[test]
    fn only_an_invalid_post_is_refused_for_good() {
        assert!(refused_for_good(ErrorCode::InvalidText));
        assert!(refused_for_good(ErrorCode::InvalidClientId));
        for code in [ErrorCode::Internal, ErrorCode::RateLimited, ErrorCode::NotJoined] {
            assert!(!refused_for_good(code), "{code:?}");
        }
    }
}

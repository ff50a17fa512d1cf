//! The hub deleting a post: a member joined under the claim that wrote it, or a moderator
//! (in the room or not). The
//! store erases the name and text first; then every member here is told `deleted` (held for
//! joiners reading their history, since that read may have found the post), and in a
//! cluster the other nodes hear it on the bus.

use super::delivery::Kind;
use super::task::HubTask;
use super::{ConnId, HubError};
use crate::store::{Deleter, Deletion};
use app::domain::RoomName;
use app::protocol::ServerMsg;

/// What a `delete` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Deleted now: every member, the deleter too, is sent `deleted`.
    Now,
    /// Deleted before: only the asker is to be told again.
    Before,
}

impl HubTask {
    /// Deletes post `seq` of `room` for `conn`, if it is in the room under the claim that
    /// wrote the post, or for the `moderator` it signed in as.
    #[tracing::instrument(level = "debug", skip(self))]
    pub(super) async fn delete(
        &mut self,
        conn: ConnId,
        room: &RoomName,
        seq: u64,
        moderator: Option<String>,
    ) -> Result<Removal, HubError> {
        let by = match moderator {
            Some(name) => Deleter::Moderator(name),
            None => {
                let member = self.rooms.get(room).and_then(|r| r.members.get(&conn)).ok_or(HubError::NotJoined)?;
                // A watcher, or a name from before claims, is nobody's author.
                Deleter::Author(member.claim.clone().ok_or(HubError::NotAllowed)?)
            }
        };
        match self.store.delete_post(room, seq, &by).await? {
            Deletion::Deleted => {
                self.metrics.post_deleted();
                if self.cluster.is_some() {
                    self.removed_here(room, seq);
                } else {
                    self.broadcast(room, &ServerMsg::Deleted { room: room.clone(), seq }, Kind::Removal(seq), None);
                }
                Ok(Removal::Now)
            }
            Deletion::AlreadyDeleted => Ok(Removal::Before),
            Deletion::NoSuchPost => Err(HubError::NoSuchPost { seq }),
            Deletion::NotAllowed => Err(HubError::NotAllowed),
        }
    }
}

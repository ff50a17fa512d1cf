//! The hub storing posts: a batch in one transaction (group commit), then each new post
//! broadcast (on one node) or published and released in order (in a cluster), and each
//! sender answered.

use super::task::HubTask;
use super::{HubError, PostRequest};
use crate::store::{Inserted, PostToInsert, StoreError};

impl HubTask {
    /// Stores the batch in one transaction, then broadcasts each new post and answers each
    /// sender, in arrival order. A post from a connection not in its room is refused
    /// (`NotJoined`), one from a watcher `NameRequired`; the others are stored under the name
    /// their connection joined with. A
    /// failed transaction fails every post in it: none is stored.
    #[tracing::instrument(level = "debug", skip_all, fields(posts = batch.len()))]
    pub(super) async fn post_batch(&mut self, batch: Vec<PostRequest>) {
        let mut posts = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for PostRequest { conn, post, received, reply } in batch {
            let member = self.rooms.get(&post.room).and_then(|r| r.members.get(&conn));
            let (username, claim) = match member.map(|m| (m.username.clone(), m.claim.clone())) {
                Some((Some(username), claim)) => (username, claim),
                Some((None, _)) => {
                    let _ = reply.send(Err(HubError::NameRequired));
                    continue;
                }
                None => {
                    let _ = reply.send(Err(HubError::NotJoined));
                    continue;
                }
            };
            posts.push(PostToInsert { room: post.room, client_id: post.client_id, username, text: post.text, claim });
            replies.push((received, reply));
        }
        if posts.is_empty() {
            return;
        }
        let stored = match self.store.insert_posts(&posts).await {
            Ok(stored) => {
                self.metrics.committed();
                stored
            }
            Err(e) => {
                let message = e.to_string();
                for (_, reply) in replies {
                    let _ = reply.send(Err(StoreError::Batch(message.clone()).into()));
                }
                return;
            }
        };
        if self.cluster.is_some() {
            for (inserted, (received, reply)) in stored.into_iter().zip(replies) {
                match inserted {
                    Inserted::New(post) => {
                        self.metrics.post_stored();
                        self.stored_here(post, true, received, reply);
                    }
                    Inserted::Duplicate(post) => self.stored_here(post, false, received, reply),
                    Inserted::Removed { seq } => {
                        let _ = reply.send(Err(HubError::Removed { seq }));
                    }
                }
            }
            return;
        }
        for (inserted, (received, reply)) in stored.into_iter().zip(replies) {
            let post = match inserted {
                Inserted::New(post) => {
                    self.metrics.post_stored();
                    let queued = self.broadcast_post(&post, Some(received));
                    self.metrics.delivered(queued, received.elapsed().as_secs_f64());
                    post
                }
                Inserted::Duplicate(post) => post,
                Inserted::Removed { seq } => {
                    let _ = reply.send(Err(HubError::Removed { seq }));
                    continue;
                }
            };
            let _ = reply.send(Ok(post));
        }
    }
}

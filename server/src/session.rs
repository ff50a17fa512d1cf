//! One client's protocol state, whatever carries it (WebSocket, SSE + POST, long polling):
//! its message rate, and its membership in the hub ([`Member`]: which rooms it is in, under
//! what name, is the hub's to know). Decodes a client frame and produces the reply, if any;
//! broadcasts reach the client through its queue. `session/replies.rs` words its refusals.

mod replies;

use crate::claims::{ClaimId, Claims};
use crate::frame::Frame;
use crate::hub::{Answer, HubError, JoinRequest, Member, NewPost, Removal, JOINS_PER_SEC};
use crate::moderation::{time_left, Moderation, ModerationError, Moderator};
use crate::post_rate::PostRate;
use crate::queue::ClientHandle;
use crate::store::{now_ms, BlockTarget};
use app::domain::{ClaimSecret, ClientId, RoomName, Username};
use app::protocol::{decode_client, encode_server, ClientMsg, ErrorCode, RateLimit, ServerMsg, PROTOCOL_VERSION};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

pub use replies::error;
use replies::{claim_refused, deletion_reply, join_failed, moderation_refused, name_required, not_in};

/// Per-connection limits (see `wallsocket --help`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub queue_capacity: usize,
    pub rate_per_sec: NonZeroU32,
    pub rate_burst: NonZeroU32,
    /// How often the server pings a WebSocket peer.
    pub ping_interval: Duration,
    /// How long after a ping the peer has to show a sign of life before it is closed.
    pub ping_timeout: Duration,
    /// Bytes queued for one client before it is closed as too slow.
    pub queue_bytes: usize,
    /// Rooms one connection may be in at once.
    pub max_rooms: usize,
}

impl Limits {
    /// The first message of every connection; HTTP transports name their session in it.
    pub fn hello(&self, session: Option<String>) -> ServerMsg {
        let rate = RateLimit { per_sec: self.rate_per_sec.get(), burst: self.rate_burst.get() };
        ServerMsg::Hello {
            protocol: PROTOCOL_VERSION,
            max_message_bytes: self.max_message_bytes as u32,
            session,
            rate: Some(rate),
        }
    }
}

/// What every session shares about the people behind the connections.
#[derive(Clone, Debug)]
pub struct People {
    /// Who holds which name.
    pub claims: Claims,
    /// Moderators and blocks.
    pub moderation: Moderation,
    /// Each name's post allowance, across its connections.
    pub post_rate: PostRate,
}

/// A client's session; dropping it is the disconnect (its [`Member`] leaves every room).
pub struct Session {
    member: Member,
    limiter: DefaultDirectRateLimiter,
    rate_per_sec: NonZeroU32,
    /// Shared by every session (one pointer in each).
    people: Arc<People>,
    /// Names this connection claimed: each is a row in the database, so they are capped.
    claimed: usize,
    /// The moderator's secret this connection signed in with: checked again at each
    /// moderation request, so a moderator removed meanwhile can do nothing more.
    moderator: Option<ClaimSecret>,
    /// The client's address (behind a trusted proxy, the one it names): a moderator's block
    /// of it refuses posts on connections opened before the block.
    address: IpAddr,
    /// The claim this connection is in each room under (rooms it watches are absent): whose
    /// block a post meets. The hub caps its rooms, so this stays as small.
    room_claims: HashMap<RoomName, ClaimId>,
}

/// Most names one connection may claim: a client trying names in a loop adds at most this
/// many rows per connection it is admitted (see `--ip-connect-rate`).
pub const CLAIMS_PER_CONNECTION: usize = 4;

impl Session {
    pub fn new(member: Member, limits: &Limits, people: Arc<People>, address: IpAddr) -> Self {
        let limiter = RateLimiter::direct(Quota::per_second(limits.rate_per_sec).allow_burst(limits.rate_burst));
        let rate_per_sec = limits.rate_per_sec;
        let room_claims = HashMap::new();
        Self { member, limiter, rate_per_sec, people, claimed: 0, moderator: None, address, room_claims }
    }

    pub fn client(&self) -> &ClientHandle {
        self.member.client()
    }

    /// Answers one client frame: `None` when the answer (if any) arrives through the queue.
    /// Most answers come once the hub has handled the frame (a post's ack once it is
    /// stored): await them with [`Reply::resolve`], or keep reading and let them finish
    /// later (the WebSocket pipelines).
    pub async fn handle_text(&mut self, text: &str) -> Reply {
        if self.limiter.check().is_err() {
            let limit = self.rate_per_sec;
            let message = format!("too many messages: at most {limit} per second; this one was not processed");
            let client_id = decode_client(text).ok().and_then(|m| match m {
                ClientMsg::Post { client_id, .. } => Some(client_id),
                _ => None,
            });
            return Reply::Now(Some(ServerMsg::Error { code: ErrorCode::RateLimited, message, client_id }));
        }
        match decode_client(text) {
            Err(e) => Reply::Now(Some(e.into_msg())),
            Ok(msg) => self.handle(msg).await,
        }
    }

    async fn handle(&mut self, msg: ClientMsg) -> Reply {
        match msg {
            ClientMsg::Post { room, text, client_id } => {
                if let Some(refusal) = self.may_not_post(&room, &client_id) {
                    return Reply::Now(Some(refusal));
                }
                self.post(NewPost { room, client_id, text }).await
            }
            ClientMsg::Moderate { secret } => Reply::Now(Some(match self.people.moderation.sign_in(&secret).await {
                Ok(moderator) => {
                    self.moderator = Some(secret);
                    ServerMsg::Moderating { moderator: moderator.0 }
                }
                Err(e) => moderation_refused(e),
            })),
            ClientMsg::Block { room, seq, minutes } => Reply::Now(Some(self.block(room, seq, minutes).await)),
            ClientMsg::Join { room, username, since, claim, from } => {
                let claim = match &username {
                    None => None,
                    Some(name) => match self.check_claim(name, claim.as_ref()).await {
                        Ok(claim) => Some(claim),
                        Err(refusal) => return Reply::Now(Some(refusal)),
                    },
                };
                self.join(JoinRequest { room, username, since, claim, from }).await
            }
            ClientMsg::Release { username, claim } => Reply::Now(Some(self.release(username, &claim).await)),
            ClientMsg::Leave { room } => {
                self.room_claims.remove(&room);
                let answer = self.member.leave(room.clone()).await;
                later(answer, move |left| match left {
                    Ok(()) => Some(ServerMsg::Left { room }),
                    Err(HubError::NotJoined) => Some(not_in(&room)),
                    // The hub has stopped: the room is left all the same.
                    Err(_) => Some(ServerMsg::Left { room }),
                })
            }
            ClientMsg::Ping => Reply::Now(Some(ServerMsg::Pong)),
            ClientMsg::Delete { room, seq } => self.delete(room, seq).await,
            ClientMsg::Typing { room } => {
                let answer = self.member.typing(room.clone()).await;
                later(answer, move |relayed| match relayed {
                    Ok(()) => None,
                    Err(HubError::NotJoined) => Some(not_in(&room)),
                    Err(HubError::NameRequired) => Some(name_required(&room, None)),
                    // The hub has stopped: nobody is left to tell.
                    Err(_) => None,
                })
            }
        }
    }

    /// Hands the post to the hub, in order with this client's other messages; the ack (or
    /// error) is ready once the post is stored.
    async fn post(&mut self, post: NewPost) -> Reply {
        let (room, client_id) = (post.room.clone(), post.client_id.clone());
        let answer = self.member.post(post).await;
        later(answer, move |stored| {
            Some(match stored {
                Ok(post) => ServerMsg::Ack { room, client_id, seq: post.seq },
                // Stored before (a retry), and deleted since: settled all the same.
                Err(HubError::Removed { seq }) => ServerMsg::Ack { room, client_id, seq },
                Err(HubError::NotJoined) => ServerMsg::Error {
                    code: ErrorCode::NotJoined,
                    message: format!("join room {room:?} before posting to it"),
                    client_id: Some(client_id),
                },
                Err(HubError::NameRequired) => name_required(&room, Some(client_id)),
                Err(e) => {
                    tracing::error!(error = %e, "post failed");
                    ServerMsg::Error {
                        code: ErrorCode::Internal,
                        message: "the post could not be stored; retry it".into(),
                        client_id: Some(client_id),
                    }
                }
            })
        })
    }

    /// The claim this connection holds `name` under: checked against `secret` (on every
    /// join, so a released or lapsed claim is noticed at once; a read, joins are rate
    /// limited), or issued now (and sent in `claimed`, ahead of the `joined`) if nobody holds
    /// the name. The error is the refusal to send.
    async fn check_claim(&mut self, name: &Username, secret: Option<&ClaimSecret>) -> Result<ClaimId, ServerMsg> {
        let may_claim = self.claimed < CLAIMS_PER_CONNECTION;
        let holder = self.people.claims.admit(name, secret, may_claim).await.map_err(|e| claim_refused(name, e))?;
        if let Some(claim) = holder.issued {
            self.claimed += 1;
            let fingerprint = holder.claim.fingerprint();
            let claimed = ServerMsg::Claimed { username: name.clone(), claim, fingerprint };
            // The connection is going: the join that follows finds that out too.
            let _ = self.client().reply(Frame::shared(encode_server(&claimed)));
        }
        Ok(holder.claim)
    }

    /// Deletes a post as its author or, once signed in, as a moderator (written in the audit
    /// log); `deleted` reaches every member, this one too.
    async fn delete(&mut self, room: RoomName, seq: u64) -> Reply {
        let moderator = match self.moderator().await {
            Ok(moderator) => moderator,
            Err(refusal) => return Reply::Now(Some(refusal)),
        };
        let answer = self.member.delete(room.clone(), seq, moderator.as_ref().map(|m| m.0.to_string())).await;
        let Some(moderator) = moderator else {
            return later(answer, move |removed| deletion_reply(room, seq, removed));
        };
        // The audit row is written by a task of its own: a reply dropped with its connection
        // must not lose it.
        let (moderation, (told, told_rx)) = (self.people.moderation.clone(), tokio::sync::oneshot::channel());
        let audited_room = room.clone();
        tokio::spawn(async move {
            let removed = match answer {
                Ok(answer) => answer.into_result().await,
                Err(e) => Err(e),
            };
            if matches!(removed, Ok(Removal::Now)) {
                let detail = format!("post {seq} in #{audited_room}");
                if let Err(e) = moderation.record(&moderator, "delete", detail).await {
                    tracing::error!(error = %e, "a deletion could not be written to the audit log");
                }
            }
            let _ = told.send(removed);
        });
        Reply::Later(Box::pin(async move {
            match told_rx.await.unwrap_or(Err(HubError::Stopped)) {
                // A moderator may be in no room of the post: told here (a member, twice).
                Ok(_) => Some(ServerMsg::Deleted { room, seq }),
                removed => deletion_reply(room, seq, removed),
            }
        }))
    }

    /// The moderator this connection signed in as, checked again now: `None` if it never
    /// signed in; refused if it was removed since (or the check failed).
    async fn moderator(&mut self) -> Result<Option<Moderator>, ServerMsg> {
        let Some(secret) = &self.moderator else { return Ok(None) };
        match self.people.moderation.sign_in(secret).await {
            Ok(moderator) => Ok(Some(moderator)),
            Err(e) => {
                // Removed: signed out. A failed check (the database) leaves it signed in.
                if matches!(e, ModerationError::NotModerator) {
                    self.moderator = None;
                }
                Err(moderation_refused(e))
            }
        }
    }

    /// A moderator blocks the author of a post from posting.
    async fn block(&mut self, room: RoomName, seq: u64, minutes: u32) -> ServerMsg {
        let moderator = match self.moderator().await {
            Ok(Some(moderator)) => moderator,
            Ok(None) => {
                return error(
                    ErrorCode::NotAllowed,
                    "only a moderator may block: send `moderate` with your secret first",
                )
            }
            Err(refusal) => return refusal,
        };
        match self.people.moderation.block_author(&moderator, &room, seq, minutes).await {
            Ok(until_ms) => ServerMsg::AuthorBlocked { room, seq, until_ms },
            Err(e) => moderation_refused(e),
        }
    }

    /// The refusal of a post to `room` if its author is blocked, or has spent their post
    /// allowance for now (taking one from it otherwise).
    fn may_not_post(&self, room: &RoomName, client_id: &ClientId) -> Option<ServerMsg> {
        let claim = self.room_claims.get(room)?;
        let now = now_ms();
        let refusal = |code, message| Some(ServerMsg::Error { code, message, client_id: Some(client_id.clone()) });
        let blocks = self.people.moderation.blocks();
        let blocked = [BlockTarget::Claim(claim.clone()), BlockTarget::Address(self.address)]
            .iter()
            .filter_map(|target| blocks.until(target, now))
            .max();
        if let Some(until) = blocked {
            let message = format!("a moderator blocked you from posting for another {}", time_left(until, now));
            return refusal(ErrorCode::Blocked, message);
        }
        if !self.people.post_rate.take(claim) {
            let per_min = self.people.post_rate.per_min();
            let message = format!("too many posts: at most {per_min} a minute per name, across its connections");
            return refusal(ErrorCode::RateLimited, message);
        }
        None
    }

    async fn release(&mut self, name: Username, secret: &ClaimSecret) -> ServerMsg {
        // A blocked claim is kept: released, the name would be claimed afresh, unblocked.
        let blocks = self.people.moderation.blocks().clone();
        let unblocked = |claim: &ClaimId| blocks.until(&BlockTarget::Claim(claim.clone()), now_ms()).is_none();
        match self.people.claims.release(&name, secret, unblocked).await {
            Ok(()) => ServerMsg::Released { username: name },
            Err(e) => claim_refused(&name, e),
        }
    }

    /// Joins (or renames in) a room: registered with the hub now, in order with this
    /// client's other messages; `joined` follows once the history is read, which happens
    /// while the reader goes on reading.
    async fn join(&mut self, request: JoinRequest) -> Reply {
        tracing::debug!(room = %request.room, "join");
        let (room, claim) = (request.room.clone(), request.claim.clone());
        if let Some(claim) = &claim {
            // What a moderator needs to block an address: which fingerprint (as posts show
            // it) posts from where. Never the name: logs hold no user text.
            tracing::info!(address = %self.address, %room, fingerprint = %claim.fingerprint(), "joined under a claim");
        }
        match self.member.join(request).await {
            Ok(pending) => {
                match claim {
                    Some(claim) => self.room_claims.insert(room, claim),
                    None => self.room_claims.remove(&room),
                };
                Reply::Later(Box::pin(async move { pending.complete().await.err().map(join_failed) }))
            }
            Err(HubError::TooManyRooms { max }) => {
                let message = format!("a connection may be in at most {max} rooms at once: leave one first");
                Reply::Now(Some(error(ErrorCode::TooManyRooms, &message)))
            }
            Err(HubError::TooManyJoins) => {
                let message = format!("too many joins: at most {JOINS_PER_SEC} per second; join again shortly");
                Reply::Now(Some(error(ErrorCode::RateLimited, &message)))
            }
            Err(e) => Reply::Now(Some(join_failed(e))),
        }
    }
}

/// The reply once the hub has answered: `answer` makes it from the hub's answer (or from the
/// hub having stopped).
fn later<T: Send + 'static>(
    answer: Result<Answer<T>, HubError>,
    reply: impl FnOnce(Result<T, HubError>) -> Option<ServerMsg> + Send + 'static,
) -> Reply {
    Reply::Later(Box::pin(async move {
        let answer = match answer {
            Ok(answer) => answer.into_result().await,
            Err(e) => Err(e),
        };
        reply(answer)
    }))
}

/// The answer to one client frame.
pub enum Reply {
    Now(Option<ServerMsg>),
    /// Ready once the hub is done: a post's ack or error; a join's error, if any (its
    /// `joined` arrives through the queue); a leave's `left`; a typing notice's error.
    Later(futures::future::BoxFuture<'static, Option<ServerMsg>>),
}

impl Reply {
    pub async fn resolve(self) -> Option<ServerMsg> {
        match self {
            Reply::Now(answer) => answer,
            Reply::Later(answer) => answer.await,
        }
    }
}

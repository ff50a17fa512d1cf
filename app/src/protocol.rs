//! The wire protocol: every message that travels between a client and the server.
//!
//! JSON text frames, one message per frame, tagged by `"type"` in snake_case.
//! `docs/PROTOCOL.md` documents each message; a change here must change it too.

use crate::domain::{ClaimSecret, ClientId, Fingerprint, PostText, RoomName, Username, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bumped whenever a message changes in a way an old client would misread. Version 3 lets a
/// `join` leave out `username` (to watch) and counts watchers in `joined` and `presence`.
/// Version 4 claims names: the first use of a name issues a secret (`claimed`), a `join`
/// under a claimed name must carry it (else `name_taken`), and posts carry the claim's
/// `fingerprint`. Version 5 deletes posts: `delete` from the author, `deleted` to every
/// member, and a `joined` lists the removed posts among what the client holds (`from`);
/// moderators (`moderate`) delete any post and `block` a post's author (`blocked`).
pub const PROTOCOL_VERSION: u32 = 5;

/// Largest message the server accepts; a bigger one closes the socket with [`close::TOO_BIG`].
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// How many recent posts a join or a page of history carries at most.
pub const HISTORY_PAGE: u32 = 50;

/// Most missed posts a join with `since` replays before it reports `truncated` (the server
/// also cuts a replay that would pass its byte budget).
pub const REPLAY_LIMIT: u32 = 1_000;

/// A client sends `typing` at most this often while the user keeps typing.
pub const TYPING_RESEND_MS: u64 = 2_000;

/// The server relays at most one `typing` per connection and room this often; extra ones
/// are dropped as redundant (the indicator is already showing).
pub const TYPING_RELAY_MIN_MS: u64 = 1_000;

/// How long a client shows "… is typing" after the last `typing` event.
pub const TYPING_SHOW_MS: u64 = 4_000;

/// A room's arrivals and departures are announced at most this often: a crowd arriving or
/// leaving at once costs each member one `presence` message, not one per person.
pub const PRESENCE_INTERVAL_MS: u64 = 250;

/// WebSocket close codes the server uses (see `docs/PROTOCOL.md`).
pub mod close {
    /// The server is shutting down (or restarting): reconnect later.
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the WebSocket protocol (reserved bits, unknown opcode, unmasked or
    /// fragmented control frames, …).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame was not valid UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// A message was larger than [`super::MAX_MESSAGE_BYTES`].
    pub const TOO_BIG: u16 = 1009;
    /// The client read too slowly: its outgoing queue filled up. Reconnect and resume.
    pub const SLOW_CONSUMER: u16 = 4001;
    /// The client did not answer a ping in time (see `--ping-timeout-ms`). Reconnect.
    pub const HEARTBEAT_TIMEOUT: u16 = 4002;
}

/// A stored post, as every client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub room: RoomName,
    /// Per-room sequence number: strictly increasing, starting at 1, never reused.
    pub seq: u64,
    pub client_id: ClientId,
    pub username: Username,
    pub text: PostText,
    /// When the server stored the post, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// The public fingerprint of the claim the author posted under (absent for posts stored
    /// before protocol 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
}

/// Messages a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    /// Enter a room. With `since`, the reply replays every post after that seq. Without
    /// `username` the connection watches: it receives everything, is counted in `watching`
    /// but listed nowhere, and may not post or type (`name_required`). A later `join` with a
    /// name (or without one) changes how it is in the room. Under a claimed name, `claim`
    /// must be the secret its `claimed` carried, else the join is refused with `name_taken`.
    Join {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<Username>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claim: Option<ClaimSecret>,
        /// With `since`: the oldest seq the client holds, so the reply's `deleted` also names
        /// the posts among `from..=since` removed while it was away.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<u64>,
    },
    /// Publish a post to a joined room. `client_id` makes retries safe.
    Post { room: RoomName, text: PostText, client_id: ClientId },
    /// Stop receiving a room's posts.
    Leave { room: RoomName },
    /// The user is typing in a joined room. Send at most one every [`TYPING_RESEND_MS`].
    Typing { room: RoomName },
    /// Asks for a `pong`: lets a client that cannot see WebSocket pings (a browser) tell a
    /// live connection from a dead one.
    Ping,
    /// Gives up a claimed name (with its secret), so anyone may take it; answered `released`.
    Release { username: Username, claim: ClaimSecret },
    /// Removes a post: allowed to its author (joined to the room under the claim that wrote
    /// it) and to a moderator. Every member is sent `deleted`; refused `not_allowed` or
    /// `no_such_post`.
    Delete { room: RoomName, seq: u64 },
    /// Signs this connection in as a moderator, with the secret `wallsocket moderator add`
    /// printed; answered `moderating`, or `not_allowed`.
    Moderate { secret: ClaimSecret },
    /// A moderator blocks the author of a post (their claim) from posting for `minutes`
    /// (1 to 525,600); answered `author_blocked`.
    Block { room: RoomName, seq: u64, minutes: u32 },
}

impl ClientMsg {
    /// Every `type` a client may send, for telling an unknown type from a malformed message.
    pub const TYPES: [&'static str; 9] =
        ["join", "post", "leave", "typing", "ping", "release", "delete", "moderate", "block"];
}

/// How many messages a connection may send: `burst` at once, then `per_sec` sustained. Every
/// message counts (`join`, `post`, `typing`, `ping`, `leave`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_sec: u32,
    pub burst: u32,
}

/// Messages the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First message on every connection. `session` names an HTTP-transport session (SSE or
    /// long polling), to pass to `POST /x/send`; WebSocket connections have none.
    Hello {
        protocol: u32,
        max_message_bytes: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
        /// The connection's message rate limit, so a polite client paces itself instead of
        /// drawing `rate_limited`. Absent from servers that predate it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate: Option<RateLimit>,
    },
    /// Reply to `join`: the recent history (or, with `since`, every post after it) oldest first.
    Joined {
        room: RoomName,
        history: Vec<Post>,
        /// How many people are in the room: `present.len()`.
        members: u32,
        /// Who is in the room now (each person once, however many tabs), sorted.
        present: Vec<Username>,
        /// Connections watching the room without a name (absent before protocol 3).
        #[serde(default)]
        watching: u32,
        /// True when more than [`REPLAY_LIMIT`] posts were missed: reload history instead.
        truncated: bool,
        /// Seqs of removed posts: those in the range `history` covers (they are not in it),
        /// and, for a join with `since` and `from`, those among `from..=since`. Drop them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        deleted: Vec<u64>,
    },
    /// A new post in a joined room (also sent to its author).
    Post(Post),
    /// The author's confirmation: the post with this `client_id` is stored as `seq`.
    Ack { room: RoomName, client_id: ClientId, seq: u64 },
    /// Who arrived in (first connection) or left (last connection) a joined room since its
    /// previous `presence`, sent at most every [`PRESENCE_INTERVAL_MS`]. Each name is in the
    /// list of its latest state; apply both lists as set operations (a name may already be
    /// in the `present` of a recent `joined`, one's own included). `members` counts people,
    /// `watching` the connections without a name (a change of it alone also sends one).
    Presence {
        room: RoomName,
        joined: Vec<Username>,
        left: Vec<Username>,
        members: u32,
        #[serde(default)]
        watching: u32,
    },
    /// Someone in a joined room is typing; show it for [`TYPING_SHOW_MS`] unless repeated.
    Typing { room: RoomName, username: Username },
    /// Reply to `leave`.
    Left { room: RoomName },
    /// Reply to `ping`.
    Pong,
    /// Sent once, before the `joined` (or alone, for a rename), when a `join` is the first
    /// use of `username` on this server: the name is now this client's. Keep `claim` and
    /// send it with every later `join` under the name; the server keeps only its hash and
    /// never sends it again.
    Claimed { username: Username, claim: ClaimSecret, fingerprint: Fingerprint },
    /// Reply to `release`: the name is free.
    Released { username: Username },
    /// A post of a joined room was removed (its seq stays taken): show it as removed. Also
    /// the answer to a `delete` of a post removed already.
    Deleted { room: RoomName, seq: u64 },
    /// Reply to `moderate`: this connection may now delete any post and block authors.
    Moderating { moderator: Username },
    /// Reply to `block`: the author of post `seq` may not post until `until_ms` (ms since
    /// the Unix epoch).
    AuthorBlocked { room: RoomName, seq: u64, until_ms: i64 },
    /// A request was refused; the connection stays open.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<ClientId>,
    },
}

/// Stable error codes carried by [`ServerMsg::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not JSON.
    MalformedJson,
    /// The JSON had no known `type`.
    UnknownType,
    /// A known type with a missing, extra or wrongly typed field.
    InvalidMessage,
    InvalidUsername,
    InvalidRoom,
    InvalidText,
    InvalidClientId,
    /// Binary frames are not part of the protocol.
    BinaryNotSupported,
    /// `post` or `leave` for a room this connection has not joined.
    NotJoined,
    /// Too many messages: wait before sending more.
    RateLimited,
    /// The server could not complete the request (for example, storage failed); retry.
    Internal,
    /// `POST /x/send` named a session that does not exist (expired or closed): reconnect.
    UnknownSession,
    /// A `join` past the rooms one connection may be in at once: leave one first.
    TooManyRooms,
    /// `post` or `typing` from a connection watching the room without a name: join again
    /// with a `username` first.
    NameRequired,
    /// A `join` (or `release`) under a name claimed by someone else: its `claim` was missing
    /// or wrong. Choose another name.
    NameTaken,
    /// A `claim` that is not a claim secret's shape.
    InvalidClaim,
    /// A `delete` of a post this connection did not write (under the claim it is joined
    /// with) from a connection that is no moderator; a `moderate` with a wrong secret; a
    /// `block` from a connection that is no moderator.
    NotAllowed,
    /// A `delete` of a seq the room has not reached.
    NoSuchPost,
    /// A `post` from someone a moderator blocked: the message says for how long.
    Blocked,
}

impl From<&ValidationError> for ErrorCode {
    fn from(e: &ValidationError) -> Self {
        match e {
            ValidationError::Username => ErrorCode::InvalidUsername,
            ValidationError::Room => ErrorCode::InvalidRoom,
            ValidationError::Text => ErrorCode::InvalidText,
            ValidationError::ClientId => ErrorCode::InvalidClientId,
            ValidationError::Claim => ErrorCode::InvalidClaim,
            ValidationError::Fingerprint => ErrorCode::InvalidMessage,
        }
    }
}

/// Why a client frame could not be decoded; becomes a [`ServerMsg::Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub code: ErrorCode,
    pub message: String,
    pub client_id: Option<ClientId>,
}

impl DecodeError {
    pub fn into_msg(self) -> ServerMsg {
        ServerMsg::Error { code: self.code, message: self.message, client_id: self.client_id }
    }
}

/// Checks one field's raw value against its rule.
type FieldCheck = fn(&str) -> Result<(), ValidationError>;

/// Fields whose validation failure deserves its own error code.
const VALIDATED_FIELDS: [(&str, FieldCheck); 6] = [
    ("room", |s| RoomName::parse(s).map(drop)),
    ("username", |s| Username::parse(s).map(drop)),
    ("text", |s| PostText::parse(s).map(drop)),
    ("client_id", |s| ClientId::parse(s).map(drop)),
    ("claim", |s| ClaimSecret::parse(s).map(drop)),
    ("secret", |s| ClaimSecret::parse(s).map(drop)),
];

/// Decodes one client text frame, naming precisely what is wrong when it fails.
pub fn decode_client(text: &str) -> Result<ClientMsg, DecodeError> {
    let fail = |code, message: String, client_id: Option<ClientId>| DecodeError { code, message, client_id };
    let value: Value =
        serde_json::from_str(text).map_err(|e| fail(ErrorCode::MalformedJson, format!("not valid JSON: {e}"), None))?;
    // Refer errors to the post they concern, when the client named one we can echo back.
    let client_id = value.get("client_id").and_then(Value::as_str).and_then(|s| ClientId::parse(s).ok());
    let Some(kind) = value.get("type").and_then(Value::as_str).map(str::to_owned) else {
        return Err(fail(ErrorCode::InvalidMessage, "missing string field \"type\"".into(), client_id));
    };
    if !ClientMsg::TYPES.contains(&kind.as_str()) {
        let known = ClientMsg::TYPES.join(", ");
        return Err(fail(ErrorCode::UnknownType, format!("unknown type {kind:?}; expected one of {known}"), client_id));
    }
    for (field, check) in VALIDATED_FIELDS {
        if let Some(Err(e)) = value.get(field).and_then(Value::as_str).map(check) {
            return Err(fail(ErrorCode::from(&e), e.to_string(), client_id));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| fail(ErrorCode::InvalidMessage, format!("invalid {kind:?} message: {e}"), client_id))
}

/// Encodes a server message as one JSON text frame.
pub fn encode_server(msg: &ServerMsg) -> String {
    // Every field is a string, number, bool or list of those: serialising cannot fail.
    serde_json::to_string(msg)
        .unwrap_or_else(|_| String::from(r#"{"type":"error","code":"internal","message":"encoding failed"}"#))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomName {
        RoomName::parse("lobby").unwrap()
    }
    fn post() -> Post {
        Post {
            room: room(),
            seq: 7,
            client_id: ClientId::parse("c-1").unwrap(),
            username: Username::parse("alice").unwrap(),
            text: PostText::parse("<img src=x onerror=alert(1)>").unwrap(),
            ts: 1_700_000_000_000,
            fingerprint: Some(Fingerprint::parse("0a9f").unwrap()),
        }
    }

    fn secret() -> ClaimSecret {
        ClaimSecret::parse(&"5e".repeat(32)).unwrap()
    }

    #[test]
    fn every_client_message_round_trips() {
        let msgs = [
            ClientMsg::Join {
                room: room(),
                username: Some(Username::parse("al").unwrap()),
                since: None,
                claim: None,
                from: None,
            },
            ClientMsg::Join {
                room: room(),
                username: Some(Username::parse("al").unwrap()),
                since: Some(3),
                claim: Some(secret()),
                from: Some(1),
            },
            ClientMsg::Join { room: room(), username: None, since: Some(3), claim: None, from: None },
            ClientMsg::Delete { room: room(), seq: 7 },
            ClientMsg::Moderate { secret: secret() },
            ClientMsg::Block { room: room(), seq: 7, minutes: 60 },
            ClientMsg::Release { username: Username::parse("al").unwrap(), claim: secret() },
            ClientMsg::Post {
                room: room(),
                text: PostText::parse("hi").unwrap(),
                client_id: ClientId::parse("x").unwrap(),
            },
            ClientMsg::Leave { room: room() },
            ClientMsg::Typing { room: room() },
            ClientMsg::Ping,
        ];
        for msg in msgs {
            let json = serde_json::to_string(&msg).unwrap();
            assert_eq!(decode_client(&json).unwrap(), msg, "{json}");
        }
    }

    #[test]
    fn every_server_message_round_trips() {
        let msgs = [
            ServerMsg::Hello { protocol: PROTOCOL_VERSION, max_message_bytes: 65_536, session: None, rate: None },
            ServerMsg::Hello {
                protocol: PROTOCOL_VERSION,
                max_message_bytes: 65_536,
                session: Some("s1".into()),
                rate: Some(RateLimit { per_sec: 20, burst: 40 }),
            },
            ServerMsg::Joined {
                room: room(),
                history: vec![post()],
                members: 1,
                present: vec![Username::parse("al").unwrap()],
                watching: 12,
                truncated: false,
                deleted: vec![3, 5],
            },
            ServerMsg::Post(post()),
            ServerMsg::Ack { room: room(), client_id: ClientId::parse("c-1").unwrap(), seq: 7 },
            ServerMsg::Presence {
                room: room(),
                joined: vec![Username::parse("bo").unwrap()],
                left: vec![Username::parse("cy").unwrap()],
                members: 2,
                watching: 0,
            },
            ServerMsg::Typing { room: room(), username: Username::parse("bo").unwrap() },
            ServerMsg::Left { room: room() },
            ServerMsg::Pong,
            ServerMsg::Claimed {
                username: Username::parse("al").unwrap(),
                claim: secret(),
                fingerprint: Fingerprint::parse("00ff").unwrap(),
            },
            ServerMsg::Released { username: Username::parse("al").unwrap() },
            ServerMsg::Deleted { room: room(), seq: 7 },
            ServerMsg::Moderating { moderator: Username::parse("mo").unwrap() },
            ServerMsg::AuthorBlocked { room: room(), seq: 7, until_ms: 1_700_000_000_000 },
            ServerMsg::Error { code: ErrorCode::RateLimited, message: "slow down".into(), client_id: None },
            ServerMsg::Error {
                code: ErrorCode::InvalidText,
                message: "x".into(),
                client_id: Some(ClientId::parse("c").unwrap()),
            },
        ];
        for msg in msgs {
            let json = encode_server(&msg);
            assert_eq!(serde_json::from_str::<ServerMsg>(&json).unwrap(), msg, "{json}");
        }
    }

    #[test]
    fn wire_format_is_the_documented_one() {
        let json = encode_server(&ServerMsg::Post(post()));
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["type"], "post");
        assert_eq!(value["seq"], 7);
        assert_eq!(value["text"], "<img src=x onerror=alert(1)>");
        let join = r#"{"type":"join","room":"lobby","username":"alice"}"#;
        assert!(matches!(decode_client(join), Ok(ClientMsg::Join { since: None, username: Some(_), .. })));
        let watch = r#"{"type":"join","room":"lobby"}"#;
        assert!(matches!(decode_client(watch), Ok(ClientMsg::Join { username: None, .. })));
        // A protocol-2 server's `joined` and `presence` (no `watching`) still read as 0 watching.
        let old = r#"{"type":"joined","room":"lobby","history":[],"members":0,"present":[],"truncated":false}"#;
        assert!(matches!(serde_json::from_str(old), Ok(ServerMsg::Joined { watching: 0, .. })));
        // A joined with nothing removed says nothing of it.
        let joined: Value = serde_json::from_str(&encode_server(&serde_json::from_str(old).unwrap())).unwrap();
        assert!(joined.get("deleted").is_none(), "{joined}");
        let error =
            encode_server(&ServerMsg::Error { code: ErrorCode::NameRequired, message: String::new(), client_id: None });
        assert!(error.contains(r#""code":"name_required""#), "{error}");
        // A protocol-3 post (no fingerprint) still reads; a post without one sends none.
        let old = r#"{"type":"post","room":"lobby","seq":1,"client_id":"c","username":"a","text":"t","ts":1}"#;
        assert!(matches!(serde_json::from_str(old), Ok(ServerMsg::Post(Post { fingerprint: None, .. }))));
        assert_eq!(value["fingerprint"], "0a9f");
    }

    #[test]
    fn a_bad_claim_is_named_and_never_echoed() {
        let join = r#"{"type":"join","room":"lobby","username":"a","claim":"short-secret-xyz"}"#;
        let e = decode_client(join).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClaim);
        assert!(!e.message.contains("short-secret-xyz"), "{}", e.message);
    }

    fn code_of(text: &str) -> (ErrorCode, Option<String>) {
        let e = decode_client(text).unwrap_err();
        (e.code, e.client_id.map(String::from))
    }

    #[test]
    fn bad_frames_get_precise_codes() {
        assert_eq!(code_of("{not json").0, ErrorCode::MalformedJson);
        assert_eq!(code_of(r#"{"type":"dance"}"#).0, ErrorCode::UnknownType);
        assert_eq!(code_of(r#"{"room":"lobby"}"#).0, ErrorCode::InvalidMessage);
        assert_eq!(code_of(r#"[1,2]"#).0, ErrorCode::InvalidMessage);
        assert_eq!(code_of(r#"{"type":"join","room":"lobby","username":null,"x":1}"#).0, ErrorCode::InvalidMessage);
        assert_eq!(code_of(r#"{"type":"join","room":"Lobby!","username":"a"}"#).0, ErrorCode::InvalidRoom);
        assert_eq!(code_of(r#"{"type":"join","room":"lobby","username":"  "}"#).0, ErrorCode::InvalidUsername);
        assert_eq!(code_of(r#"{"type":"leave","room":"lobby","extra":1}"#).0, ErrorCode::InvalidMessage);
        assert_eq!(
            code_of(r#"{"type":"post","room":"lobby","text":"hi","client_id":"bad id"}"#).0,
            ErrorCode::InvalidClientId
        );
        assert_eq!(
            code_of(r#"{"type":"post","room":"lobby","text":"   ","client_id":"c9"}"#),
            (ErrorCode::InvalidText, Some("c9".into()))
        );
        assert_eq!(code_of(r#"{"type":"join","room":"lobby","username":"a","since":-1}"#).0, ErrorCode::InvalidMessage);
    }
}

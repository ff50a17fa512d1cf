//! Property tests of the wire format: every message survives encode → decode unchanged, and
//! no input, however broken, makes the decoder panic.

use crate::domain::{ClientId, PostText, RoomName, Username};
use crate::protocol::{decode_client, encode_server, ClientMsg, ErrorCode, Post, RateLimit, ServerMsg};
use proptest::prelude::*;

fn room() -> impl Strategy<Value = RoomName> {
    "[a-z0-9][a-z0-9-]{0,47}".prop_map(|s| RoomName::parse(&s).unwrap())
}
fn username() -> impl Strategy<Value = Username> {
    "[^\\p{Cc}\\s][^\\p{Cc}]{0,30}[^\\p{Cc}\\s]?".prop_filter_map("valid name", |s| Username::parse(&s).ok())
}
fn text() -> impl Strategy<Value = PostText> {
    "\\PC{1,200}".prop_filter_map("valid text", |s| PostText::parse(&s).ok())
}
fn client_id() -> impl Strategy<Value = ClientId> {
    "[A-Za-z0-9_-]{1,64}".prop_map(|s| ClientId::parse(&s).unwrap())
}
fn post() -> impl Strategy<Value = Post> {
    (room(), any::<u64>(), client_id(), username(), text(), any::<i64>()).prop_map(
        |(room, seq, client_id, username, text, ts)| Post {
            room,
            seq,
            client_id,
            username,
            text,
            ts,
            fingerprint: None,
        },
    )
}

fn client_msg() -> impl Strategy<Value = ClientMsg> {
    prop_oneof![
        (room(), proptest::option::of(username()), proptest::option::of(any::<u64>()))
            .prop_map(|(room, username, since)| ClientMsg::Join { room, username, since, claim: None, from: None }),
        (room(), text(), client_id()).prop_map(|(room, text, client_id)| ClientMsg::Post { room, text, client_id }),
        room().prop_map(|room| ClientMsg::Leave { room }),
        room().prop_map(|room| ClientMsg::Typing { room }),
        Just(ClientMsg::Ping),
    ]
}

fn server_msg() -> impl Strategy<Value = ServerMsg> {
    prop_oneof![
        (
            any::<u32>(),
            any::<u32>(),
            proptest::option::of("[a-f0-9]{32}"),
            proptest::option::of((any::<u32>(), any::<u32>()))
        )
            .prop_map(|(protocol, max_message_bytes, session, rate)| ServerMsg::Hello {
                protocol,
                max_message_bytes,
                session,
                rate: rate.map(|(per_sec, burst)| RateLimit { per_sec, burst }),
            }),
        (
            room(),
            proptest::collection::vec(post(), 0..4),
            proptest::collection::vec(username(), 0..4),
            any::<u32>(),
            any::<bool>(),
            proptest::collection::vec(any::<u64>(), 0..3)
        )
            .prop_map(|(room, history, present, watching, truncated, deleted)| ServerMsg::Joined {
                room,
                history,
                members: present.len() as u32,
                present,
                watching,
                truncated,
                deleted
            }),
        (room(), any::<u64>()).prop_map(|(room, seq)| ServerMsg::Deleted { room, seq }),
        (room(), any::<u64>(), any::<i64>()).prop_map(|(room, seq, until_ms)| ServerMsg::AuthorBlocked {
            room,
            seq,
            until_ms
        }),
        post().prop_map(ServerMsg::Post),
        (room(), client_id(), any::<u64>()).prop_map(|(room, client_id, seq)| ServerMsg::Ack { room, client_id, seq }),
        (
            room(),
            proptest::collection::vec(username(), 0..4),
            proptest::collection::vec(username(), 0..4),
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(|(room, joined, left, members, watching)| ServerMsg::Presence {
                room,
                joined,
                left,
                members,
                watching
            }),
        (room(), username()).prop_map(|(room, username)| ServerMsg::Typing { room, username }),
        room().prop_map(|room| ServerMsg::Left { room }),
        Just(ServerMsg::Pong),
        (".*", proptest::option::of(client_id())).prop_map(|(message, client_id)| ServerMsg::Error {
            code: ErrorCode::InvalidText,
            message,
            client_id
        }),
    ]
}

proptest! {
    #[test]
    fn client_messages_decode_to_what_was_encoded(msg in client_msg()) {
        let json = serde_json::to_string(&msg).unwrap();
        prop_assert_eq!(decode_client(&json).unwrap(), msg);
    }

    #[test]
    fn server_messages_decode_to_what_was_encoded(msg in server_msg()) {
        let json = encode_server(&msg);
        prop_assert_eq!(serde_json::from_str::<ServerMsg>(&json).unwrap(), msg);
    }

    #[test]
    fn arbitrary_text_never_panics_the_decoder(input in "\\PC{0,300}") {
        let _ = decode_client(&input);
    }

    #[test]
    fn arbitrary_json_shapes_never_panic_the_decoder(
        kind in prop_oneof![
            Just("join".to_owned()),
            Just("post".to_owned()),
            Just("leave".to_owned()),
            Just("typing".to_owned()),
            "[a-z]{0,8}",
        ],
        fields in proptest::collection::vec(
            (
                "[a-z_]{1,10}",
                prop_oneof![
                    Just("null".to_owned()),
                    "-?[0-9]{1,25}",
                    "\"\\PC{0,20}\"",
                    Just("[]".to_owned()),
                    Just("{}".to_owned()),
                ],
            ),
            0..5,
        ),
    ) {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let json = format!("{{\"type\":\"{kind}\"{}{}}}", if body.is_empty() { "" } else { "," }, body.join(","));
        if let Err(e) = decode_client(&json) {
            prop_assert!(!e.message.is_empty());
        }
    }
}

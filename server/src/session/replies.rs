//! The answers a session sends when it refuses or reports: each a typed `error` (or the
//! message that stands for one), worded for a person, never repeating a secret.

use super::CLAIMS_PER_CONNECTION;
use crate::claims::ClaimError;
use crate::hub::{HubError, Removal};
use crate::moderation::ModerationError;
use app::domain::{ClientId, RoomName, Username};
use app::protocol::{ErrorCode, ServerMsg};

/// The answer to a `delete` once the hub has done it (or not).
pub(super) fn deletion_reply(room: RoomName, seq: u64, removed: Result<Removal, HubError>) -> Option<ServerMsg> {
    match removed {
        // Its `deleted` went to every member, this one too.
        Ok(Removal::Now) => None,
        Ok(Removal::Before) => Some(ServerMsg::Deleted { room, seq }),
        Err(HubError::NotJoined) => Some(not_in(&room)),
        Err(HubError::NotAllowed) => Some(error(
            ErrorCode::NotAllowed,
            &format!("post {seq} is not yours to delete: only its author, joined under the claim that wrote it, may"),
        )),
        Err(HubError::NoSuchPost { .. }) => {
            Some(error(ErrorCode::NoSuchPost, &format!("room {room:?} has no post {seq}")))
        }
        Err(e) => {
            tracing::error!(error = %e, "delete failed");
            Some(error(ErrorCode::Internal, "the post could not be deleted; retry"))
        }
    }
}

/// A moderation request refused: typed, and never repeating a secret.
pub(super) fn moderation_refused(e: ModerationError) -> ServerMsg {
    match e {
        ModerationError::NotModerator => error(ErrorCode::NotAllowed, "that is not a moderator's secret"),
        ModerationError::NoSuchPost(_) => error(ErrorCode::NoSuchPost, &e.to_string()),
        ModerationError::NoClaim(_) => error(ErrorCode::NotAllowed, &e.to_string()),
        ModerationError::BadDuration => error(ErrorCode::InvalidMessage, &e.to_string()),
        ModerationError::Store(e) => {
            tracing::error!(error = %e, "a moderation request failed");
            error(ErrorCode::Internal, "the request could not be completed; retry")
        }
    }
}

/// The refusal of a post or typing notice from a connection watching `room` without a name.
pub(super) fn name_required(room: &RoomName, client_id: Option<ClientId>) -> ServerMsg {
    let message = format!("you are watching room {room:?} without a name: join it with a username to post or type");
    ServerMsg::Error { code: ErrorCode::NameRequired, message, client_id }
}

/// `name_taken`, or `internal` when the claims could not be read.
pub(super) fn claim_refused(name: &Username, e: ClaimError) -> ServerMsg {
    match e {
        ClaimError::Taken => {
            let message = format!("the name \"{name}\" is taken: someone else claimed it. Choose another name");
            error(ErrorCode::NameTaken, &message)
        }
        ClaimError::Kept => error(
            ErrorCode::Blocked,
            &format!("the name \"{name}\" is blocked by a moderator: it cannot be released until the block ends"),
        ),
        ClaimError::NoMoreNames => {
            let message = format!(
                "a connection may claim at most {CLAIMS_PER_CONNECTION} names; \
                 join under one of them, or reconnect to choose another"
            );
            error(ErrorCode::RateLimited, &message)
        }
        ClaimError::Store(e) => {
            tracing::error!(error = %e, "reading a name's claim failed");
            error(ErrorCode::Internal, "could not check the name's claim; try again")
        }
    }
}

pub(super) fn not_in(room: &RoomName) -> ServerMsg {
    error(ErrorCode::NotJoined, &format!("not in room {room:?}"))
}

pub(super) fn join_failed(e: HubError) -> ServerMsg {
    tracing::error!(error = %e, "join failed");
    error(ErrorCode::Internal, "could not join the room; try again")
}

pub fn error(code: ErrorCode, message: &str) -> ServerMsg {
    ServerMsg::Error { code, message: message.to_owned(), client_id: None }
}

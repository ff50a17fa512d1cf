//! "A frame, byte by byte": a WebSocket spoken by hand, so the inspector can show the bytes
//! the server really read rather than what a library made of them.
//!
//! `GET /lab/frames` answers the upgrade itself (the 101 and `Sec-WebSocket-Accept`, RFC 6455
//! §4.2.2) and then reads raw bytes: each frame's two header bytes, its extended length, its
//! masking key and its payload. A text frame is answered with an echo (an unmasked server
//! frame) and then a [`FrameReport`] (JSON, in a text frame) describing both. Frames are small
//! here (at most [`MAX_PAYLOAD`] bytes, unfragmented); anything else closes the socket with the
//! code RFC 6455 gives it.

use super::handshake::accept_steps;
use super::{LabState, LESSON_IDLE, LESSON_LIFETIME};
use crate::gateway::Permit;
use app::lab::{FrameBytes, FrameReport};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest payload the lesson reads: enough to type into, small enough to show byte by byte.
pub const MAX_PAYLOAD: u64 = 1_024;

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// Close codes (RFC 6455 §7.4.1).
const PROTOCOL_ERROR: u16 = 1002;
const UNSUPPORTED: u16 = 1003;
const NOT_UTF8: u16 = 1007;
const TOO_BIG: u16 = 1009;
const GOING_AWAY: u16 = 1001;
const NORMAL: u16 = 1000;

pub async fn upgrade(State(lab): State<LabState>, permit: Permit, mut request: Request) -> Response {
    let headers = request.headers();
    let asks_upgrade =
        headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let version_13 = headers.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let key = headers.get(header::SEC_WEBSOCKET_KEY).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (true, true, Some(key)) = (asks_upgrade, version_13, key) else {
        return (StatusCode::BAD_REQUEST, "a WebSocket upgrade (version 13, with a key) is expected here")
            .into_response();
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let _permit = permit;
        let Ok(upgraded) = on_upgrade.await else { return };
        let deadline = tokio::time::Instant::now() + LESSON_LIFETIME;
        converse(&mut TokioIo::new(upgraded), lab.shutdown.cancelled(), deadline).await;
    });
    let response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept_steps(&key).accept)
        .body(Body::empty());
    response.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Why a socket ends: the peer closed or went quiet, or broke a rule (with the close code).
enum End {
    Quiet,
    Broken(u16),
}

/// Reads and answers frames until the peer leaves or breaks a rule, the server stops, or the
/// lesson's lifetime ends (both close with 1001, between frames: never inside an answer).
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    stopping: impl std::future::Future<Output = ()>,
    deadline: tokio::time::Instant,
) {
    tokio::pin!(stopping);
    loop {
        let read = tokio::select! {
            read = tokio::time::timeout(LESSON_IDLE, read_frame(io)) => read,
            _ = &mut stopping => return close(io, GOING_AWAY).await,
            _ = tokio::time::sleep_until(deadline) => return close(io, GOING_AWAY).await,
        };
        let frame = match read {
            Ok(Ok(frame)) => frame,
            Ok(Err(End::Broken(code))) => return close(io, code).await,
            Ok(Err(End::Quiet)) | Err(_) => return,
        };
        // Control frames are whole and short (RFC 6455 §5.5); a close carries no body or a code.
        let control = frame.opcode & 0x8 != 0;
        if control && (!frame.fin || frame.payload.len() > 125 || (frame.opcode == CLOSE && frame.payload.len() == 1)) {
            return close(io, PROTOCOL_ERROR).await;
        }
        let answer = match frame.opcode {
            TEXT if frame.fin => match String::from_utf8(unmask(&frame)) {
                Ok(text) => {
                    let echo = encode(TEXT, text.as_bytes());
                    let report =
                        FrameReport { sent: describe(&frame.header, &frame.payload), echoed: describe_own(&echo) };
                    let report = serde_json::to_vec(&report).unwrap_or_default();
                    [echo, encode(TEXT, &report)].concat()
                }
                Err(_) => return close(io, NOT_UTF8).await,
            },
            PING => encode(PONG, &unmask(&frame)),
            PONG => continue,
            CLOSE => return close(io, NORMAL).await,
            // Fragmented text and binary data are valid, but not what this lesson reads.
            TEXT | BINARY => return close(io, UNSUPPORTED).await,
            // A continuation with nothing before it, or a reserved opcode.
            _ => return close(io, PROTOCOL_ERROR).await,
        };
        if io.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// A frame as read: its header bytes and its payload as it travelled.
struct Raw {
    header: Vec<u8>,
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

async fn read_frame<S: AsyncRead + Unpin>(io: &mut S) -> Result<Raw, End> {
    let mut header = vec![0u8; 2];
    io.read_exact(&mut header).await.map_err(|_| End::Quiet)?;
    let (fin, rsv, opcode) = (header[0] & 0x80 != 0, header[0] & 0x70, header[0] & 0x0F);
    let (masked, len7) = (header[1] & 0x80 != 0, header[1] & 0x7F);
    // No extension was agreed, and a browser masks every frame it sends.
    if rsv != 0 || !masked {
        return Err(End::Broken(PROTOCOL_ERROR));
    }
    let extra = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mut extended = vec![0u8; extra];
    io.read_exact(&mut extended).await.map_err(|_| End::Quiet)?;
    header.extend_from_slice(&extended);
    let len = if extra == 0 { u64::from(len7) } else { extended.iter().fold(0u64, |n, b| n << 8 | u64::from(*b)) };
    if len > MAX_PAYLOAD {
        return Err(End::Broken(TOO_BIG));
    }
    let mut mask_key = [0u8; 4];
    io.read_exact(&mut mask_key).await.map_err(|_| End::Quiet)?;
    header.extend_from_slice(&mask_key);
    let mut payload = vec![0u8; len as usize];
    io.read_exact(&mut payload).await.map_err(|_| End::Quiet)?;
    Ok(Raw { header, fin, opcode, payload })
}

/// The mask key is the last four header bytes of a masked frame.
fn mask_key(header: &[u8]) -> Option<[u8; 4]> {
    let masked = header.get(1).is_some_and(|b| b & 0x80 != 0);
    masked.then(|| header[header.len() - 4..].try_into().ok()).flatten()
}

fn unmask(frame: &Raw) -> Vec<u8> {
    let key = mask_key(&frame.header).unwrap_or_default();
    frame.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect()
}

/// A server frame: FIN set, never masked, the shortest length encoding.
fn encode(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n @ 0..=125 => frame.push(n as u8),
        n @ 126..=0xFFFF => {
            frame.push(126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// Reads a frame's fields back from its header bytes and payload.
fn describe(header: &[u8], payload: &[u8]) -> FrameBytes {
    let mask_key = mask_key(header);
    let key = mask_key.unwrap_or_default();
    let unmasked: Vec<u8> =
        payload.iter().enumerate().map(|(i, b)| if mask_key.is_some() { b ^ key[i % 4] } else { *b }).collect();
    FrameBytes {
        header: header.to_vec(),
        fin: header[0] & 0x80 != 0,
        rsv: [header[0] & 0x40 != 0, header[0] & 0x20 != 0, header[0] & 0x10 != 0],
        opcode: header[0] & 0x0F,
        masked: mask_key.is_some(),
        length_bits: match header[1] & 0x7F {
            126 => 16,
            127 => 64,
            _ => 7,
        },
        payload_len: payload.len() as u64,
        mask_key,
        payload: payload.to_vec(),
        text: String::from_utf8_lossy(&unmasked).into_owned(),
    }
}

/// A frame this server encoded: its header is everything before the payload.
fn describe_own(frame: &[u8]) -> FrameBytes {
    let header_len = match frame[1] & 0x7F {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    describe(&frame[..header_len], &frame[header_len..])
}

async fn close<S: AsyncWrite + Unpin>(io: &mut S, code: u16) {
    let _ = io.write_all(&encode(CLOSE, &code.to_be_bytes())).await;
    let _ = io.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;

    /// The lesson on one end of an in-memory pipe, with no shutdown and an hour to live.
    async fn serve(mut server: DuplexStream) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3_600);
        converse(&mut server, std::future::pending(), deadline).await;
    }

    #[tokio::test]
    async fn shutdown_closes_with_1001_between_frames() {
        let (mut client, mut server) = tokio::io::duplex(4_096);
        let (stop, stopping) = tokio::sync::oneshot::channel::<()>();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3_600);
        tokio::spawn(async move { converse(&mut server, async { _ = stopping.await }, deadline).await });
        stop.send(()).unwrap();
        let mut close = [0u8; 4];
        client.read_exact(&mut close).await.unwrap();
        assert_eq!(close, [0x88, 0x02, 0x03, 0xE9], "1001 going away");
    }

    #[test]
    fn server_frames_pick_the_shortest_length_encoding_and_read_back_alike() {
        for (len, bits, header_len) in [(5usize, 7u8, 2usize), (125, 7, 2), (126, 16, 4), (70_000, 64, 10)] {
            let frame = encode(TEXT, &vec![b'x'; len]);
            let described = describe_own(&frame);
            assert_eq!((described.length_bits, described.header.len()), (bits, header_len), "{len}");
            assert_eq!(described.payload_len, len as u64);
            assert!(described.fin && !described.masked && described.opcode == TEXT);
        }
    }

    #[tokio::test]
    async fn a_masked_text_frame_is_read_from_its_bytes_and_answered_with_an_echo_and_a_report() {
        // "Hi" masked with 37 fa 21 3d, as RFC 6455 §5.7's example masks "Hello".
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let masked: Vec<u8> = b"Hi".iter().zip(key).map(|(b, k)| b ^ k).collect();
        let sent = [vec![0x81, 0x82], key.to_vec(), masked.clone()].concat();
        let (mut client, server) = tokio::io::duplex(4_096);
        tokio::spawn(serve(server));
        client.write_all(&sent).await.unwrap();
        let mut echo = [0u8; 4];
        client.read_exact(&mut echo).await.unwrap();
        assert_eq!(echo, [0x81, 0x02, b'H', b'i'], "an unmasked server frame");
        let mut head = [0u8; 4];
        client.read_exact(&mut head).await.unwrap();
        assert_eq!(head[..2], [0x81, 126], "the report is longer than 125 bytes");
        let mut report = vec![0u8; u16::from_be_bytes([head[2], head[3]]) as usize];
        client.read_exact(&mut report).await.unwrap();
        let report: FrameReport = serde_json::from_slice(&report).unwrap();
        assert_eq!(report.sent.header, [vec![0x81, 0x82], key.to_vec()].concat());
        assert_eq!((report.sent.masked, report.sent.mask_key, report.sent.payload.clone()), (true, Some(key), masked));
        assert_eq!(report.sent.text, "Hi");
        assert_eq!((report.echoed.masked, report.echoed.text.as_str()), (false, "Hi"));
    }

    #[tokio::test]
    async fn a_frame_against_the_rules_closes_with_its_code() {
        // A masked frame (key 0: the payload reads as sent) with the given first byte.
        let masked =
            |first: u8, payload: &[u8]| [vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0], payload.to_vec()];
        let cases = [
            (vec![0x81, 0x02, b'H', b'i'], PROTOCOL_ERROR),
            (vec![0x81, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0], TOO_BIG),
            (masked(0x09, b"unfinished ping").concat(), PROTOCOL_ERROR),
            (masked(0x88, &[3]).concat(), PROTOCOL_ERROR),
            (masked(0x80, b"continuation").concat(), PROTOCOL_ERROR),
            (masked(0x83, b"reserved").concat(), PROTOCOL_ERROR),
            (masked(0x82, b"binary").concat(), UNSUPPORTED),
        ];
        for (frame, code) in cases {
            let (mut client, server) = tokio::io::duplex(4_096);
            tokio::spawn(serve(server));
            client.write_all(&frame).await.unwrap();
            let mut close = [0u8; 4];
            client.read_exact(&mut close).await.unwrap();
            assert_eq!(close, [0x88, 0x02, (code >> 8) as u8, code as u8]);
        }
    }
}

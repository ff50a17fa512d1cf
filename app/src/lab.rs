//! Wire types of the lessons: what the speed test, the transport lab and the inspector
//! exchange with the server, plus the WebSocket frame-size rule they all use.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bytes the server counted for one transport during one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireCount {
    /// Requests (HTTP) or messages (WebSocket, SSE) received from the client.
    pub messages_up: u64,
    /// Responses or messages sent to the client.
    pub messages_down: u64,
    /// Framing bytes client → server: HTTP request line and headers, or frame headers.
    pub up_header_bytes: u64,
    pub up_payload_bytes: u64,
    /// Framing bytes server → client: HTTP status line and headers, frame headers, or the
    /// SSE `data: `/blank-line framing.
    pub down_header_bytes: u64,
    pub down_payload_bytes: u64,
}

impl WireCount {
    pub fn total(&self) -> u64 {
        self.up_header_bytes + self.up_payload_bytes + self.down_header_bytes + self.down_payload_bytes
    }
}

/// Everything counted for one run, by transport name (`http`, `ws`, `sse`, `poll`, …).
pub type WireReport = BTreeMap<String, WireCount>;

/// A WebSocket upgrade as the server saw it, with the accept key worked out step by step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    pub request_line: String,
    pub request_headers: Vec<(String, String)>,
    pub status_line: String,
    pub response_headers: Vec<(String, String)>,
    pub accept: AcceptSteps,
}

/// How `Sec-WebSocket-Accept` follows from `Sec-WebSocket-Key` (RFC 6455 §4.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptSteps {
    pub key: String,
    pub guid: String,
    pub concatenated: String,
    pub sha1_hex: String,
    pub accept: String,
}

/// The GUID every WebSocket server appends to the client's key.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// One WebSocket frame as the server read or wrote it, byte by byte (`/lab/frames`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameBytes {
    /// The header as it went over the wire: 2 bytes, the extended length, the masking key.
    pub header: Vec<u8>,
    pub fin: bool,
    /// RSV1, RSV2, RSV3: 0 unless an extension was agreed.
    pub rsv: [bool; 3],
    /// 1 is text, 2 binary, 8 close, 9 ping, 10 pong.
    pub opcode: u8,
    /// Set on every frame from a browser, never on one from the server.
    pub masked: bool,
    /// How the length was written: in the 7 bits of the second byte (≤ 125), or 126 then
    /// 16 bits, or 127 then 64 bits.
    pub length_bits: u8,
    pub payload_len: u64,
    pub mask_key: Option<[u8; 4]>,
    /// The payload as it travelled (masked when `masked`).
    pub payload: Vec<u8>,
    /// The payload unmasked, as text.
    pub text: String,
}

/// What `/lab/frames` answers to each text frame, after echoing it: the browser's frame as
/// the server read it, and the server's echo as it wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameReport {
    pub sent: FrameBytes,
    pub echoed: FrameBytes,
}

/// One event of the lab's ticker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    pub n: u64,
    /// When the server produced it, ms since the epoch.
    pub ts: i64,
}

/// Bytes of a WebSocket frame header for a payload of `len` bytes (RFC 6455 §5.2): 2, plus
/// 2 or 8 for the extended length, plus 4 for the mask clients must send.
pub fn frame_header_len(len: usize, masked: bool) -> usize {
    let extended = match len {
        0..=125 => 0,
        126..=65_535 => 2,
        _ => 8,
    };
    2 + extended + if masked { 4 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::frame_header_len;

    #[test]
    fn frame_header_sizes_follow_rfc_6455() {
        assert_eq!(frame_header_len(5, false), 2);
        assert_eq!(frame_header_len(125, true), 6);
        assert_eq!(frame_header_len(126, false), 4);
        assert_eq!(frame_header_len(65_535, true), 8);
        assert_eq!(frame_header_len(65_536, false), 10);
    }
}

/// One transport's result in a speed test (browser or `wallsocket-tools bench speed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedResult {
    /// `http`, `ws` or `sse`.
    pub transport: String,
    pub round_trips: usize,
    pub total_ms: f64,
    pub latency: crate::stats::Summary,
    /// What the server counted on the wire for this transport, if it reported.
    pub wire: Option<WireCount>,
    /// Every round trip's latency in ms, for charts.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub samples: Vec<f64>,
}

impl SpeedResult {
    pub fn per_second(&self) -> f64 {
        if self.total_ms > 0.0 {
            self.round_trips as f64 * 1000.0 / self.total_ms
        } else {
            0.0
        }
    }

    /// Bytes on the wire per round trip (both directions, framing included).
    pub fn bytes_per_round_trip(&self) -> Option<f64> {
        let wire = self.wire.as_ref()?;
        (self.round_trips > 0).then(|| wire.total() as f64 / self.round_trips as f64)
    }

    /// Framing bytes (headers) per round trip, both directions.
    pub fn header_bytes_per_round_trip(&self) -> Option<f64> {
        let wire = self.wire.as_ref()?;
        (self.round_trips > 0).then(|| (wire.up_header_bytes + wire.down_header_bytes) as f64 / self.round_trips as f64)
    }
}

/// The payload of round trip `i`: its index in 8 digits (so echoes can be matched when
/// pipelined), padded with dots to `size` bytes (at least 8).
pub fn speed_payload(i: usize, size: usize) -> String {
    let mut payload = format!("{i:08}");
    while payload.len() < size {
        payload.push('.');
    }
    payload
}

/// The round-trip index carried by an echoed payload.
pub fn speed_index(payload: &str) -> Option<usize> {
    payload.get(..8)?.parse().ok()
}

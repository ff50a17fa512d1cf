//! A frame for a client, made once however many clients it goes to.

use crate::metrics::WrittenClock;
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// A JSON text frame, encoded and framed once and shared by every queue a broadcast puts it
/// in: a server's frame is not masked, so its bytes are the same for every member, and a
/// WebSocket writer sends [`Frame::header`] and the text as they are.
#[derive(Debug)]
pub struct Frame {
    text: Utf8Bytes,
    header: Header,
    /// A post's clock: it stops when the last copy of the frame is let go of, which a
    /// writer does only after flushing it to its socket.
    _written: Option<WrittenClock>,
}

/// A final, unmasked text frame's header (RFC 6455 §5.2): 2, 4 or 10 bytes.
#[derive(Debug)]
struct Header {
    bytes: [u8; 10],
    len: u8,
}

impl Header {
    fn text(payload: usize) -> Self {
        let header = FrameHeader { opcode: OpCode::Data(Data::Text), ..FrameHeader::default() };
        let mut bytes = [0; 10];
        let mut rest = &mut bytes[..];
        // Cannot fail: an unmasked header is at most 10 bytes, and any length fits in 64 bits.
        let _ = header.format(payload as u64, &mut rest);
        let len = (10 - rest.len()) as u8;
        Self { bytes, len }
    }
}

impl Frame {
    fn new(json: String, written: Option<WrittenClock>) -> Self {
        Self { header: Header::text(json.len()), text: json.into(), _written: written }
    }

    /// A post's frame, timed from the post's arrival to its last member's flush.
    pub fn timed(json: String, written: WrittenClock) -> Self {
        Self::new(json, Some(written))
    }

    /// An untimed frame, ready to queue: for one connection, or shared by several.
    pub fn shared(json: String) -> Arc<Self> {
        Arc::new(Self::from(json))
    }

    /// The WebSocket frame's header; the text follows it on the wire.
    pub fn header(&self) -> &[u8] {
        &self.header.bytes[..usize::from(self.header.len)]
    }
}

impl From<String> for Frame {
    fn from(json: String) -> Self {
        Self::new(json, None)
    }
}

impl std::ops::Deref for Frame {
    type Target = Utf8Bytes;

    fn deref(&self) -> &Utf8Bytes {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::Frame;
    use std::io::Cursor;
    use tungstenite::protocol::frame::coding::{Data, OpCode};
    use tungstenite::protocol::frame::FrameHeader;

    #[test]
    fn a_header_says_final_unmasked_text_of_the_payloads_length_in_each_length_form() {
        for (payload, header_len) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10), (300_000, 10)] {
            let frame = Frame::from("x".repeat(payload));
            assert_eq!(frame.header().len(), header_len, "header of a {payload}-byte payload");
            let mut cursor = Cursor::new(frame.header());
            let (header, length) = FrameHeader::parse(&mut cursor).unwrap().expect("a whole header");
            assert_eq!(cursor.position() as usize, header_len, "nothing after the header");
            assert_eq!(length, payload as u64);
            assert!(header.is_final && header.mask.is_none() && !header.rsv1);
            assert_eq!(header.opcode, OpCode::Data(Data::Text));
        }
    }
}

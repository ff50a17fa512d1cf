//! The frame lesson as the server renders it: no socket, nothing to send.

use super::FrameView;

#[derive(Clone, Copy)]
pub struct FrameHandle;

pub fn start(_: FrameView) -> FrameHandle {
    FrameHandle
}

impl FrameHandle {
    pub fn send(&self, _text: String) {}
}

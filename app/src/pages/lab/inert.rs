//! The lab's browser half as the server renders it: nothing runs.

use super::LabView;

#[derive(Clone, Copy)]
pub struct LabHandle;

pub fn start(_: LabView) -> LabHandle {
    LabHandle
}

impl LabHandle {
    pub fn start(&self, _rate: u32, _interval_ms: u32) {}

    pub fn stop(&self) {}
}

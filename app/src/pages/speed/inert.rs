//! The speed test's browser half as the server renders it: nothing runs.

use super::SpeedView;

#[derive(Clone, Copy)]
pub struct SpeedHandle;

pub fn start(_: SpeedView) -> SpeedHandle {
    SpeedHandle
}

impl SpeedHandle {
    pub fn run(&self, _n: usize, _size: usize, _pipelined: bool) {}
}

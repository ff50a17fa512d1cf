//! The wall's browser half as the server renders it: no connection, nothing to do.

use crate::domain::{PostText, RoomName, Username};
use crate::pages::wall_state::WallState;
use crate::room_client::ConnState;
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct WallHandle;

pub fn start(
    _: RoomName,
    _: WallState,
    _: Option<u64>,
    _: Option<u64>,
    _: Option<Signal<Option<Username>>>,
) -> WallHandle {
    WallHandle
}

impl WallHandle {
    pub fn conn(&self) -> Signal<ConnState> {
        Signal::derive(|| ConnState::Connecting)
    }

    pub fn post(&self, _: PostText) {}

    pub fn typing(&self) {}

    pub fn delete(&self, _: u64) {}

    pub fn block(&self, _: u64, _: u32) {}

    pub fn retry_now(&self) {}

    pub fn load_older(&self) {}
}

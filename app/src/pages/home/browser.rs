//! The directory's browser half: refreshes the counts while the page is open.

use crate::api::RoomSummary;
use leptos::prelude::*;
use std::time::Duration;

/// How often the directory refreshes its counts.
const REFRESH: Duration = Duration::from_secs(5);

pub fn start(rooms: Resource<Result<Vec<RoomSummary>, ServerFnError>>) {
    let timer = set_interval_with_handle(move || rooms.refetch(), REFRESH).ok();
    on_cleanup(move || {
        if let Some(timer) = timer {
            timer.clear();
        }
    });
}

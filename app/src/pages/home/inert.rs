//! The directory's browser half as the server renders it: nothing refreshes.

use crate::api::RoomSummary;
use leptos::prelude::*;

pub fn start(_: Resource<Result<Vec<RoomSummary>, ServerFnError>>) {}

//! The support panel as the server renders it: nothing is known about the browser yet.

use super::SupportView;

pub fn start(_: SupportView) {}

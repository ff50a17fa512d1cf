//! One file per page.

pub mod home;
pub mod not_found;
pub mod room;
mod wall_state;

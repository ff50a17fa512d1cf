//! One file per page.

pub mod home;
pub mod inspect;
pub mod lab;
pub mod lazy;
pub mod moderate;
pub mod not_found;
pub mod projector;
pub mod room;
pub mod speed;
pub mod stats;
mod wall_state;

//! Reusable pieces of the pages.

pub mod badge;
pub mod composer;
pub mod hydrated;
pub mod latency_chart;
pub mod post_item;
pub mod presence;
pub mod username;

//! The lessons' pages, loaded on demand. With `cargo leptos build --split` their code leaves
//! the main WASM bundle, so a visitor of the wall never downloads the speed test, the lab,
//! the inspector or the stats page; opening one fetches its chunk (the server's HTML names it
//! for preloading). Without `--split` they are ordinary routes.

use super::{inspect::InspectPage, lab::LabPage, speed::SpeedPage, stats::StatsPage};
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

#[derive(Debug)]
pub struct SpeedRoute;

#[lazy_route]
impl LazyRoute for SpeedRoute {
    fn data() -> Self {
        Self
    }

    fn view(_route: Self) -> AnyView {
        view! { <SpeedPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct LabRoute;

#[lazy_route]
impl LazyRoute for LabRoute {
    fn data() -> Self {
        Self
    }

    fn view(_route: Self) -> AnyView {
        view! { <LabPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct InspectRoute;

#[lazy_route]
impl LazyRoute for InspectRoute {
    fn data() -> Self {
        Self
    }

    fn view(_route: Self) -> AnyView {
        view! { <InspectPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct StatsRoute;

#[lazy_route]
impl LazyRoute for StatsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_route: Self) -> AnyView {
        view! { <StatsPage/> }.into_any()
    }
}

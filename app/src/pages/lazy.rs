//! The lessons' pages, loaded on demand. With `cargo leptos build --split` their code leaves
//! the main WASM bundle, so a visitor of the wall never downloads the speed test, the lab,
//! the inspector or the stats page; opening one fetches its chunk (the server's HTML names it
//! for preloading).

use super::{inspect::InspectPage, lab::LabPage, speed::SpeedPage, stats::StatsPage};
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// A lazy route that shows one lesson page. The pages load their own data, so the route
/// has none to fetch beside the code.
macro_rules! lesson_route {
    ($route:ident, $page:ident) => {
        #[derive(Debug)]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_route: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    };
}

lesson_route!(SpeedRoute, SpeedPage);
lesson_route!(LabRoute, LabPage);
lesson_route!(InspectRoute, InspectPage);
lesson_route!(StatsRoute, StatsPage);

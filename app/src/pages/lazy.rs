//! The lessons' routes. In a `--split` build (`cargo leptos build|watch|serve --split`, as
//! `scripts/run.sh` does) their code leaves the main WASM bundle, so a visitor of the wall
//! never downloads the speed test, the lab, the inspector or the stats page; opening one
//! fetches its chunk (when its page hydrates: nothing is preloaded, see `bundle.rs`). Without
//! `--split` the same routes are eager: the code is in the one bundle and no flag is needed to
//! get a working page.
//!
//! `cfg(wasm_split)` (set by `build.rs`) says which browser build this is. The server takes the
//! lazy form in every build: it renders the same HTML either way, so both browser forms
//! hydrate it.

use super::{inspect::InspectPage, lab::LabPage, speed::SpeedPage, stats::StatsPage};
use leptos::prelude::*;
use leptos_router::LazyRoute;

/// A route that shows one lesson page. The pages load their own data, so the route has none
/// to fetch beside the code.
macro_rules! lesson_route {
    ($route:ident, $page:ident) => {
        #[derive(Debug)]
        pub struct $route;

        #[cfg(any(wasm_split, not(target_family = "wasm")))]
        #[leptos_router::lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_route: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }

        // What `#[lazy_route]` makes of the impl above, minus the split point.
        #[cfg(all(target_family = "wasm", not(wasm_split)))]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            async fn view(_route: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    };
}

lesson_route!(SpeedRoute, SpeedPage);
lesson_route!(LabRoute, LabPage);
lesson_route!(InspectRoute, InspectPage);
lesson_route!(StatsRoute, StatsPage);

//! The HTML shell, the router and the frame every page shares.

use crate::bundle::BundleScript;
use crate::components::username::{CurrentUser, UsernameField};
use crate::pages::{
    home::HomePage,
    lazy::{InspectRoute, LabRoute, SpeedRoute, StatsRoute},
    moderate::ModeratePage,
    not_found::NotFound,
    projector::ProjectorPage,
    room::RoomPage,
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    hooks::use_location,
    path, Lazy, SsrMode,
};

/// The whole document, rendered by the server around [`App`]. `bundle` goes before
/// `/pkg/…` in the addresses of the JS, WASM and CSS: the server's `/v/{stamp}` of this
/// build, whose files a browser keeps for good, or nothing.
pub fn shell(options: LeptosOptions, bundle: String) -> impl IntoView {
    let css = format!("{bundle}/pkg/wallsocket.css");
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <meta
                    name="description"
                    content="wallsocket: post to a live wall, and learn WebSockets by measuring them."
                />
                <link rel="stylesheet" id="leptos" href=css/>
                <AutoReload options=options.clone()/>
                <BundleScript options bundle/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let user = CurrentUser(RwSignal::new(None));
    provide_context(user);
    #[cfg(feature = "hydrate")]
    crate::client::storage::remember_username(user.0);

    view! {
        <Title text="wallsocket"/>
        <Router>
            <TopBar/>
            <main class="content">
                <Routes fallback=NotFound>
                    // Async: the HTML is sent once the data is in it, so it reads without JavaScript.
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/r/:room") view=RoomPage ssr=SsrMode::Async/>
                    <Route path=path!("/r/:room/wall") view=ProjectorPage ssr=SsrMode::Async/>
                    <Route path=path!("/moderate") view=ModeratePage/>
                    // The lessons load on demand (see pages/lazy.rs).
                    <Route path=path!("/speed") view={Lazy::<SpeedRoute>::new()}/>
                    <Route path=path!("/lab") view={Lazy::<LabRoute>::new()}/>
                    <Route path=path!("/inspect") view={Lazy::<InspectRoute>::new()}/>
                    <Route path=path!("/stats") view={Lazy::<StatsRoute>::new()}/>
                </Routes>
            </main>
            <Footer/>
        </Router>
    }
}

/// True on the projector page (`/r/{room}/wall`), which shows no navigation; not on the
/// wall of a room named `wall` (`/r/wall`), nor on longer paths.
fn on_projector() -> impl Fn() -> bool + Copy + Send + Sync + 'static {
    let location = use_location();
    move || location.pathname.with(|path| is_projector_path(path))
}

fn is_projector_path(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(segments.as_slice(), ["", "r", room, "wall"] if !room.is_empty())
}

#[component]
fn TopBar() -> impl IntoView {
    let bare = on_projector();
    view! {
        <Show when=move || !bare()>
            <header class="topbar">
                <A href="/" attr:class="brand">
                    <span class="brand-mark">"◧"</span>
                    " wallsocket"
                </A>
                <nav class="topnav">
                    <A href="/">"Rooms"</A>
                    <A href="/speed">"Speed test"</A>
                    <A href="/lab">"Transport lab"</A>
                    <A href="/inspect">"Inspector"</A>
                    <A href="/stats">"Stats"</A>
                </nav>
                <UsernameField/>
            </header>
        </Show>
    }
}

#[component]
fn Footer() -> impl IntoView {
    let bare = on_projector();
    view! {
        <Show when=move || !bare()>
            <footer class="footer muted">
                "wallsocket — real-time rooms over WebSockets. Native clients: see docs/PROTOCOL.md."
            </footer>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::is_projector_path;

    #[test]
    fn only_a_rooms_projector_path_hides_the_navigation() {
        assert!(is_projector_path("/r/pycon/wall"));
        assert!(is_projector_path("/r/wall/wall"));
        for path in ["/r/wall", "/r/pycon", "/r/a/b/wall", "/wall", "/r//wall", "/"] {
            assert!(!is_projector_path(path), "{path}");
        }
    }
}

//! The browser entry point: hydrates the HTML the server rendered. `hydrate_lazy`, because
//! in a `--split` build the lessons' routes are lazy (app/src/pages/lazy.rs): it waits for a
//! lazy page's code before hydrating it, and hydrates the eager routes of a build without
//! `--split` at once.

// Hydrating the whole app in one future nests its view type past rustc's default depth.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}

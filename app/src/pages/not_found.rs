//! Shown for any path no route matches; pages whose path names nothing (an invalid room)
//! answer 404 the same way.

use leptos::prelude::*;

/// Makes the server's answer to this render a 404 (nothing in the browser).
pub fn set_not_found_status() {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    set_not_found_status();
    view! {
        <section class="panel">
            <h1>"Page not found"</h1>
            <p>"There is nothing here. " <a href="/">"Back to the rooms"</a></p>
        </section>
    }
}

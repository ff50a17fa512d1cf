//! The connection badge: connecting, live, or reconnecting with a countdown.

use crate::room_client::ConnState;
use leptos::prelude::*;

#[component]
pub fn Badge(#[prop(into)] state: Signal<ConnState>, #[prop(into)] on_retry: Callback<()>) -> impl IntoView {
    let class = move || match state.get() {
        ConnState::Connecting => "badge badge-connecting",
        ConnState::Live { .. } => "badge badge-live",
        ConnState::Reconnecting { .. } => "badge badge-reconnecting",
    };
    let label = move || match state.get() {
        ConnState::Connecting => "connecting…".to_owned(),
        ConnState::Live { transport: "ws" } => "live".to_owned(),
        ConnState::Live { transport } => format!("live · {transport}"),
        ConnState::Reconnecting { retry_in_s: 0 } => "reconnecting…".to_owned(),
        ConnState::Reconnecting { retry_in_s } => format!("reconnecting in {retry_in_s}s"),
    };
    let retrying = move || matches!(state.get(), ConnState::Reconnecting { retry_in_s } if retry_in_s > 0);
    view! {
        <span class=class data-testid="badge" role="status" aria-live="polite">
            <span class="badge-dot"></span>
            {label}
            <Show when=retrying>
                <button class="link-button" on:click=move |_| on_retry.run(())>"retry now"</button>
            </Show>
        </span>
    }
}

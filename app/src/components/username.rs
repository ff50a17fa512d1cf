//! The username: asked once, remembered in the browser, changeable from any page.

use crate::components::hydrated::use_hydrated;
use crate::domain::Username;
use leptos::prelude::*;

/// The current user's name, provided as context by `App`. `None` until one is chosen.
#[derive(Clone, Copy)]
pub struct CurrentUser(pub RwSignal<Option<Username>>);

pub fn use_current_user() -> CurrentUser {
    use_context::<CurrentUser>().unwrap_or_else(|| CurrentUser(RwSignal::new(None)))
}

impl CurrentUser {
    /// Changes the name (the shell remembers it in the browser; see `client::storage`).
    pub fn set(&self, name: Username) {
        self.0.set(Some(name));
    }
}

/// Shows "posting as NAME · change", or a field to choose a name.
#[component]
pub fn UsernameField() -> impl IntoView {
    let user = use_current_user();
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    // A name typed before the page hydrates would be lost: the field waits for it.
    let hydrated = use_hydrated();
    let parsed = Memo::new(move |_| Username::parse(&draft.get()));
    let touched = move || !draft.get().is_empty();
    let save = move || {
        if let Ok(name) = parsed.get_untracked() {
            user.set(name);
            editing.set(false);
        }
    };
    let asking = move || editing.get() || user.0.get().is_none();
    view! {
        <Show
            when=asking
            fallback=move || view! {
                <div class="username-current">
                    "posting as "
                    <strong data-testid="current-username">{move || user.0.get().map(|n| n.to_string())}</strong>
                    <button class="link-button" on:click=move |_| {
                        draft.set(user.0.get_untracked().map(String::from).unwrap_or_default());
                        editing.set(true);
                    }>"change"</button>
                </div>
            }
        >
            <form class="username-form" on:submit=move |ev| { ev.prevent_default(); save(); }>
                <label for="username-input">"Your name"</label>
                <input
                    id="username-input"
                    data-testid="username-input"
                    autocomplete="nickname"
                    maxlength="64"
                    placeholder="e.g. alice"
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))
                    disabled=move || !hydrated.get()
                />
                <button type="submit" class="button" disabled=move || parsed.get().is_err()>"Save"</button>
                <Show when=move || touched() && parsed.get().is_err()>
                    <p class="field-error">{move || parsed.get().err().map(|e| e.to_string())}</p>
                </Show>
            </form>
        </Show>
    }
}

//! The post box: Enter sends, Shift+Enter adds a line; disabled while the text is invalid.

use crate::domain::{PostText, POST_MAX_CHARS};
use leptos::prelude::*;

#[component]
pub fn Composer(
    #[prop(into)] enabled: Signal<bool>,
    #[prop(into)] on_send: Callback<PostText>,
    /// Called on every keystroke that changes the text; the caller throttles.
    #[prop(into)]
    on_typing: Callback<()>,
) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let parsed = Memo::new(move |_| PostText::parse(&draft.get()));
    let can_send = move || enabled.get() && parsed.get().is_ok();
    let send = move || {
        if !enabled.get_untracked() {
            return;
        }
        if let Ok(text) = parsed.get_untracked() {
            on_send.run(text);
            draft.set(String::new());
        }
    };
    let count = move || draft.with(|d| d.trim().chars().count());
    let error = move || {
        let empty = draft.with(|d| d.trim().is_empty());
        parsed.get().err().filter(|_| !empty).map(|e| e.to_string())
    };
    view! {
        <form class="composer" on:submit=move |ev| { ev.prevent_default(); send(); }>
            <textarea
                data-testid="composer-input"
                aria-label="Write a post"
                placeholder="Write something… (Enter sends, Shift+Enter for a new line)"
                rows="2"
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    on_typing.run(());
                }
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        send();
                    }
                }
            ></textarea>
            <div class="composer-bar">
                <span class="field-error" data-testid="composer-error">{error}</span>
                <span class=move || { if count() > POST_MAX_CHARS { "counter over" } else { "counter" } }>
                    {move || format!("{} / {POST_MAX_CHARS}", count())}
                </span>
                <button type="submit" class="button" data-testid="send" disabled=move || !can_send()>"Post"</button>
            </div>
        </form>
    }
}

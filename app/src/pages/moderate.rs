//! `/moderate`: a moderator pastes the secret `wallsocket moderator add NAME` printed (kept in
//! this browser's `localStorage`; every wall then signs in with it and shows Delete and
//! "Block author" on every post), reads the audit log, and blocks addresses.

use crate::api::{block_address, moderation_log, AuditEntry};
use crate::components::hydrated::use_hydrated;
use crate::time::relative;
use leptos::prelude::*;
use leptos_meta::Title;

/// How long an address block lasts unless the moderator says otherwise.
const DEFAULT_BLOCK_MINUTES: u32 = 60;

#[component]
pub fn ModeratePage() -> impl IntoView {
    let secret = RwSignal::new(None::<String>);
    // What is typed before the page hydrates would be lost: the fields wait for it.
    let hydrated = use_hydrated();
    let draft = RwSignal::new(String::new());
    let log = Action::new(|secret: &String| {
        let secret = secret.clone();
        async move { moderation_log(secret).await }
    });
    let block = Action::new(|(secret, address, minutes): &(String, String, u32)| {
        let (secret, address, minutes) = (secret.clone(), address.clone(), *minutes);
        async move { block_address(secret, address, minutes).await }
    });
    // After hydration: the secret kept from an earlier visit, checked again.
    Effect::new(move |_| {
        if let Some(saved) = storage::load() {
            secret.set(Some(saved.clone()));
            log.dispatch(saved);
        }
    });
    // A secret is kept once the server took it, and forgotten once it refused it.
    let signed_in = Memo::new(move |_| log.value().with(|v| matches!(v, Some(Ok(_)))));
    Effect::new(move |_| match log.value().get() {
        Some(Ok(_)) => storage::save(secret.get_untracked().as_deref()),
        Some(Err(e)) if refusal(&e).contains("not a moderator") => {
            storage::save(None);
            secret.set(None);
        }
        _ => {}
    });
    // A block done: the log shows it.
    Effect::new(move |_| {
        if block.value().with(|v| matches!(v, Some(Ok(_)))) {
            if let Some(secret) = secret.get_untracked() {
                log.dispatch(secret);
            }
        }
    });
    let sign_in = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let pasted = draft.get_untracked().trim().to_owned();
        if pasted.is_empty() {
            return;
        }
        draft.set(String::new());
        secret.set(Some(pasted.clone()));
        log.dispatch(pasted);
    };
    let sign_out = move |_| {
        storage::save(None);
        secret.set(None);
    };
    let (address, minutes) = (RwSignal::new(String::new()), RwSignal::new(DEFAULT_BLOCK_MINUTES.to_string()));
    let submit_block = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(secret) = secret.get_untracked() else { return };
        let minutes = minutes.get_untracked().trim().parse().unwrap_or(0);
        block.dispatch((secret, address.get_untracked(), minutes));
    };

    view! {
        <Title text="Moderate · wallsocket"/>
        <section class="panel moderate">
            <h1>"Moderate"</h1>
            <Show
                when=move || signed_in.get()
                fallback=move || view! {
                    <Show when=move || log.value().with(|v| matches!(v, Some(Err(_))))>
                        <p class="notice" role="alert" data-testid="sign-in-refused">
                            {move || log.value().get().and_then(Result::err).map(|e| refusal(&e))}
                        </p>
                    </Show>
                    <form on:submit=sign_in>
                        <label for="moderator-secret">"Moderator's secret"</label>
                        <input id="moderator-secret" type="password" autocomplete="off" data-testid="moderator-secret"
                            bind:value=draft disabled=move || !hydrated.get()/>
                        <button type="submit" class="button" data-testid="moderator-sign-in"
                            disabled=move || !hydrated.get()>"Sign in"</button>
                        <p class="hint">
                            "The line " <code>"wallsocket moderator add NAME"</code>
                            " printed on the server host. It stays in this browser until you sign out."
                        </p>
                    </form>
                }
            >
                <p data-testid="moderating">
                    "Signed in as a moderator. On every wall in this browser, each post now has Delete and "
                    "Block author (for an hour). "
                    <button type="button" class="button secondary" on:click=sign_out>"Sign out"</button>
                </p>
                <form class="block-address" on:submit=submit_block>
                    <label for="block-address">"Block an address"</label>
                    <input id="block-address" data-testid="block-address" placeholder="203.0.113.7" bind:value=address
                        disabled=move || !hydrated.get()/>
                    <label for="block-minutes">"minutes"</label>
                    <input id="block-minutes" type="number" min="1" data-testid="block-minutes" bind:value=minutes
                        disabled=move || !hydrated.get()/>
                    <button type="submit" class="button" disabled=move || !hydrated.get()>"Block"</button>
                </form>
                <p role="status" data-testid="block-result">
                    {move || block.value().get().map(|r| match r {
                        Ok(_) => "Blocked: no connection from it is admitted until the block ends.".to_owned(),
                        Err(e) => refusal(&e),
                    })}
                </p>
                <h2>"Audit log"</h2>
                {move || log.value().get().and_then(Result::ok).map(|entries| view! { <AuditLog entries/> })}
            </Show>
        </section>
    }
}

/// A server function's refusal as the server worded it.
fn refusal(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

#[component]
fn AuditLog(entries: Vec<AuditEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="muted">"Nothing yet."</p> }.into_any();
    }
    let now = storage::now_ms();
    view! {
        <table class="audit" data-testid="audit">
            <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Detail"</th></tr></thead>
            <tbody>
                {entries.into_iter().map(|e| view! {
                    <tr>
                        <td>{relative(e.at_ms, now)}</td>
                        <td>{e.moderator}</td>
                        <td>{e.action}</td>
                        <td>{e.detail}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The secret kept in the browser, and its clock; nothing on the server's render.
#[cfg(feature = "hydrate")]
mod storage {
    use crate::client::storage::{load_moderator, save_moderator};
    use crate::domain::ClaimSecret;

    pub fn load() -> Option<String> {
        load_moderator().map(|s| s.expose().to_owned())
    }

    /// Keeps a secret (one not of a secret's shape the server has refused already), or
    /// forgets it with `None`.
    pub fn save(secret: Option<&str>) {
        match secret {
            Some(secret) => {
                if let Ok(secret) = ClaimSecret::parse(secret) {
                    save_moderator(Some(&secret));
                }
            }
            None => save_moderator(None),
        }
    }

    pub fn now_ms() -> i64 {
        crate::client::now_ms()
    }
}

#[cfg(not(feature = "hydrate"))]
mod storage {
    pub fn load() -> Option<String> {
        None
    }

    pub fn save(_: Option<&str>) {}

    pub fn now_ms() -> i64 {
        0
    }
}

//! `/`: the room directory, with post counts and live member counts, and a field to open
//! or create a room.

use crate::api::{list_rooms, RoomSummary};
use crate::components::hydrated::use_hydrated;
use crate::domain::RoomName;
use leptos::prelude::*;
use leptos_meta::Title;

// The page's browser half, and its inert twin for the server's render.
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(not(feature = "hydrate"))]
mod inert;
#[cfg(not(feature = "hydrate"))]
use inert as browser;

#[component]
pub fn HomePage() -> impl IntoView {
    let rooms = Resource::new(|| (), |_| list_rooms());
    browser::start(rooms);
    view! {
        <Title text="wallsocket · rooms"/>
        <section class="hero">
            <h1>"Post to a live wall."</h1>
            <p class="muted">"Pick a room, or make one up: everyone in it sees each post the instant it is made."</p>
            <OpenRoom/>
        </section>
        <section class="directory">
            <h2>"Rooms"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading rooms…"</p> }>
                {move || rooms.get().map(|result| match result {
                    Err(e) => view! {
                        <p class="notice" role="alert">"Could not load rooms: " {e.to_string()}</p>
                    }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="muted">"No rooms yet: open one above."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="room-list" data-testid="room-list">
                            {list.into_iter().map(|r| view! { <RoomRow room=r/> }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RoomRow(room: RoomSummary) -> impl IntoView {
    let href = format!("/r/{}", room.room);
    let posts = match room.posts {
        1 => "1 post".to_owned(),
        n => format!("{n} posts"),
    };
    let members = match room.members {
        0 => "nobody here".to_owned(),
        1 => "1 here now".to_owned(),
        n => format!("{n} here now"),
    };
    view! {
        <li class="room-row" data-room=room.room.clone()>
            <a class="room-link" href=href>"#" {room.room.clone()}</a>
            <span class="room-stat">{posts}</span>
            <span class={ if room.members > 0 { "room-stat live" } else { "room-stat" } }>{members}</span>
        </li>
    }
}

/// A field that turns what is typed into a room name and goes there.
#[component]
fn OpenRoom() -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let slug = Memo::new(move |_| RoomName::slugify(&draft.get()));
    // A name typed before the page hydrates would be lost: the field waits for it.
    let hydrated = use_hydrated();
    let navigate = leptos_router::hooks::use_navigate();
    let open = move || {
        if let Some(room) = slug.get_untracked() {
            navigate(&format!("/r/{room}"), Default::default());
        }
    };
    view! {
        <form class="open-room" on:submit=move |ev| { ev.prevent_default(); open(); }>
            <input
                data-testid="room-input"
                aria-label="Room name"
                placeholder="room name, e.g. pycon-2026"
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
                disabled=move || !hydrated.get()
            />
            <button type="submit" class="button" disabled=move || slug.get().is_none()>"Open room"</button>
            <p class="muted slug-preview">
                {move || match (draft.with(String::is_empty), slug.get()) {
                    (true, _) => String::new(),
                    (false, Some(room)) => format!("→ /r/{room}"),
                    (false, None) => "Use letters or digits.".to_owned(),
                }}
            </p>
        </form>
    }
}

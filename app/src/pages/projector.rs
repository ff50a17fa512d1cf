//! `/r/{room}/wall`: the room for a projector. Full screen, large type, the newest post
//! entering at the top, no composer and no navigation; beside the posts, a QR code of the
//! room's address (drawn by the server, `GET /r/{room}/qr.svg`) and the address itself, so
//! people join from their phones. Rendered by the server, then live as a watcher (no name);
//! it keeps only the newest [`POSTS_SHOWN`] posts, so a day-long run holds a bounded page.

use super::room::live;
use super::wall_state::WallState;
use crate::api::{get_history, get_room_url, HistoryPage};
use crate::domain::RoomName;
use crate::error::{AppError, ErrorPage};
use crate::pages::room::presence_line;
use crate::protocol::Post;
use crate::room_client::ConnState;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// Posts on the screen (and in the page) at most: older ones leave as new ones enter.
pub const POSTS_SHOWN: usize = 12;

#[component]
pub fn ProjectorPage() -> impl IntoView {
    let params = use_params_map();
    let room = move || params.read().get("room").unwrap_or_default();
    move || match RoomName::parse(&room()) {
        Ok(room) => view! { <Projector room/> }.into_any(),
        Err(e) => view! { <ErrorPage error=AppError::InvalidRoom(e.to_string())/> }.into_any(),
    }
}

#[component]
fn Projector(room: RoomName) -> impl IntoView {
    let loaded = Resource::new(|| (), {
        let room = room.to_string();
        move |_| {
            let room = room.clone();
            async move {
                let (page, url) = futures::join!(get_history(room.clone(), None), get_room_url(room));
                Ok::<_, ServerFnError>((page?, url?))
            }
        }
    });
    let title = format!("#{room} on the wall · wallsocket");
    view! {
        <Title text=title/>
        <Suspense fallback=|| view! { <p class="muted">"Loading the wall…"</p> }>
            {move || loaded.get().map(|loaded| match loaded {
                Err(e) => view! {
                    <p class="notice" role="alert">"Could not load the wall: " {e.to_string()}</p>
                }.into_any(),
                Ok((page, url)) => view! { <LiveProjector room=room.clone() page url/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn LiveProjector(room: RoomName, page: HistoryPage, url: String) -> impl IntoView {
    let state = WallState::seeded_keeping(&page, POSTS_SHOWN);
    let since = Some(page.newest_seq().unwrap_or(0));
    let from = page.oldest_seq();
    let wall = live::start(room.clone(), state, since, from, None);
    let conn = wall.conn();
    let posts = Memo::new(move |_| state.posts_newest_first());
    let short_url = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    // Where a long address may wrap: before its path, never inside the host.
    let (host, path) = short_url.split_once('/').map_or((short_url, String::new()), |(h, p)| (h, format!("/{p}")));
    let host = host.to_owned();
    let qr_src = format!("/r/{room}/qr.svg");
    let qr_alt = format!("QR code of {url}");
    view! {
        <section class="projector" data-testid="projector">
            <header class="projector-head">
                <h1 class="projector-room">"#" {room.to_string()}</h1>
                <p class="projector-counts" data-testid="projector-counts">
                    {move || {
                        let people = state.present.with(|p| p.as_ref().map(Vec::len));
                        presence_line(people, state.watching.get(), "here", "here")
                    }}
                </p>
                <p class="projector-conn" data-testid="projector-conn" role="status" aria-live="polite">
                    {move || conn_hint(conn.get())}
                </p>
            </header>
            <ol class="projector-posts" data-testid="projector-posts" aria-live="polite">
                <For each=move || posts.get() key=|p| p.seq let:post>
                    <ProjectorPost post/>
                </For>
            </ol>
            <Show when=move || posts.with(Vec::is_empty)>
                <p class="projector-empty">"Nothing posted yet: be the first!"</p>
            </Show>
            <aside class="projector-join">
                <p class="projector-scan">"Scan to join"</p>
                <img class="projector-qr" data-testid="projector-qr" src=qr_src alt=qr_alt width="240" height="240"/>
                <p class="projector-url" data-testid="projector-url">{host}<wbr/>{path}</p>
            </aside>
        </section>
    }
}

#[component]
fn ProjectorPost(post: Post) -> impl IntoView {
    view! {
        <li class="projector-post" data-seq=post.seq>
            <span class="projector-author">{post.username.to_string()}</span>
            <p class="projector-text">{post.text.to_string()}</p>
        </li>
    }
}

/// Nothing while live; otherwise a short line that sits in the header, never over the posts.
fn conn_hint(state: ConnState) -> &'static str {
    match state {
        ConnState::Live { .. } => "",
        ConnState::Connecting => "connecting…",
        ConnState::Reconnecting { .. } => "reconnecting…",
    }
}

//! `/r/{room}`: the room's wall. The newest page of posts is rendered on the server; the
//! browser then joins over `/ws` from the last rendered seq, so nothing is missed or doubled.

use super::wall_state::{Pending, Shown, WallState};
use crate::api::{get_history, HistoryPage};
use crate::components::badge::Badge;
use crate::components::composer::Composer;
use crate::components::post_item::{PostItem, RemovedItem};
use crate::components::presence::{typing_label, NoticeList, PresenceList};
use crate::components::username::use_current_user;
use crate::domain::{PostText, RoomName};
use crate::error::{AppError, ErrorPage};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// How long a moderator's "Block author" keeps the author from posting.
const BLOCK_MINUTES: u32 = 60;

#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let room = move || params.read().get("room").unwrap_or_default();
    move || match RoomName::parse(&room()) {
        Ok(room) => view! { <Wall room/> }.into_any(),
        Err(e) => view! { <ErrorPage error=AppError::InvalidRoom(e.to_string())/> }.into_any(),
    }
}

#[component]
fn Wall(room: RoomName) -> impl IntoView {
    let history = Resource::new(|| (), {
        let room = room.to_string();
        move |_| get_history(room.clone(), None)
    });
    let title = format!("#{room} · wallsocket");
    view! {
        <Title text=title/>
        <Suspense fallback=|| view! { <p class="muted">"Loading posts…"</p> }>
            {move || history.get().map(|page| match page {
                Err(e) => view! {
                    <p class="notice" role="alert">"Could not load posts: " {e.to_string()}</p>
                }.into_any(),
                Ok(page) => view! { <LiveWall room=room.clone() page/> }.into_any(),
            })}
        </Suspense>
    }
}

/// The wall once its newest page is known: that page seeds the state, and the connection
/// resumes after its last post.
#[component]
fn LiveWall(room: RoomName, page: HistoryPage) -> impl IntoView {
    let user = use_current_user();
    let state = WallState::seeded(&page);
    // An empty page holds the whole room (nothing older): resume from its start, so posts made
    // before a name is chosen are replayed too, not just the latest page of them.
    let since = Some(page.newest_seq().unwrap_or(0));
    let from = page.oldest_seq();
    let wall = live::start(room.clone(), state, since, from, Some(user.0.into()));
    let on_delete = Callback::new(move |seq: u64| wall.delete(seq));
    let on_block = Callback::new(move |seq: u64| wall.block(seq, BLOCK_MINUTES));
    let moderating = Signal::derive(move || state.moderator.with(Option::is_some));
    let on_send = Callback::new(move |text: PostText| wall.post(text));
    let on_retry = Callback::new(move |_| wall.retry_now());
    let on_typing = Callback::new(move |_| wall.typing());
    let me = move || user.0.get().map(String::from);
    let posts = Memo::new(move |_| state.shown_newest_first());
    let now_ms = Signal::derive(move || state.now_ms.get());

    view! {
        <section class="wall">
            <header class="wall-header">
                <div>
                    <h1 class="room-title">"#" {room.to_string()}</h1>
                    <p class="muted" data-testid="members">
                        {move || {
                            let people = state.present.with(|p| p.as_ref().map(Vec::len));
                            presence_line(people, state.watching.get(), "person here", "people here")
                        }}
                    </p>
                </div>
                <Badge state=wall.conn() on_retry/>
            </header>
            <PresenceList
                people=Signal::derive(move || {
                    state.present.with(|p| p.iter().flatten().map(|u| u.to_string()).collect())
                })
                me=Signal::derive(me)
            />
            <NoticeList notices=state.notices/>
            <Show when=move || state.name_taken.with(Option::is_some)>
                <p class="notice" role="alert" data-testid="name-taken">
                    {move || state.name_taken.get().map(|name| format!(
                        "The name \u{201c}{name}\u{201d} is taken: someone else claimed it. \
                         Choose another name to post."
                    ))}
                </p>
            </Show>
            <Show
                when=move || user.0.get().is_some()
                fallback=|| view! {
                    <p class="panel hint">"You are watching live. Choose a name at the top of the page to post."</p>
                }
            >
                <Composer enabled=Signal::derive(move || user.0.get().is_some()) on_send on_typing/>
            </Show>
            <p class="typing" data-testid="typing" aria-live="polite">
                {move || typing_label(&state.typing_names(me().as_deref())).unwrap_or_default()}
            </p>
            <Show when=move || state.notice.get().is_some()>
                <p class="notice" role="alert">{move || state.notice.get()}</p>
            </Show>
            <ul class="pending-list" data-testid="pending">
                <For
                    each=move || state.pending.get().into_iter().rev()
                    key=|p| (p.client_id.clone(), p.error.clone())
                    let:p
                >
                    <PendingItem pending=p/>
                </For>
            </ul>
            <ol class="posts" data-testid="posts">
                <For each=move || posts.get() key=Shown::key let:shown>
                    {match shown {
                        Shown::Post(post) => {
                            let author = post.username.to_string();
                            let mine = Signal::derive(move || me().as_deref() == Some(author.as_str()));
                            view! { <PostItem post mine now_ms on_delete moderating on_block/> }.into_any()
                        }
                        Shown::Removed(seq) => view! { <RemovedItem seq/> }.into_any(),
                    }}
                </For>
            </ol>
            <Show when=move || posts.with(Vec::is_empty)>
                <p class="muted empty">"No posts yet. Say hello!"</p>
            </Show>
            <Show when=move || state.has_older.get()>
                <button class="button secondary older" on:click=move |_| wall.load_older()>"Older posts"</button>
            </Show>
        </section>
    }
}

/// "3 people here · 12 watching" (or "… 1 person here", "12 watching"), once the room has
/// said who is; `one` and `many` say what a count of people is.
pub fn presence_line(people: Option<usize>, watching: u32, one: &str, many: &str) -> String {
    let Some(people) = people else { return "\u{a0}".to_owned() };
    let people = match people {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {many}")),
    };
    let watching = (watching > 0).then(|| format!("{watching} watching"));
    let parts: Vec<String> = people.into_iter().chain(watching).collect();
    if parts.is_empty() {
        return "nobody here yet".to_owned();
    }
    parts.join(" · ")
}

#[component]
fn PendingItem(pending: Pending) -> impl IntoView {
    let failed = pending.error.is_some();
    view! {
        <li class={ if failed { "post pending failed" } else { "post pending" } }>
            <div class="post-meta">
                <span class="post-author">"you"</span>
                <span class="post-time">{ if failed { "not posted" } else { "sending…" } }</span>
            </div>
            <p class="post-text">{pending.text.to_string()}</p>
            {pending.error.map(|e| view! { <p class="field-error">{e}</p> })}
        </li>
    }
}

// The wall's browser half (the projector page's too), and its inert twin for the server's
// render.
#[cfg(feature = "hydrate")]
pub(super) mod browser;
#[cfg(not(feature = "hydrate"))]
pub(super) mod inert;
#[cfg(feature = "hydrate")]
pub(super) use browser as live;
#[cfg(not(feature = "hydrate"))]
pub(super) use inert as live;

#[cfg(test)]
mod tests {
    use super::presence_line;

    #[test]
    fn the_presence_line_counts_people_and_watchers_in_words() {
        let line = |people, watching| presence_line(people, watching, "person here", "people here");
        assert_eq!(line(None, 3), "\u{a0}", "nothing until the room says");
        assert_eq!(line(Some(0), 0), "nobody here yet");
        assert_eq!(line(Some(1), 0), "1 person here");
        assert_eq!(line(Some(0), 12), "12 watching");
        assert_eq!(line(Some(3), 12), "3 people here · 12 watching");
    }
}

//! One post on the wall. User text is always a text node, never HTML.

use crate::protocol::Post;
use crate::time::relative;
use leptos::prelude::*;

/// A post; its author (or a moderator) gets a button to delete it (`on_delete`; the server
/// checks), and a moderator one to block its author (`on_block`).
#[component]
pub fn PostItem(
    post: Post,
    #[prop(into)] mine: Signal<bool>,
    #[prop(into)] now_ms: Signal<i64>,
    #[prop(optional)] on_delete: Option<Callback<u64>>,
    #[prop(optional, into)] moderating: Signal<bool>,
    #[prop(optional)] on_block: Option<Callback<u64>>,
) -> impl IntoView {
    let (ts, seq) = (post.ts, post.seq);
    let class = move || if mine.get() { "post mine" } else { "post" };
    // Plain closures, not `<Show>`: a page renders fifty of these, and a `Show` costs a memo
    // and an owner each, which is most of what rendering a post costs on the server.
    let block = on_block.map(|on_block| {
        move || {
            moderating.get().then(|| {
                view! {
                    <button class="post-delete post-block" type="button" on:click=move |_| on_block.run(seq)
                        aria-label="Block this post's author from posting for an hour">
                        "Block author"
                    </button>
                }
            })
        }
    });
    let delete = on_delete.map(|on_delete| {
        move || {
            (mine.get() || moderating.get()).then(|| {
                view! {
                    <button class="post-delete" type="button" on:click=move |_| on_delete.run(seq)
                        aria-label="Delete this post">
                        "Delete"
                    </button>
                }
            })
        }
    });
    view! {
        <li class=class data-seq=post.seq>
            <div class="post-meta">
                <span class="post-author">{post.username.to_string()}</span>
                {post.fingerprint.map(|f| view! {
                    <span class="post-fingerprint" title="this name's claim: the same for every post by its holder">
                        {format!("#{f}")}
                    </span>
                })}
                <time class="post-time">{move || relative(ts, now_ms.get())}</time>
                {delete}
                {block}
            </div>
            <p class="post-text">{post.text.to_string()}</p>
        </li>
    }
}

/// Where a deleted post was: its seq stays, its name and text are gone.
#[component]
pub fn RemovedItem(seq: u64) -> impl IntoView {
    view! {
        <li class="post removed" data-seq=seq data-testid="post-removed">
            <p class="post-text muted">"post removed"</p>
        </li>
    }
}

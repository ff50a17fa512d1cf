//! One post on the wall. User text is always a text node, never HTML.

use crate::protocol::Post;
use crate::time::relative;
use leptos::prelude::*;

/// A post; its author gets a button to delete it (`on_delete`; the server checks the claim).
#[component]
pub fn PostItem(
    post: Post,
    #[prop(into)] mine: Signal<bool>,
    #[prop(into)] now_ms: Signal<i64>,
    #[prop(optional)] on_delete: Option<Callback<u64>>,
) -> impl IntoView {
    let (ts, seq) = (post.ts, post.seq);
    let class = move || if mine.get() { "post mine" } else { "post" };
    let delete = on_delete.map(|on_delete| {
        view! {
            <Show when=move || mine.get()>
                <button class="post-delete" type="button" on:click=move |_| on_delete.run(seq)
                    aria-label="Delete this post">
                    "Delete"
                </button>
            </Show>
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

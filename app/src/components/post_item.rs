//! One post on the wall. User text is always a text node, never HTML.

use crate::protocol::Post;
use crate::time::relative;
use leptos::prelude::*;

#[component]
pub fn PostItem(post: Post, #[prop(into)] mine: Signal<bool>, #[prop(into)] now_ms: Signal<i64>) -> impl IntoView {
    let ts = post.ts;
    let class = move || if mine.get() { "post mine" } else { "post" };
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
            </div>
            <p class="post-text">{post.text.to_string()}</p>
        </li>
    }
}

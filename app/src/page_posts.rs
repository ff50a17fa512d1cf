//! A page's posts, and on the server each post's JSON made once.
//!
//! A room page goes to every visitor with its posts twice: rendered, and serialised into the
//! page's hydration data (and a plain join sends the same page as `joined`'s history). The
//! store's tails (SQLite only) keep each post of a room's newest page beside its JSON
//! ([`PostJson`]), so a page built from them copies that JSON instead of serialising every
//! post for every request.

use crate::protocol::Post;
use serde::{Deserialize, Serialize, Serializer};
use std::ops::Deref;

/// Posts, oldest first. On the wire a plain JSON array of posts, made from the posts' own
/// JSON when the server has it.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "Vec<Post>")]
pub struct PagePosts {
    posts: Vec<Post>,
    /// The JSON of each post, in the same order, when the store had it made already.
    #[cfg(feature = "ssr")]
    json: Option<Vec<PostJson>>,
}

impl PagePosts {
    /// The posts with their JSON, [`PostJson::of`] each post in order (as the store's tails
    /// keep them). JSON that is not one per post, of the same seqs in the same order, is not
    /// used: the posts are serialised afresh.
    #[cfg(feature = "ssr")]
    pub fn with_json(posts: Vec<Post>, json: Vec<PostJson>) -> Self {
        let paired = json.len() == posts.len() && posts.iter().zip(&json).all(|(p, j)| p.seq == j.seq());
        Self { posts, json: paired.then_some(json) }
    }
}

impl From<Vec<Post>> for PagePosts {
    fn from(posts: Vec<Post>) -> Self {
        Self {
            posts,
            #[cfg(feature = "ssr")]
            json: None,
        }
    }
}

impl From<PagePosts> for Vec<Post> {
    fn from(page: PagePosts) -> Self {
        page.posts
    }
}

impl Deref for PagePosts {
    type Target = [Post];

    fn deref(&self) -> &[Post] {
        &self.posts
    }
}

/// Equal when the posts are: the JSON, when there is any, says the same.
impl PartialEq for PagePosts {
    fn eq(&self, other: &Self) -> bool {
        self.posts == other.posts
    }
}

impl Eq for PagePosts {}

impl Serialize for PagePosts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[cfg(feature = "ssr")]
        if let Some(json) = &self.json {
            return json.serialize(serializer);
        }
        self.posts.serialize(serializer)
    }
}

#[cfg(feature = "ssr")]
pub use post_json::PostJson;

#[cfg(feature = "ssr")]
mod post_json {
    use crate::protocol::Post;
    use serde::{Serialize, Serializer};
    use serde_json::value::RawValue;
    use std::sync::Arc;

    /// A post's JSON, exactly what serialising the post gives, shared by every page that
    /// carries the post, and the post's seq (what [`super::PagePosts::with_json`] pairs it
    /// by). Written as it is by serde_json (what the page's hydration data and the server
    /// functions use); other serialisers would not know it.
    #[derive(Debug, Clone)]
    pub struct PostJson {
        seq: u64,
        json: Arc<RawValue>,
    }

    impl PostJson {
        pub fn of(post: &Post) -> Self {
            // A post is strings and numbers: serialising it cannot fail.
            let json = serde_json::value::to_raw_value(post).expect("a post serialises");
            Self { seq: post.seq, json: Arc::from(json) }
        }

        pub fn seq(&self) -> u64 {
            self.seq
        }

        /// How many bytes the JSON is.
        pub fn bytes(&self) -> usize {
            self.json.get().len()
        }

        /// Whether both are the same JSON in memory (not a copy made again).
        pub fn shares(&self, other: &Self) -> bool {
            Arc::ptr_eq(&self.json, &other.json)
        }
    }

    impl PartialEq for PostJson {
        fn eq(&self, other: &Self) -> bool {
            self.json.get() == other.json.get()
        }
    }

    impl Eq for PostJson {}

    impl Serialize for PostJson {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            self.json.serialize(serializer)
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    fn post(seq: u64, text: &str, fingerprint: bool) -> Post {
        let fingerprint = if fingerprint { r#","fingerprint":"0a9f""# } else { "" };
        let json = format!(
            r#"{{"room":"lobby","seq":{seq},"client_id":"c{seq}","username":"ann","text":{},"ts":17{fingerprint}}}"#,
            serde_json::to_string(text).unwrap()
        );
        serde_json::from_str(&json).unwrap()
    }

    fn with_own_json(posts: Vec<Post>) -> PagePosts {
        let json = posts.iter().map(PostJson::of).collect();
        PagePosts::with_json(posts, json)
    }

    #[test]
    fn posts_with_their_json_serialise_to_the_same_bytes_as_the_posts() {
        let texts = ["plain", "a \"quote\" and a \\ backslash", "two\nlines\ttab", "</script><b>", "🦀 𝄞 é"];
        let posts: Vec<Post> = texts.iter().enumerate().map(|(i, t)| post(i as u64 + 1, t, i % 2 == 0)).collect();
        let fresh = serde_json::to_string(&posts).unwrap();
        assert_eq!(serde_json::to_string(&with_own_json(posts.clone())).unwrap(), fresh);
        assert_eq!(serde_json::to_string(&with_own_json(Vec::new())).unwrap(), "[]");
        let back: PagePosts = serde_json::from_str(&fresh).unwrap();
        assert_eq!(Vec::from(back), posts);
    }

    #[test]
    fn the_json_kept_is_what_is_written() {
        // The post edited after its JSON was made: what goes out is the JSON, so the kept
        // JSON is used rather than the post serialised again.
        let (stored, edited) = (post(1, "first", false), post(1, "edited", true));
        let page = PagePosts::with_json(vec![edited], vec![PostJson::of(&stored)]);
        assert_eq!(serde_json::to_string(&page).unwrap(), serde_json::to_string(&vec![stored]).unwrap());
    }

    #[test]
    fn json_that_does_not_pair_with_every_post_is_not_used() {
        let (one, two) = (post(1, "first", false), post(2, "second", false));
        let fresh = serde_json::to_string(&vec![one.clone(), two.clone()]).unwrap();
        let short = PagePosts::with_json(vec![one.clone(), two.clone()], vec![PostJson::of(&one)]);
        assert_eq!(serde_json::to_string(&short).unwrap(), fresh, "one post without JSON");
        let swapped =
            PagePosts::with_json(vec![one.clone(), two.clone()], vec![PostJson::of(&two), PostJson::of(&one)]);
        assert_eq!(serde_json::to_string(&swapped).unwrap(), fresh, "JSON in another order");
    }
}

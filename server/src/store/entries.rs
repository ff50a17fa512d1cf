//! Part of a room's log as the store's reads return it, and how a page carries its posts.

use app::api::{PagePosts, PostJson};
use app::protocol::Post;

/// Part of a room's log in seq order: its live posts, and the seqs among them whose posts
/// were deleted (tombstones: the seq stays taken, the name and text are gone).
#[derive(Debug, Clone, Default)]
pub struct Entries {
    pub posts: Vec<Post>,
    pub removed: Vec<u64>,
    /// Each post's JSON, in order, when it was kept (a first page from a room's tail).
    pub(in crate::store) posts_json: Option<Vec<PostJson>>,
}

/// Equal when the posts and tombstones are: the JSON, when there is some, says the same.
impl PartialEq for Entries {
    fn eq(&self, other: &Self) -> bool {
        (&self.posts, &self.removed) == (&other.posts, &other.removed)
    }
}

impl Eq for Entries {}

impl Entries {
    /// The posts as a page carries them (with their JSON when there is some), and the
    /// tombstones.
    pub fn into_page_posts(self) -> (PagePosts, Vec<u64>) {
        let posts = match self.posts_json {
            Some(json) => PagePosts::with_json(self.posts, json),
            None => self.posts.into(),
        };
        (posts, self.removed)
    }
}

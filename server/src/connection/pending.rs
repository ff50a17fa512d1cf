//! A connection's answers not yet sent.

use app::protocol::ServerMsg;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::StreamExt;

/// Answers not yet sent, in the order of the frames they answer: posts waiting for the hub
/// keep their place while later frames are read, so one client's posts can share a commit.
/// Made when a frame arrives and let go of once empty: an empty `FuturesOrdered` is two
/// allocations, which every idle connection would otherwise carry.
#[derive(Default)]
pub(super) struct Pending(Option<FuturesOrdered<BoxFuture<'static, Option<ServerMsg>>>>);

impl Pending {
    pub(super) fn push(&mut self, answer: BoxFuture<'static, Option<ServerMsg>>) {
        self.0.get_or_insert_with(FuturesOrdered::new).push_back(answer);
    }

    pub(super) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, FuturesOrdered::len)
    }

    /// The next answer in order; `None` when there is none to wait for.
    pub(super) async fn next(&mut self) -> Option<Option<ServerMsg>> {
        let answers = self.0.as_mut()?;
        let answer = answers.next().await;
        if answers.is_empty() {
            self.0 = None;
        }
        answer
    }
}

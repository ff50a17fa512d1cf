//! A write the tails must hear about, or else forget everything.

use super::Tails;
use crate::store::Inserted;
use app::domain::RoomName;

/// A write to the database the tails must hear about: [`Write::stored`] or
/// [`Write::deleted`] once it committed. Dropped without either (the write failed, or its
/// future was dropped mid-commit), it makes the tails forget everything, since a commit they
/// did not see may have happened.
pub struct Write<'a> {
    tails: Option<&'a Tails>,
}

impl<'a> Write<'a> {
    pub(super) fn new(tails: &'a Tails) -> Self {
        Self { tails: Some(tails) }
    }

    pub fn stored(mut self, answers: &[Inserted]) {
        self.tails.take().into_iter().for_each(|t| t.stored(answers));
    }

    pub fn deleted(mut self, room: &RoomName, seq: u64) {
        self.tails.take().into_iter().for_each(|t| t.deleted(room, seq));
    }

    /// Nothing changed (a deletion that was refused or found nothing to delete).
    pub fn unchanged(mut self) {
        self.tails = None;
    }
}

impl Drop for Write<'_> {
    fn drop(&mut self) {
        if let Some(tails) = self.tails.take() {
            tails.changed_elsewhere();
        }
    }
}

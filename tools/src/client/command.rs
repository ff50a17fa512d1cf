//! The commands the terminal client takes among the lines it would post: `/delete SEQ` and
//! `/block SEQ [MINUTES]`; and [`Commands`], which sends them once the room (and the
//! moderator's sign-in) answered, within the rate limit, and follows each to its answer.

use app::room_client::Event;
use std::collections::VecDeque;

/// A line typed as a command rather than a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Delete(u64),
    Block { seq: u64, minutes: u32 },
}

/// How long `/block SEQ` blocks without a number of minutes.
pub const BLOCK_MINUTES: u32 = 60;

impl Command {
    /// `/delete SEQ` or `/block SEQ [MINUTES]`; `None` for any other line (a post).
    pub fn parse(line: &str) -> Option<Result<Self, String>> {
        let mut words = line.split_whitespace();
        let command = words.next()?;
        let mut number = |what: &str| words.next().map(|w| w.parse().map_err(|_| format!("{w:?} is not a {what}")));
        match command {
            "/delete" => Some(match number("seq") {
                Some(Ok(seq)) => Ok(Command::Delete(seq)),
                Some(Err(e)) => Err(e),
                None => Err("usage: /delete SEQ".into()),
            }),
            "/block" => {
                let seq = match number("seq") {
                    Some(Ok(seq)) => seq,
                    Some(Err(e)) => return Some(Err(e)),
                    None => return Some(Err("usage: /block SEQ [MINUTES]".into())),
                };
                let minutes = match number("number of minutes") {
                    Some(Ok(minutes)) => u32::try_from(minutes).unwrap_or(u32::MAX),
                    Some(Err(e)) => return Some(Err(e)),
                    None => BLOCK_MINUTES,
                };
                Some(Ok(Command::Block { seq, minutes }))
            }
            _ => None,
        }
    }
}

/// Commands typed, sent and answered.
#[derive(Debug, Default)]
pub struct Commands {
    /// Typed, not sent yet: before the room answered, or past the rate limit.
    queued: VecDeque<Command>,
    /// Sent, waiting for their answer (in order: the server answers in order).
    awaiting: VecDeque<Command>,
    /// Whether commands may go: the room answered, and the sign-in if there is one.
    ready: bool,
    /// A moderator's sign-in was sent and not answered yet.
    signing_in: bool,
}

impl Commands {
    pub fn push(&mut self, command: Command) {
        self.queued.push_back(command);
    }

    /// True when nothing typed waits to be sent or answered.
    pub fn idle(&self) -> bool {
        self.queued.is_empty() && self.awaiting.is_empty()
    }

    /// The connection is gone: commands unanswered go again on the next one (deleting and
    /// blocking twice does no harm), once it is ready.
    pub fn connection_lost(&mut self) {
        self.ready = false;
        self.signing_in = false;
        while let Some(command) = self.awaiting.pop_back() {
            self.queued.push_front(command);
        }
    }

    /// Takes in an event: readiness, and answers. `Some(false)` when it refused a command.
    pub fn on_event(&mut self, event: &Event, moderator: bool) -> Option<bool> {
        match event {
            Event::Live if moderator => self.signing_in = true,
            Event::Live => self.ready = true,
            // The sign-in's answer, whatever it is: refused, the commands are refused in turn.
            Event::Moderating(_) | Event::Notice { .. } if self.signing_in => {
                self.signing_in = false;
                self.ready = true;
            }
            Event::Deleted(seqs) => {
                let at = self.awaiting.iter().position(|c| matches!(c, Command::Delete(seq) if seqs.contains(seq)));
                return at.and_then(|at| self.awaiting.remove(at)).map(|_| true);
            }
            Event::AuthorBlocked { seq, .. } => {
                let at = self.awaiting.iter().position(|c| matches!(c, Command::Block { seq: s, .. } if s == seq));
                return at.and_then(|at| self.awaiting.remove(at)).map(|_| true);
            }
            Event::Notice { .. } => return self.awaiting.pop_front().map(|_| false),
            _ => {}
        }
        None
    }

    /// Sends what may go now, through `send` (the room client's `delete` or `block`, which
    /// sends nothing while the rate limit is spent: the rest wait for a later call).
    pub fn flush<M>(&mut self, mut send: impl FnMut(Command) -> Vec<M>) -> Vec<M> {
        let mut out = Vec::new();
        while self.ready {
            let Some(command) = self.queued.front().copied() else { break };
            let sent = send(command);
            if sent.is_empty() {
                break;
            }
            self.queued.pop_front();
            self.awaiting.push_back(command);
            out.extend(sent);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_and_anything_else_is_a_post() {
        assert_eq!(Command::parse("/delete 7"), Some(Ok(Command::Delete(7))));
        assert_eq!(Command::parse("/block 7"), Some(Ok(Command::Block { seq: 7, minutes: BLOCK_MINUTES })));
        assert_eq!(Command::parse("/block 7 5"), Some(Ok(Command::Block { seq: 7, minutes: 5 })));
        assert!(matches!(Command::parse("/delete"), Some(Err(_))));
        assert!(matches!(Command::parse("/delete seven"), Some(Err(_))));
        assert_eq!(Command::parse("hello /delete 7"), None);
        assert_eq!(Command::parse(""), None);
    }

    #[test]
    fn commands_wait_for_the_sign_in_then_for_the_rate_limit_then_for_their_answers() {
        let mut commands = Commands::default();
        commands.push(Command::Delete(1));
        commands.push(Command::Block { seq: 2, minutes: 5 });
        let sent = |c: Command| vec![c];
        assert!(commands.flush(sent).is_empty(), "not before the room answered");
        commands.on_event(&Event::Live, true);
        assert!(commands.flush(sent).is_empty(), "nor before the sign-in did");
        commands.on_event(&Event::Moderating("mo".parse().unwrap()), true);
        assert_eq!(commands.flush(|c| if c == Command::Delete(1) { vec![c] } else { vec![] }), [Command::Delete(1)]);
        assert_eq!(commands.flush(sent), [Command::Block { seq: 2, minutes: 5 }], "once the limit allows");
        assert!(!commands.idle(), "sent, not answered");
        assert_eq!(commands.on_event(&Event::Deleted(vec![1]), true), Some(true));
        commands.connection_lost();
        commands.on_event(&Event::Live, false);
        assert_eq!(commands.flush(sent), [Command::Block { seq: 2, minutes: 5 }], "unanswered: sent again");
        let refused = Event::Notice { code: app::protocol::ErrorCode::NotAllowed, message: String::new() };
        assert_eq!(commands.on_event(&refused, false), Some(false));
        assert!(commands.idle());
    }
}

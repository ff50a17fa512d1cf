//! The commands the terminal client takes among the lines it would post: `/delete SEQ` and
//! `/block SEQ [MINUTES]`.

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
}

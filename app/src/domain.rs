//! Validated domain types shared by the browser and the server.
//!
//! Each type can only be built through `parse`, so holding one proves the value is valid:
//! the UI uses the same functions to show the same messages the server would send back.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest username, in characters, after trimming.
pub const USERNAME_MAX_CHARS: usize = 32;
/// Longest room name, in characters.
pub const ROOM_MAX_CHARS: usize = 48;
/// Longest post, in characters, after trimming.
pub const POST_MAX_CHARS: usize = 2_000;
/// Longest client-generated post id, in characters.
pub const CLIENT_ID_MAX_CHARS: usize = 64;
/// Shortest and longest name-claim secret, in characters (the server issues 64 hex digits).
pub const CLAIM_MIN_CHARS: usize = 32;
pub const CLAIM_MAX_CHARS: usize = 128;
/// Length of a claim's public fingerprint, in hex digits.
pub const FINGERPRINT_CHARS: usize = 4;

/// Why a value was refused; each variant maps to one stable protocol error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error(
        "username must be 1–{USERNAME_MAX_CHARS} characters without control, invisible or \
         bidirectional-control characters"
    )]
    Username,
    #[error(
        "room name must be 1–{ROOM_MAX_CHARS} lowercase letters, digits or hyphens, \
         starting with a letter or digit"
    )]
    Room,
    #[error("post must be 1–{POST_MAX_CHARS} characters (after trimming spaces)")]
    Text,
    #[error("client_id must be 1–{CLIENT_ID_MAX_CHARS} characters of A–Z, a–z, 0–9, '-' or '_'")]
    ClientId,
    #[error("claim must be {CLAIM_MIN_CHARS}–{CLAIM_MAX_CHARS} characters of A–Z, a–z, 0–9, '-' or '_'")]
    Claim,
    #[error("fingerprint must be {FINGERPRINT_CHARS} lowercase hexadecimal digits")]
    Fingerprint,
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// A display name: 1–32 characters after trimming, no control, invisible or
    /// bidirectional-control characters (see [`is_hidden_char`]).
    Username
);
string_newtype!(
    /// A room's URL slug: `[a-z0-9][a-z0-9-]*`, 1–48 characters.
    RoomName
);
string_newtype!(
    /// The text of a post: 1–2,000 characters after trimming; newlines and tabs allowed.
    PostText
);
string_newtype!(
    /// The id a client gives a post so retries can be recognised: `[A-Za-z0-9_-]{1,64}`.
    ClientId
);

impl Username {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let trimmed = input.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > USERNAME_MAX_CHARS || trimmed.chars().any(|c| c.is_control() || is_hidden_char(c)) {
            return Err(ValidationError::Username);
        }
        Ok(Self(trimmed.to_owned()))
    }
}

/// Characters of Unicode general category Cf (format), Zl (line separator) or Zp (paragraph
/// separator), as inclusive ranges; Unicode 18.0.
///
/// These draw nothing or reorder the text around them, so `ali\u{200B}ce` looks like `alice`
/// and `\u{202E}` flips what follows: zero-width space and joiners, bidi marks, embeddings,
/// overrides and isolates, soft hyphen, BOM, invisible operators, tag characters.
///
/// A table instead of a Unicode-properties crate at run time: this function ships in the
/// browser bundle, where that crate's full category table would cost about 40 KB; the test
/// `hidden_chars_are_exactly_cf_zl_zp` checks every code point against `unicode-properties`.
const HIDDEN_CHARS: [(char, char); 21] = [
    ('\u{AD}', '\u{AD}'),
    ('\u{600}', '\u{605}'),
    ('\u{61C}', '\u{61C}'),
    ('\u{6DD}', '\u{6DD}'),
    ('\u{70F}', '\u{70F}'),
    ('\u{890}', '\u{891}'),
    ('\u{8E2}', '\u{8E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// True for invisible and bidirectional-control characters: general category Cf, Zl or Zp.
pub fn is_hidden_char(c: char) -> bool {
    HIDDEN_CHARS.iter().any(|&(first, last)| (first..=last).contains(&c))
}

impl RoomName {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        let first_ok = input.chars().next().is_some_and(|c| c != '-');
        if !first_ok || input.len() > ROOM_MAX_CHARS || !input.chars().all(valid_char) {
            return Err(ValidationError::Room);
        }
        Ok(Self(input.to_owned()))
    }

    /// Turns free text ("PyCon 2026!") into the closest valid room name ("pycon-2026"),
    /// or `None` when nothing usable is left.
    pub fn slugify(input: &str) -> Option<Self> {
        let mut slug = String::new();
        for c in input.trim().chars().flat_map(char::to_lowercase) {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug: String = slug.trim_end_matches('-').chars().take(ROOM_MAX_CHARS).collect();
        Self::parse(slug.trim_end_matches('-')).ok()
    }
}

impl PostText {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let trimmed = input.trim();
        let chars = trimmed.chars().count();
        let bad_control = trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
        if chars == 0 || chars > POST_MAX_CHARS || bad_control {
            return Err(ValidationError::Text);
        }
        Ok(Self(trimmed.to_owned()))
    }
}

impl ClientId {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if input.is_empty() || input.len() > CLIENT_ID_MAX_CHARS || !input.chars().all(valid_char) {
            return Err(ValidationError::ClientId);
        }
        Ok(Self(input.to_owned()))
    }
}

/// The secret that proves a name is yours: issued once by the server when the name is first
/// used, kept by the client, sent with every `join` under that name. Its `Debug` prints no
/// part of it, so a logged message never leaks one.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClaimSecret(String);

impl ClaimSecret {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        let len_ok = (CLAIM_MIN_CHARS..=CLAIM_MAX_CHARS).contains(&input.len());
        if !len_ok || !input.chars().all(valid_char) {
            return Err(ValidationError::Claim);
        }
        Ok(Self(input.to_owned()))
    }

    /// The secret itself: for sending it, storing it client-side, or hashing it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClaimSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClaimSecret(…)")
    }
}

impl TryFrom<String> for ClaimSecret {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClaimSecret> for String {
    fn from(value: ClaimSecret) -> String {
        value.0
    }
}

string_newtype!(
    /// A claim's public fingerprint: 4 lowercase hex digits derived from the claim's id, shown
    /// beside the name so two holders of look-alike names are told apart.
    Fingerprint
);

impl Fingerprint {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if input.len() != FINGERPRINT_CHARS || !input.chars().all(hex) {
            return Err(ValidationError::Fingerprint);
        }
        Ok(Self(input.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_is_trimmed_and_bounded() {
        assert_eq!(Username::parse("  alice ").unwrap().as_str(), "alice");
        assert_eq!(Username::parse(&"é".repeat(32)).unwrap().as_str().chars().count(), 32);
        assert_eq!(Username::parse(&"é".repeat(33)), Err(ValidationError::Username));
        assert_eq!(Username::parse("   "), Err(ValidationError::Username));
        assert_eq!(Username::parse(""), Err(ValidationError::Username));
        assert_eq!(Username::parse("bob\u{7}"), Err(ValidationError::Username));
        assert_eq!(Username::parse("a\nb"), Err(ValidationError::Username));
    }

    #[test]
    fn username_refuses_invisible_and_bidi_characters() {
        for bad in [
            "ali\u{200B}ce",  // zero-width space (Cf)
            "\u{202E}evil",   // right-to-left override (Cf)
            "a\u{2028}b",     // line separator (Zl)
            "a\u{2029}b",     // paragraph separator (Zp)
            "a\u{00AD}b",     // soft hyphen (Cf)
            "a\u{2066}b",     // left-to-right isolate (Cf)
            "a\u{200D}b",     // zero-width joiner (Cf)
            "\u{FEFF}bob",    // byte order mark (Cf)
            "al\u{E0041}ice", // tag character (Cf)
        ] {
            assert_eq!(Username::parse(bad), Err(ValidationError::Username), "{bad:?}");
        }
    }

    #[test]
    fn hidden_chars_are_exactly_cf_zl_zp() {
        use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let expected = matches!(
                c.general_category(),
                GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
            );
            assert_eq!(is_hidden_char(c), expected, "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn username_accepts_letters_of_any_script() {
        for good in ["Zoë", "李雷", "José María", "Ångström", "Алиса", "أحمد"] {
            assert_eq!(Username::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn room_is_a_slug() {
        assert!(RoomName::parse("pycon-2026").is_ok());
        assert!(RoomName::parse("a").is_ok());
        assert!(RoomName::parse(&"r".repeat(48)).is_ok());
        for bad in ["", "-lead", "Upper", "with space", "ümlaut", "a/b", &"r".repeat(49)] {
            assert_eq!(RoomName::parse(bad), Err(ValidationError::Room), "{bad:?}");
        }
    }

    #[test]
    fn slugify_suggests_a_valid_room() {
        assert_eq!(RoomName::slugify("PyCon 2026!").unwrap().as_str(), "pycon-2026");
        assert_eq!(RoomName::slugify("  --Hello--World  ").unwrap().as_str(), "hello-world");
        assert_eq!(RoomName::slugify(&"ab ".repeat(40)).unwrap().as_str().len(), 47);
        assert_eq!(RoomName::slugify("!!!"), None);
    }

    #[test]
    fn post_text_is_trimmed_and_bounded() {
        assert_eq!(PostText::parse("  hi\n there ").unwrap().as_str(), "hi\n there");
        assert!(PostText::parse(&"x".repeat(2_000)).is_ok());
        assert_eq!(PostText::parse(&"x".repeat(2_001)), Err(ValidationError::Text));
        assert_eq!(PostText::parse(" \n\t "), Err(ValidationError::Text));
        assert_eq!(PostText::parse("nul\0byte"), Err(ValidationError::Text));
    }

    #[test]
    fn client_id_is_a_token() {
        assert!(ClientId::parse("3f2a-b_C9").is_ok());
        assert_eq!(ClientId::parse(""), Err(ValidationError::ClientId));
        assert_eq!(ClientId::parse("a b"), Err(ValidationError::ClientId));
        assert_eq!(ClientId::parse(&"a".repeat(65)), Err(ValidationError::ClientId));
    }

    #[test]
    fn deserialising_validates() {
        let ok: Result<RoomName, _> = serde_json::from_str("\"lobby\"");
        assert!(ok.is_ok());
        let bad: Result<RoomName, _> = serde_json::from_str("\"Not A Slug\"");
        assert!(bad.unwrap_err().to_string().contains("room name"));
    }

    #[test]
    fn a_claim_is_a_long_token_that_debug_never_shows() {
        let secret = "0123456789abcdef".repeat(4);
        let claim = ClaimSecret::parse(&secret).unwrap();
        assert_eq!(claim.expose(), secret);
        assert!(!format!("{claim:?}").contains("0123"), "Debug must not print the secret");
        assert_eq!(ClaimSecret::parse(&"a".repeat(31)), Err(ValidationError::Claim));
        assert_eq!(ClaimSecret::parse(&"a".repeat(129)), Err(ValidationError::Claim));
        assert_eq!(ClaimSecret::parse(&format!("{}!", "a".repeat(40))), Err(ValidationError::Claim));
    }

    #[test]
    fn a_fingerprint_is_four_lowercase_hex_digits() {
        assert!(Fingerprint::parse("0a9f").is_ok());
        for bad in ["", "0a9", "0a9f0", "0A9F", "0a9g"] {
            assert_eq!(Fingerprint::parse(bad), Err(ValidationError::Fingerprint), "{bad:?}");
        }
    }
}

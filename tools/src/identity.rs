//! `--identity PATH`: the terminal client's claims, kept across runs. A JSON object from each
//! name (lowercased, as the browser keys them) to its claim's secret, readable and writable
//! by its owner only (mode 0600): whoever reads it can post under those names.

use app::domain::{ClaimSecret, Username};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The claims file at a path; it need not exist yet.
#[derive(Debug, Clone)]
pub struct Identity {
    path: PathBuf,
}

type Claims = BTreeMap<String, String>;

fn key(name: &Username) -> String {
    name.as_str().to_lowercase()
}

impl Identity {
    pub fn at(path: &Path) -> Self {
        Self { path: path.to_owned() }
    }

    /// The secret kept for `name`; `None` when the file or the name is not there yet.
    pub fn claim(&self, name: &Username) -> Result<Option<ClaimSecret>, String> {
        let claims = self.read()?;
        let Some(secret) = claims.get(&key(name)) else { return Ok(None) };
        ClaimSecret::parse(secret)
            .map(Some)
            .map_err(|e| format!("{}: the claim for {name:?}: {e}", self.path.display()))
    }

    /// Keeps `claim` for `name` (creating the file, mode 0600), replacing any earlier one.
    /// Written to a new file that then replaces the old, so a crash leaves one or the other.
    pub fn keep(&self, name: &Username, claim: &ClaimSecret) -> Result<(), String> {
        let mut claims = self.read()?;
        claims.insert(key(name), claim.expose().to_owned());
        let json = serde_json::to_string_pretty(&claims).map_err(|e| e.to_string())?;
        let fail = |e: std::io::Error| format!("{}: {e}", self.path.display());
        let fresh = self.path.with_extension("new");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&fresh)
            .map_err(fail)?;
        file.write_all(json.as_bytes()).and_then(|()| file.sync_all()).map_err(fail)?;
        std::fs::rename(&fresh, &self.path).map_err(fail)
    }

    fn read(&self) -> Result<Claims, String> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|e| format!("{}: not a claims file: {e}", self.path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Claims::new()),
            Err(e) => Err(format!("{}: {e}", self.path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_kept_claim_is_read_back_by_any_case_of_its_name_from_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity::at(&dir.path().join("me.json"));
        let alice: Username = "Alice".parse().unwrap();
        assert_eq!(identity.claim(&alice).unwrap(), None, "no file yet");
        let secret = ClaimSecret::parse(&"ab".repeat(32)).unwrap();
        identity.keep(&alice, &secret).unwrap();
        assert_eq!(identity.claim(&"alice".parse().unwrap()).unwrap(), Some(secret));
        assert_eq!(identity.claim(&"bob".parse().unwrap()).unwrap(), None);
        let mode = std::fs::metadata(dir.path().join("me.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

//! The bundle's stamp: a hash of every file in `pkg/`. Pages name their JS, WASM and CSS
//! under `/v/{stamp}/pkg/…`, so one URL always means one build's bytes, and a browser may
//! keep what it got for a year without asking again; a rebuild changes the stamp, and pages
//! rendered after it name the new files. (cargo-leptos' own `hash-files` names the main JS
//! and WASM before it writes the split loader's name into them, so their names do not always
//! change with their bytes.)
//!
//! The files are looked at again every second off the async threads (`cargo leptos watch`
//! rebuilds them under a running server), and read and hashed again only when one's size or
//! time changed; a request only reads the stamp.

use super::kept::{Assets, Kept};
use std::hash::{DefaultHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How often the files are looked at.
const RECHECK: Duration = Duration::from_secs(1);

/// A file's name, size and time.
type Listed = (String, u64, SystemTime);

/// The current stamp of a `pkg/` directory; cloneable.
#[derive(Clone)]
pub struct Stamp {
    assets: Assets,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// The files hashed into `stamp`, by name.
    files: Vec<Listed>,
    stamp: Option<String>,
}

impl Stamp {
    /// The stamp of `assets`' directory, taken now, then kept current by a task that ends
    /// with the last handle.
    pub fn new(assets: Assets) -> Self {
        let stamp = Self { assets, state: Arc::default() };
        stamp.look();
        let (assets, state) = (stamp.assets.clone(), Arc::downgrade(&stamp.state));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RECHECK).await;
                let Some(state) = state.upgrade() else { return };
                let stamp = Self { assets: assets.clone(), state };
                let _ = tokio::task::spawn_blocking(move || stamp.look()).await;
            }
        });
        stamp
    }

    /// The stamp of the files there at the last look; `None` without a `pkg/` directory (or
    /// with an empty one).
    pub fn current(&self) -> Option<String> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stamp.clone()
    }

    /// Where pages find the bundle, before `/pkg/…`: `/v/{stamp}`, or nothing (the files as
    /// they are, revalidated on each visit) without a stamp.
    pub fn root(&self) -> String {
        self.current().map_or_else(String::new, |stamp| format!("/v/{stamp}"))
    }

    /// True if `asked` is the current stamp and `kept` was made from the very file it hashed:
    /// only then may the answer be kept for good.
    pub(super) fn vouches_for(&self, asked: &str, name: &str, kept: &Kept) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (len, modified) = kept.source();
        state.stamp.as_deref() == Some(asked)
            && state.files.iter().any(|(n, l, m)| n == name && *l == len && *m == modified)
    }

    pub(super) fn assets(&self) -> &Assets {
        &self.assets
    }

    /// Lists the files and, if any changed, hashes them. Blocking.
    fn look(&self) {
        let files = self.assets.listing();
        if files == self.state.lock().unwrap_or_else(|e| e.into_inner()).files {
            return;
        }
        // A file that cannot be read (or is being replaced) is looked at again next time.
        let Some(stamp) = self.hash(&files) else { return };
        self.assets.forget_all_but(&files);
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = State { files, stamp: Some(stamp) };
    }

    /// Every file's name and bytes, hashed; `None` if there is none, one cannot be read, or
    /// one's size is not the one listed (a rebuild under way).
    fn hash(&self, files: &[Listed]) -> Option<String> {
        if files.is_empty() {
            return None;
        }
        let mut hasher = DefaultHasher::new();
        for (name, len, _) in files {
            let bytes = std::fs::read(self.assets.path(name)).ok().filter(|b| b.len() as u64 == *len)?;
            hasher.write(name.as_bytes());
            hasher.write_usize(bytes.len());
            hasher.write(&bytes);
        }
        Some(format!("{:016x}", hasher.finish()))
    }
}

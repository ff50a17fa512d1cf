//! The bundle's stamp: a hash of every file in `pkg/`. Pages name their JS, WASM and CSS
//! under `/v/{stamp}/pkg/…`, so one URL always means one build's bytes, and a browser may
//! keep what it got for a year without asking again; a rebuild changes the stamp, and pages
//! rendered after it name the new files. (cargo-leptos' own `hash-files` names the main JS
//! and WASM before it writes the split loader's name into them, so their names do not always
//! change with their bytes.)
//!
//! The files are looked at again at most once a second (`cargo leptos watch` rebuilds them
//! under a running server), and read and hashed again only when one's size or time changed.
//! Each build is compressed (brotli) as soon as it is seen, in the background, so the first
//! visitor after a start or a rebuild gets it compressed too.

use super::kept::Assets;
use super::Encoding;
use std::hash::{DefaultHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long a look at the files stands.
const RECHECK: Duration = Duration::from_secs(1);

/// The current stamp of a `pkg/` directory; cloneable.
#[derive(Clone)]
pub struct Stamp {
    assets: Assets,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    checked: Option<Instant>,
    /// Each file's name, size and time when the stamp was made, by name.
    files: Vec<(String, u64, SystemTime)>,
    stamp: Option<String>,
}

impl Stamp {
    /// The stamp of `assets`' directory, taken now (and its files' compression started).
    pub fn new(assets: Assets) -> Self {
        let stamp = Self { assets, state: Arc::default() };
        stamp.current();
        stamp
    }

    /// The stamp of the files there now; `None` without a `pkg/` directory (or an empty one).
    pub fn current(&self) -> Option<String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.checked.is_some_and(|at| at.elapsed() < RECHECK) {
            return state.stamp.clone();
        }
        state.checked = Some(Instant::now());
        let files = self.assets.listing();
        if files != state.files {
            state.stamp = self.hash(&files);
            for (name, _, modified) in &files {
                self.assets.compress_later(name, Encoding::Brotli, *modified);
            }
            state.files = files;
        }
        state.stamp.clone()
    }

    pub fn assets(&self) -> &Assets {
        &self.assets
    }

    /// Where pages find the bundle, before `/pkg/…`: `/v/{stamp}`, or nothing (the files as
    /// they are, revalidated on each visit) without a stamp.
    pub fn root(&self) -> String {
        self.current().map_or_else(String::new, |stamp| format!("/v/{stamp}"))
    }

    /// Every file's name and bytes, hashed; `None` if there is none or one cannot be read.
    fn hash(&self, files: &[(String, u64, SystemTime)]) -> Option<String> {
        if files.is_empty() {
            return None;
        }
        let mut hasher = DefaultHasher::new();
        for (name, _, _) in files {
            let bytes = std::fs::read(self.assets.path(name)).ok()?;
            hasher.write(name.as_bytes());
            hasher.write_usize(bytes.len());
            hasher.write(&bytes);
        }
        Some(format!("{:016x}", hasher.finish()))
    }
}

//! The `pkg/` files as served: read once, compressed once per encoding off the async
//! threads, and kept until the file on disk changes.

use super::Encoding;
use axum::body::Bytes;
use axum::http::HeaderValue;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Brotli quality: the best. It costs a few seconds of one core for the whole bundle, once
/// per build and in the background, and saves a tenth of the bytes on every first visit.
const BROTLI_QUALITY: u32 = 11;

/// One file in one encoding, as it was on disk when it was read.
pub(super) struct Kept {
    modified: SystemTime,
    /// The size of the file it was made from.
    source_len: u64,
    pub(super) etag: HeaderValue,
    pub(super) bytes: Bytes,
}

impl Kept {
    /// The size and time of the file this was made from.
    pub(super) fn source(&self) -> (u64, SystemTime) {
        (self.source_len, self.modified)
    }
}

/// Each file kept, by name and encoding.
type KeptFiles = HashMap<(String, Encoding), Arc<Kept>>;

/// The `pkg/` directory's files, compressed as asked; cloneable.
#[derive(Clone)]
pub struct Assets {
    dir: PathBuf,
    kept: Arc<Mutex<KeptFiles>>,
    /// Files being compressed now, so each is compressed once however many ask meanwhile.
    compressing: Arc<Mutex<HashSet<(String, Encoding)>>>,
}

impl Assets {
    /// Serves the files of `site_root/pkg`.
    pub fn new(site_root: &str) -> Self {
        Self { dir: PathBuf::from(site_root).join("pkg"), kept: Arc::default(), compressing: Arc::default() }
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The directory's servable files (see [`super::plain_name`]): name, size and time, by
    /// name; empty if there is no directory.
    pub(super) fn listing(&self) -> Vec<(String, u64, SystemTime)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut files: Vec<_> = entries
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let meta = entry.metadata().ok().filter(|m| m.is_file())?;
                let name = entry.file_name().into_string().ok().filter(|n| super::plain_name(n))?;
                Some((name, meta.len(), meta.modified().ok()?))
            })
            .collect();
        files.sort();
        files
    }

    /// Forgets every file kept but `listed` (a rebuild's hashed chunk names replace the old):
    /// what is kept is bounded by the build there now, not by every build seen.
    pub(super) fn forget_all_but(&self, listed: &[(String, u64, SystemTime)]) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|(name, _), _| listed.iter().any(|(n, _, _)| n == name));
    }

    /// The file in `encoding` if it is kept and the file on disk is unchanged; else the file
    /// as it is (`Identity`), while `encoding` is made in the background.
    pub(super) async fn get(&self, name: &str, encoding: Encoding) -> std::io::Result<(Encoding, Arc<Kept>)> {
        let path = self.dir.join(name);
        let modified = tokio::fs::metadata(&path).await?.modified()?;
        if let Some(kept) = self.kept_fresh(name, encoding, modified) {
            return Ok((encoding, kept));
        }
        if encoding != Encoding::Identity {
            self.compress_later(name, encoding, modified);
        }
        if let Some(kept) = self.kept_fresh(name, Encoding::Identity, modified) {
            return Ok((Encoding::Identity, kept));
        }
        let raw = tokio::fs::read(&path).await?;
        Ok((Encoding::Identity, self.keep(name, Encoding::Identity, modified, raw.len() as u64, raw)))
    }

    fn kept_fresh(&self, name: &str, encoding: Encoding, modified: SystemTime) -> Option<Arc<Kept>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&(name.to_owned(), encoding)).filter(|k| k.modified == modified).cloned()
    }

    fn keep(&self, name: &str, encoding: Encoding, modified: SystemTime, source_len: u64, bytes: Vec<u8>) -> Arc<Kept> {
        let stamp = modified.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let suffix = encoding.token().map_or(String::new(), |t| format!("-{t}"));
        // Hex digits, a dash and a token: always a valid header value.
        let etag = HeaderValue::from_str(&format!("\"{stamp:x}-{:x}{suffix}\"", bytes.len()))
            .unwrap_or(HeaderValue::from_static("\"0\""));
        let kept = Arc::new(Kept { modified, source_len, etag, bytes: Bytes::from(bytes) });
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).insert((name.to_owned(), encoding), Arc::clone(&kept));
        kept
    }

    /// Compresses the file in the background, once however many ask meanwhile.
    pub(super) fn compress_later(&self, name: &str, encoding: Encoding, modified: SystemTime) {
        let key = (name.to_owned(), encoding);
        if !self.compressing.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone()) {
            return;
        }
        let (assets, name) = (self.clone(), name.to_owned());
        tokio::spawn(async move {
            let made = match tokio::fs::read(assets.dir.join(&name)).await {
                Ok(raw) => tokio::task::spawn_blocking(move || Ok((raw.len(), compress(&raw, encoding)?)))
                    .await
                    .map_err(Into::into),
                Err(e) => Err(e),
            };
            match made.and_then(|r| r) {
                Ok((len, bytes)) => _ = assets.keep(&name, encoding, modified, len as u64, bytes),
                Err(e) => tracing::warn!(error = %e, file = %name, "compressing an asset failed; it goes out as it is"),
            }
            assets.compressing.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        });
    }
}

fn compress(raw: &[u8], encoding: Encoding) -> std::io::Result<Vec<u8>> {
    match encoding {
        Encoding::Identity => Ok(raw.to_vec()),
        Encoding::Gzip => {
            let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            out.write_all(raw)?;
            out.finish()
        }
        Encoding::Brotli => {
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams { quality: BROTLI_QUALITY as i32, ..Default::default() };
            brotli::BrotliCompress(&mut &raw[..], &mut out, &params)?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Assets, Encoding};

    #[tokio::test]
    async fn files_a_rebuild_removed_are_forgotten() {
        let site = tempfile::tempdir().unwrap();
        std::fs::create_dir(site.path().join("pkg")).unwrap();
        for name in ["chunk_old.wasm", "chunk_new.wasm"] {
            std::fs::write(site.path().join("pkg").join(name), name).unwrap();
        }
        let assets = Assets::new(site.path().to_str().unwrap());
        for name in ["chunk_old.wasm", "chunk_new.wasm"] {
            assets.get(name, Encoding::Identity).await.unwrap();
        }
        std::fs::remove_file(site.path().join("pkg/chunk_old.wasm")).unwrap();
        assets.forget_all_but(&assets.listing());
        let kept = assets.kept.lock().unwrap();
        let names: Vec<_> = kept.keys().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["chunk_new.wasm"]);
    }
}

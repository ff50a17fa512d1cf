//! `GET /pkg/{file}`: the app's JS, WASM and CSS, compressed once and kept. The first time
//! a browser asks for a file in an encoding (brotli, or gzip for a browser without it), the
//! file goes out as it is while it is compressed off the async threads; from then on every
//! request gets the kept bytes: the 1.2 MB WASM bundle travels as about a third of that,
//! and costs one compression per build, not one per visit. No request ever waits for a
//! compressor (a page waiting on its bundle is a page that cannot be used yet).
//!
//! Names carry no content hash, so responses say `no-cache` with an `ETag`: a second visit
//! revalidates and gets `304 Not Modified` with no body.
//!
//! Memory is bounded by the build: only files that exist in `pkg/` are kept, each in at most
//! three encodings; a file that changes on disk (a rebuild) replaces its entries.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Brotli quality: the best. It costs a few seconds of one core for the whole bundle, once
/// per build and in the background, and saves a tenth of the bytes on every first visit.
const BROTLI_QUALITY: u32 = 11;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// The best the request accepts (`br`, then `gzip`).
    fn chosen(headers: &HeaderMap) -> Self {
        let accepted = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
        let offers = |name: &str| {
            accepted.split(',').any(|part| {
                let mut fields = part.split(';').map(str::trim);
                let named = fields.next() == Some(name);
                named && !fields.any(|f| f.replace(' ', "") == "q=0")
            })
        };
        if offers("br") {
            Encoding::Brotli
        } else if offers("gzip") {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }

    fn token(self) -> Option<&'static str> {
        match self {
            Encoding::Brotli => Some("br"),
            Encoding::Gzip => Some("gzip"),
            Encoding::Identity => None,
        }
    }
}

/// One file in one encoding, as it was on disk when it was read.
struct Kept {
    modified: SystemTime,
    etag: HeaderValue,
    bytes: Bytes,
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

    /// The file in `encoding` if it is kept and the file on disk is unchanged; else the file
    /// as it is (`Identity`), while `encoding` is made in the background.
    async fn get(&self, name: &str, encoding: Encoding) -> std::io::Result<(Encoding, Arc<Kept>)> {
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
        Ok((Encoding::Identity, self.keep(name, Encoding::Identity, modified, raw)))
    }

    fn kept_fresh(&self, name: &str, encoding: Encoding, modified: SystemTime) -> Option<Arc<Kept>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&(name.to_owned(), encoding)).filter(|k| k.modified == modified).cloned()
    }

    fn keep(&self, name: &str, encoding: Encoding, modified: SystemTime, bytes: Vec<u8>) -> Arc<Kept> {
        let stamp = modified.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let suffix = encoding.token().map_or(String::new(), |t| format!("-{t}"));
        // Hex digits, a dash and a token: always a valid header value.
        let etag = HeaderValue::from_str(&format!("\"{stamp:x}-{:x}{suffix}\"", bytes.len()))
            .unwrap_or(HeaderValue::from_static("\"0\""));
        let kept = Arc::new(Kept { modified, etag, bytes: Bytes::from(bytes) });
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).insert((name.to_owned(), encoding), Arc::clone(&kept));
        kept
    }

    /// Compresses the file in the background, once however many ask meanwhile.
    fn compress_later(&self, name: &str, encoding: Encoding, modified: SystemTime) {
        let key = (name.to_owned(), encoding);
        if !self.compressing.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone()) {
            return;
        }
        let (assets, name) = (self.clone(), name.to_owned());
        tokio::spawn(async move {
            let made = match tokio::fs::read(assets.dir.join(&name)).await {
                Ok(raw) => tokio::task::spawn_blocking(move || compress(&raw, encoding)).await.map_err(Into::into),
                Err(e) => Err(e),
            };
            match made.and_then(|r| r) {
                Ok(bytes) => _ = assets.keep(&name, encoding, modified, bytes),
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

/// True for a plain file name: no directories, no `..`, nothing hidden.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

pub async fn serve(State(assets): State<Assets>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    if !plain_name(&name) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (encoding, kept) = match assets.get(&name, Encoding::chosen(&headers)).await {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, file = %name, "serving an asset failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut response = if headers.get(header::IF_NONE_MATCH) == Some(&kept.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = kept.bytes.clone().into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&name)));
        if let Some(token) = encoding.token() {
            response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
        }
        response
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, kept.etag.clone());
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(accept: &str) -> Encoding {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, accept.parse().unwrap());
        Encoding::chosen(&headers)
    }

    #[test]
    fn the_best_accepted_encoding_is_chosen() {
        assert_eq!(chosen("gzip, deflate, br, zstd"), Encoding::Brotli);
        assert_eq!(chosen("gzip"), Encoding::Gzip);
        assert_eq!(chosen("br;q=0, gzip"), Encoding::Gzip, "q=0 refuses");
        assert_eq!(chosen("identity"), Encoding::Identity);
        assert_eq!(Encoding::chosen(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn only_plain_names_in_the_directory_are_served() {
        assert!(plain_name("wallsocket.wasm") && plain_name("chunk_5.wasm") && plain_name("__wasm_split.___.js"));
        for bad in ["../Cargo.toml", "a/b.js", ".hidden", "", "%2e%2e"] {
            assert!(!plain_name(bad), "{bad}");
        }
    }
}

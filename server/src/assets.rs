//! `GET /pkg/{file}`: the app's JS, WASM and CSS, compressed once and kept. Each file is
//! compressed the first time a browser asks for it (brotli, or gzip for a browser without
//! it), off the async threads, and the bytes are kept for every later request: the 1 MB
//! WASM bundle travels as about a third of that, and costs one compression per build, not
//! one per visit. Names carry no content hash, so responses say `no-cache` with an `ETag`:
//! a second visit revalidates and gets `304 Not Modified` with no body.
//!
//! Memory is bounded by the build: only files that exist in `pkg/` are kept, each in at most
//! three encodings; a file that changes on disk (a rebuild) replaces its entries.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Brotli quality: 9 is within a few percent of 11's size at a fraction of its time (the
/// bundle compresses in well under a second, once).
const BROTLI_QUALITY: u32 = 9;

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
}

impl Assets {
    /// Serves the files of `site_root/pkg`.
    pub fn new(site_root: &str) -> Self {
        Self { dir: PathBuf::from(site_root).join("pkg"), kept: Arc::default() }
    }

    /// The file in `encoding`, from memory while the file on disk is unchanged.
    async fn get(&self, name: &str, encoding: Encoding) -> std::io::Result<Arc<Kept>> {
        let path = self.dir.join(name);
        let modified = tokio::fs::metadata(&path).await?.modified()?;
        let key = (name.to_owned(), encoding);
        if let Some(kept) = self.kept.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            if kept.modified == modified {
                return Ok(Arc::clone(kept));
            }
        }
        let raw = tokio::fs::read(&path).await?;
        let bytes =
            tokio::task::spawn_blocking(move || compress(&raw, encoding)).await.map_err(std::io::Error::other)??;
        let stamp = modified.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let suffix = encoding.token().map_or(String::new(), |t| format!("-{t}"));
        let etag = HeaderValue::from_str(&format!("\"{stamp:x}-{:x}{suffix}\"", bytes.len()))
            .map_err(std::io::Error::other)?;
        let kept = Arc::new(Kept { modified, etag, bytes: Bytes::from(bytes) });
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).insert(key, Arc::clone(&kept));
        Ok(kept)
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
    let encoding = Encoding::chosen(&headers);
    let kept = match assets.get(&name, encoding).await {
        Ok(kept) => kept,
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

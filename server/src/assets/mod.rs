//! The app's JS, WASM and CSS, compressed once and kept (`kept.rs`), under two addresses:
//!
//! - `GET /v/{stamp}/pkg/{file}`, which pages use: the stamp is the hash of the whole build
//!   (`stamp.rs`), so while it is the current one, and the file is the one it hashed, the
//!   answer is `immutable`, cached for a year, and a second visit asks for nothing. Any other
//!   stamp (a page rendered before a rebuild) gets the files there now, revalidated like below.
//! - `GET /pkg/{file}`: the files as they are, `no-cache` with an `ETag`, so a browser
//!   revalidates and gets `304 Not Modified` with no body.
//!
//! The first time a browser asks for a file in an encoding (brotli, or gzip for a browser
//! without it) that is not made yet, the file goes out as it is while it is compressed off the
//! async threads: no request ever waits for a compressor (a page waiting on its bundle is a
//! page that cannot be used yet). Not before: compressing the WASM at brotli 11 leaves
//! 60–90 MB with the allocator, which a server nobody loads pages from need not carry.
//!
//! Memory is bounded by the build: only files that exist in `pkg/` are kept, each in at most
//! three encodings; a file that changes on disk (a rebuild) replaces its entries, and files a
//! rebuild removed are forgotten at the stamp's next look.

mod kept;
mod stamp;

pub use kept::Assets;
use kept::Kept;
pub use stamp::Stamp;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// For a URL that names one build's bytes.
const FOR_GOOD: &str = "public, max-age=31536000, immutable";

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

/// `GET /pkg/{file}`: revalidated on every visit.
pub async fn serve(State(assets): State<Assets>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    respond(&assets, &name, &headers, |_| "no-cache").await
}

/// `GET /v/{stamp}/pkg/{file}`: kept for good while `stamp` is the build's.
pub async fn serve_stamped(
    State(stamp): State<Stamp>,
    Path((asked, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let cache = |kept: &Kept| if stamp.vouches_for(&asked, &name, kept) { FOR_GOOD } else { "no-cache" };
    respond(stamp.assets(), &name, &headers, cache).await
}

async fn respond(assets: &Assets, name: &str, headers: &HeaderMap, cache: impl Fn(&Kept) -> &'static str) -> Response {
    if !plain_name(name) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (encoding, kept) = match assets.get(name, Encoding::chosen(headers)).await {
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
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
        if let Some(token) = encoding.token() {
            response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
        }
        response
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, kept.etag.clone());
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache(&kept)));
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

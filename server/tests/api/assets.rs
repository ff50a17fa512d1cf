//! `/pkg/*`: the app's files go out compressed (brotli, else gzip) once the server has
//! compressed them (no request waits for that: meanwhile it gets the file as it is), and a
//! browser that has them gets `304` with no body. Pages name them under the build's stamp,
//! `/v/{stamp}/pkg/*`, kept for good until a rebuild changes the stamp.

use crate::helpers::spawn_app_with;
use std::io::Read;
use std::sync::Arc;

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Asks until the answer comes in `encoding`: the first ask starts the compression and gets
/// the file as it is. Fails the test after 10 s.
async fn get_encoded(url: &str, encoding: &str) -> reqwest::Response {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let response = get(url, &[("accept-encoding", encoding)]).await;
        if header(&response, "content-encoding").as_deref() == Some(encoding) {
            return response;
        }
        assert!(tokio::time::Instant::now() < deadline, "{url} never came in {encoding}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The body as text, brotli-decoded if it came so (a request that finds the compressed copy
/// of a rebuilt file already made gets it compressed).
async fn decoded(response: reqwest::Response) -> String {
    let br = header(&response, "content-encoding").as_deref() == Some("br");
    let body = response.bytes().await.unwrap();
    let mut text = String::new();
    if br {
        brotli::Decompressor::new(&body[..], 4096).read_to_string(&mut text).unwrap();
    } else {
        text = String::from_utf8(body.to_vec()).unwrap();
    }
    text
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_bundle_goes_out_compressed_and_a_second_visit_downloads_nothing() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    let js: String = (0..2_000).map(|i| format!("export const value{i} = {i};\n")).collect();
    std::fs::write(site.path().join("pkg/app.js"), &js).unwrap();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir, &["--site-root", site.path().to_str().unwrap()]).await;
    let url = app.http_url("/pkg/app.js");

    let br = get_encoded(&url, "br").await;
    assert_eq!(br.status(), 200);
    assert_eq!(header(&br, "content-type").as_deref(), Some("text/javascript; charset=utf-8"));
    assert_eq!(header(&br, "cache-control").as_deref(), Some("no-cache"));
    let etag = header(&br, "etag").expect("an ETag");
    let body = br.bytes().await.unwrap();
    assert!(body.len() * 5 < js.len(), "compressed: {} of {} bytes", body.len(), js.len());
    let mut unpacked = String::new();
    brotli::Decompressor::new(&body[..], 4096).read_to_string(&mut unpacked).unwrap();
    assert_eq!(unpacked, js);

    let again = get(&url, &[("accept-encoding", "br"), ("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304, "the browser's copy is current");
    assert!(again.bytes().await.unwrap().is_empty());

    let gzip = get_encoded(&url, "gzip").await;
    assert_ne!(header(&gzip, "etag"), Some(etag.clone()), "each encoding is its own representation");
    let mut unpacked = String::new();
    flate2::read::GzDecoder::new(&gzip.bytes().await.unwrap()[..]).read_to_string(&mut unpacked).unwrap();
    assert_eq!(unpacked, js);

    let plain = get(&url, &[]).await;
    assert_eq!(header(&plain, "content-encoding"), None);
    assert_eq!(plain.text().await.unwrap(), js);

    // A rebuild replaces the file: the next request gets the new one, under a new ETag.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(site.path().join("pkg/app.js"), "export const rebuilt = true;\n").unwrap();
    let fresh = get(&url, &[("accept-encoding", "br"), ("if-none-match", &etag)]).await;
    assert_eq!(fresh.status(), 200);
    assert_eq!(decoded(fresh).await, "export const rebuilt = true;\n", "the old compressed copy is not served");
    let mut unpacked = String::new();
    brotli::Decompressor::new(&get_encoded(&url, "br").await.bytes().await.unwrap()[..], 4096)
        .read_to_string(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, "export const rebuilt = true;\n");

    for missing in ["/pkg/nothing.js", "/pkg/..%2FCargo.toml", "/pkg/.hidden"] {
        assert_eq!(get(&app.http_url(missing), &[]).await.status(), 404, "{missing}");
    }
}

#[tokio::test]
async fn pages_are_compressed_on_the_way_out_and_nothing_else_is() {
    let app = crate::helpers::spawn_app().await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    alice.post("lobby", "a post to find in the compressed page", "z-1").await;

    let page = get(&app.http_url("/r/lobby"), &[("accept-encoding", "br")]).await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-encoding").as_deref(), Some("br"));
    let body = page.bytes().await.unwrap();
    let mut html = String::new();
    brotli::Decompressor::new(&body[..], 4096).read_to_string(&mut html).unwrap();
    assert!(html.contains("a post to find in the compressed page"));
    assert!(body.len() * 2 < html.len(), "compressed: {} of {} bytes", body.len(), html.len());

    let plain = get(&app.http_url("/r/lobby"), &[]).await;
    assert_eq!(header(&plain, "content-encoding"), None, "only when the browser asks");
    for path in ["/health", "/x/poll"] {
        let other = get(&app.http_url(path), &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(header(&other, "content-encoding"), None, "{path} is not a page");
    }
}

/// The stamp a page names its bundle under, with the page's HTML.
async fn page_stamp(app: &crate::helpers::TestApp) -> (Option<String>, String) {
    let html = get(&app.http_url("/r/lobby"), &[]).await.text().await.unwrap();
    let stamp = html.split("/v/").nth(1).and_then(|rest| rest.split_once("/pkg/")).map(|(s, _)| s.to_owned());
    (stamp, html)
}

#[tokio::test]
async fn pages_name_the_bundle_under_its_stamp_kept_for_good_until_a_rebuild() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    for (name, body) in [("wallsocket.js", "export {};"), ("wallsocket.wasm", "\0asm"), ("wallsocket.css", "p {}")] {
        std::fs::write(site.path().join("pkg").join(name), body).unwrap();
    }
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir, &["--site-root", site.path().to_str().unwrap()]).await;

    let (stamp, html) = page_stamp(&app).await;
    let stamp = stamp.unwrap_or_else(|| panic!("no stamped bundle in the page:\n{html}"));
    for file in ["wallsocket.js", "wallsocket.css"] {
        assert!(html.contains(&format!("\"/v/{stamp}/pkg/{file}\"")), "{file} under the stamp:\n{html}");
    }
    // (`wallsocket_bg.wasm` unless the build had cargo-leptos' LEPTOS_OUTPUT_NAME, as test.sh's has.)
    let wasm = ["wallsocket.wasm", "wallsocket_bg.wasm"].map(|file| format!("\"/v/{stamp}/pkg/{file}\""));
    assert!(wasm.iter().any(|w| html.contains(w)), "the WASM under the stamp:\n{html}");
    let css = get(&app.http_url(&format!("/v/{stamp}/pkg/wallsocket.css")), &[]).await;
    assert_eq!(css.status(), 200);
    assert_eq!(header(&css, "cache-control").as_deref(), Some("public, max-age=31536000, immutable"));
    assert_eq!(css.text().await.unwrap(), "p {}");
    let plain = get(&app.http_url("/pkg/wallsocket.css"), &[]).await;
    assert_eq!(header(&plain, "cache-control").as_deref(), Some("no-cache"), "unstamped: revalidated");

    // A rebuild: pages name a new stamp (within the stamp's and the page cache's second each).
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(site.path().join("pkg/wallsocket.css"), "p { color: black }").unwrap();
    // Before the server has looked again, the new file is not vouched for by the old stamp.
    let racing = get(&app.http_url(&format!("/v/{stamp}/pkg/wallsocket.css")), &[]).await;
    assert_eq!(header(&racing, "cache-control").as_deref(), Some("no-cache"), "not the file hashed: not for good");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let rebuilt = loop {
        match page_stamp(&app).await {
            (Some(now), _) if now != stamp => break now,
            _ => assert!(tokio::time::Instant::now() < deadline, "the page never named the rebuilt bundle"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let new = get(&app.http_url(&format!("/v/{rebuilt}/pkg/wallsocket.css")), &[]).await;
    assert_eq!(header(&new, "cache-control").as_deref(), Some("public, max-age=31536000, immutable"));
    assert_eq!(new.text().await.unwrap(), "p { color: black }");
    // A page rendered before the rebuild still gets files, never kept for good under the old stamp.
    let old = get(&app.http_url(&format!("/v/{stamp}/pkg/wallsocket.css")), &[]).await;
    assert_eq!(header(&old, "cache-control").as_deref(), Some("no-cache"));
    assert_eq!(old.text().await.unwrap(), "p { color: black }");
    let missing = get(&app.http_url(&format!("/v/{rebuilt}/pkg/..%2Fsecret")), &[]).await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn without_a_built_bundle_pages_name_the_files_as_they_are() {
    let app = crate::helpers::spawn_app().await;
    let (stamp, html) = page_stamp(&app).await;
    assert_eq!(stamp, None);
    assert!(html.contains("\"/pkg/wallsocket.css\""), "{html}");
}

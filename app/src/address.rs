//! A room's public address, as the request that asked for it names the server: what the
//! projector page prints under its QR code, and what the code itself holds.

use crate::domain::RoomName;
use http::header::HOST;
use http::uri::Authority;
use http::HeaderMap;

/// `http(s)://HOST/r/ROOM`. The host is the request's `Host` header (a reverse proxy must
/// pass it on), accepted only when it is a plain `host[:port]`; `https` when the proxy says
/// so in `X-Forwarded-Proto`.
pub fn room_url(headers: &HeaderMap, room: &RoomName) -> String {
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.contains('@'))
        .and_then(|h| h.parse::<Authority>().ok())
        .map_or_else(|| "localhost".to_owned(), |a| a.as_str().to_ascii_lowercase());
    let scheme = match headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}/r/{room}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(pairs: &[(&'static str, &str)]) -> String {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        room_url(&headers, &"pycon".parse().unwrap())
    }

    #[test]
    fn the_address_is_the_host_asked_for_and_nothing_else() {
        assert_eq!(url(&[("host", "wall.example:8080")]), "http://wall.example:8080/r/pycon");
        assert_eq!(url(&[("host", "Wall.Example"), ("x-forwarded-proto", "https")]), "https://wall.example/r/pycon");
        assert_eq!(url(&[("host", "evil.example/phish?")]), "http://localhost/r/pycon", "not a plain host");
        assert_eq!(url(&[("host", "me@evil.example")]), "http://localhost/r/pycon");
        assert_eq!(url(&[]), "http://localhost/r/pycon");
        assert_eq!(url(&[("host", "a.example"), ("x-forwarded-proto", "gopher")]), "http://a.example/r/pycon");
    }
}

//! `GET /r/{room}/qr.svg`: the room's address as a QR code, drawn here (no outside service)
//! for the projector page, so people in the hall can open the room on their phones.

use app::domain::RoomName;
use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Pixels per module: the SVG scales, this only sets its natural size.
const MODULE_PX: u32 = 8;

pub async fn room_qr(Path(room): Path<String>, headers: HeaderMap) -> Response {
    let room = match RoomName::parse(&room) {
        Ok(room) => room,
        Err(e) => return (StatusCode::NOT_FOUND, format!("no such room: {e}")).into_response(),
    };
    let url = app::address::room_url(&headers, &room);
    // Medium correction survives a projector's glare; an address of a valid host and room
    // always fits (a QR code holds up to 2,331 bytes at this level).
    let code = match QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %e, "no QR code for the room's address");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let image = code.render::<svg::Color>().module_dimensions(MODULE_PX, MODULE_PX).quiet_zone(true).build();
    // The address depends on the host asked for: a shared cache must key on it too.
    let headers = [
        (header::CONTENT_TYPE, "image/svg+xml"),
        (header::CACHE_CONTROL, "public, max-age=3600"),
        (header::VARY, "host, x-forwarded-proto"),
    ];
    (headers, image).into_response()
}

//! Feeds arbitrary bytes to the client-message decoder: it must answer `Ok` or a typed
//! error, never panic. Run by hand (see docs/OPERATIONS.md):
//!   cargo install cargo-fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode_client -- -max_total_time=60
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(msg) = app::protocol::decode_client(text) {
            // What decodes must encode and decode to itself.
            let json = serde_json::to_string(&msg).expect("a decoded message encodes");
            assert_eq!(app::protocol::decode_client(&json).ok(), Some(msg));
        }
    }
});

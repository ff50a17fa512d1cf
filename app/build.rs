//! Sets `cfg(wasm_split)` in the browser build of `cargo leptos build|watch|serve --split`,
//! the one build in which the lesson pages may be lazy routes (`src/pages/lazy.rs`).
//!
//! cargo-leptos 0.3 tells the code nothing about `--split`, but it adds
//! `-Clink-args=--emit-relocs` to the WASM build's RUSTFLAGS for it alone (wasm-split needs
//! the relocations), so that flag is the sign. Without the split, a lazy route would leave
//! an import from `__wasm_split_placeholder__` in the bundle, which no browser can resolve.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(wasm_split)");
    // Cargo hands the build's flags over encoded, whichever way they were given; cargo-leptos
    // gives them as RUSTFLAGS. A change to either must re-run this.
    println!("cargo::rerun-if-env-changed=RUSTFLAGS");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let wasm = std::env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|family| family.split(',').any(|f| f == "wasm"));
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if wasm && flags.split('\u{1f}').any(|flag| flag.contains("--emit-relocs")) {
        println!("cargo::rustc-cfg=wasm_split");
    }
}

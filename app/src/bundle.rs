//! The script that loads the bundle (server only), in place of Leptos' `HydrationScripts`:
//! the JS and WASM are asked for after the page's first paint, and nothing preloads them.
//! A page is readable from its HTML and CSS alone, and on a slow link the 400 KB of WASM
//! downloaded beside them would hold up the stylesheet and so the first paint; the page comes
//! alive a frame later instead. The lessons' chunks are not preloaded either: the split
//! loader fetches them when their page hydrates.

use leptos::prelude::*;

/// The page's loader: imports `{bundle}/pkg/{name}.js` once the first frame is painted (at
/// once in a hidden tab, where no frame comes), then instantiates the WASM and hydrates.
#[component]
pub fn BundleScript(options: LeptosOptions, bundle: String) -> impl IntoView {
    let name = options.output_name.to_string();
    // wasm-bindgen names it `_bg` unless cargo-leptos renamed it (it sets this variable).
    let wasm = if option_env!("LEPTOS_OUTPUT_NAME").is_some() { name.clone() } else { format!("{name}_bg") };
    let pkg = format!("{bundle}/{}", options.site_pkg_dir);
    // Once only: after the first frame, or as soon as the tab is hidden (no frame comes then).
    let load = format!(
        "(function (js, wasm) {{\
           let started = false;\
           const hydrate = () => {{\
             if (started) return;\
             started = true;\
             import(js).then((m) => m.default({{ module_or_path: wasm }}).then(() => m.hydrate()));\
           }};\
           if (document.visibilityState === 'hidden') return hydrate();\
           document.addEventListener('visibilitychange', hydrate, {{ once: true }});\
           requestAnimationFrame(() => setTimeout(hydrate, 0));\
         }})({:?}, {:?});",
        format!("{pkg}/{name}.js"),
        format!("{pkg}/{wasm}.wasm"),
    );
    view! { <script type="module" nonce=use_nonce()>{load}</script> }
}

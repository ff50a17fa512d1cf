# Sourced by the other scripts: the environment every build and test shares.
# - binaryen 132's wasm-opt first on PATH: Debian's older binaryen breaks the bundle.
# - One set of RUSTFLAGS for debug builds and tests, the one `cargo leptos` uses, so
#   neither rebuilds the other's dependencies.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export LEPTOS_OUTPUT_NAME=wallsocket

#!/usr/bin/env bash
# Installs, pinned and idempotently, every tool the build needs that a fresh machine lacks.
# Usage: scripts/install-tools.sh [--browser] [--cluster]
#   --browser also installs Chromium for the browser tests;
#   --cluster also installs PostgreSQL, Redis and nginx for the cluster tests (the tests start
#   their own instances on free loopback ports in temp directories; nothing here runs them).
# Safe to run again: each step checks first and skips what is already right.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
PY_WEBSOCKETS_VERSION=17.4
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q " ${CARGO_LEPTOS_VERSION}\$"; then
  say "installing cargo-leptos ${CARGO_LEPTOS_VERSION} (about 20 minutes on 2 cores, once)"
  cargo install cargo-leptos --version "${CARGO_LEPTOS_VERSION}" --locked --features no_downloads
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " ${WASM_BINDGEN_VERSION}\$"; then
  say "installing wasm-bindgen-cli ${WASM_BINDGEN_VERSION}"
  # Not --locked: its lock file names a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}" --force
fi

# npm packages (Playwright, and binaryen's wasm-opt 132 for release builds), pinned by the lock file.
if ! command -v npm >/dev/null; then
  say "installing Node.js and npm"
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
fi
for dir in end2end tools/peers/socketio-node; do
  if ! (cd "$dir" && npm ls --depth=0 >/dev/null 2>&1); then
    say "installing npm packages in $dir/"
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
done

# A virtual environment with the pinned `websockets` package (the Python example and its
# test) and python-socketio with its pins (the benchmarks' Python peer).
PEER_REQUIREMENTS=tools/peers/python-socketio/requirements.txt
if ! .venv/bin/python -c "import websockets, sys; sys.exit(websockets.__version__ != '${PY_WEBSOCKETS_VERSION}')" 2>/dev/null; then
  say "creating .venv with websockets ${PY_WEBSOCKETS_VERSION}"
  python3 -m venv .venv
  .venv/bin/pip install --quiet "websockets==${PY_WEBSOCKETS_VERSION}"
fi
if ! .venv/bin/python - "$PEER_REQUIREMENTS" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
pins = [l.split("==") for l in open(sys.argv[1]) if "==" in l and not l.startswith("#")]
sys.exit(any(version(name) != want.strip() for name, want in pins))
PY
then
  say "installing python-socketio for the benchmarks' Python peer"
  .venv/bin/pip install --quiet -r "$PEER_REQUIREMENTS"
fi

# taskset pins the benchmarks' servers to one core; wrk measures SSR requests per second;
# curl seeds and checks the page it measures.
if ! command -v taskset >/dev/null || ! command -v wrk >/dev/null || ! command -v curl >/dev/null; then
  say "installing taskset (util-linux), wrk and curl"
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y util-linux wrk curl
fi

has_flag() { [[ " $ARGS " == *" $1 "* ]]; }
ARGS="$*"

if has_flag --browser && ! [ -x /usr/bin/chromium ]; then
  say "installing Debian's Chromium for the browser tests"
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

if has_flag --cluster; then
  missing=()
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql-15)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v nginx >/dev/null || missing+=(nginx-light)
  if ((${#missing[@]})); then
    say "installing ${missing[*]} (Debian's packages) for the cluster tests"
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

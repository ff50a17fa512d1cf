#!/usr/bin/env bash
# Runs the benchmarks and prints their tables (docs/BENCHMARKS.md records the results):
#  1. `wallsocket-tools bench compare`: idle memory and fan-out on wallsocket and on the socket.io
#     peers (Node socket.io 4.8, python-socketio 5), then wallsocket's durable ingest. Every
#     server is pinned to core 0, the load generator to core 1.
#  2. SSR: wrk against a room page with 50 posts, server pinned to core 0; once rendering
#     every request, once with the page cache on (the default).
#  3. `wallsocket-tools bench hostile`: the fan-out quiet and under attack, server on core 0.
#  3b. Idle memory at 19,000 WebSockets (`bench idle`, from several processes and addresses).
#  4. The hydrate bundle: bytes raw and brotli-compressed (what a browser downloads).
#  4a. A first and a second visit to a room in Chromium (bytes on the wire, from its network
#     log), and Lighthouse 12 (mobile, simulated throttling) on /, a room and its projector page.
#  4b. The fan-out as the work grows: 100 / 1,000 / 10,000 subscribers in one room, and
#     1 / 100 / 1,000 rooms of 10, server on core 0: deliveries per server CPU-second.
#  5. Two nodes on PostgreSQL and Redis (`scripts/cluster.sh`): the fan-out with publishers
#     and subscribers on one node, then with every post crossing to the other node (server CPU
#     of both nodes summed); durable ingest into PostgreSQL. Not pinned: on a 2-core machine
#     this measures what clustering costs, not what it scales to.
# Usage: scripts/bench.sh [--tiny]
#   --tiny runs every scenario at a toy size: the test command does, so the harness cannot rot.
# Loopback only; every run is bounded in time and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh --browser --cluster
source scripts/env.sh
cargo leptos build --release --split
cargo build --release -p wallsocket-tools

if [[ "${1:-}" == "--tiny" ]]; then
  COMPARE=(--clients 5 --publishers 2 --rate 10 --seconds 1 --idle 20 --ingest-seconds 1)
  WRK=(-t1 -c4 -d1s)
  HOSTILE=(--clients 5 --rate 10 --seconds 1 --stalled 2 --replayers 2 --junk 2 --replay-posts 20)
  CLUSTER_FANOUT=(--clients 5 --publishers 1 --rate 10 --seconds 1)
  CLUSTER_INGEST=(--publishers 4 --seconds 1)
  SCALE_SECONDS=1
  IDLE=200
  SCALE="10 subscribers, one room|10 1 10
2 rooms of 2|4 2 10"
else
  COMPARE=()
  WRK=(-t1 -c32 -d10s)
  HOSTILE=(--clients 1000 --rate 100 --seconds 10)
  CLUSTER_FANOUT=(--clients 1000 --publishers 1 --rate 100 --seconds 10)
  CLUSTER_INGEST=(--publishers 64 --seconds 10)
  SCALE_SECONDS=10
  IDLE=19000
  # LABEL|SUBSCRIBERS ROOMS POSTS/S PER ROOM: about 100,000 deliveries/s in each big row.
  SCALE="100 subscribers, one room|100 1 100
1,000 subscribers, one room|1000 1 100
10,000 subscribers, one room|10000 1 10
1 room of 10|10 1 100
100 rooms of 10|1000 100 100
1,000 rooms of 10|10000 1000 10"
fi
bin=target/release/wallsocket
# Load generators post far more under one name than a person may: every server started here
# (and by `bench compare`, or scripts/cluster.sh) inherits a lifted per-name allowance.
export WALLSOCKET_POSTS_PER_CLAIM_PER_MIN=1000000 WALLSOCKET_POSTS_PER_CLAIM_BURST=1000000
tools=target/release/wallsocket-tools

echo "==> fan-out, idle memory and ingest"
taskset -c 1 "$tools" bench compare --server-bin "$bin" "${COMPARE[@]}"

# start_server [SERVER FLAGS...]: a fresh server on core 0 with its own database; sets
# $port, $server (its pid) and $work (its temp dir). stop_server ends it.
start_server() {
  work=$(mktemp -d)
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  taskset -c 0 "$bin" serve --listen "127.0.0.1:$port" --database-url "sqlite://$work/bench.db" \
    --site-root target/site --log warn --rate-per-sec 1000 --rate-burst 1000 "$@" &
  server=$!
  trap "kill $server 2>/dev/null; rm -rf '$work'" EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
}

# warm_bundle PORT: asks for the files every page loads until each goes out compressed (a
# server compresses a file the first time it is asked for, in the background), or 30 s each.
warm_bundle() {
  local file
  for file in wallsocket.js wallsocket.css wallsocket.wasm __wasm_split.______________________.js; do
    for _ in $(seq 300); do
      curl -sI -H 'accept-encoding: br' "http://127.0.0.1:$1/pkg/$file" | grep -qi '^content-encoding: br' && break
      sleep 0.1
    done
  done
}

stop_server() {
  kill "$server"
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
  trap - EXIT
}

# ssr LABEL [SERVER FLAGS...]: a room seeded with 50 posts through the CLI client, then wrk
# from core 1 against that room's page.
ssr() {
  local label=$1 posts report
  shift
  echo
  echo "==> SSR of a room page with 50 posts: $label"
  start_server "$@"
  seq 1 50 | sed 's/^/post number /' |
    "$tools" client --url "ws://127.0.0.1:$port/ws" --room ssr-bench --user bencher --once >/dev/null
  posts=$(curl -sf "http://127.0.0.1:$port/r/ssr-bench" | grep -o 'post number [0-9]*' | sort -u | wc -l)
  if [[ "$posts" != 50 ]]; then
    echo "the room page shows $posts of 50 posts" >&2
    exit 1
  fi
  report=$(taskset -c 1 wrk "${WRK[@]}" "http://127.0.0.1:$port/r/ssr-bench")
  echo "$report" | grep -E 'Latency|requests in|Requests/sec|Non-2xx'
  if grep -q 'Non-2xx' <<<"$report"; then
    echo "some SSR responses were errors" >&2
    exit 1
  fi
  stop_server
}
ssr "every request rendered (--page-cache-ms 0)" --page-cache-ms 0
ssr "page cache on (the default: kept 1 s or until a post)"

echo
echo "==> fan-out quiet and under attack (stalled readers, replaying joins, junk rooms)"
# The attackers share the load generator's address, so the connect rate is raised; they pace
# themselves at the default 20 messages/s; joins, rooms and queue bytes keep their defaults.
start_server --ip-connect-rate 100000
taskset -c 1 "$tools" bench hostile --url "http://127.0.0.1:$port" --server-pid "$server" "${HOSTILE[@]}"
stop_server

echo
echo "==> idle memory: $IDLE open WebSockets (server on core 0)"
start_server --ip-connect-rate 1000000 --max-connections 19500
taskset -c 1 "$tools" bench idle --url "http://127.0.0.1:$port" --server-pid "$server" --connections "$IDLE"
stop_server

echo
echo "==> fan-out as the work grows (server on core 0, load generator on core 1)"
start_server --ip-connect-rate 1000000 --max-connections 19500
while IFS='|' read -r label load; do
  read -r clients rooms rate <<<"$load"
  echo "-- $label: $rate posts/s per room, $SCALE_SECONDS s"
  taskset -c 1 "$tools" bench fanout --url "http://127.0.0.1:$port" --server-pid "$server" \
    --clients "$clients" --rooms "$rooms" --rate "$rate" --seconds "$SCALE_SECONDS" | grep -E 'lost|CPU|p50|written'
done <<<"$SCALE"
stop_server

echo
echo "==> hydrate bundle (release, wasm-opt, lesson pages split off)"
node -e '
  const fs = require("fs"), zlib = require("zlib"), path = require("path");
  const dir = "target/site/pkg";
  const size = (f) => {
    const bytes = fs.readFileSync(path.join(dir, f));
    const packed = zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
    return [bytes.length, packed];
  };
  const line = (label, [raw, brotli]) =>
    console.log(`${label.padEnd(30)} ${(raw / 1024).toFixed(1).padStart(8)} KiB raw ${(brotli / 1024).toFixed(1).padStart(8)} KiB brotli`);
  const sum = (files) => files.map(size).reduce(([a, b], [c, d]) => [a + c, b + d], [0, 0]);
  // Every page loads the main module, its JS glue and the split loader.
  const first = fs.readdirSync(dir).filter((f) => f === "wallsocket.wasm" || /\.js$/.test(f));
  line("first load (every page)", sum(first));
  // A lazy page adds the chunks the manifest lists for it (shared chunks counted for each).
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "__wasm_split_manifest.json")));
  for (const [name, chunks] of Object.entries(manifest).sort()) {
    const page = name.replace(/^__/, "").replace(/_route_view_.*$/, "");
    line(`+ /${page} when opened`, sum(chunks.map((c) => `${c}.wasm`)));
  }
  line("total of all files", sum(fs.readdirSync(dir).filter((f) => /\.(wasm|js)$/.test(f))));
'

echo
echo "==> a first and a second visit to a room, and Lighthouse (mobile, simulated throttling)"
start_server
seq 1 20 | sed 's/^/a post on the wall, number /' |
  "$tools" client --url "ws://127.0.0.1:$port/ws" --room visit --user visitor --once >/dev/null
warm_bundle "$port"
(cd end2end && node bench/visits.mjs "http://127.0.0.1:$port/r/visit")
(cd end2end && node bench/lighthouse.mjs "http://127.0.0.1:$port/" "http://127.0.0.1:$port/r/visit" \
  "http://127.0.0.1:$port/r/visit/wall")
stop_server

echo
echo "==> fan-out across two nodes (PostgreSQL + Redis, scripts/cluster.sh up DIR 2)"
cluster=$(mktemp -d)
trap "scripts/cluster.sh down '$cluster' >/dev/null 2>&1 || true; rm -rf '$cluster'" EXIT
# Every flag has an environment variable: the nodes inherit these (cluster.sh sets the rest).
WALLSOCKET_RATE_PER_SEC=100000 WALLSOCKET_RATE_BURST=100000 WALLSOCKET_LOG=warn \
  scripts/cluster.sh up "$cluster" 2 >/dev/null
. "$cluster/cluster.env"
read -r node1 node2 <<<"$NODE_PORTS"
read -r pid1 _ <<<"$NODE_PIDS"
both=$(tr ' ' ',' <<<"$NODE_PIDS")
echo "-- same node: subscribers and publishers on node 1 (CPU of both nodes)"
"$tools" bench fanout --url "http://127.0.0.1:$node1" --server-pid "$both" "${CLUSTER_FANOUT[@]}"
echo "-- across nodes: subscribers on node 2, publishers on node 1 (CPU of both nodes)"
"$tools" bench fanout --url "http://127.0.0.1:$node2" --publish-url "http://127.0.0.1:$node1" \
  --server-pid "$both" "${CLUSTER_FANOUT[@]}"
echo "-- spread: subscribers half on each node, publishers on node 1 (CPU of both nodes)"
"$tools" bench fanout --url "http://127.0.0.1:$node1" --also-url "http://127.0.0.1:$node2" \
  --server-pid "$both" "${CLUSTER_FANOUT[@]}"
# The baseline: one node on the same PostgreSQL, without Redis (no cluster at all).
alone=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --listen "127.0.0.1:$alone" --database-url "$PG_URL" --site-root target/site --log warn \
  --rate-per-sec 100000 --rate-burst 100000 --ip-connect-rate 100000 &
alone_pid=$!
trap "kill $alone_pid 2>/dev/null; scripts/cluster.sh down '$cluster' >/dev/null 2>&1 || true; rm -rf '$cluster'" EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$alone/health" >/dev/null && break; sleep 0.1; done
echo "-- one node alone on the same PostgreSQL, no Redis"
"$tools" bench fanout --url "http://127.0.0.1:$alone" --server-pid "$alone_pid" "${CLUSTER_FANOUT[@]}"
kill "$alone_pid"
wait "$alone_pid" 2>/dev/null || true
trap "scripts/cluster.sh down '$cluster' >/dev/null 2>&1 || true; rm -rf '$cluster'" EXIT

echo
echo "==> ingest into PostgreSQL (one node of the cluster, 64 rooms unless --tiny)"
"$tools" bench ingest --url "http://127.0.0.1:$node1" --server-pid "$pid1" "${CLUSTER_INGEST[@]}"
scripts/cluster.sh down "$cluster" >/dev/null
rm -rf "$cluster"
trap - EXIT

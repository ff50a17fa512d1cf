#!/usr/bin/env bash
# A wallsocket cluster on one machine, for trials and tests: PostgreSQL, Redis, N nodes and
# nginx in front (deploy/nginx.conf), each on a free 127.0.0.1 port, everything under DIR.
# Usage:
#   scripts/cluster.sh up DIR N   start it; writes DIR/cluster.env (ports, URLs, pids)
#   scripts/cluster.sh down DIR   stop everything `up` started in DIR
# Environment: WALLSOCKET_BIN (default target/release/wallsocket), WALLSOCKET_SITE (default
# target/site). Needs `scripts/install-tools.sh --cluster` (nginx, redis-server, PostgreSQL).
# As root, PostgreSQL runs as the `postgres` user (initdb refuses root) and DIR is made
# searchable for it. Every wait is bounded; a failed `up` stops what it had started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
INSTALL_HINT="run scripts/install-tools.sh --cluster"

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: scripts/cluster.sh up DIR N | down DIR" >&2
  exit 2
}

is_root() { [[ $(id -u) == 0 ]]; }

# An absolute path for $1 (relative to the caller's directory), existing or not.
absolute() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$PWD/$1" ;;
  esac
}

# nginx lives in /usr/sbin, which a normal user's PATH often lacks.
find_nginx() {
  command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || return 1
}

# The newest PostgreSQL's bin directory Debian installed.
find_pg_bin() {
  local bin best="" best_version=-1 version
  for bin in /usr/lib/postgresql/*/bin; do
    [[ -x $bin/initdb ]] || continue
    version=$(basename "$(dirname "$bin")")
    [[ $version =~ ^[0-9]+$ ]] || continue
    if ((version > best_version)); then
      best=$bin
      best_version=$version
    fi
  done
  [[ -n $best ]] && echo "$best"
}

# Runs a PostgreSQL program as its owner: `postgres` when we are root.
as_pg() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Prints COUNT distinct free TCP ports on 127.0.0.1, below the ephemeral range (so outgoing
# connections of the nodes cannot take one before its server binds it).
free_ports() {
  local count=$1 low=20000 high=32767 range
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r range _ </proc/sys/net/ipv4/ip_local_port_range
    ((range > low + 1000)) && high=$((range - 1))
  fi
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$count" "$low" "$high" <<'EOF'
import random, socket, sys
count, low, high = map(int, sys.argv[1:])
held, ports = [], []
for port in random.sample(range(low, high + 1), high - low + 1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        continue
    held.append(s)
    ports.append(port)
    if len(ports) == count:
        break
print(" ".join(map(str, ports)))
EOF
  else
    # Without Python: a port nobody answers on counts as free.
    local ports=() port tries=0
    while ((${#ports[@]} < count && tries < 10000)); do
      tries=$((tries + 1))
      port=$((low + (RANDOM * 32768 + RANDOM) % (high - low + 1)))
      [[ " ${ports[*]} " == *" $port "* ]] && continue
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        ports+=("$port")
      fi
    done
    echo "${ports[*]}"
  fi
}

# True while process $1 exists and is not a zombie waiting to be reaped.
running() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
  [[ $state != Z ]]
}

# Waits up to $1 seconds until none of the pids that follow is running; false if one still is.
wait_gone() {
  local deadline=$((SECONDS + $1)) pid
  shift
  while :; do
    local alive=0
    for pid in "$@"; do
      running "$pid" && alive=1
    done
    ((alive)) || return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Waits up to $1 seconds until `kill -0` fails for every pid that follows (a dead process
# stays visible until its parent, often init, reaps it).
wait_reaped() {
  local deadline=$((SECONDS + $1)) pid
  shift
  while :; do
    local left=0
    for pid in "$@"; do
      kill -0 "$pid" 2>/dev/null && left=1
    done
    ((left)) || return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Sends SIGTERM to the pids, waits up to $1 seconds, then SIGKILLs what is left.
term_then_kill() {
  local grace=$1 pid
  shift
  (($#)) || return 0
  for pid in "$@"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  if ! wait_gone "$grace" "$@"; then
    for pid in "$@"; do
      if running "$pid"; then
        echo "cluster.sh: pid $pid did not stop within ${grace} s: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    wait_gone 5 "$@" || true
  fi
}

# Waits up to $2 seconds until http://127.0.0.1:$1/health answers 2xx; false if it does not,
# or at once if process $3 (when given) has exited.
wait_health() {
  local port=$1 deadline=$((SECONDS + $2)) pid=${3:-}
  while ! curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$port/health"; do
    [[ -n $pid ]] && ! running "$pid" && return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# True when Redis on port $1 answers PING (in a subshell: a failed connect ends only it).
redis_pong() (
  answer=""
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 answer <&3 || true
  [[ $answer == +PONG* ]]
)

# The state `up` has reached, written after each step so that `down` (and a failed `up`)
# knows what to stop. Sourced by `down` and by whoever uses the cluster.
write_env() {
  local pids=()
  [[ -n ${PG_PID:-} ]] && pids+=("$PG_PID")
  [[ -n ${REDIS_PID:-} ]] && pids+=("$REDIS_PID")
  pids+=(${NODE_PIDS:-})
  [[ -n ${NGINX_PID:-} ]] && pids+=("$NGINX_PID")
  cat >"$DIR/cluster.env.tmp" <<EOF
# written by scripts/cluster.sh up; stop with: scripts/cluster.sh down $DIR
NGINX_PORT=${NGINX_PORT:-}
PG_PORT=${PG_PORT:-}
PG_URL=${PG_URL:-}
REDIS_PORT=${REDIS_PORT:-}
REDIS_URL=${REDIS_URL:-}
NODE_PORTS="${NODE_PORTS:-}"
NODE_PIDS="${NODE_PIDS:-}"
PG_PID=${PG_PID:-}
REDIS_PID=${REDIS_PID:-}
NGINX_PID=${NGINX_PID:-}
PIDS="${pids[*]}"
EOF
  mv "$DIR/cluster.env.tmp" "$DIR/cluster.env"
}

# Replaces the marked lines of deploy/nginx.conf: the "# node" lines by one line per node,
# the "# lesson node" lines by the first node and the others as backups, and the "# listen"
# line by the given port.
render_nginx_conf() {
  local listen=$1
  shift
  awk -v listen="$listen" -v ports="$*" '
    BEGIN { n = split(ports, port, " ") }
    /# listen$/ {
      match($0, /^[ \t]*/); indent = substr($0, 1, RLENGTH)
      print indent "listen 127.0.0.1:" listen ";  # listen"; next
    }
    /# lesson node$/ {
      if (!lessons_done) {
        match($0, /^[ \t]*/); indent = substr($0, 1, RLENGTH)
        for (i = 1; i <= n; i++)
          print indent "server 127.0.0.1:" port[i] (i > 1 ? " backup" : "") ";  # lesson node"
        lessons_done = 1
      }
      next
    }
    /# node$/ {
      if (!nodes_done) {
        match($0, /^[ \t]*/); indent = substr($0, 1, RLENGTH)
        for (i = 1; i <= n; i++) print indent "server 127.0.0.1:" port[i] ";  # node"
        nodes_done = 1
      }
      next
    }
    { print }
    END { if (!nodes_done || !lessons_done) exit 1 }
  ' "$ROOT/deploy/nginx.conf"
}

cmd_up() {
  local n=$1 nginx pg_bin bin site
  [[ $n =~ ^[1-9][0-9]*$ ]] && ((n <= 64)) || die "N must be a number from 1 to 64, not '$n'"
  [[ $DIR =~ [[:space:]\'\"\\] ]] && die "DIR must not contain spaces, quotes or backslashes: $DIR"

  nginx=$(find_nginx) || die "nginx is not installed: $INSTALL_HINT"
  command -v redis-server >/dev/null || die "redis-server is not installed: $INSTALL_HINT"
  pg_bin=$(find_pg_bin) || die "PostgreSQL (initdb under /usr/lib/postgresql/*/bin) is not installed: $INSTALL_HINT"
  command -v curl >/dev/null || die "curl is not installed"
  if is_root; then
    command -v runuser >/dev/null || die "runuser is missing (util-linux): needed to run PostgreSQL as postgres"
    id postgres >/dev/null 2>&1 || die "no postgres user: $INSTALL_HINT"
  fi
  bin=$(absolute "${WALLSOCKET_BIN:-$ROOT/target/release/wallsocket}")
  site=$(absolute "${WALLSOCKET_SITE:-$ROOT/target/site}")
  [[ -x $bin ]] || die "no wallsocket binary at $bin: run \`cargo leptos build --release --split\` (or set WALLSOCKET_BIN)"
  [[ -d $site ]] || die "no site directory at $site: run \`cargo leptos build --release --split\` (or set WALLSOCKET_SITE)"

  mkdir -p "$DIR"
  if [[ -f $DIR/cluster.env ]]; then
    local PIDS="" pid
    # shellcheck disable=SC1091
    . "$DIR/cluster.env"
    for pid in $PIDS; do
      running "$pid" && die "a cluster is already up in $DIR (pid $pid): scripts/cluster.sh down $DIR first"
    done
  fi

  local ports
  read -r -a ports <<<"$(free_ports $((n + 3)))"
  ((${#ports[@]} == n + 3)) || die "could not find $((n + 3)) free ports on 127.0.0.1"
  PG_PORT=${ports[0]}
  REDIS_PORT=${ports[1]}
  NGINX_PORT=${ports[2]}
  NODE_PORTS="${ports[*]:3}"
  PG_URL="postgres://wallsocket@127.0.0.1:$PG_PORT/wallsocket"
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  PG_PID="" REDIS_PID="" NODE_PIDS="" NGINX_PID=""
  write_env

  # From here a failure stops whatever was started.
  trap 'status=$?; if ((status)); then echo "cluster.sh: up failed, stopping what it started" >&2; cmd_down || true; fi' EXIT

  # PostgreSQL. As root it runs as postgres, which must reach DIR/pg: DIR gets o+x (search,
  # not read), DIR/pg belongs to postgres.
  echo "postgres   127.0.0.1:$PG_PORT"
  mkdir -p "$DIR/pg"
  if is_root; then
    chmod go+x "$DIR"
    chown postgres: "$DIR/pg"
    runuser -u postgres -- test -w "$DIR/pg" ||
      die "the postgres user cannot reach $DIR/pg (a parent directory is closed to it): use a DIR under /tmp"
  fi
  (
    cd "$DIR/pg"
    as_pg timeout 120 "$pg_bin/initdb" -A trust -U wallsocket --no-sync -E UTF8 -D "$DIR/pg/data" >"$DIR/pg/initdb.log" 2>&1 ||
      { tail -n 20 "$DIR/pg/initdb.log" >&2; die "initdb failed or took over 120 s (log: $DIR/pg/initdb.log)"; }
    as_pg "$pg_bin/pg_ctl" -w -t 30 -l "$DIR/pg/server.log" -D "$DIR/pg/data" \
      -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1" start >/dev/null ||
      { tail -n 20 "$DIR/pg/server.log" >&2; die "PostgreSQL did not start within 30 s (log: $DIR/pg/server.log)"; }
  )
  PG_PID=$(head -n 1 "$DIR/pg/data/postmaster.pid")
  write_env
  (cd "$DIR/pg" && as_pg timeout 30 "$pg_bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U wallsocket wallsocket) ||
    die "createdb wallsocket failed (or took over 30 s)"

  # Redis: no persistence; it daemonizes and writes its pid file.
  echo "redis      127.0.0.1:$REDIS_PORT"
  mkdir -p "$DIR/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$DIR/redis" \
    --daemonize yes --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/redis.log" >/dev/null
  local deadline=$((SECONDS + 10))
  until [[ -s $DIR/redis/redis.pid ]] && redis_pong "$REDIS_PORT" 2>/dev/null; do
    ((SECONDS < deadline)) || { tail -n 20 "$DIR/redis/redis.log" >&2 || true; die "Redis did not answer PING within 10 s"; }
    sleep 0.1
  done
  REDIS_PID=$(<"$DIR/redis/redis.pid")
  write_env

  # The nodes, all started first, then each waited for.
  local i=0 port pids=()
  for port in $NODE_PORTS; do
    i=$((i + 1))
    echo "node$i      127.0.0.1:$port"
    nohup "$bin" --listen "127.0.0.1:$port" --database-url "$PG_URL" --redis-url "$REDIS_URL" \
      --node-name "node$i" --site-root "$site" --ip-connect-rate 1000 --trusted-proxies 127.0.0.1 \
      >"$DIR/node$i.log" 2>&1 </dev/null &
    pids+=("$!")
    NODE_PIDS="${pids[*]}"
    write_env
  done
  i=0
  for port in $NODE_PORTS; do
    i=$((i + 1))
    if ! wait_health "$port" 30 "${pids[i - 1]}"; then
      echo "---- $DIR/node$i.log (last 30 lines)" >&2
      tail -n 30 "$DIR/node$i.log" >&2 || true
      running "${pids[i - 1]}" && die "node$i (pid ${pids[i - 1]}) did not answer /health on 127.0.0.1:$port within 30 s"
      die "node$i exited before answering /health on 127.0.0.1:$port (log: $DIR/node$i.log)"
    fi
  done

  # nginx, with deploy/nginx.conf's upstream and listen lines replaced.
  echo "nginx      127.0.0.1:$NGINX_PORT"
  mkdir -p "$DIR/nginx/logs" "$DIR/nginx/tmp"
  # shellcheck disable=SC2086
  render_nginx_conf "$NGINX_PORT" $NODE_PORTS >"$DIR/nginx/nginx.conf" ||
    die "deploy/nginx.conf lacks the lines marked '# node', '# lesson node' or '# listen'"
  "$nginx" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" 2>"$DIR/nginx/logs/start.log" ||
    { cat "$DIR/nginx/logs/start.log" >&2; die "nginx did not start"; }
  deadline=$((SECONDS + 10))
  until [[ -s $DIR/nginx/logs/nginx.pid ]]; do
    ((SECONDS < deadline)) || die "nginx wrote no pid file within 10 s"
    sleep 0.1
  done
  NGINX_PID=$(<"$DIR/nginx/logs/nginx.pid")
  write_env
  wait_health "$NGINX_PORT" 10 "$NGINX_PID" ||
    { tail -n 20 "$DIR/nginx/logs/error.log" >&2 || true; die "nginx did not answer /health within 10 s"; }

  trap - EXIT
  echo "up: http://127.0.0.1:$NGINX_PORT/ ($n nodes); settings in $DIR/cluster.env"
}

# True when process $1 exists and its command line contains $2 (or it has exited and waits
# to be reaped): a pid written down by `up` may belong to another program by now, which must
# not be signalled.
ours() {
  local cmdline
  [[ -n $1 ]] && kill -0 "$1" 2>/dev/null || return 1
  running "$1" || return 0
  [[ -r /proc/$1/cmdline ]] || return 0
  cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline")
  [[ $cmdline == *"$2"* ]]
}

cmd_down() {
  local NGINX_PID="" NODE_PIDS="" REDIS_PID="" REDIS_PORT="" REDIS_URL="" PG_PID="" PIDS=""
  local pid pg_bin status=0 stopping=() nodes=()
  [[ -f $DIR/cluster.env ]] && . "$DIR/cluster.env"
  [[ -z $NGINX_PID && -s $DIR/nginx/logs/nginx.pid ]] && NGINX_PID=$(<"$DIR/nginx/logs/nginx.pid")
  [[ -z $REDIS_PID && -s $DIR/redis/redis.pid ]] && REDIS_PID=$(<"$DIR/redis/redis.pid")
  [[ -z $PG_PID && -s $DIR/pg/data/postmaster.pid ]] && PG_PID=$(head -n 1 "$DIR/pg/data/postmaster.pid")

  # nginx first, so no request reaches a stopping node. QUIT lets requests in flight finish;
  # open WebSockets would hold it for worker_shutdown_timeout, so TERM after 3 s, then KILL.
  if ours "$NGINX_PID" "$DIR/nginx"; then
    local workers
    stopping+=("$NGINX_PID")
    workers=$(pgrep -P "$NGINX_PID" 2>/dev/null || true)
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    if ! wait_gone 3 "$NGINX_PID"; then
      # shellcheck disable=SC2086
      term_then_kill 5 "$NGINX_PID" $workers
    fi
    # shellcheck disable=SC2086
    [[ -n $workers ]] && term_then_kill 5 $workers
  fi

  # The nodes: SIGTERM drains them (1001 to every socket), SIGKILL after 10 s.
  for pid in $NODE_PIDS; do
    ours "$pid" "--redis-url $REDIS_URL " && nodes+=("$pid")
  done
  stopping+=(${nodes[@]+"${nodes[@]}"})
  term_then_kill 10 ${nodes[@]+"${nodes[@]}"}

  if ours "$REDIS_PID" ":$REDIS_PORT"; then
    stopping+=("$REDIS_PID")
    term_then_kill 5 "$REDIS_PID"
  fi

  # PostgreSQL: a fast shutdown by its owner, then the postmaster's pid if need be.
  if ours "$PG_PID" "$DIR/pg"; then
    stopping+=("$PG_PID")
    if pg_bin=$(find_pg_bin); then
      (cd "$DIR/pg" && as_pg "$pg_bin/pg_ctl" -m fast -w -t 20 -D "$DIR/pg/data" stop >/dev/null) || true
    fi
    running "$PG_PID" && term_then_kill 5 "$PG_PID"
  fi

  # A dead process stays visible to `kill -0` until its parent reaps it: wait for that too.
  if ! wait_reaped 15 ${stopping[@]+"${stopping[@]}"}; then
    for pid in "${stopping[@]}"; do
      kill -0 "$pid" 2>/dev/null && echo "cluster.sh: pid $pid is still there" >&2
    done
    status=1
  fi
  ((status)) || echo "down: everything in $DIR stopped"
  return "$status"
}

(($# >= 2)) || usage
COMMAND=$1
DIR=$(absolute "$2")
DIR=${DIR%/}
case $COMMAND in
  up)
    (($# == 3)) || usage
    cmd_up "$3"
    ;;
  down)
    (($# == 2)) || usage
    [[ -d $DIR ]] || die "no such directory: $DIR"
    cmd_down
    ;;
  *) usage ;;
esac

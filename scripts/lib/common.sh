# Shared by scripts/test.sh, scripts/demo.sh and scripts/bench.sh. Source it; do not run it.
# Installs what is missing, and starts/stops a private Postgres and Redis on free loopback ports.

WEFT_DEBIAN_PACKAGES="pkg-config libpq-dev libprotobuf-c-dev protobuf-c-compiler libhiredis-dev zlib1g-dev redis-server postgresql python3 python3-venv"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs the Debian packages the build and tests need, when any is missing.
install_packages() {
    local missing=()
    for p in $WEFT_DEBIAN_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ] || [ "${WEFT_FORCE_APT:-}" = 1 ]; then
        log "installing Debian packages: ${missing[*]:-(forced)}"
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $WEFT_DEBIAN_PACKAGES >/dev/null
    fi
    command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6.3 toolchain needed)" >&2; exit 1; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_servers BASE [fsync]  — starts Postgres and Redis under BASE, exports WEFT_POSTGRES_URL and
# WEFT_REDIS_URL. fsync=on for durability benchmarks, off (default) for tests.
start_servers() {
    local base=$1 fsync=${2:-off}
    WEFT_SERVERS_BASE=$base
    mkdir -p "$base"
    local pgport redisport pgbin
    pgport=$(free_port); redisport=$(free_port)
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    mkdir -p "$base/pg"
    chmod 755 "$base"
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$base/pg"
        local as_pg="runuser -u postgres --"
        runuser -u postgres -- test -w "$base/pg" \
            || { echo "the postgres user cannot reach $base/pg: make every parent directory world-searchable (chmod o+x)" >&2; return 1; }
    else
        local as_pg=""
    fi
    log "starting Postgres on 127.0.0.1:$pgport (fsync=$fsync) and Redis on 127.0.0.1:$redisport in $base"
    $as_pg "$pgbin/initdb" -D "$base/pg/data" -U postgres --auth=trust -E UTF8 --no-sync >"$base/initdb.log" 2>&1 \
        || { cat "$base/initdb.log" >&2; return 1; }
    $as_pg "$pgbin/pg_ctl" -D "$base/pg/data" -l "$base/pg/log" -w -t 60 start \
        -o "-p $pgport -k $base/pg -c listen_addresses=127.0.0.1 -c fsync=$fsync -c max_connections=200" >/dev/null \
        || { cat "$base/pg/log" >&2; return 1; }
    redis-server --port "$redisport" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
        --pidfile "$base/redis.pid" --dir "$base" --logfile "$base/redis.log" \
        || return 1
    local i
    for i in $(seq 1 100); do
        redis-cli -p "$redisport" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    export WEFT_POSTGRES_URL="postgresql://postgres@127.0.0.1:$pgport/postgres"
    export WEFT_REDIS_URL="redis://127.0.0.1:$redisport"
    WEFT_PG_BIN=$pgbin
}

stop_servers() {
    local base=${WEFT_SERVERS_BASE:-}
    [ -n "$base" ] || return 0
    if [ -f "$base/pg/data/postmaster.pid" ]; then
        if [ "$(id -u)" = 0 ]; then
            runuser -u postgres -- "$WEFT_PG_BIN/pg_ctl" -D "$base/pg/data" -m fast -w stop >/dev/null 2>&1 || true
        else
            "$WEFT_PG_BIN/pg_ctl" -D "$base/pg/data" -m fast -w stop >/dev/null 2>&1 || true
        fi
    fi
    if [ -f "$base/redis.pid" ]; then
        kill "$(cat "$base/redis.pid")" 2>/dev/null || true
    fi
    WEFT_SERVERS_BASE=""
}

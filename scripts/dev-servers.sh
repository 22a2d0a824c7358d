#!/usr/bin/env bash
# Starts a private Postgres + Redis for local development and prints the exports to use:
#   eval "$(scripts/dev-servers.sh start /tmp/weft-dev)"   ...   scripts/dev-servers.sh stop /tmp/weft-dev
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/common.sh"
cmd=${1:-start}; base=${2:-/tmp/weft-dev}
case "$cmd" in
  start)
    install_packages
    start_servers "$base" "${WEFT_FSYNC:-off}" >&2
    echo "export WEFT_POSTGRES_URL=$WEFT_POSTGRES_URL WEFT_REDIS_URL=$WEFT_REDIS_URL"
    echo "WEFT_PG_BIN=$WEFT_PG_BIN" > "$base/env" ;;
  stop)
    . "$base/env" 2>/dev/null || true
    WEFT_SERVERS_BASE=$base; WEFT_PG_BIN=${WEFT_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
    stop_servers; rm -rf "$base" ;;
  *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac

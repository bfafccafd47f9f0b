#!/usr/bin/env bash
# Webhook throughput of `linedesk serve`, measured the shared way (../shared/bench): wrk with
# webhook.lua for the maximum acknowledged rate, then `linedesk bench-webhook` for latency at a
# fixed rate. Every acknowledged request is durably stored before its 200.
#
#   bench/webhook.sh [sqlite|postgres] [wrk seconds] [fixed rate per second]
#
# Needs: wrk (apt-get install wrk), python3, and for postgres a server at $PG_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
seconds=${2:-10}
rate=${3:-10000}
SHARED=${SHARED:-$(cd .. && pwd)/shared/bench}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SECRET=0123456789abcdef0123456789abcdef
PORT=${PORT:-18181}
REQS=${REQS:-/tmp/linedesk-bench-reqs.txt}

cargo build --release -q -p desk-server
BIN=target/release/linedesk
data=$(mktemp -d)
case "$backend" in
    sqlite) store=(--data-dir "$data") ;;
    postgres)
        db="linedesk_bench_$$"
        psql "$PG_URL" -qc "CREATE DATABASE $db"
        store=(--database-url "${PG_URL%/*}/$db")
        ;;
    *) echo "usage: $0 [sqlite|postgres] [seconds] [rate]" >&2; exit 2 ;;
esac

[ -s "$REQS" ] || python3 "$SHARED/gen.py" 300000 "$SECRET" 5000 > "$REQS"
"$BIN" channel add --line-channel-id 1000000001 --secret "$SECRET" --channel-key bench "${store[@]}" >/dev/null

run_server() {
    # LINE is not reachable from a benchmark: profile fetches fail fast against the discard port.
    RUST_LOG=error LINEDESK_LINE_API_BASE=http://127.0.0.1:9 LINEDESK_LINE_DATA_BASE=http://127.0.0.1:9 \
        "$BIN" serve --listen "127.0.0.1:$PORT" "${store[@]}" &
    server=$!
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done
    echo "server did not start" >&2; exit 1
}
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

echo "== $backend: wrk -t1 -c32 -d${seconds}s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
run_server
REQS="$REQS" WPATH=/line/webhook/bench wrk -t1 -c32 -d"${seconds}s" --latency -s "$SHARED/webhook.lua" "http://127.0.0.1:$PORT"
cleanup

# A fresh store, so the fixed-rate run measures new events, not de-duplication.
data=$(mktemp -d)
if [ "$backend" = sqlite ]; then store=(--data-dir "$data"); else
    db="linedesk_bench_$$_b"; psql "$PG_URL" -qc "CREATE DATABASE $db"; store=(--database-url "${PG_URL%/*}/$db"); fi
"$BIN" channel add --line-channel-id 1000000001 --secret "$SECRET" --channel-key bench "${store[@]}" >/dev/null
echo "== $backend: fixed rate ${rate}/s for ${seconds}s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
run_server
"$BIN" bench-webhook --url "http://127.0.0.1:$PORT/line/webhook/bench" --requests "$REQS" --rate "$rate" --seconds "$seconds"

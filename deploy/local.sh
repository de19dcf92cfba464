#!/usr/bin/env bash
# Starts a replicated Terril on one machine: N `terril serve` replicas, each restarted when it
# dies (as systemd's Restart=always would), behind nginx with failover and a cache.
#
#   deploy/local.sh [--replicas N] [--port P] [--dir DIR] [--bin PATH] [-- terril serve args…]
#
# nginx listens on 127.0.0.1:P (default 8080); replicas on P+1…P+N. DIR (default a temporary
# folder) holds nginx.conf, the cache, logs and replica-K.pid (the live pid of each replica).
# Every replica gets the same arguments: give them one data source (--pg-url, --data, …).
# Ends everything on Ctrl-C or SIGTERM.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
replicas=2 port=8080 dir="" bin="${TERRIL_BIN:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas) replicas="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1 (see the head of $0)" >&2; exit 2 ;;
  esac
done
[ -n "$dir" ] || dir="$(mktemp -d -t terril-deploy-XXXXXX)"
mkdir -p "$dir/cache" "$dir/logs"
if [ -z "$bin" ]; then
  bin="$here/../target/release/terril"
  [ -x "$bin" ] || (cd "$here/.." && cargo build --release --quiet)
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

servers=""
for k in $(seq 1 "$replicas"); do
  servers+="    server 127.0.0.1:$((port + k)) max_fails=1 fail_timeout=2s;"$'\n'
done
sed -e "s|@LISTEN@|127.0.0.1:$port|" -e "s|@CACHE_DIR@|$dir/cache|" \
    -e "/@SERVERS@/{
r /dev/stdin
d
}" "$here/nginx-terril.conf" >"$dir/terril.conf" <<<"$servers"
user_line=""
[ "$(id -u)" -ne 0 ] || user_line="user root;"
cat >"$dir/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/cache/body;
    proxy_temp_path $dir/cache/proxy;
    fastcgi_temp_path $dir/cache/fastcgi;
    uwsgi_temp_path $dir/cache/uwsgi;
    scgi_temp_path $dir/cache/scgi;
    include $dir/terril.conf;
}
CONF

children=()
stop() {
  trap - EXIT INT TERM
  for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
  for k in $(seq 1 "$replicas"); do
    [ -f "$dir/replica-$k.pid" ] && kill "$(cat "$dir/replica-$k.pid")" 2>/dev/null || true
  done
  [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

for k in $(seq 1 "$replicas"); do
  (
    trap 'kill "$(cat "$dir/replica-'"$k"'.pid")" 2>/dev/null; exit 0' TERM
    while :; do
      "$bin" serve --bind "127.0.0.1:$((port + k))" --trust-forwarded "$@" \
        >>"$dir/logs/replica-$k.log" 2>&1 &
      echo $! >"$dir/replica-$k.pid"
      wait $! || true
      echo "replica $k ended; starting it again" >>"$dir/logs/replica-$k.log"
      sleep 0.5
    done
  ) &
  children+=($!)
done
for k in $(seq 1 "$replicas"); do
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$((port + k))/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
done
"$nginx_bin" -c "$dir/nginx.conf" -e "$dir/logs/error.log" -g 'daemon off;' &
children+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "serving on http://127.0.0.1:$port ($replicas replicas; files in $dir)"
wait

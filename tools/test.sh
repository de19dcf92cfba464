#!/usr/bin/env bash
# Runs Terril's whole test suite, installing first the third-party clients and references the
# tests check Terril against: GDAL/OGR (Debian gdal-bin, 3.6), the Python mapbox-vector-tile
# decoder, shapely, cql2, pyogrio (with GDAL 3.12 inside) and OWSLib; PostgreSQL with PostGIS
# (Debian postgresql-15-postgis-3: the cluster started here is the reference for ground
# distances; the PostGIS source tests start clusters of their own with its initdb); nginx
# (Debian nginx-light: static archives read with Range, and the replicated deployment of
# deploy/); moto's S3 server (PyPI) for archives on object storage; and Chromium
# (Debian chromium) with playwright-core and the MapLibre style validator (npm) for the map.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ogrinfo >/dev/null 2>&1 || need_apt+=(gdal-bin)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || need_apt+=(postgresql-15-postgis-3)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: ${need_apt[*]} — install them (apt-get install ${need_apt[*]}) and run again" >&2
    exit 1
  fi
  echo "installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python="${TERRIL_PYTHON:-python3}"
if ! "$python" -c 'import mapbox_vector_tile, pmtiles, shapely, cql2, pyogrio, owslib, moto.server, boto3' >/dev/null 2>&1; then
  echo "installing the Python test requirements"
  "$python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
fi

# PostgreSQL with PostGIS for the distance reference: a database the current user owns.
export TERRIL_PG_DB="${TERRIL_PG_DB:-terril_test}"
if [ "$(id -u)" -eq 0 ]; then
  pg_lsclusters -h | grep -q '^15 *main' || pg_createcluster 15 main >/dev/null
  pg_ctlcluster 15 main status >/dev/null 2>&1 || pg_ctlcluster 15 main start
  runuser -u postgres -- psql -X -q -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$(id -un)'" | grep -q 1 \
    || runuser -u postgres -- createuser --superuser "$(id -un)"
fi
psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$TERRIL_PG_DB'" | grep -q 1 \
  || createdb "$TERRIL_PG_DB"
psql -X -q -d "$TERRIL_PG_DB" -c 'CREATE EXTENSION IF NOT EXISTS postgis' >/dev/null

cargo test --locked "$@"

# The map in a real browser, against the debug server binary that cargo test built.
cargo build --locked --quiet
(cd web && npm ci --no-audit --no-fund --loglevel=error && node --test tests/)

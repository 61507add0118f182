#!/bin/sh
# Build stage of the image (and of tests/system/test_image_install.py): a wheel of the
# project and of every dependency, so the final stage installs without compilers or
# network. Usage: [PYTHON=python3] [WHEELHOUSE=DIR] build-wheels.sh SOURCE_DIR WHEEL_DIR
# WHEELHOUSE: build offline from the wheels in DIR (scripts/build-image.sh fills it on the
# host, where PyPI is reachable); unset, pip downloads what it needs as usual.
set -eu
src=$1
wheels=$2
python=${PYTHON:-python3}
if ! "$python" -m pip --version >/dev/null 2>&1; then
  # A base image without pip (Debian's python3): pip from the interpreter's own bundle.
  "$python" -m venv /tmp/pip-venv
  python=/tmp/pip-venv/bin/python
fi
set -- --no-cache-dir --disable-pip-version-check --wheel-dir "$wheels"
if [ -n "${WHEELHOUSE:-}" ]; then
  set -- "$@" --no-index --find-links "$WHEELHOUSE"
fi
"$python" -m pip wheel "$@" "$src"

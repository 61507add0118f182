#!/bin/sh
# Final stage of the image (and of tests/system/test_image_install.py): a virtualenv
# without pip or setuptools, filled only from the wheels of the build stage (--no-index).
# Usage: [PYTHON=python3] install.sh WHEEL_DIR VENV_DIR
set -eu
wheels=$1
venv=$2
python=${PYTHON:-python3}
"$python" -m venv --without-pip "$venv"
pip_python=$python
if ! "$python" -m pip --version >/dev/null 2>&1; then
  # A base image without pip (Debian's python3): a throwaway pip from the interpreter's own
  # bundle drives the install into the venv, then goes.
  pip_python=$(mktemp -d)/pip-venv
  "$python" -m venv "$pip_python"
  pip_python=$pip_python/bin/python
fi
"$pip_python" -m pip --python "$venv/bin/python" install --no-cache-dir \
  --disable-pip-version-check --no-index --find-links "$wheels" metallb-py
# The kubernetes client's asyncio twin (kubernetes/aio, ~70 MB with bytecode): nothing of
# ours imports it; tests/system/test_image_install.py imports every daemon module without it.
rm -rf "$venv"/lib/python3*/site-packages/kubernetes/aio
if [ "$pip_python" != "$python" ]; then
  rm -rf "$(dirname "$(dirname "$(dirname "$pip_python")")")"
fi

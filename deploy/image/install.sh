#!/bin/sh
# Final stage of the image (and of tests/system/test_image_install.py): a virtualenv
# without pip or setuptools, filled only from the wheels of the build stage (--no-index).
# Usage: [PYTHON=python3] install.sh WHEEL_DIR VENV_DIR
set -eu
wheels=$1
venv=$2
"${PYTHON:-python}" -m venv --without-pip "$venv"
"${PYTHON:-python}" -m pip --python "$venv/bin/python" install --no-cache-dir --disable-pip-version-check \
  --no-index --find-links "$wheels" metallb-py

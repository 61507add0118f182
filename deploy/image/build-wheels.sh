#!/bin/sh
# Build stage of the image (and of tests/system/test_image_install.py): a wheel of the
# project and of every dependency, so the final stage installs without compilers or
# network. Usage: build-wheels.sh SOURCE_DIR WHEEL_DIR
set -eu
src=$1
wheels=$2
"${PYTHON:-python}" -m pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir "$wheels" "$src"

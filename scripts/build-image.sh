#!/usr/bin/env bash
# Build the image on this kind of machine (no base-image registry, no network inside a
# build): a Debian bookworm base made with mmdebstrap from Debian's packages (cached), the
# wheels built on the host (PyPI is reachable here), then the unchanged Dockerfile with
# podman. Prints the image's name and size. Needs root; scripts/setup.sh installs podman,
# runc and mmdebstrap.
# Usage: bash scripts/build-image.sh [TAG]   (default: the tag the manifests use)
# Env: METALLB_IMAGE_CACHE (default /var/tmp/metallb-image): base tarball and wheelhouse.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tag=${1:-$(python3 -c 'from metallb.component.settings import DEFAULT_IMAGE; print(DEFAULT_IMAGE)')}
cache=${METALLB_IMAGE_CACHE:-/var/tmp/metallb-image}
base=localhost/metallb-base:bookworm
mkdir -p "$cache"

# --no-cache below: buildah keys a RUN layer without the content of a bind mount from
# another stage, so a changed wheel would reuse the old install layer.
# podman here: runc (crun fails on this kernel's hybrid cgroups) and no ulimit raising.
printf '[containers]\ndefault_ulimits = []\n' > "$cache/containers.conf"
export CONTAINERS_CONF=$cache/containers.conf
podman=(podman --runtime /usr/sbin/runc)

# The base: python3 and venv only; documentation, man pages and translations left out.
base_packages="python3,python3-venv"
base_key=$(printf '%s %s' "$base_packages" v1 | sha256sum | cut -c1-12)
if ! "${podman[@]}" image exists "$base" \
    || [ "$("${podman[@]}" image inspect --format '{{index .Labels "metallb.base-key"}}' "$base" 2>/dev/null)" != "$base_key" ]; then
  echo "build-image: building the Debian base ($base_packages) with mmdebstrap" >&2
  rm -f "$cache/base.tar"
  mmdebstrap --quiet --variant=minbase --include="$base_packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    bookworm "$cache/base.tar"
  "${podman[@]}" import --change "LABEL metallb.base-key=$base_key" \
    "$cache/base.tar" "$base" >/dev/null
  rm -f "$cache/base.tar"
fi

# Every dependency as a wheel, built here where PyPI is reachable; the build stage then
# runs offline from this wheelhouse (the project's own wheel is built inside the build).
wheels=$cache/wheelhouse
rm -rf "$wheels" && mkdir -p "$wheels"
python3 -m pip wheel -q --disable-pip-version-check --wheel-dir "$wheels" "$repo" \
  'setuptools>=68' wheel 2>&1 | grep -v "^WARNING: \(Running pip as the 'root' user\|Location\)" || true
rm -f "$wheels"/metallb_py-*.whl
ls "$wheels"/*.whl >/dev/null

"${podman[@]}" build -q --no-cache -t "$tag" --build-arg PYTHON_IMAGE="$base" \
  --build-arg WHEELHOUSE=/wheelhouse --volume "$wheels:/wheelhouse:ro" "$repo" >/dev/null
size=$("${podman[@]}" image inspect --format '{{.Size}}' "$tag")
echo "image=$tag size_bytes=$size size_mb=$((size / 1000000))"

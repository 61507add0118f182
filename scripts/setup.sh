#!/usr/bin/env bash
# Install everything the demo and the tests need on a fresh Debian 12 machine (as root).
# Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v vtysh >/dev/null 2>&1 || need_apt+=(frr)
[ -x /usr/lib/frr/bgpd ] || need_apt+=(frr)
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)
command -v gobgpd >/dev/null 2>&1 || need_apt+=(gobgpd)
command -v bird >/dev/null 2>&1 || need_apt+=(bird2)
command -v birdc >/dev/null 2>&1 || need_apt+=(bird2)
# The image (scripts/build-image.sh): podman with runc, a Debian base from mmdebstrap;
# installed with their recommended packages (as measured in shared/LAB-NOTES.md).
need_image=()
command -v podman >/dev/null 2>&1 || need_image+=(podman)
[ -x /usr/sbin/runc ] || need_image+=(runc)
command -v mmdebstrap >/dev/null 2>&1 || need_image+=(mmdebstrap)
if [ $((${#need_apt[@]} + ${#need_image[@]})) -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install ${need_apt[*]} (apt-get); run as root" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]} ${need_image[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [ ${#need_apt[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need_apt[@]}" | sort -u) >/dev/null
  fi
  if [ ${#need_image[@]} -gt 0 ]; then
    apt-get install -y -qq "${need_image[@]}" >/dev/null
  fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -vE "WARNING: Running pip as the 'root' user|dependency conflicts|requires .* but you have|^$" || true
python3 -c "import metallb" || { echo "setup: the metallb package did not install" >&2; exit 1; }

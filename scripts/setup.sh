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
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install ${need_apt[*]} (apt-get); run as root" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need_apt[@]}" | sort -u) >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -vE "WARNING: Running pip as the 'root' user|dependency conflicts|requires .* but you have|^$" || true
python3 -c "import metallb" || { echo "setup: the metallb package did not install" >&2; exit 1; }

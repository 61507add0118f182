#!/usr/bin/env bash
# The whole system on one machine, for real: installs what is missing (FRR, Prometheus,
# the metallb package), then runs `metallb lab demo` (router with FRR, nodes announcing
# over BGP, ECMP, Prometheus) and takes it down again. Run as root. Arguments go to the
# demo, e.g. `bash scripts/demo.sh --nodes 4 --keep`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh && python3 -m metallb lab demo "$@"

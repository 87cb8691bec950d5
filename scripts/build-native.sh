#!/usr/bin/env bash
# Build the compiled network sensor (mypyc; setup.py) into build/native without touching the
# source tree or the editable install. Use it with:
#   PYTHONPATH=build/native .venv/bin/healthdlp sensor net ...
#   PYTHONPATH=build/native .venv/bin/python bench/bench_net.py --size-mb 100
# Needs gcc and the Python headers (present on these machines); about a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x .venv/bin/python ]] || bash scripts/setup.sh --test
# setuptools >= 77 reads pyproject's SPDX licence string; mypy (the test extra) provides mypyc
.venv/bin/python -m pip install -q "setuptools>=77" "mypy>=1.10"
rm -rf build  # setuptools reuses build/lib*: never let an old compile leak into a new one
echo "==> compiling the network sensor with mypyc into build/native"
HEALTHDLP_NATIVE=1 .venv/bin/python -m pip install -q --no-deps --no-build-isolation --target build/native .
ls build/native/sensors/net/*.so >/dev/null 2>&1 || { echo "native build failed: no extension modules" >&2; exit 1; }
echo "==> build/native ready ($(find build/native -name '*.so' | wc -l) extension modules)"

#!/usr/bin/env bash
# The second README command: set up everything the tests need, then lint, type-check and run the
# whole suite, including the integration tests against a real Kafka-protocol broker and a real
# ClickHouse server, which the tests start themselves (tests/services.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

echo "==> ruff"
.venv/bin/ruff check .
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
export CI="${CI:-}"
.venv/bin/python -m pytest -q "$@"
if [[ $# -eq 0 ]]; then
  # the production build compiles the network sensor with mypyc (setup.py): build it and run the
  # network-sensor tests (fuzz included) again against the compiled modules; test_native.py fails
  # if the pure-Python modules were picked up instead
  echo "==> compiled network sensor"
  bash scripts/build-native.sh
  PYTHONPATH=build/native HEALTHDLP_EXPECT_NATIVE=1 .venv/bin/pytest -q --import-mode=append -p no:cacheprovider \
    tests/sensors/net tests/healthdlp/test_scan.py tests/test_packaging.py
fi

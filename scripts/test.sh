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

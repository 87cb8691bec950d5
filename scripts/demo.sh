#!/usr/bin/env bash
# The first README command: set up and run the embedded demo (no servers: chdb stores the alerts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/healthdlp demo "$@"

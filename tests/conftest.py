"""Shared fixtures. Integration fixtures start real services once per session (tests/services.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import services  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Fuzz and property tests explore fresh inputs on developer machines; in CI they replay a fixed
# sequence so a submission's result does not depend on luck (a find is then fixed and pinned as a
# regression test, like test_postgres_datarow_with_lying_column_count_does_not_raise).
from hypothesis import settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    _hyp_settings.load_profile("ci")


def _unavailable(what: str, err: Exception) -> None:
    msg = f"{what} unavailable: {err}"
    if IN_CI:
        pytest.fail(msg + " (CI=true: a missing service is a failure, not a skip)")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """bootstrap address of a real Kafka-protocol broker (Tansu) started for this test session."""
    try:
        svc = services.start_broker()
    except (FileNotFoundError, RuntimeError) as e:
        _unavailable("Kafka-protocol broker", e)
        raise
    try:
        yield f"127.0.0.1:{svc.port}"
    finally:
        svc.stop()


@pytest.fixture(scope="session")
def clickhouse_port() -> Iterator[int]:
    """native-protocol port of a real ClickHouse server started for this test session."""
    try:
        svc = services.start_clickhouse()
    except (FileNotFoundError, RuntimeError) as e:
        _unavailable("ClickHouse server", e)
        raise
    try:
        yield svc.port
    finally:
        svc.stop()


@pytest.fixture()
def hash_key() -> bytes:
    return b"test-hash-key-not-secret"

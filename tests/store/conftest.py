"""Backend fixtures: the same test bodies run against a real ClickHouse server and embedded chdb.

chdb allows one database path per process at a time, so every chdb store in this test module
shares one path (per module) and each test gets its own *database* instead; stores are closed
after each test, which releases the process-wide chdb session for other test modules.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.config import StoreConfig
from store import AlertStore, open_store

BACKENDS = ("clickhouse", "chdb")


@pytest.fixture(scope="module")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(params=BACKENDS)
def store_cfg(request: pytest.FixtureRequest, chdb_dir: Path) -> StoreConfig:
    database = "t_" + uuid.uuid4().hex[:12]
    if request.param == "clickhouse":
        port = request.getfixturevalue("clickhouse_port")
        return StoreConfig(backend="clickhouse", port=port, database=database, insert_batch=7)
    return StoreConfig(backend="chdb", chdb_path=str(chdb_dir), database=database, insert_batch=7)


@pytest.fixture()
def store(store_cfg: StoreConfig) -> Iterator[AlertStore]:
    s = open_store(store_cfg)
    try:
        s.migrate()
        yield s
    finally:
        s.close()

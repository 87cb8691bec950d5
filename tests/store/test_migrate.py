"""Migration files: naming, order, idempotency lint and version gating (rendering only).

Applying them to real engines is in test_integration.py.
"""

from __future__ import annotations

import pytest

from store.migrate import FEATURES, Migration, load_migrations, parse_version, render

OLD = parse_version("18.16.1")
NEW = parse_version("26.9.2.1")


def test_parse_version() -> None:
    assert OLD == (18, 16, 1)
    assert NEW == (26, 9, 2, 1)
    assert parse_version("v20.1.2.4-stable") == (20, 1, 2, 4)
    with pytest.raises(ValueError):
        parse_version("unknown")


def test_bundled_migrations_are_ordered_and_lint_clean() -> None:
    migs = load_migrations()
    assert [m.number for m in migs] == list(range(1, len(migs) + 1))
    assert migs[0].name == "0001_core"
    assert len({m.checksum for m in migs}) == len(migs)


def test_order_is_by_number_not_by_listing() -> None:
    files = {
        "0002_b.sql": "CREATE TABLE IF NOT EXISTS {{db}}.b (x UInt8) ENGINE = Memory",
        "0001_a.sql": "CREATE TABLE IF NOT EXISTS {{db}}.a (x UInt8) ENGINE = Memory",
        "0003_c.sql": "CREATE TABLE IF NOT EXISTS {{db}}.c (x UInt8) ENGINE = Memory",
    }
    assert [m.name for m in load_migrations(files)] == ["0001_a", "0002_b", "0003_c"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"0001_a.sql": "", "0003_c.sql": ""}, "without gaps"),
        ({"0001_a.sql": "", "0001_b.sql": ""}, "without gaps"),
        ({"1_a.sql": ""}, "must look like"),
        ({"0001-a.sql": ""}, "must look like"),
        ({"0001_a.sql": "CREATE TABLE {{db}}.a (x UInt8) ENGINE = Memory"}, "IF NOT EXISTS"),
        ({"0001_a.sql": "ALTER TABLE {{db}}.a ADD COLUMN y UInt8"}, "if_not_exists"),
        ({"0001_a.sql": "ALTER TABLE {{db}}.a DROP COLUMN y"}, "destructive"),
        ({"0001_a.sql": "INSERT INTO {{db}}.a VALUES (1)"}, "only CREATE and ALTER"),
        ({"0001_a.sql": "DROP TABLE {{db}}.a"}, "only CREATE and ALTER"),
    ],
)
def test_bad_migration_sets_are_refused(files: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_migrations(files)


def _core() -> Migration:
    return next(m for m in load_migrations() if m.name == "0001_core")


def test_old_server_gets_plain_clauses() -> None:
    r = render(_core(), OLD, "healthdlp")
    text = "\n".join(r.statements)
    assert "LowCardinality" not in text
    assert "CODEC" not in text
    assert "TTL" not in text
    assert "{{" not in text
    assert set(r.gated_off) == {"lowcard", "codec", "ttl"}
    assert "severity String," in text


def test_new_server_gets_gated_clauses() -> None:
    r = render(_core(), NEW, "healthdlp")
    text = "\n".join(r.statements)
    assert "severity LowCardinality(String)" in text
    assert "CODEC(ZSTD(3))" in text
    assert "TTL inserted_at + INTERVAL 90 DAY" in text
    assert r.gated_off == ()


@pytest.mark.parametrize(
    ("version", "expect_index"), [(OLD, False), ((21, 7), False), ((21, 8), True), (NEW, True)]
)
def test_requires_gates_whole_statements(version: tuple[int, ...], expect_index: bool) -> None:
    mig = next(m for m in load_migrations() if m.name == "0003_subject_index")
    r = render(mig, version, "healthdlp")
    assert (len(r.statements) == 1) is expect_index
    assert any(g.startswith("requires 21.8") for g in r.gated_off) is not expect_index


def test_feature_threshold_is_inclusive() -> None:
    since = FEATURES["ttl"].since
    mig = Migration(
        1,
        "0001_t",
        "CREATE TABLE IF NOT EXISTS {{db}}.t (x UInt8) ENGINE = MergeTree ORDER BY x "
        "{{ttl toDate('2000-01-01') + INTERVAL 1 DAY}}",
    )
    assert "TTL" in render(mig, since, "d").statements[0]
    assert "TTL" not in render(mig, (since[0], since[1] - 1), "d").statements[0]


def test_database_is_substituted_and_checked() -> None:
    r = render(_core(), NEW, "other_db")
    assert all("other_db." in s for s in r.statements)
    with pytest.raises(ValueError, match="plain identifier"):
        render(_core(), NEW, "x; DROP DATABASE y")


def test_unknown_macro_is_an_error() -> None:
    mig = Migration(
        1, "0001_t", "CREATE TABLE IF NOT EXISTS {{db}}.t (x {{lowcardinality String}}) ENGINE = Memory"
    )
    with pytest.raises(ValueError, match="unknown macro"):
        render(mig, NEW, "d")


def test_macros_in_comments_are_not_rendered_or_counted() -> None:
    mig = Migration(
        1,
        "0001_t",
        "-- uses {{ttl x}} and {{codec y}} later\nCREATE TABLE IF NOT EXISTS {{db}}.t "
        "(x UInt8) ENGINE = Memory",
    )
    r = render(mig, OLD, "d")
    assert r.gated_off == ()
    assert r.statements == ("CREATE TABLE IF NOT EXISTS d.t (x UInt8) ENGINE = Memory",)

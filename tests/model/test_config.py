"""Config: defaults, validation with file:line for every problem, the hash key."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.config import Config, load_config, load_hash_key
from model.yamlsrc import ConfigError


def test_defaults_without_file() -> None:
    cfg = load_config(None)
    assert cfg.store.backend == "chdb"
    assert cfg.kafka.events_topic == "healthdlp.events.v1"


def test_valid_file(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(
        "sensor_id: s9\nkafka:\n  bootstrap: 127.0.0.1:1\n  partitions: 6\nlogs:\n  paths: [a.log, 'b/*.log']\n"
    )
    cfg = load_config(p)
    assert cfg.sensor_id == "s9" and cfg.kafka.partitions == 6
    assert cfg.logs.paths == ("a.log", "b/*.log") and cfg.source == str(p)


def test_all_errors_reported_with_lines(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(
        "kafka:\n"
        "  partitons: 3\n"  # line 2: typo
        "store:\n"
        "  backend: mysql\n"  # line 4
        "  port: nine\n"  # line 5
        "stream:\n"
        "  take_within: true\n"  # line 7
        "net: []\n"  # line 8
    )
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    text = str(ei.value)
    assert f"{p}:2: unknown key 'partitons'; did you mean 'partitions'?" in text
    assert f"{p}:4:" in text and "mysql" in text
    assert f"{p}:5:" in text and f"{p}:7:" in text and f"{p}:8:" in text
    assert len(ei.value.issues) == 5


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    p = tmp_path / "syn.yaml"
    p.write_text("kafka:\n  bootstrap: [unclosed\n")
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert str(ei.value).startswith(f"{p}:")


def test_duplicate_key(tmp_path: Path) -> None:
    p = tmp_path / "dup.yaml"
    p.write_text("sensor_id: a\nsensor_id: b\n")
    with pytest.raises(ConfigError, match=r"dup.yaml:2: duplicate key"):
        load_config(p)


def test_hash_key_created_once_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEALTHDLP_HASH_KEY", raising=False)
    cfg = Config(hash_key_file=str(tmp_path / "k" / "hash.key"))
    k1 = load_hash_key(cfg)
    assert len(k1) == 64 and load_hash_key(cfg) == k1
    assert (tmp_path / "k" / "hash.key").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("HEALTHDLP_HASH_KEY", "from-env")
    assert load_hash_key(cfg) == b"from-env"
    with pytest.raises(ConfigError):
        monkeypatch.delenv("HEALTHDLP_HASH_KEY")
        load_hash_key(Config(hash_key_file=str(tmp_path / "missing")), create=False)


def test_impossible_yaml_value_is_a_config_error_for_every_loader(tmp_path: Path) -> None:
    """PyYAML raises ValueError for 2025-13-01; every loader gets it as a ConfigError naming the file."""
    from model.yamlsrc import load_yaml_file

    p = tmp_path / "dates.yaml"
    p.write_text("expires: 2025-13-01\n")
    with pytest.raises(ConfigError, match=r"dates.yaml:0: YAML value: .*quote dates"):
        load_yaml_file(p)

from pathlib import Path

from model.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_is_valid() -> None:
    cfg = load_config(ROOT / "config" / "healthdlp.example.yaml")
    assert cfg.store.backend == "clickhouse"
    assert cfg.kafka.events_topic == "healthdlp.events.v1"

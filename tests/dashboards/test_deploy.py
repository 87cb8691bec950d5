"""docker-compose.yml, Dockerfile and deploy/: parsed and cross-checked (Docker does not run here).

What can drift is checked against the code: the config files load with model.config, topic
names and partitions match what the services use, ports and listeners line up, every bind
mount exists, and Grafana's provisioning points at the dashboard the repository ships.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.grafana import DASHBOARD_FILE, DATASOURCE_UID
from model.config import Config, KafkaConfig, load_config

REPO = Path(__file__).resolve().parents[2]
CONTAINER_CONFIG_DIR = "/etc/healthdlp"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def env(svc: dict[str, Any]) -> dict[str, str]:
    e = svc.get("environment", {})
    return {k: str(v) for k, v in e.items()} if isinstance(e, dict) else dict(x.split("=", 1) for x in e)


def default_of(value: str) -> str:
    """'${VAR:-default}' -> 'default' (what compose uses without a .env)."""
    return value.split(":-", 1)[1].rstrip("}") if value.startswith("${") else value


def config_path(svc: dict[str, Any]) -> Path:
    cmd = svc["command"]
    container = cmd[cmd.index("--config") + 1]
    assert container.startswith(CONTAINER_CONFIG_DIR + "/")
    mount = next(v for v in svc["volumes"] if v.split(":")[1] == CONTAINER_CONFIG_DIR)
    return REPO / mount.split(":")[0] / container[len(CONTAINER_CONFIG_DIR) + 1 :]


HEALTHDLP_SERVICES = {
    "processor": ["healthdlp", "process"],
    "console": ["healthdlp", "console"],
    "sensor-net": ["healthdlp", "sensor", "net"],
    "sensor-logs": ["healthdlp", "sensor", "logs"],
}


def test_all_services_present(compose: dict[str, Any]) -> None:
    s = services(compose)
    for name in ("kafka", "kafka-topics", "clickhouse", "grafana", *HEALTHDLP_SERVICES):
        assert name in s, name
    assert s["kafka"]["image"].startswith("apache/kafka:")
    assert s["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    assert s["grafana"]["image"].startswith("grafana/grafana:")
    assert "zookeeper" not in s
    for name, argv in HEALTHDLP_SERVICES.items():
        assert s[name]["command"][: len(argv)] == argv, name
        assert s[name]["build"] == "."


def test_kafka_runs_kraft_with_consistent_listeners(compose: dict[str, Any]) -> None:
    e = env(services(compose)["kafka"])
    assert set(e["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert e["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{e['KAFKA_NODE_ID']}@kafka:9093"
    listeners = dict(x.split("://") for x in e["KAFKA_LISTENERS"].split(","))
    advertised = dict(x.split("://") for x in e["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(x.split(":") for x in e["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocols) and e["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert set(advertised) <= set(listeners)
    assert advertised["PLAINTEXT"] == "kafka:9092"
    assert "127.0.0.1:9094:9094" in services(compose)["kafka"]["ports"]
    assert advertised["EXTERNAL"] == "127.0.0.1:9094"


@pytest.mark.parametrize("name", sorted(HEALTHDLP_SERVICES))
def test_service_config_exists_and_loads(compose: dict[str, Any], name: str) -> None:
    svc = services(compose)[name]
    path = config_path(svc)
    assert path.is_file(), path
    cfg = load_config(path)  # raises ConfigError with file:line on any problem
    defaults = KafkaConfig()
    assert (cfg.kafka.events_topic, cfg.kafka.alerts_topic, cfg.kafka.dlq_topic) == (
        defaults.events_topic,
        defaults.alerts_topic,
        defaults.dlq_topic,
    )
    kafka_env = env(services(compose)["kafka"])
    advertised = [x.split("://")[1] for x in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")]
    assert cfg.kafka.bootstrap in advertised
    if svc.get("network_mode") == "host":
        assert cfg.kafka.bootstrap.startswith("127.0.0.1:"), "host-network services cannot resolve 'kafka'"
    else:
        assert cfg.kafka.bootstrap == "kafka:9092"
    state = {
        "processor": [cfg.hash_key_file, cfg.stream.data_dir, cfg.dead_letter_path],
        "sensor-logs": [cfg.logs.checkpoint_dir, cfg.dead_letter_path],
        "sensor-net": [cfg.dead_letter_path],
        "console": [],
    }[name]
    for p in state:
        assert p.startswith("/var/lib/healthdlp/"), f"{p}: state must live on the healthdlp-state volume"


def test_store_settings_match_clickhouse_service(compose: dict[str, Any]) -> None:
    cfg: Config = load_config(config_path(services(compose)["processor"]))
    ch = env(services(compose)["clickhouse"])
    assert cfg.store.backend == "clickhouse"
    assert cfg.store.host == "clickhouse" and cfg.store.port == 9000
    assert cfg.store.database == ch["CLICKHOUSE_DB"]
    assert cfg.store.user == ch["CLICKHOUSE_USER"]
    assert cfg.store.password == default_of(ch["CLICKHOUSE_PASSWORD"])


def test_topic_init_matches_config(compose: dict[str, Any]) -> None:
    cfg = load_config(config_path(services(compose)["processor"]))
    script = "\n".join(services(compose)["kafka-topics"]["command"])
    for topic in (cfg.kafka.events_topic, cfg.kafka.alerts_topic, cfg.kafka.dlq_topic):
        assert topic in script
    assert f"--partitions {cfg.kafka.partitions}" in script
    assert f"--replication-factor {cfg.kafka.replication}" in script
    assert env(services(compose)["kafka"])["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_network_sensor_has_capture_privileges(compose: dict[str, Any]) -> None:
    s = services(compose)["sensor-net"]
    assert s["network_mode"] == "host"
    assert {"NET_RAW", "NET_ADMIN"} <= set(s["cap_add"])
    assert load_config(config_path(s)).net.interface


def test_bind_mounts_exist(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("./"):
                assert (REPO / src).exists(), f"{name}: {src}"


def test_grafana_provisioning_matches_dashboard(compose: dict[str, Any]) -> None:
    ds = yaml.safe_load((REPO / "deploy/grafana/provisioning/datasources/clickhouse.yaml").read_text())
    source = ds["datasources"][0]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["uid"] == DATASOURCE_UID
    assert source["jsonData"]["host"] == "clickhouse" and source["jsonData"]["protocol"] == "native"
    assert source["jsonData"]["username"] == "grafana"
    users = (REPO / "deploy/clickhouse/users.d/grafana.xml").read_text()
    assert "<grafana>" in users and "<readonly>2</readonly>" in users
    prov = yaml.safe_load((REPO / "deploy/grafana/provisioning/dashboards/healthdlp.yaml").read_text())
    path = prov["providers"][0]["options"]["path"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services(compose)["grafana"]["volumes"]}
    assert (REPO / mounts[path] / DASHBOARD_FILE.name).is_file()
    assert "grafana-clickhouse-datasource" in env(services(compose)["grafana"])["GF_INSTALL_PLUGINS"]


def test_dockerfile_installs_the_compiled_package() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    # the build stage compiles the network sensor (setup.py) into a wheel; the image installs it
    assert "HEALTHDLP_NATIVE=1 pip wheel" in text and "COPY pyproject.toml setup.py" in text
    assert "COPY --from=build /wheels /wheels" in text and "pip install /wheels/*.whl" in text
    for pkg in ("model", "sensors", "detectors", "store", "stream", "dashboards", "healthdlp"):
        assert f"COPY {pkg} ./{pkg}" in text

"""One validated configuration object, loaded once at startup and passed down.

No global settings singleton: the CLI loads a :class:`Config` and hands the relevant section to
each part. Every key is checked against the dataclasses below; unknown keys, wrong types and bad
values are all reported together with file:line (:class:`model.yamlsrc.ConfigError`).
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.yamlsrc import ConfigError, ConfigIssue, LineDict, load_yaml_file, unknown_key_message, where


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap: str = "127.0.0.1:9092"
    events_topic: str = "healthdlp.events.v1"
    alerts_topic: str = "healthdlp.alerts.v1"
    dlq_topic: str = "healthdlp.events.dlq"
    partitions: int = 3
    replication: int = 1
    compression: str = "gzip"  # gzip | lz4 | zstd | snappy | none
    batch_events: int = 200  # events per Kafka message (envelope)
    linger_ms: int = 20
    idempotence: bool = True
    request_timeout_ms: int = 30000
    # Local disk spool (sensors/spool.py): where events wait while the broker is unreachable.
    spool_dir: str = ""  # empty = no spool (a failed flush raises, the log sensor rewinds)
    spool_max_bytes: int = 1 << 30  # bound on the spool on disk
    spool_segment_bytes: int = 16 << 20  # one fsync'd segment file
    spool_overflow: str = "block"  # block | drop-oldest | drop-newest (counted)
    spool_retry_seconds: float = 5.0  # wait between reconnection attempts while spooling


@dataclass(frozen=True)
class StoreConfig:
    backend: str = "chdb"  # chdb (embedded) | clickhouse (server)
    chdb_path: str = "var/chdb"
    host: str = "127.0.0.1"
    port: int = 9000
    database: str = "healthdlp"
    user: str = "default"
    password: str = ""
    insert_batch: int = 1000


@dataclass(frozen=True)
class StreamConfig:
    app_id: str = "healthdlp"
    data_dir: str = "var/faust"
    take_max: int = 500
    take_within: float = 1.0
    web_port: int = 6066
    session_timeout: float = 30.0
    consumer_auto_offset_reset: str = "earliest"


@dataclass(frozen=True)
class DetectorsConfig:
    catalogue: str = ""  # empty = the bundled catalogue (detectors/catalogue/)
    max_scan_chars: int = 1 << 20
    disabled: tuple[str, ...] = ()
    edm_index: str = ""  # exact-data-match fingerprint file from `healthdlp edm build`; "" = off
    tuning: str = ""  # site tuning YAML (thresholds, context words, hashed allow-list, extra patterns); "" = none


@dataclass(frozen=True)
class PolicyConfig:
    rules: tuple[str, ...] = ()  # files or directories; empty = the bundled rules (stream/policy/rules/)
    context: tuple[str, ...] = ()  # context files/directories (assets, zones, approvals); empty = none


@dataclass(frozen=True)
class NetConfig:
    interface: str = ""
    bpf: str = "tcp"
    snaplen: int = 65535
    max_message_bytes: int = 1 << 20
    max_flow_buffer: int = 4 << 20
    max_flows: int = 100_000
    idle_timeout: float = 120.0
    #: Global bound on bytes held for reassembly (out-of-order TCP data of all flows); over it the
    #: least recently used flows' buffers are delivered with gaps (counted as memory.*). An eighth
    #: of it bounds IP fragment reassembly.
    max_buffered_bytes: int = 256 << 20


@dataclass(frozen=True)
class SyslogConfig:
    """The syslog receiver (sensors/logs/syslog.py): listen addresses empty = that transport is off."""

    udp: str = ""  # "0.0.0.0:514"
    tcp: str = ""  # "0.0.0.0:601" (octet-counting or newline framing, auto per frame)
    tls: str = ""  # "0.0.0.0:6514" (RFC 5425); needs tls_cert and tls_key
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""  # when set, clients must present a certificate signed by this CA
    queue_messages: int = 10000  # bound on messages waiting for the parser thread
    max_message_bytes: int = 64 << 10
    max_connections: int = 256


@dataclass(frozen=True)
class LogsConfig:
    paths: tuple[str, ...] = ()  # files or globs
    format: str = "auto"  # auto | a name of sensors.logs.formats.FORMATS
    checkpoint_dir: str = "var/checkpoints"
    poll_interval: float = 0.5
    max_line_bytes: int = 1 << 20
    sample_bytes: int = 64 << 10
    # Removable media: path prefixes that are removable mount points (auditd, Sysmon file writes).
    removable_paths: tuple[str, ...] = ("/media/", "/run/media/", "/mnt/", "/Volumes/")
    sample_files: bool = True  # read (bounded) the file a log names, when readable, for the detectors
    his_mappings: tuple[str, ...] = ()  # extra HIS audit mapping files/dirs (bundled ones always load)
    his_mapping: str = ""  # force one mapping by name for format his-audit (empty = match by header)
    max_pending_records: int = 4096  # bound on correlation state (auditd groups, multi-line records)
    syslog: SyslogConfig = field(default_factory=SyslogConfig)


@dataclass(frozen=True)
class Config:
    sensor_id: str = "healthdlp"
    hash_key_file: str = "var/hash.key"  # HMAC key for value hashes; HEALTHDLP_HASH_KEY overrides
    dead_letter_path: str = "var/dead-letters.jsonl"  # embedded mode's dead-letter sink
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    detectors: DetectorsConfig = field(default_factory=DetectorsConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    net: NetConfig = field(default_factory=NetConfig)
    logs: LogsConfig = field(default_factory=LogsConfig)
    source: str = "<defaults>"  # where the config came from, for messages

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("StoreConfig", "backend"): ("chdb", "clickhouse"),
    ("KafkaConfig", "compression"): ("gzip", "lz4", "zstd", "snappy", "none"),
    ("LogsConfig", "format"): ("auto", "jsonl", "usb-kernel", "file-copy", "auditd", "windows-event", "evtx",
                               "access-log", "pgaudit", "mysql-audit", "sql-audit-csv", "his-audit"),
    ("KafkaConfig", "spool_overflow"): ("block", "drop-oldest", "drop-newest"),
    ("StreamConfig", "consumer_auto_offset_reset"): ("earliest", "latest"),
}


def _coerce(tp: Any, value: Any, node: Any, key: str, owner: str, issues: list[ConfigIssue]) -> Any:
    loc = where(node, key)
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            issues.append(ConfigIssue(loc, f"{key!r} must be a mapping"))
            return tp()
        return _build(tp, value, issues)
    if origin is tuple:
        items = value if isinstance(value, list) else [value] if isinstance(value, str) else None
        if items is None or not all(isinstance(i, str) for i in items):
            issues.append(ConfigIssue(loc, f"{key!r} must be a list of strings"))
            return ()
        return tuple(items)
    if tp is bool:
        if not isinstance(value, bool):
            issues.append(ConfigIssue(loc, f"{key!r} must be true or false, not {value!r}"))
        return bool(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            issues.append(ConfigIssue(loc, f"{key!r} must be an integer, not {value!r}"))
            return 0
        if value < 0:
            issues.append(ConfigIssue(loc, f"{key!r} must not be negative"))
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            issues.append(ConfigIssue(loc, f"{key!r} must be a number, not {value!r}"))
            return 0.0
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            issues.append(ConfigIssue(loc, f"{key!r} must be a string"))
            return ""
        choices = _CHOICES.get((owner, key))
        if choices and str(value) not in choices:
            issues.append(ConfigIssue(loc, f"{key!r} must be one of {', '.join(choices)}, not {value!r}"))
        return str(value)
    return value


def _build(cls: type, node: Mapping[str, Any], issues: list[ConfigIssue]) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name != "source"]
    kwargs: dict[str, Any] = {}
    for key, value in node.items():
        if key not in names:
            issues.append(ConfigIssue(where(node, key), unknown_key_message(key, names)))
            continue
        tp = hints[key]
        if isinstance(tp, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        kwargs[key] = _coerce(tp, value, node, key, cls.__name__, issues)
    return cls(**kwargs)


def config_from_mapping(node: Mapping[str, Any], source: str = "<mapping>") -> Config:
    issues: list[ConfigIssue] = []
    cfg = _build(Config, node, issues)
    if issues:
        raise ConfigError(issues)
    return dataclasses.replace(cfg, source=source)


def load_config(path: str | Path | None) -> Config:
    """Load and validate; ``None`` gives the embedded defaults. Relative paths stay relative to CWD."""
    if path is None:
        return Config()
    data = load_yaml_file(path)
    if data is None:
        return Config(source=str(path))
    if not isinstance(data, LineDict):
        raise ConfigError([ConfigIssue(f"{path}:1", "the config file must be a mapping")])
    return config_from_mapping(data, str(path))


def load_hash_key(cfg: Config, create: bool = True) -> bytes:
    """The HMAC key for value hashes: $HEALTHDLP_HASH_KEY, else the key file (created 0600 if missing).

    Every part that hashes values must use the same key, or subjects seen on different channels
    would not match; rotating the key starts subject counting afresh.
    """
    env = os.environ.get("HEALTHDLP_HASH_KEY")
    if env:
        return env.encode("utf-8")
    p = Path(cfg.hash_key_file)
    if p.exists():
        return p.read_bytes().strip()
    if not create:
        raise ConfigError([ConfigIssue(f"{cfg.source}:0", f"hash key file {p} does not exist")])
    p.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32).hex().encode("ascii")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key

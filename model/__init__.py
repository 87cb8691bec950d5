"""Floor 1: the shared model (events, findings, alerts, config). Imports none of the other parts."""

from model.alerts import ALERT_SCHEMA_VERSION, Alert, make_alert_id
from model.config import Config, load_config, load_hash_key
from model.events import EVENT_SCHEMA_VERSION, DeadLetter, Endpoint, Event, TlsInfo, make_event_id
from model.findings import Explanation, Finding, ScanResult
from model.taxonomy import CHANNELS, CLEARTEXT_CAPABLE, DataCategory, Severity, SourceKind
from model.yamlsrc import ConfigError, ConfigIssue

__all__ = [
    "ALERT_SCHEMA_VERSION",
    "CHANNELS",
    "CLEARTEXT_CAPABLE",
    "EVENT_SCHEMA_VERSION",
    "Alert",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "DataCategory",
    "DeadLetter",
    "Endpoint",
    "Event",
    "Explanation",
    "Finding",
    "ScanResult",
    "Severity",
    "SourceKind",
    "TlsInfo",
    "load_config",
    "load_hash_key",
    "make_alert_id",
    "make_event_id",
]

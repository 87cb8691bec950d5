"""The vocabulary every layer shares: data categories, levels, channels, severities.

GB/T 39725-2020 sorts personal health data into six categories (§6.1, Table 1) and five
sensitivity levels (§6.2). Everything healthdlp reports is phrased in these terms so an
analyst can go from an alert straight to the clause that governs it.
"""

from __future__ import annotations

from enum import StrEnum


class DataCategory(StrEnum):
    """The six data categories of GB/T 39725-2020 §6.1, Table 1."""

    PERSONAL_ATTRIBUTE = "personal_attribute"  # 个人属性数据
    HEALTH_STATUS = "health_status"  # 健康状况数据
    MEDICAL_APPLICATION = "medical_application"  # 医疗应用数据
    MEDICAL_PAYMENT = "medical_payment"  # 医疗支付数据
    HEALTH_RESOURCE = "health_resource"  # 卫生资源数据
    PUBLIC_HEALTH = "public_health"  # 公共卫生数据


#: §6.2: five levels, low to high. Level 5 is special-disease detail (e.g. HIV).
MIN_LEVEL = 1
MAX_LEVEL = 5

LEVEL_NAMES: dict[int, str] = {
    1: "L1 public",
    2: "L2 non-identifying",
    3: "L3 re-identifiable",
    4: "L4 identifying",
    5: "L5 special disease",
}


class SourceKind(StrEnum):
    """Where an event was observed."""

    NET = "net"
    LOG = "log"
    FILE = "file"


#: Channels a flow can travel on. Sensors may only emit these names; policy rules refer to them.
CHANNELS: frozenset[str] = frozenset(
    {
        "http",
        "fhir",
        "hl7-mllp",
        "dicom",
        "smtp",
        "ftp",
        "ftp-data",
        "tls",
        "tcp",
        "postgres",
        "mysql",
        "usb",
        "file-copy",
        "api-log",
        "db-audit",
        "his-audit",
        "syslog",
        "log",
    }
)

#: Channels whose content crosses the wire in cleartext unless the sensor saw TLS.
CLEARTEXT_CAPABLE: frozenset[str] = frozenset(
    {"http", "fhir", "hl7-mllp", "dicom", "smtp", "ftp", "ftp-data", "tcp", "postgres", "mysql"}
)


class Severity(StrEnum):
    """Alert severity, ordered."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}

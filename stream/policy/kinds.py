"""The registry of rule kinds: YAML ``kind:`` name -> implementation. One line registers a kind.

Explicit on purpose (no discovery, no entry points): grep finds every kind, and importing the
package has no side effects.
"""

from __future__ import annotations

from stream.policy.approval_kind import ApprovalViolation
from stream.policy.base import RuleKind
from stream.policy.cleartext import CleartextTransfer
from stream.policy.crossborder import CrossBorderVolume
from stream.policy.deid import DeidAssertion
from stream.policy.doctor import DoctorAccess
from stream.policy.endpoint import UnauthorizedEndpoint
from stream.policy.fanout import SubjectFanout
from stream.policy.opening import OpeningFormEgress
from stream.policy.removable import BulkRemovableMedia
from stream.policy.scenario import ScenarioMismatch

KINDS: dict[str, RuleKind] = {
    "cleartext-transfer": CleartextTransfer(),
    "bulk-removable-media": BulkRemovableMedia(),
    "unauthorized-endpoint": UnauthorizedEndpoint(),
    "opening-form-egress": OpeningFormEgress(),
    "scenario-mismatch": ScenarioMismatch(),
    "subject-fanout": SubjectFanout(),
    "doctor-access": DoctorAccess(),
    "deid-assertion": DeidAssertion(),
    "cross-border-volume": CrossBorderVolume(),
    "approval-violation": ApprovalViolation(),
}

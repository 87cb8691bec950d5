"""The registry of rule kinds: YAML ``kind:`` name -> implementation. One line registers a kind.

Explicit on purpose (no discovery, no entry points): grep finds every kind, and importing the
package has no side effects.
"""

from __future__ import annotations

from stream.policy.base import RuleKind
from stream.policy.cleartext import CleartextTransfer
from stream.policy.removable import BulkRemovableMedia

KINDS: dict[str, RuleKind] = {
    "cleartext-transfer": CleartextTransfer(),
    "bulk-removable-media": BulkRemovableMedia(),
}

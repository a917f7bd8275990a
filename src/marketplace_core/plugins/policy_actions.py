"""Custom policy actions: what a plugin adds to the actions a policy can take.

A host or plugin registers a handler under a name (``registry.register_policy_action``); a
policy names it in a ``PolicyAction(ActionKind.CUSTOM, name=...)``. The handler runs when the
action fires and is reset when the action is lifted (the metric dropped back, the period
ended, or the policy was deleted). A handler that raises does not undo the command that
triggered it: the failure is recorded on the ``PolicyActionRun`` event.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

import attrs

from marketplace_core.policies import Policy, PolicyAction
from marketplace_core.resources import Resource


@attrs.frozen
class PolicyActionCall:
    """What a handler is told: the policy and action, when, how far through its limit the
    metric is (percent), and the live resources of the policy's scope."""

    policy: Policy
    action: PolicyAction
    at: datetime
    share: Decimal
    resources: tuple[Resource, ...]


class PolicyActionHandler(Protocol):
    """A custom policy action."""

    def run(self, call: PolicyActionCall) -> None:
        """Act: the action fired."""
        ...

    def reset(self, call: PolicyActionCall) -> None:
        """Undo what :meth:`run` set, if anything: the action was lifted."""
        ...

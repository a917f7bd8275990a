"""Notifications: messages to people, delivered by the host's ``Notifier`` port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from marketplace_core.frozen import frozen_mapping


@attrs.frozen
class Notification:
    """A message for ``recipient_ids`` (user ids).

    ``topic`` is a stable key a host can map to a template (``"policy.threshold_reached"``);
    ``subject`` and ``body`` are a plain-text rendering; ``context`` holds the facts.
    """

    topic: str
    recipient_ids: tuple[str, ...]
    subject: str
    body: str
    context: Mapping[str, Any] = attrs.field(factory=dict, converter=frozen_mapping)

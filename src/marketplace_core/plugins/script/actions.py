"""The actions a program is run for; each is also the program's key in ``plugin_options``."""

from __future__ import annotations

import enum


class ScriptAction(enum.StrEnum):
    """What a program is asked to do; each value is also its key in ``plugin_options``."""

    CREATE = "create"
    UPDATE = "update"
    TERMINATE = "terminate"
    PULL_USAGE = "pull_usage"


REQUIRED_ACTIONS = (ScriptAction.CREATE, ScriptAction.TERMINATE)
"""The programs every offering must name: what is created can always be removed."""

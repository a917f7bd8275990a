"""The ``plugin_options`` of a remote offering: where on the remote marketplace it points.

``remote_offering_id`` (required) names the remote offering; ``plan_mapping`` (required)
maps each local plan id to the remote plan id it is ordered as; ``component_mapping``
(optional) maps local component types to remote ones where their names differ (every other
component keeps its name); it must keep the offering's components apart. Limits pass
through under the mapped names; usage comes back under the local ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.frozen import frozen_mapping
from marketplace_core.inputs import require_mapping, require_text
from marketplace_core.offerings import Offering, Plan

OFFERING_OPTION = "remote_offering_id"
PLAN_MAPPING_OPTION = "plan_mapping"
COMPONENT_MAPPING_OPTION = "component_mapping"


def _missing(option: str, expected: str) -> ValidationError:
    return ValidationError(
        ErrorCode.INVALID_VALUE,
        f"plugin_options.{option} is missing; a remote offering needs {expected}",
        field=f"plugin_options.{option}",
        value=None,
    )


def _text_mapping(raw: object, option: str) -> Mapping[str, str]:
    field = f"plugin_options.{option}"
    mapping = require_mapping(raw, field)
    for key, value in mapping.items():
        require_text(key, f"{field} key")
        require_text(value, f"{field}[{key!r}]")
    return frozen_mapping(dict(mapping))


@attrs.frozen
class RemoteOptions:
    """The parsed ``plugin_options`` of a remote offering."""

    remote_offering_id: str
    plan_mapping: Mapping[str, str]
    component_mapping: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_mapping)

    @classmethod
    def parse(cls, plugin_options: Mapping[str, Any]) -> RemoteOptions:
        """The options, or a ``ValidationError`` naming the option that is missing or bad."""
        if OFFERING_OPTION not in plugin_options:
            raise _missing(OFFERING_OPTION, "the id of the offering on the remote marketplace")
        if PLAN_MAPPING_OPTION not in plugin_options:
            raise _missing(PLAN_MAPPING_OPTION, "a mapping of local plan ids to remote plan ids")
        components = _text_mapping(
            plugin_options.get(COMPONENT_MAPPING_OPTION, {}), COMPONENT_MAPPING_OPTION
        )
        return cls(
            require_text(plugin_options[OFFERING_OPTION], f"plugin_options.{OFFERING_OPTION}"),
            _text_mapping(plugin_options[PLAN_MAPPING_OPTION], PLAN_MAPPING_OPTION),
            components,
        )

    @classmethod
    def of(cls, offering: Offering) -> RemoteOptions:
        """The options of ``offering``, checked against its components: the
        ``component_mapping`` may name only components the offering has, and no two local
        components may end up under one remote name (their usage could not be told
        apart)."""
        options = cls.parse(offering.plugin_options)
        local_types = [component.type for component in offering.components]
        field = f"plugin_options.{COMPONENT_MAPPING_OPTION}"
        for local_type in options.component_mapping:
            if local_type not in local_types:
                raise ValidationError(
                    ErrorCode.INVALID_VALUE,
                    f"{field} names component {local_type!r}, which offering {offering.id!r} "
                    f"does not have (it has: {sorted(local_types)})",
                    field=field,
                    value=local_type,
                )
        seen: dict[str, str] = {}
        for local_type in local_types:
            remote_type = options.remote_component(local_type)
            if remote_type in seen:
                raise ValidationError(
                    ErrorCode.INVALID_VALUE,
                    f"{field} puts local components {seen[remote_type]!r} and {local_type!r} "
                    f"both under remote component {remote_type!r}; their usage could not be "
                    "told apart",
                    field=field,
                    value=remote_type,
                )
            seen[remote_type] = local_type
        return options

    def remote_plan_id(self, plan: Plan | None) -> str:
        """The remote plan ``plan`` is ordered as; refuses a plan the mapping lacks."""
        plan_id = plan.id if plan is not None else None
        if plan_id is None or plan_id not in self.plan_mapping:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"plugin_options.{PLAN_MAPPING_OPTION} has no remote plan for local plan "
                f"{plan_id!r} (mapped: {sorted(self.plan_mapping)})",
                field=f"plugin_options.{PLAN_MAPPING_OPTION}",
                value=plan_id,
            )
        return self.plan_mapping[plan_id]

    def remote_component(self, local_type: str) -> str:
        """The remote component type of a local one."""
        return self.component_mapping.get(local_type, local_type)

    def local_component(self, remote_type: str) -> str | None:
        """The local component type of a remote one, or ``None`` when the remote name is
        that of a local component mapped elsewhere (it then belongs to nobody)."""
        for local_type, mapped in self.component_mapping.items():
            if mapped == remote_type:
                return local_type
        if remote_type in self.component_mapping:
            return None
        return remote_type

    def remote_limits(self, limits: Mapping[str, int]) -> dict[str, int]:
        """Local limits under the remote component types."""
        return {self.remote_component(kind): amount for kind, amount in limits.items()}

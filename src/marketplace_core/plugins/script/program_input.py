"""What a program is given: the order as JSON on stdin (:func:`script_input`) and as
``MARKETPLACE_*`` environment variables (:func:`script_variables`), beside the few host
variables passed on and the ones the host adds (:func:`check_environment`).
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marketplace_core.orders import Order
from marketplace_core.plugins.processor import ProcessingRequest
from marketplace_core.plugins.script.actions import ScriptAction
from marketplace_core.plugins.script.refusals import refuse
from marketplace_core.plugins.usage_source import UsageRequest

PASSED_HOST_VARIABLES = ("PATH", "LANG", "LC_ALL")
"""The only variables of the host's own environment a program sees (when the host has them)."""

ATTRIBUTE_VARIABLE_MAX_LENGTH = 4096
"""Attribute values longer than this are left out of the environment (they are on stdin)."""

VARIABLE_PREFIX = "MARKETPLACE_"
"""The prefix of the variables the processor sets; reserved, a host cannot set them."""

# The fields of each entity a program reads on stdin: a fixed list, so a new entity field
# reaches programs only when it is added here.
_ORDER_FIELDS = (
    "id",
    "type",
    "project_id",
    "offering_id",
    "resource_id",
    "plan_id",
    "old_plan_id",
    "limits",
    "old_limits",
    "attributes",
    "cost",
    "created_at",
    "created_by",
)
_RESOURCE_FIELDS = (
    "id",
    "name",
    "project_id",
    "offering_id",
    "plan_id",
    "state",
    "backend_id",
    "backend_metadata",
    "limits",
    "attributes",
    "end_date",
    "created_at",
)
_OFFERING_FIELDS = ("id", "name", "plugin_type", "plugin_options")
_PLAN_FIELDS = ("id", "name", "unit", "prices")


def host_variables() -> dict[str, str]:
    """The :data:`PASSED_HOST_VARIABLES` the host's environment has, as it has them now."""
    return {name: os.environ[name] for name in PASSED_HOST_VARIABLES if name in os.environ}


def check_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """A copy of the variables a host adds for every program, checked: names non-empty,
    without ``=`` or NUL and not starting with :data:`VARIABLE_PREFIX`; values strings
    without NUL."""
    for name, value in environment.items():
        if not isinstance(name, str) or not re.fullmatch(r"[^=\x00]+", name):
            raise refuse(
                "environment",
                name,
                f"environment names must be non-empty, without '=' or NUL, got {name!r}",
            )
        if name.upper().startswith(VARIABLE_PREFIX):
            raise refuse(
                "environment",
                name,
                f"environment variable {name!r} uses the reserved prefix {VARIABLE_PREFIX!r}",
            )
        if not isinstance(value, str) or "\x00" in value:
            raise refuse(
                "environment", value, f"environment[{name!r}] must be a string without NUL"
            )
    return dict(environment)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _pick(entity: object | None, names: tuple[str, ...]) -> dict[str, Any] | None:
    """The named fields of ``entity`` (``None`` stays ``None``)."""
    return None if entity is None else {name: getattr(entity, name) for name in names}


def _parts(
    request: ProcessingRequest | UsageRequest,
) -> tuple[Order | None, Mapping[str, int], Mapping[str, Any], date | None]:
    """The order (if any), the limits, the attributes and the month a program is told."""
    if isinstance(request, UsageRequest):
        resource = request.resource
        return None, resource.limits, resource.attributes, request.month
    order = request.order
    return order, order.limits, {**request.resource.attributes, **order.attributes}, None


def script_input(action: ScriptAction, request: ProcessingRequest | UsageRequest) -> dict[str, Any]:
    """The JSON object a program reads on stdin: plain JSON data, with datetimes and dates
    in ISO 8601, Decimals as strings and ``month`` as ``YYYY-MM`` (usage pulls; else null).

    ``limits`` and ``attributes`` are what the action is about: an order's limits (a usage
    pull: the resource's) and the resource's attributes overlaid with the order's.
    """
    order, limits, attributes, month = _parts(request)
    data = {
        "action": action,
        "month": None if month is None else f"{month:%Y-%m}",
        "order": _pick(order, _ORDER_FIELDS),
        "resource": _pick(request.resource, _RESOURCE_FIELDS),
        "offering": _pick(request.offering, _OFFERING_FIELDS),
        "plan": _pick(request.plan, _PLAN_FIELDS),
        "limits": limits,
        "attributes": attributes,
    }
    converted: dict[str, Any] = _jsonable(data)
    return converted


def variable_name(name: str) -> str:
    """``name`` as the tail of an environment variable: upper case, with every character
    other than ASCII letters, digits and ``_`` replaced by ``_``."""
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, str) and "\x00" not in value:
        return value
    return None


def script_variables(
    action: ScriptAction, request: ProcessingRequest | UsageRequest
) -> dict[str, str]:
    """The ``MARKETPLACE_*`` environment variables a program sees.

    ``MARKETPLACE_ACTION``, ``_ORDER_ID`` (orders only), ``_RESOURCE_ID``,
    ``_RESOURCE_NAME``, ``_BACKEND_ID`` (empty before a create), ``_PROJECT_ID``,
    ``_OFFERING_ID``, ``_PLAN_ID`` (empty without a plan), ``_MONTH`` (``YYYY-MM``, usage
    pulls only), ``_LIMIT_<COMPONENT>`` per limit and ``_ATTRIBUTE_<NAME>`` per scalar
    attribute (booleans and numbers in their JSON spelling; null, lists, objects, strings
    with a NUL character and values over :data:`ATTRIBUTE_VARIABLE_MAX_LENGTH` characters
    are left to stdin). Where two names map to one variable, the first in sorted order wins.
    """
    order, limits, attributes, month = _parts(request)
    resource = request.resource
    variables = {
        "ACTION": action.value,
        "RESOURCE_ID": resource.id,
        "RESOURCE_NAME": resource.name,
        "BACKEND_ID": resource.backend_id,
        "PROJECT_ID": resource.project_id,
        "OFFERING_ID": request.offering.id,
        "PLAN_ID": request.plan.id if request.plan is not None else "",
    }
    if order is not None:
        variables["ORDER_ID"] = order.id
    if month is not None:
        variables["MONTH"] = f"{month:%Y-%m}"
    for component in sorted(limits):
        variables.setdefault(f"LIMIT_{variable_name(component)}", str(limits[component]))
    for name in sorted(attributes):
        text = _scalar_text(attributes[name])
        if text is not None and len(text) <= ATTRIBUTE_VARIABLE_MAX_LENGTH:
            variables.setdefault(f"ATTRIBUTE_{variable_name(name)}", text)
    return {VARIABLE_PREFIX + key: value.replace("\x00", "") for key, value in variables.items()}

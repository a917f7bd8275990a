"""The world most scenarios start from, built as setup steps of a vector.

Names it binds: ``$staff``; the consumer organization ``$consumer`` with its project
``$project``; users ``$owner`` (owns ``$consumer``), ``$manager`` (manages ``$project``),
``$member`` (member of ``$project``) and ``$outsider`` (no role); the provider organization
``$provider`` and its owner ``$provider-owner``; ``$category``; the offering ``$offering``
and its plans (``$plan`` unless named otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import BillingType, OfferingComponent, PlanUnit
from marketplace_core.roles import Role

T0 = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
"""When scenarios start: the middle of a month."""

CORES = OfferingComponent("cores", "Cores", BillingType.LIMIT, "core", min_value=1, max_value=64)
STORAGE = OfferingComponent("storage", "Storage", BillingType.USAGE, "GB")
BASE = OfferingComponent("base", "Base fee", BillingType.FIXED, "month")
COMPONENTS = (CORES, STORAGE, BASE)
PRICES = {"cores": "2", "storage": "0.10", "base": "10"}


def people(rec: Recorder) -> None:
    """The staff user, both organizations, the project, and the users with their roles."""
    rec.setup("bootstrap_staff_user", as_="staff", username="staff")
    rec.setup("create_organization", actor="$staff", as_="consumer", name="Physics")
    rec.setup(
        "create_project", actor="$staff", as_="project", organization_id="$consumer", name="Thesis"
    )
    rec.setup("create_organization", actor="$staff", as_="provider", name="Cloud Co")
    rec.setup("register_provider", actor="$staff", organization_id="$provider")
    for name, role, scope in (
        ("owner", Role.ORGANIZATION_OWNER, "$consumer"),
        ("manager", Role.PROJECT_MANAGER, "$project"),
        ("member", Role.PROJECT_MEMBER, "$project"),
        ("provider-owner", Role.ORGANIZATION_OWNER, "$provider"),
        ("outsider", None, None),
    ):
        rec.setup("create_user", actor="$staff", as_=name, username=name)
        if role is not None:
            rec.setup("grant_role", actor="$staff", user_id=f"${name}", role=role, scope_id=scope)


def offering(
    rec: Recorder,
    *,
    plugin: str = "instant",
    components: Iterable[OfferingComponent] = COMPONENTS,
    plans: Mapping[str, tuple[PlanUnit, Mapping[str, str]]] | None = None,
    activate: bool = True,
    as_: str = "offering",
    **options: Any,
) -> None:
    """The offering ``$offering`` of ``$provider`` on ``plugin``, with its plans (default:
    ``$plan``, monthly, at :data:`PRICES`), active unless told otherwise."""
    if not any(step["command"] == "create_category" for step in rec.vector()["setup"]):
        rec.setup("create_category", actor="$staff", as_="category", title="Compute")
    rec.setup(
        "create_offering",
        actor="$staff",
        as_=as_,
        provider_id="$provider",
        name=f"Offering {as_}",
        plugin_type=plugin,
        category_id="$category",
        components=tuple(components),
        **options,
    )
    for plan_name, (unit, prices) in (
        plans if plans is not None else {"plan": (PlanUnit.MONTH, PRICES)}
    ).items():
        rec.setup(
            "create_plan",
            actor="$staff",
            as_=plan_name,
            offering_id=f"${as_}",
            name=plan_name.title(),
            unit=unit,
            prices=dict(prices),
        )
    if activate:
        rec.setup("activate_offering", actor="$staff", offering_id=f"${as_}")


def standard(rec: Recorder, **offering_options: Any) -> None:
    """:func:`people` and :func:`offering`."""
    people(rec)
    offering(rec, **offering_options)


def live_resource(
    rec: Recorder, *, as_: str = "resource", limits: Mapping[str, int] | None = None
) -> None:
    """A resource ``$<as_>`` ordered by ``$owner`` on ``$offering``/``$plan`` and created
    (the offering must finish orders at once); its create order is ``$<as_>-order``."""
    rec.setup(
        "order_resource",
        actor="$owner",
        project_id="$project",
        offering_id="$offering",
        plan_id="$plan",
        name=as_,
        limits=dict(limits or {"cores": 2}),
        as_={"id": f"{as_}-order", "resource_id": as_},
    )

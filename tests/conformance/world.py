"""The world most scenarios start from, built as setup steps of a vector.

Names it binds: ``$staff``; the consumer organization ``$consumer`` with its project
``$project``; users ``$owner`` (owns ``$consumer``), ``$manager`` (manages ``$project``),
``$member`` (member of ``$project``) and ``$outsider`` (no role); the provider organization
``$provider`` and its owner ``$provider-owner``; ``$category``; the offering ``$offering``
and its plans (``$plan`` unless named otherwise); ``$later``, a project of ``$consumer``
that starts after :data:`T0`. Resources and their orders are placed with :func:`order`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from marketplace_core.conformance import Recorder
from marketplace_core.conformance.format import Json
from marketplace_core.offerings import BillingType, OfferingComponent, PlanUnit
from marketplace_core.roles import Role

T0 = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
"""When scenarios start: the middle of a month."""

CORES = OfferingComponent("cores", "Cores", BillingType.LIMIT, "core", min_value=1, max_value=64)
STORAGE = OfferingComponent("storage", "Storage", BillingType.USAGE, "GB")
BASE = OfferingComponent("base", "Base fee", BillingType.FIXED, "month")
COMPONENTS = (CORES, STORAGE, BASE)
PRICES = {"cores": "2", "storage": "0.10", "base": "10"}
TWO_CORES: Mapping[str, int] = {"cores": 2}
"""The limits an order asks for unless told otherwise."""
LATER_START = date(2026, 2, 1)
"""The start date of the project ``$later`` (after :data:`T0`)."""
AT_LATER_START = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
"""When the due jobs run on the day ``$later`` starts."""


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


def order(
    rec: Recorder,
    name: str = "vm",
    *,
    actor: str = "$owner",
    project: str = "$project",
    offering: str = "$offering",
    plan: str = "$plan",
    limits: Mapping[str, int] | None = TWO_CORES,
    as_: str | Mapping[str, str] | None = "",
    checked: bool = False,
    at: datetime | None = None,
) -> Json:
    """``actor`` orders a resource ``name`` of ``offering``/``plan`` for ``project`` with
    ``limits`` (none at all when ``None``) and returns the recorded result: a setup step, or
    a checked step when ``checked``.

    The resource is named ``$<name>`` and its order ``$<as_>`` (by default
    ``$<name>-order``); with ``as_=None`` the recorder names both by their reference ids, and
    a mapping is handed to the recorder as it is."""
    record = rec.step if checked else rec.setup
    if isinstance(as_, str):
        as_ = {"id": as_ or f"{name}-order", "resource_id": name}
    given = {} if limits is None else {"limits": dict(limits)}
    return record(
        "order_resource",
        actor=actor,
        at=at,
        as_=as_,
        project_id=project,
        offering_id=offering,
        plan_id=plan,
        name=name,
        **given,
    )


def manual_resource(rec: Recorder, *, as_: str = "resource", cores: int = 2) -> None:
    """On a ``manual`` offering: ``$owner`` orders ``$<as_>``, the provider approves the
    order (``$<as_>-order``) and reports the resource created (with the backend id
    ``<as_>-backend``); it is ok."""
    order(rec, as_, limits={"cores": cores})
    rec.setup("approve_order_as_provider", actor="$provider-owner", order_id=f"${as_}-order")
    rec.setup(
        "resource_creation_succeeded",
        actor="$provider-owner",
        resource_id=f"${as_}",
        backend_id=f"{as_}-backend",
    )


def later_project(rec: Recorder) -> None:
    """The project ``$later`` of ``$consumer``, starting on :data:`LATER_START`."""
    rec.setup(
        "create_project",
        actor="$staff",
        as_="later",
        organization_id="$consumer",
        name="Next term",
        start_date=LATER_START,
    )

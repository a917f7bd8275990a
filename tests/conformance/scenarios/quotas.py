"""Quotas: what a project, an organization or an offering may hold, checked when an order
is placed; each kind refusing with quota_exceeded, and quotas that let an order through."""

from __future__ import annotations

from typing import Any

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import PlanUnit
from marketplace_core.quotas import QuotaKind
from marketplace_core.roles import ScopeKind
from tests.conformance.world import T0, offering, order, people, standard

DAILY = {"base": "1", "cores": "0.1", "storage": "0.01"}
"""A day plan: with 2 cores it costs 1.20 a day, counted as 36.00 a month."""


def _quota(
    rec: Recorder,
    scope_kind: ScopeKind,
    scope_id: str,
    kind: QuotaKind,
    limit: str,
    *,
    checked: bool = False,
    actor: str = "$staff",
    **options: Any,
) -> object:
    record = rec.step if checked else rec.setup
    return record(
        "set_quota",
        actor=actor,
        scope_kind=scope_kind,
        scope_id=scope_id,
        kind=kind,
        limit=limit,
        **options,
    )


def vector_live_resources_counted_per_project(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A live_resources quota of 1 on the project: with one resource live, a second create "
        "order is refused with quota_exceeded before anything is written; list_quotas shows "
        "the usage.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    _quota(rec, ScopeKind.PROJECT, "$project", QuotaKind.LIVE_RESOURCES, "1", checked=True)
    order(rec, "second", limits={"cores": 1}, checked=True)
    rec.step("list_quotas", scope_kind=ScopeKind.PROJECT, scope_id="$project")
    return rec


def vector_component_limit_sums_limits(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A component_limit quota of 5 cores on the organization, holding 2 + 2: a third "
        "resource of 2 cores is refused (6), one of 1 core is placed (5); raising a resource "
        "to 3 cores is then refused, lowering it to 1 is placed.",
        start=T0,
    )
    standard(rec)
    order(rec, "a")
    order(rec, "b")
    _quota(
        rec,
        ScopeKind.ORGANIZATION,
        "$consumer",
        QuotaKind.COMPONENT_LIMIT,
        "5",
        component="cores",
    )
    order(rec, "c", checked=True)
    order(rec, "c", limits={"cores": 1}, checked=True)
    rec.step("order_limit_change", actor="$owner", resource_id="$a", limits={"cores": 3})
    rec.step("order_limit_change", actor="$owner", resource_id="$a", limits={"cores": 1})
    return rec


def vector_monthly_cost_counts_plan_units(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A monthly_cost quota of 30 on the offering: each monthly resource of 2 cores costs "
        "14.00 a month, so a second fits (28) and a third is refused (42); switching one to a "
        "day plan of 1.20 a day counts 36.00 a month and is refused too.",
        start=T0,
    )
    people(rec)
    offering(
        rec,
        plans={
            "plan": (PlanUnit.MONTH, {"cores": "2", "storage": "0.10", "base": "10"}),
            "daily": (PlanUnit.DAY, DAILY),
        },
    )
    order(rec, "a")
    _quota(rec, ScopeKind.OFFERING, "$offering", QuotaKind.MONTHLY_COST, "30", checked=True)
    order(rec, "b", checked=True)
    order(rec, "c", checked=True)
    rec.step("order_plan_switch", actor="$owner", resource_id="$a", plan_id="$daily")
    return rec


def vector_unlimited_and_zero(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A limit of -1 means unlimited and lets the order through; 0 allows nothing; other "
        "negative limits are refused with invalid_value.",
        start=T0,
    )
    standard(rec)
    _quota(rec, ScopeKind.PROJECT, "$project", QuotaKind.LIVE_RESOURCES, "-1", checked=True)
    order(rec, "a", limits={"cores": 1}, checked=True)
    _quota(rec, ScopeKind.PROJECT, "$project", QuotaKind.LIVE_RESOURCES, "0", checked=True)
    order(rec, "b", limits={"cores": 1}, checked=True)
    _quota(rec, ScopeKind.PROJECT, "$project", QuotaKind.LIVE_RESOURCES, "-2", checked=True)
    return rec


def vector_quota_below_usage_stops_growth_only(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A quota may be set below what the scope holds: it stops growth, not what exists. "
        "With 2 cores held and a quota of 1, an increase is refused, a decrease and a "
        "termination pass. Setting quotas is for staff only.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    for actor in ("$owner", "$staff"):
        _quota(
            rec,
            ScopeKind.PROJECT,
            "$project",
            QuotaKind.COMPONENT_LIMIT,
            "1",
            component="cores",
            actor=actor,
            checked=True,
        )
    rec.step("order_limit_change", actor="$owner", resource_id="$resource", limits={"cores": 3})
    rec.step("order_limit_change", actor="$owner", resource_id="$resource", limits={"cores": 1})
    rec.step("order_termination", actor="$owner", resource_id="$resource")
    return rec

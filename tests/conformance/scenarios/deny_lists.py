"""Deny lists: barring an organization or a project from an offering or a category."""

from __future__ import annotations

from typing import Any

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import PlanUnit
from marketplace_core.quotas import DenyTarget
from marketplace_core.roles import ScopeKind
from tests.conformance.world import COMPONENTS, PRICES, T0, offering, order, people, standard


def vector_offering_rule_on_project_added_and_removed(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Staff bar the project from the offering: its create orders are refused with "
        "offering_denied; adding the same rule again returns it; once the rule is removed "
        "the order is placed.",
        start=T0,
    )
    standard(rec)
    arguments: dict[str, Any] = {
        "subject_kind": ScopeKind.PROJECT,
        "subject_id": "$project",
        "target": DenyTarget.OFFERING,
        "target_id": "$offering",
    }
    rec.step("add_deny_rule", actor="$owner", **arguments)
    rec.step("add_deny_rule", actor="$staff", as_="rule", **arguments)
    rec.step("add_deny_rule", actor="$staff", **arguments)
    order(rec, limits={"cores": 1}, checked=True)
    rec.step("list_deny_rules", subject_kind=ScopeKind.PROJECT, subject_id="$project")
    rec.step("remove_deny_rule", actor="$staff", rule_id="$rule")
    order(rec, limits={"cores": 1}, checked=True)
    return rec


def vector_category_rule_on_organization(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A rule barring the organization from a category refuses create orders for every "
        "offering of that category from any of its projects (offering_denied); an offering "
        "of another category is still ordered, and resources that exist keep changing and "
        "can be terminated.",
        start=T0,
    )
    people(rec)
    offering(rec)
    order(rec, "resource")
    rec.setup("create_category", actor="$staff", as_="storage-category", title="Storage")
    rec.setup(
        "create_offering",
        actor="$staff",
        as_="other",
        provider_id="$provider",
        name="Offering other",
        plugin_type="instant",
        category_id="$storage-category",
        components=COMPONENTS,
    )
    rec.setup(
        "create_plan",
        actor="$staff",
        as_="other-plan",
        offering_id="$other",
        name="Other",
        unit=PlanUnit.MONTH,
        prices=PRICES,
    )
    rec.setup("activate_offering", actor="$staff", offering_id="$other")
    rec.step(
        "add_deny_rule",
        actor="$staff",
        as_="rule",
        subject_kind=ScopeKind.ORGANIZATION,
        subject_id="$consumer",
        target=DenyTarget.CATEGORY,
        target_id="$category",
    )
    order(rec, limits={"cores": 1}, checked=True)
    order(rec, "disk", offering="$other", plan="$other-plan", limits={"cores": 1}, checked=True)
    rec.step("order_limit_change", actor="$owner", resource_id="$resource", limits={"cores": 4})
    rec.step("order_termination", actor="$owner", resource_id="$resource")
    return rec

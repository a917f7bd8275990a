"""Generic input validation: malformed text, amounts, enumeration values, dates and limits are
refused with ``invalid_value`` before anything is stored."""

from __future__ import annotations

from datetime import date

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import PlanUnit
from tests.conformance.world import T0, offering, order, people, standard


def vector_blank_name_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Names are required text: an organization or project named with nothing but spaces "
        "is refused as invalid_value, and nothing is created.",
        start=T0,
    )
    people(rec)
    rec.step("create_organization", actor="$staff", name="   ")
    rec.step("create_project", actor="$owner", organization_id="$consumer", name="")
    return rec


def vector_nul_in_text_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Text holding the NUL character is refused (no storage can keep it the same way), "
        "in a name as in a free-form description.",
        start=T0,
    )
    people(rec)
    rec.step("create_project", actor="$owner", organization_id="$consumer", name="Thesis\x00two")
    rec.step("create_category", actor="$staff", title="Storage", description="bulk\x00data")
    return rec


def vector_negative_price_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Plan prices are non-negative exact decimals: a negative price, and text that is not a "
        "plain decimal numeral, are refused as invalid_value; the plan is not created.",
        start=T0,
    )
    people(rec)
    offering(rec, activate=False)
    for price in ("-1", "1e3", "12,50"):
        rec.step(
            "create_plan",
            actor="$staff",
            offering_id="$offering",
            name="Cheap",
            unit=PlanUnit.MONTH,
            prices={"cores": price},
        )
    return rec


def vector_negative_price_change_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Changing the prices of an existing plan obeys the same rule: a negative price is "
        "refused, now or scheduled, and the plan keeps its prices.",
        start=T0,
    )
    standard(rec)
    rec.step("set_plan_prices", actor="$staff", plan_id="$plan", prices={"cores": "-0.01"})
    rec.step("schedule_plan_prices", actor="$staff", plan_id="$plan", prices={"base": "-5"})
    rec.step("get_plan", plan_id="$plan")
    return rec


def vector_unknown_plan_unit_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An enumeration value must be one of its members: a plan unit 'fortnight' is refused "
        "as invalid_value (the units are month, half_month, day, hour and quantity).",
        start=T0,
    )
    people(rec)
    offering(rec, activate=False)
    rec.step(
        "create_plan",
        actor="$staff",
        offering_id="$offering",
        name="Fortnightly",
        unit="fortnight",
        prices={"cores": "1"},
    )
    rec.step("list_plans", offering_id="$offering")
    return rec


def vector_unknown_role_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A role must be one of the known roles: granting 'project.owner' (no such role) is "
        "refused as invalid_value, and no grant is made.",
        start=T0,
    )
    people(rec)
    rec.step(
        "grant_role", actor="$staff", user_id="$outsider", role="project.owner", scope_id="$project"
    )
    rec.step("list_role_grants", user_id="$outsider")
    return rec


def vector_project_end_before_start_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A project's end date may not come before its start date, when the project is "
        "created or when its dates change; the same day for both is allowed.",
        start=T0,
    )
    people(rec)
    rec.step(
        "create_project",
        actor="$owner",
        organization_id="$consumer",
        name="Backwards",
        start_date=date(2026, 3, 1),
        end_date=date(2026, 2, 28),
    )
    rec.step(
        "update_project",
        actor="$manager",
        project_id="$project",
        start_date=date(2026, 6, 1),
        end_date=date(2026, 5, 31),
    )
    rec.step(
        "create_project",
        actor="$owner",
        organization_id="$consumer",
        name="One day",
        start_date=date(2026, 3, 1),
        end_date=date(2026, 3, 1),
        as_="one-day",
    )
    return rec


def vector_non_integer_limit_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Limits are integers: a limit written as text or as a boolean is refused as "
        "invalid_value, and no order is placed.",
        start=T0,
    )
    standard(rec)
    for value in ("2", True):
        order(rec, limits={"cores": value}, as_=None, checked=True)
    rec.step("list_project_orders", project_id="$project")
    return rec


def vector_amounts_only_for_fixed_components(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A plan's amounts give the quantity of fixed components included; an amount for a "
        "limit or usage component, or a negative amount, is refused as invalid_value.",
        start=T0,
    )
    people(rec)
    offering(rec, activate=False)
    for amounts in ({"cores": 4}, {"storage": 100}, {"base": -1}):
        rec.step(
            "create_plan",
            actor="$staff",
            offering_id="$offering",
            name="Bundle",
            unit=PlanUnit.MONTH,
            prices={"base": "10"},
            amounts=amounts,
        )
    return rec

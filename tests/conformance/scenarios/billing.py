"""Billing: the items each billing type and plan unit writes, invoices from pending to
paid or canceled, credits, tax and scheduled prices."""

from __future__ import annotations

from datetime import UTC, date, datetime

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import BillingType, OfferingComponent, PlanUnit
from tests.conformance.world import BASE, T0, offering, order, people, standard

JANUARY = date(2026, 1, 1)
FEBRUARY = date(2026, 2, 1)
FIRST_OF_FEBRUARY = datetime(2026, 2, 1, 0, 5, tzinfo=UTC)
SETUP = OfferingComponent("setup", "Set-up fee", BillingType.ONE_TIME)
SWITCH = OfferingComponent("switch", "Switch fee", BillingType.ON_PLAN_SWITCH)
CPU = OfferingComponent("cpu", "CPU time", BillingType.USAGE, "hour")
STORAGE_LIMIT = OfferingComponent(
    "storage", "Storage", BillingType.LIMIT, "GB", min_value=1, max_value=100
)


def _january_invoice(rec: Recorder, *, checked: bool = False) -> None:
    """Name January's invoice of ``$consumer`` ``$january`` (in a checked step once the
    vector has any, since a runner plays every setup step before the first checked one)."""
    record = rec.step if checked else rec.setup
    record("find_invoice", organization_id="$consumer", month=JANUARY, as_="january")


def _plan_unit(name: str, unit: PlanUnit, price: str, end: datetime) -> Recorder:
    rec = Recorder(
        name,
        f"A plan priced per {unit.value}, with one fixed component: activated on 15 January "
        f"at 09:00, its item runs to the end of January in whole slots; the termination "
        f"closes it and it is priced again over the slots the resource lived.",
        start=T0,
    )
    people(rec)
    offering(rec, components=(BASE,), plans={"plan": (unit, {"base": price})})
    order(rec, limits=None, as_="order", checked=True)
    rec.step("order_termination", actor="$owner", at=end, resource_id="$vm")
    rec.step("list_resource_items", resource_id="$vm")
    return rec


TERMINATION = datetime(2026, 1, 20, 14, 0, tzinfo=UTC)


def vector_unit_month_prorated_by_days(name: str) -> Recorder:
    return _plan_unit(name, PlanUnit.MONTH, "100", TERMINATION)


def vector_unit_half_month_prorated_by_halves(name: str) -> Recorder:
    return _plan_unit(name, PlanUnit.HALF_MONTH, "100", TERMINATION)


def vector_unit_day_bills_started_days(name: str) -> Recorder:
    return _plan_unit(name, PlanUnit.DAY, "3", TERMINATION)


def vector_unit_hour_bills_started_hours(name: str) -> Recorder:
    return _plan_unit(name, PlanUnit.HOUR, "0.50", datetime(2026, 1, 15, 11, 15, tzinfo=UTC))


def vector_unit_quantity_prorated_as_month(name: str) -> Recorder:
    return _plan_unit(name, PlanUnit.QUANTITY, "20", TERMINATION)


def vector_activation_bills_fixed_limit_and_one_time(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Activation writes an open item for the fixed component and for the monthly limit, "
        "both to the end of the month, and one line for the one-time component; the pending "
        "invoice's totals add them up.",
        start=T0,
    )
    people(rec)
    offering(
        rec,
        components=(BASE, STORAGE_LIMIT, SETUP),
        plans={"plan": (PlanUnit.MONTH, {"base": "100", "storage": "0.10", "setup": "50"})},
    )
    order(rec, limits={"storage": 10}, as_="order", checked=True)
    _january_invoice(rec, checked=True)
    rec.step("list_invoice_items", invoice_id="$january")
    rec.step("get_invoice_totals", invoice_id="$january")
    return rec


def vector_usage_component_billed_from_reports(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A usage component is billed from the month-to-date total the provider reports: "
        "120.5 hours at 0.05 is 6.025, rounded up to 6.03; nothing is billed for it before "
        "the first report.",
        start=T0,
    )
    people(rec)
    offering(rec, components=(BASE, CPU), plans={"plan": (PlanUnit.MONTH, {"cpu": "0.05"})})
    order(rec, "resource", limits={})
    rec.step(
        "report_usage",
        actor="$provider-owner",
        at=datetime(2026, 1, 31, 18, 0, tzinfo=UTC),
        resource_id="$resource",
        component_type="cpu",
        amount="120.5",
        idempotency_key="vm-cpu-2026-01",
    )
    _january_invoice(rec, checked=True)
    rec.step("list_invoice_items", invoice_id="$january")
    return rec


def vector_plan_switch_charges_on_plan_switch(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A plan switch closes the old plan's fixed item at the start of the switch day, "
        "opens the new plan's from that day, and charges the new plan's on-plan-switch "
        "component once.",
        start=T0,
    )
    people(rec)
    offering(
        rec,
        components=(BASE, SWITCH),
        plans={
            "plan": (PlanUnit.MONTH, {"base": "100"}),
            "big": (PlanUnit.MONTH, {"base": "200", "switch": "20"}),
        },
    )
    order(rec, "resource", limits={})
    rec.step(
        "order_plan_switch",
        actor="$owner",
        at=datetime(2026, 1, 28, 12, 0, tzinfo=UTC),
        resource_id="$resource",
        plan_id="$big",
    )
    _january_invoice(rec, checked=True)
    rec.step("list_invoice_items", invoice_id="$january")
    rec.step("get_invoice_totals", invoice_id="$january")
    return rec


def vector_next_month_run_issues_invoice(name: str) -> Recorder:
    rec = Recorder(
        name,
        "January's invoice stays pending while January is billed; the billing run of "
        "February issues it (created, totals frozen) and opens February's items from the 1st.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    _january_invoice(rec)
    rec.step("get_invoice", invoice_id="$january")
    rec.step("run_billing", at=FIRST_OF_FEBRUARY)
    rec.step("get_invoice_totals", invoice_id="$january")
    rec.step("run_billing")
    return rec


def _issued_january(rec: Recorder) -> None:
    standard(rec)
    order(rec, "resource")
    _january_invoice(rec)
    rec.setup("run_billing", at=FIRST_OF_FEBRUARY)


def vector_issued_invoice_marked_paid(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Staff mark an issued invoice paid; paid is final, and a pending invoice cannot be "
        "paid; the consumer's owner may not mark invoices paid.",
        start=T0,
    )
    _issued_january(rec)
    rec.setup("find_invoice", organization_id="$consumer", month=FEBRUARY, as_="february")
    rec.step("mark_invoice_paid", actor="$owner", invoice_id="$january")
    rec.step("mark_invoice_paid", actor="$staff", invoice_id="$february")
    rec.step("mark_invoice_paid", actor="$staff", invoice_id="$january")
    rec.step("cancel_invoice", actor="$staff", invoice_id="$january")
    return rec


def vector_issued_invoice_canceled(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Staff cancel an issued invoice: it becomes canceled, which is final; a canceled "
        "invoice cannot be paid.",
        start=T0,
    )
    _issued_january(rec)
    rec.step("cancel_invoice", actor="$staff", invoice_id="$january")
    rec.step("mark_invoice_paid", actor="$staff", invoice_id="$january")
    return rec


def vector_credit_applied_at_issue(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An organization credit pays the invoice when it is issued, cheapest item first, "
        "as credit lines with negative prices; the balance goes down by what it paid and "
        "never below zero.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    _january_invoice(rec)
    rec.step("set_credit", actor="$staff", organization_id="$consumer", balance="5")
    rec.step("run_billing", at=FIRST_OF_FEBRUARY)
    rec.step("list_invoice_items", invoice_id="$january")
    rec.step("get_invoice_totals", invoice_id="$january")
    rec.step("list_credits", organization_id="$consumer")
    return rec


def vector_tax_percent_on_new_invoices(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An invoice copies the organization's tax percent when it is opened; the tax is the "
        "net price times the percent, rounded up to cents, and changing the percent later "
        "leaves the open invoice alone.",
        start=T0,
    )
    standard(rec)
    rec.setup("set_tax_percent", actor="$staff", organization_id="$consumer", tax_percent="7.5")
    order(rec, "resource")
    _january_invoice(rec)
    rec.step("get_invoice_totals", invoice_id="$january")
    rec.step("set_tax_percent", actor="$staff", organization_id="$consumer", tax_percent="20")
    rec.step("get_invoice_totals", invoice_id="$january")
    return rec


def vector_scheduled_prices_applied_by_run(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Prices scheduled for a plan apply from the next month: January keeps the old "
        "price, and the February run makes the new prices current and bills February's "
        "items at them.",
        start=T0,
    )
    people(rec)
    offering(rec, components=(BASE,), plans={"plan": (PlanUnit.MONTH, {"base": "100"})})
    order(rec, "resource", limits={})
    rec.step("schedule_plan_prices", actor="$staff", plan_id="$plan", prices={"base": "120"})
    rec.step("get_plan", plan_id="$plan")
    rec.step("run_billing", at=FIRST_OF_FEBRUARY)
    rec.step("list_resource_items", resource_id="$resource")
    return rec

"""Usage reports: month-to-date totals, batches, idempotency keys, caps, and every reason a
report is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import BillingType, LimitPeriod, OfferingComponent, PlanUnit
from marketplace_core.services.usage import UsageLine
from tests.conformance.world import CORES, T0, offering, order, people, standard

JANUARY = date(2026, 1, 1)
LATER = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)


def _report(
    rec: Recorder,
    amount: str,
    key: str,
    *,
    checked: bool = True,
    resource: str = "$resource",
    component: str = "storage",
    at: datetime | None = None,
    **options: Any,
) -> object:
    """``$provider-owner`` reports ``amount`` of ``component`` on ``resource``."""
    record = rec.step if checked else rec.setup
    return record(
        "report_usage",
        actor="$provider-owner",
        at=at,
        resource_id=resource,
        component_type=component,
        amount=amount,
        idempotency_key=key,
        **options,
    )


def vector_newer_report_replaces_month_to_date(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A report is the month-to-date total: 10 GB and then 25 GB bill 25 × 0.10 = 2.50, "
        "not 3.50; the month's usage item follows the latest total and both reports are kept.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    _report(rec, "10", "vm-storage-2026-01-a")
    _report(rec, "25", "vm-storage-2026-01-b", at=LATER)
    rec.step("list_resource_items", resource_id="$resource")
    rec.step("list_usage_reports", resource_id="$resource", component_type="storage")
    rec.step("current_usage", resource_id="$resource", month=JANUARY)
    return rec


def vector_consumer_may_not_report(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Usage is reported by the provider: the consumer organization's owner lacks "
        "resource.report_usage on the offering and is refused.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    rec.step(
        "report_usage",
        actor="$owner",
        resource_id="$resource",
        component_type="storage",
        amount="10",
        idempotency_key="vm-storage-2026-01",
    )
    return rec


def vector_batch_accepted_whole_or_refused_whole(name: str) -> Recorder:
    rec = Recorder(
        name,
        "report_usages is one command: a batch with one bad line (a fixed component) is "
        "refused and records nothing; the good batch is accepted line by line.",
        start=T0,
    )
    standard(rec)
    order(rec, "a")
    order(rec, "b")
    rec.step(
        "report_usages",
        actor="$provider-owner",
        lines=[
            UsageLine("$a", "storage", "10", "a-storage-2026-01"),
            UsageLine("$b", "base", "1", "b-base-2026-01"),
        ],
    )
    rec.step("list_usage_reports", resource_id="$a", component_type="storage")
    rec.step(
        "report_usages",
        actor="$provider-owner",
        lines=[
            UsageLine("$a", "storage", "10", "a-storage-2026-01"),
            UsageLine("$b", "storage", "30", "b-storage-2026-01", description="nightly"),
        ],
    )
    rec.step("current_usage", resource_id="$b", month=JANUARY)
    return rec


def vector_same_key_same_content_returns_earlier_report(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A report delivered twice has the effect of one: the same key with the same content "
        "returns the report accepted first, emits nothing and bills nothing again.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    _report(rec, "10", "vm-storage-2026-01")
    _report(rec, "10", "vm-storage-2026-01", at=LATER)
    rec.step("list_usage_reports", resource_id="$resource", component_type="storage")
    return rec


def vector_same_key_other_content_refused(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An idempotency key names one report: using it again with another amount is refused "
        "with idempotency_key_reused, and the first report stands.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    _report(rec, "10", "vm-storage-2026-01", checked=False)
    _report(rec, "12", "vm-storage-2026-01", at=LATER)
    rec.step("current_usage", resource_id="$resource", month=JANUARY)
    return rec


def vector_usage_below_billed_after_plan_switch(name: str) -> Recorder:
    rec = Recorder(
        name,
        "After a plan switch the old plan's usage item keeps what it billed; a month-to-date "
        "total below that is refused with usage_below_billed, and a higher one bills the "
        "rest at the new plan's price.",
        start=T0,
    )
    people(rec)
    offering(
        rec,
        plans={
            "plan": (PlanUnit.MONTH, {"storage": "0.10"}),
            "cheap": (PlanUnit.MONTH, {"storage": "0.05"}),
        },
    )
    order(rec, "resource")
    _report(rec, "100", "vm-storage-2026-01-a", checked=False)
    rec.setup(
        "order_plan_switch",
        actor="$owner",
        at=datetime(2026, 1, 18, 12, 0, tzinfo=UTC),
        resource_id="$resource",
        plan_id="$cheap",
    )
    _report(rec, "60", "vm-storage-2026-01-b", at=LATER)
    _report(rec, "160", "vm-storage-2026-01-c")
    rec.step("list_resource_items", resource_id="$resource")
    return rec


def vector_usage_cap_per_month(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A usage component capped at 100 a month: 80 and then 100 are accepted (the month "
        "counts once, at its latest total, so 100 and not 180), 100.5 is refused with "
        "usage_cap_exceeded.",
        start=T0,
    )
    capped = OfferingComponent(
        "gpu",
        "GPU hours",
        BillingType.USAGE,
        "hour",
        limit_period=LimitPeriod.MONTH,
        limit_amount=100,
    )
    people(rec)
    offering(
        rec,
        components=(CORES, capped),
        plans={"plan": (PlanUnit.MONTH, {"cores": "2", "gpu": "1"})},
    )
    order(rec, "resource")
    _report(rec, "80", "vm-gpu-2026-01-a", component="gpu")
    _report(rec, "100", "vm-gpu-2026-01-b", component="gpu")
    _report(rec, "100.5", "vm-gpu-2026-01-c", component="gpu")
    return rec


def vector_fixed_component_not_reportable(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Only usage and limit components take reports: a report of the fixed component is "
        "refused with component_not_reportable, and one of an unknown component with "
        "unknown_component.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    _report(rec, "1", "vm-base-2026-01", component="base")
    _report(rec, "1", "vm-ram-2026-01", component="ram")
    return rec


def vector_limit_component_recorded_not_billed(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A report of a limit component is accepted and recorded, but not invoiced: the limit "
        "is what is billed, so no item follows it.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    _report(rec, "3", "vm-cores-2026-01", component="cores")
    rec.step("list_resource_items", resource_id="$resource")
    return rec


def vector_creating_resource_not_reportable(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A resource that was never activated takes no reports: while the provider is still "
        "creating it, a report is refused with resource_not_reportable.",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, as_="order")
    rec.setup("approve_order_as_provider", actor="$provider-owner", order_id="$order")
    _report(rec, "10", "vm-storage-2026-01", resource="$vm")
    return rec


def vector_terminated_resource_not_reportable(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Once terminated a resource takes no more reports (resource_not_reportable), even "
        "for the month it lived in.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    rec.setup("order_termination", actor="$owner", at=LATER, resource_id="$resource")
    _report(rec, "10", "vm-storage-2026-01")
    return rec


def vector_month_outside_live_time(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A report is for a month the resource has lived in: a future month, and a month "
        "before the activation month, are refused with period_outside_live_time; a month "
        "not on its 1st is invalid_value.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    _report(rec, "10", "vm-storage-2026-02", month=date(2026, 2, 1))
    _report(rec, "10", "vm-storage-2025-12", month=date(2025, 12, 1))
    _report(rec, "10", "vm-storage-2026-01-15", month=date(2026, 1, 15))
    return rec


def vector_late_report_until_month_closed(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A late report for last month is accepted until the billing run issues that month's "
        "invoice; after it, the month is closed and reports for it are refused with "
        "period_closed.",
        start=T0,
    )
    standard(rec)
    order(rec, "resource")
    _report(
        rec,
        "40",
        "vm-storage-2026-01-late",
        at=datetime(2026, 2, 1, 0, 1, tzinfo=UTC),
        month=JANUARY,
    )
    rec.step("run_billing", at=datetime(2026, 2, 1, 0, 5, tzinfo=UTC))
    _report(rec, "50", "vm-storage-2026-01-later", month=JANUARY)
    return rec

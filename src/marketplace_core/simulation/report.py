"""A simulation's report: what it holds, as aligned text tables and as JSON.

The report is plain data read back from storage after the run (see
:meth:`~marketplace_core.simulation.engine.Simulation.report`), so it says what the
marketplace recorded, not what the engine meant to do. It holds no wall-clock time and no
storage location: the same scenario and seed give the same report. ``docs/simulator.md``
documents the JSON shape; amounts are strings there, so no decimal is rounded through a
float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core.console import format_table, heading
from marketplace_core.money import ZERO
from marketplace_core.orders import OrderState, OrderType


@attrs.frozen
class InvoiceLine:
    """One organization's invoice for one month."""

    organization: str
    month: date
    state: str
    price: Decimal
    tax: Decimal
    total: Decimal


@attrs.frozen
class PolicyFiring:
    """A policy action that ran: when, on whose policy, which action (its label, such as
    ``block_creation@100%``), and how far through its limit the metric was (percent)."""

    at: datetime
    organization: str
    policy_id: str
    action: str
    share: Decimal


@attrs.frozen
class OrganizationTotal:
    """The sums of an organization's invoices over the simulated months."""

    organization: str
    price: Decimal
    tax: Decimal
    total: Decimal


@attrs.frozen
class Report:
    """What a simulation produced.

    ``orders`` maps an order state to the count of orders of each type in it; ``refusals``
    maps a command to the count of its refusals by error code; ``invoices`` lists the
    invoices of the simulated months, by organization (in scenario order) and month.
    """

    scenario: str
    seed: int
    start: date
    months: int
    orders: Mapping[str, Mapping[str, int]]
    refusals: Mapping[str, Mapping[str, int]]
    usage_reports: int
    invoices: tuple[InvoiceLine, ...]
    firings: tuple[PolicyFiring, ...]

    @property
    def orders_placed(self) -> int:
        """Every order stored, whatever its state and type."""
        return sum(sum(by_type.values()) for by_type in self.orders.values())

    def totals(self) -> list[OrganizationTotal]:
        """Each invoiced organization's sums, in the order of the invoices."""
        sums: dict[str, list[Decimal]] = {}
        for line in self.invoices:
            price, tax, total = sums.setdefault(line.organization, [ZERO, ZERO, ZERO])
            sums[line.organization] = [price + line.price, tax + line.tax, total + line.total]
        return [OrganizationTotal(name, *values) for name, values in sums.items()]

    def monthly_costs(self) -> dict[str, dict[date, Decimal]]:
        """Each invoiced organization's invoice total by month (what the plot draws)."""
        costs: dict[str, dict[date, Decimal]] = {}
        for line in self.invoices:
            costs.setdefault(line.organization, {})[line.month] = line.total
        return costs


def _month(day: date) -> str:
    return f"{day:%Y-%m}"


def format_report(report: Report) -> str:
    """The report as headed, aligned text tables."""
    parts = [
        f"Simulation {report.scenario!r}: {report.months} months from {_month(report.start)}, "
        f"seed {report.seed}",
        heading("Orders by state"),
    ]
    types = [kind.value for kind in OrderType]
    states = [state.value for state in OrderState if state.value in report.orders]
    rows: list[list[object]] = [
        [
            state,
            *(report.orders[state].get(t, 0) for t in types),
            sum(report.orders[state].values()),
        ]
        for state in states
    ]
    rows.append(
        [
            "all",
            *(sum(by_type.get(t, 0) for by_type in report.orders.values()) for t in types),
            report.orders_placed,
        ]
    )
    parts.append(format_table(["state", *types, "all"], rows))
    refusals = [
        [command, code, count]
        for command, by_code in report.refusals.items()
        for code, count in by_code.items()
    ]
    parts.append(
        f"\n{report.orders_placed} orders placed; {report.usage_reports} usage reports accepted."
    )
    if refusals:
        parts.append("\nRefused commands:\n")
        parts.append(format_table(["command", "refused because", "times"], refusals))
    parts.append(heading("Invoice totals per organization and month"))
    if report.invoices:
        parts.append(
            format_table(
                ["organization", "month", "state", "price", "tax", "total"],
                [
                    [i.organization, _month(i.month), i.state, i.price, i.tax, i.total]
                    for i in report.invoices
                ],
            )
        )
        parts.append("")
        parts.append(
            format_table(
                ["organization", "price", "tax", "total"],
                [[t.organization, t.price, t.tax, t.total] for t in report.totals()],
            )
        )
    else:
        parts.append("No invoices.")
    parts.append(heading("Policy firings"))
    if report.firings:
        parts.append(
            format_table(
                ["when", "organization", "policy", "action", "share %"],
                [
                    [
                        f.at.strftime("%Y-%m-%d %H:%M"),
                        f.organization,
                        f.policy_id,
                        f.action,
                        f.share.quantize(Decimal("0.1")),
                    ]
                    for f in report.firings
                ],
            )
        )
    else:
        parts.append("No policy fired.")
    return "\n".join(parts) + "\n"


def report_data(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (amounts as strings); see ``docs/simulator.md``."""
    return {
        "scenario": {
            "name": report.scenario,
            "seed": report.seed,
            "start": _month(report.start),
            "months": report.months,
        },
        "orders": {
            "placed": report.orders_placed,
            "by_state": {state: dict(by_type) for state, by_type in report.orders.items()},
        },
        "refusals": {command: dict(by_code) for command, by_code in report.refusals.items()},
        "usage_reports": report.usage_reports,
        "invoices": [
            {
                "organization": i.organization,
                "month": _month(i.month),
                "state": i.state,
                "price": str(i.price),
                "tax": str(i.tax),
                "total": str(i.total),
            }
            for i in report.invoices
        ],
        "totals": {
            t.organization: {"price": str(t.price), "tax": str(t.tax), "total": str(t.total)}
            for t in report.totals()
        },
        "policy_firings": [
            {
                "at": f.at.isoformat(),
                "organization": f.organization,
                "policy": f.policy_id,
                "action": f.action,
                "share": str(f.share),
            }
            for f in report.firings
        ],
    }


def format_json(report: Report) -> str:
    """The report as indented JSON."""
    return json.dumps(report_data(report), indent=2) + "\n"

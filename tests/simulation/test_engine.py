"""The engine plays a scenario on real storage; the report says what storage recorded, and
the same scenario and seed give the same report on any storage."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.billing import InvoiceState
from marketplace_core.errors import ValidationError
from marketplace_core.money import ZERO
from marketplace_core.ports import Storage
from marketplace_core.simulation import (
    Report,
    ScenarioError,
    format_json,
    parse_scenario,
    simulate,
)
from tests.simulation.support import small


def stored_invoice_totals(storage: Storage, report: Report) -> dict[str, Decimal]:
    """The totals of the simulated months' invoices, by organization name, from storage."""
    sums: Counter[str] = Counter()
    with storage.unit_of_work() as uow:
        for invoice in uow.invoices.all():
            months = [line.month for line in report.invoices]
            if invoice.month not in months:
                continue
            assert invoice.state is InvoiceState.CREATED, "every simulated month is issued"
            assert invoice.totals is not None
            sums[uow.organizations.get(invoice.organization_id).name] += invoice.totals.total
    return dict(sums)


def check_report_against_storage(storage: Storage, report: Report) -> None:
    totals = {t.organization: t.total for t in report.totals()}
    assert totals == stored_invoice_totals(storage, report)
    with storage.unit_of_work() as uow:
        orders = uow.orders.all()
    assert report.orders_placed == len(orders)
    by_state = Counter(order.state.value for order in orders)
    assert {s: sum(t.values()) for s, t in report.orders.items()} == dict(by_state)


def test_the_same_seed_gives_the_same_report_on_memory_and_sqlite(tmp_path: Path):
    scenario = parse_scenario(small())
    in_memory = simulate(scenario, InMemoryStorage())
    with SqliteStorage.open(tmp_path / "sim.db") as storage:
        on_sqlite = simulate(scenario, storage)
    assert format_json(in_memory) == format_json(on_sqlite)
    assert in_memory.orders_placed > 0


def test_another_seed_plays_another_story():
    scenario = parse_scenario(small())
    assert format_json(simulate(scenario, InMemoryStorage(), seed=1)) != format_json(
        simulate(scenario, InMemoryStorage(), seed=2)
    )


def test_the_report_matches_the_sqlite_file_it_was_played_on(tmp_path: Path):
    scenario = parse_scenario(small())
    with SqliteStorage.open(tmp_path / "sim.db") as storage:
        report = simulate(scenario, storage)
        check_report_against_storage(storage, report)
    assert {line.month.month for line in report.invoices} == {1, 2}


def test_a_cost_policy_warns_then_blocks_new_orders():
    data = small()
    data["months"] = 1
    data["process"]["orders_per_month"] = [6, 6]
    data["organizations"][1]["policies"][0]["limit"] = "10"
    report = simulate(parse_scenario(data), InMemoryStorage())
    actions = [f.action for f in report.firings]
    assert actions[:2] == ["notify_organization_owners@80%", "block_creation@100%"]
    assert {f.organization for f in report.firings} == {"Lab"}
    assert report.firings[0].share > 80
    assert report.refusals["order_resource"]["policy_blocks_creation"] > 0


def test_provider_review_rejections_and_backend_failures_show_in_the_order_states():
    data = small()
    data["offerings"][0].update(provider_review=True, rejection_chance="0.5", failure_chance="0.5")
    data["process"]["orders_per_month"] = [4, 4]
    data["organizations"][1].pop("policies")
    report = simulate(parse_scenario(data), InMemoryStorage())
    assert {"rejected", "erred", "done"} <= set(report.orders)


def test_a_storage_that_holds_a_marketplace_is_refused():
    storage = InMemoryStorage()
    scenario = parse_scenario(small())
    simulate(scenario, storage)
    with pytest.raises(ValidationError, match="already holds a marketplace"):
        simulate(scenario, storage)


def test_a_world_the_catalogue_refuses_is_reported_as_the_scenario_field():
    scenario = parse_scenario(small())
    (offering,) = scenario.offerings
    bad_plan = attrs.evolve(offering.plans[0], prices={"gpu": Decimal(1)})
    scenario = attrs.evolve(scenario, offerings=(attrs.evolve(offering, plans=(bad_plan,)),))
    with pytest.raises(ScenarioError) as refused:
        simulate(scenario, InMemoryStorage())
    assert refused.value.path == "offerings[0].plans[0]"
    assert "gpu" in str(refused.value)


# ------------------------------------------------------------------ generated scenarios

COMPONENTS = {
    "usage": {"type": "cpu", "billing_type": "usage"},
    "limit": {"type": "disk", "billing_type": "limit", "min_value": 1, "max_value": 50},
    "fixed": {"type": "node", "billing_type": "fixed"},
    "one-time": {"type": "setup", "billing_type": "one-time"},
}
prices = st.sampled_from(["0", "0.01", "0.5", "3", "25.75"])


@st.composite
def offerings(draw: st.DrawFn, index: int, providers: list[str]) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(sorted(COMPONENTS)), min_size=1, max_size=4, unique=True))
    plans = [
        {
            "name": f"Plan {number}",
            "unit": draw(st.sampled_from(["month", "half_month", "day", "hour", "quantity"])),
            "prices": {COMPONENTS[k]["type"]: draw(prices) for k in kinds},
            **({"max_amount": draw(st.integers(1, 3))} if draw(st.booleans()) else {}),
        }
        for number in range(draw(st.integers(1, 2)))
    ]
    offering: dict[str, Any] = {
        "name": f"Offering {index}",
        "provider": draw(st.sampled_from(providers)),
        "components": [COMPONENTS[k] for k in kinds],
        "plans": plans,
        "provider_review": draw(st.booleans()),
        "rejection_chance": draw(st.sampled_from(["0", "0.5"])),
        "failure_chance": draw(st.sampled_from(["0", "0.3"])),
    }
    if "usage" in kinds:
        low = draw(st.integers(0, 500))
        offering["usage"] = {"cpu": [low, low + draw(st.integers(0, 500))]}
    if "limit" in kinds:
        offering["limits"] = {"disk": [1, draw(st.integers(1, 50))]}
    return offering


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    organizations = []
    for index in range(draw(st.integers(1, 3))):
        organization: dict[str, Any] = {
            "name": f"Org {index}",
            "projects": [f"P{n}" for n in range(draw(st.integers(1 if index == 0 else 0, 2)))],
            "tax_percent": draw(st.sampled_from(["0", "20", "24.5"])),
        }
        if draw(st.booleans()):
            organization["policies"] = [
                {
                    "limit": str(draw(st.integers(0, 300))),
                    "period": draw(st.sampled_from(["month", "quarter", "year", "total"])),
                    "actions": [
                        {"kind": "notify_organization_owners", "percent": 80},
                        {
                            "kind": draw(
                                st.sampled_from(
                                    ["block_creation", "terminate_resources", "block_hpc_jobs"]
                                )
                            ),
                            "percent": 100,
                        },
                    ],
                }
            ]
        organizations.append(organization)
    names = [o["name"] for o in organizations]
    low = draw(st.integers(0, 2))
    return {
        "name": "Generated",
        "start": f"{draw(st.integers(2024, 2030))}-{draw(st.integers(1, 12)):02d}",
        "months": draw(st.integers(1, 3)),
        "seed": draw(st.integers(0, 2**32)),
        "organizations": organizations,
        "offerings": [draw(offerings(i, names)) for i in range(draw(st.integers(1, 2)))],
        "process": {
            "orders_per_month": [low, low + draw(st.integers(0, 2))],
            "steps_per_month": draw(st.integers(1, 3)),
            "termination_chance": draw(st.sampled_from(["0", "0.4", "1"])),
        },
    }


@settings(max_examples=40)
@given(scenarios())
def test_any_valid_scenario_plays_and_its_report_agrees_with_storage(data: dict[str, Any]):
    storage = InMemoryStorage()
    report = simulate(parse_scenario(data), storage)
    check_report_against_storage(storage, report)
    assert all(line.total >= ZERO for line in report.invoices)

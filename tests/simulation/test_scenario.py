"""Scenario files: valid ones are read whole; each kind of bad field is refused with its
dotted path and what was expected there."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from marketplace_core.errors import ValidationError
from marketplace_core.offerings import BillingType, PlanUnit
from marketplace_core.policies import ActionKind
from marketplace_core.simulation import ScenarioError, load_scenario, parse_scenario
from tests.simulation.support import small

EXAMPLES = Path(__file__).parents[2] / "examples"

Patch = Callable[[dict[str, Any]], object]


def _offering(data: dict[str, Any]) -> dict[str, Any]:
    return data["offerings"][0]


def _lab(data: dict[str, Any]) -> dict[str, Any]:
    return data["organizations"][1]


BAD_FIELDS: list[tuple[str, Patch, str, str]] = [
    ("missing name", lambda d: d.pop("name"), "name", "is missing"),
    ("unknown top-level key", lambda d: d.update(colour="red"), "colour", "unknown key"),
    ("start not a month", lambda d: d.update(start="2026-13"), "start", "a month"),
    ("months zero", lambda d: d.update(months=0), "months", "an integer from 1 to 120"),
    ("months a string", lambda d: d.update(months="six"), "months", "an integer"),
    ("seed negative", lambda d: d.update(seed=-1), "seed", "an integer"),
    ("no organizations", lambda d: d.update(organizations=[]), "organizations", "a list"),
    (
        "organization not a table",
        lambda d: d["organizations"].append("Lab 2"),
        "organizations[2]",
        "a table",
    ),
    (
        "projects not a list",
        lambda d: _lab(d).update(projects="P1"),
        "organizations[1].projects",
        "a list",
    ),
    (
        "project named twice",
        lambda d: _lab(d).update(projects=["P1", "P1"]),
        "organizations[1].projects[1]",
        "appears twice",
    ),
    (
        "organization named twice",
        lambda d: d["organizations"].append({"name": "Lab"}),
        "organizations[2]",
        "appears twice",
    ),
    (
        "tax above 100",
        lambda d: _lab(d).update(tax_percent=101),
        "organizations[1].tax_percent",
        "a number from 0 to 100",
    ),
    (
        "policy limit negative",
        lambda d: _lab(d)["policies"][0].update(limit="-5"),
        "organizations[1].policies[0].limit",
        "a number",
    ),
    (
        "policy period unknown",
        lambda d: _lab(d)["policies"][0].update(period="week"),
        "organizations[1].policies[0].period",
        "one of 'month', 'quarter', 'year', 'total'",
    ),
    (
        "policy action kind unknown",
        lambda d: _lab(d)["policies"][0]["actions"][1].update(kind="explode"),
        "organizations[1].policies[0].actions[1].kind",
        "'block_creation'",
    ),
    (
        "policy action not for an organization",
        lambda d: _lab(d)["policies"][0]["actions"][0].update(kind="notify_project_members"),
        "organizations[1].policies[0].actions[0].kind",
        "not available on a organization policy",
    ),
    (
        "policy action percent zero",
        lambda d: _lab(d)["policies"][0]["actions"][0].update(percent=0),
        "organizations[1].policies[0].actions[0].percent",
        "above 0",
    ),
    (
        "nobody has a project",
        lambda d: _lab(d).pop("projects"),
        "organizations",
        "no organization has a project",
    ),
    (
        "provider unknown",
        lambda d: _offering(d).update(provider="Nobody"),
        "offerings[0].provider",
        "the name of one of the organizations",
    ),
    (
        "visible to an unknown organization",
        lambda d: _offering(d).update(visible_to=["Nobody"]),
        "offerings[0].visible_to[0]",
        "the name of one of the organizations",
    ),
    (
        "plan unit unknown",
        lambda d: _offering(d)["plans"][0].update(unit="weekly"),
        "offerings[0].plans[0].unit",
        "one of 'month', 'half_month', 'day', 'hour', 'quantity'",
    ),
    (
        "plan prices a component the offering lacks",
        lambda d: _offering(d)["plans"][0]["prices"].update(gpu="1"),
        "offerings[0].plans[0].prices.gpu",
        "a component ('cpu', 'storage', 'node')",
    ),
    (
        "price not a number",
        lambda d: _offering(d)["plans"][0]["prices"].update(cpu="cheap"),
        "offerings[0].plans[0].prices.cpu",
        "a number",
    ),
    (
        "price with an exponent",
        lambda d: _offering(d)["plans"][0]["prices"].update(cpu="1e3"),
        "offerings[0].plans[0].prices.cpu",
        "a number",
    ),
    (
        "price a binary float",
        lambda d: _offering(d)["plans"][0]["prices"].update(cpu=0.1),
        "offerings[0].plans[0].prices.cpu",
        "a number",
    ),
    (
        "amounts for a usage component",
        lambda d: _offering(d)["plans"][0].update(amounts={"cpu": 2}),
        "offerings[0].plans[0].amounts.cpu",
        "a fixed component",
    ),
    (
        "plan key unknown",
        lambda d: _offering(d)["plans"][0].update(colour="red"),
        "offerings[0].plans[0].colour",
        "expected one of name, unit, prices, amounts, max_amount",
    ),
    (
        "plan named twice",
        lambda d: _offering(d)["plans"].append(_offering(d)["plans"][0]),
        "offerings[0].plans[1]",
        "appears twice",
    ),
    (
        "no plans",
        lambda d: _offering(d).update(plans=[]),
        "offerings[0].plans",
        "a list of 1 to 50 items",
    ),
    (
        "billing type unknown",
        lambda d: _offering(d)["components"][0].update(billing_type="monthly"),
        "offerings[0].components[0].billing_type",
        "'on-plan-switch'",
    ),
    (
        "component type malformed",
        lambda d: _offering(d)["components"][2].update(type="a node"),
        "offerings[0].components[2].type",
        "letters, digits",
    ),
    (
        "component minimum above maximum",
        lambda d: _offering(d)["components"][1].update(min_value=200),
        "offerings[0].components[1].min_value",
        "above max_value",
    ),
    (
        "limit setting on a usage component",
        lambda d: _offering(d)["components"][0].update(max_value=5),
        "offerings[0].components[0].max_value",
        "applies only to limit components",
    ),
    (
        "component type twice",
        lambda d: _offering(d)["components"][2].update(type="cpu"),
        "offerings[0].components[2].type",
        "appears twice",
    ),
    (
        "limit component without a range",
        lambda d: _offering(d).update(limits={}),
        "offerings[0].limits.storage",
        "is missing",
    ),
    (
        "limit range outside the component's bounds",
        lambda d: _offering(d).update(limits={"storage": [10, 500]}),
        "offerings[0].limits.storage",
        "within the component's limits (1 to 100)",
    ),
    (
        "usage range for a limit component",
        lambda d: _offering(d)["usage"].update(storage=[1, 2]),
        "offerings[0].usage.storage",
        "a usage component",
    ),
    (
        "usage range upside down",
        lambda d: _offering(d).update(usage={"cpu": [5, 2]}),
        "offerings[0].usage.cpu",
        "a range [low, high]",
    ),
    (
        "rejection chance above one",
        lambda d: _offering(d).update(rejection_chance="1.5"),
        "offerings[0].rejection_chance",
        "a number from 0 to 1",
    ),
    (
        "provider review not a boolean",
        lambda d: _offering(d).update(provider_review="yes"),
        "offerings[0].provider_review",
        "true or false",
    ),
    ("process missing", lambda d: d.pop("process"), "process", "is missing"),
    (
        "too many orders a month",
        lambda d: d["process"].update(orders_per_month=[0, 5000]),
        "process.orders_per_month",
        "at most 1000 orders a month",
    ),
    (
        "no steps in a month",
        lambda d: d["process"].update(steps_per_month=0),
        "process.steps_per_month",
        "an integer from 1 to 28",
    ),
    (
        "process key unknown",
        lambda d: d["process"].update(orders=3),
        "process.orders",
        "unknown key",
    ),
]


@pytest.mark.parametrize(
    ("patch", "path", "expected"),
    [case[1:] for case in BAD_FIELDS],
    ids=[case[0] for case in BAD_FIELDS],
)
def test_a_bad_field_is_refused_by_its_dotted_path(patch: Patch, path: str, expected: str):
    data = small()
    patch(data)
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(data)
    assert refused.value.path == path
    assert str(refused.value).startswith(f"{path}: ")
    assert expected in str(refused.value)
    assert isinstance(refused.value, ValidationError)
    assert refused.value.fields["field"] == path


def test_the_small_scenario_is_read_whole():
    scenario = parse_scenario(small())
    assert scenario.months == 2
    (offering,) = scenario.offerings
    assert [c.billing_type for c in offering.components] == [
        BillingType.USAGE,
        BillingType.LIMIT,
        BillingType.FIXED,
    ]
    assert offering.plans[0].unit is PlanUnit.MONTH
    assert offering.plans[0].prices == {
        "cpu": Decimal("0.02"),
        "storage": Decimal("0.10"),
        "node": Decimal(5),
    }
    (policy,) = scenario.organizations[1].policies
    assert [a.kind for a in policy.actions] == [
        ActionKind.NOTIFY_ORGANIZATION_OWNERS,
        ActionKind.BLOCK_CREATION,
    ]


@pytest.mark.parametrize("name", ["hpc-centre.toml", "research-cloud.json"])
def test_the_examples_are_valid_scenarios(name: str):
    scenario = load_scenario(EXAMPLES / name)
    assert any(o.policies for o in scenario.organizations)
    assert len(scenario.offerings) >= 2


def test_toml_floats_are_read_as_exact_decimals(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text((EXAMPLES / "hpc-centre.toml").read_text())
    assert load_scenario(path).process.termination_chance == Decimal("0.3")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("s.yaml", "name: x", "expected a file ending in .toml or .json"),
        ("s.toml", 'name = "x"\nmonths = ', "is not valid TOML"),
        ("s.json", '{"name": "x",', "is not valid JSON (Expecting property name"),
        ("s.json", "[1, 2]", "scenario: expected a table, got a list"),
        ("s.toml", 'name = "x"\nstart = "2026-01"', "months: is missing"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file(
    tmp_path: Path, name: str, content: str, expected: str
):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    assert str(refused.value).startswith(f"{path}: ")
    assert expected in str(refused.value)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path):
    with pytest.raises(ScenarioError, match=r"missing\.toml: scenario: cannot be read"):
        load_scenario(tmp_path / "missing.toml")

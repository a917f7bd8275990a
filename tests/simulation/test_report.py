"""The report as text tables and as JSON: the same numbers, amounts as strings."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.simulation import format_json, format_report, parse_scenario, simulate
from tests.simulation.support import small


def test_the_json_report_carries_the_text_reports_numbers():
    report = simulate(parse_scenario(small()), InMemoryStorage())
    text = format_report(report)
    data = json.loads(format_json(report))
    assert data["scenario"] == {"name": "Small", "seed": 3, "start": "2026-01", "months": 2}
    assert f"{data['orders']['placed']} orders placed" in text
    for invoice in data["invoices"]:
        assert isinstance(invoice["total"], str)
        row = rf"{re.escape(invoice['organization'])}\s+{invoice['month']}\s+created\s+"
        row += rf"{invoice['price']}\s+{invoice['tax']}\s+{invoice['total']}"
        assert re.search(row, text)
    for firing in data["policy_firings"]:
        assert firing["action"] in text
        assert Decimal(firing["share"]) > 0
    total = sum(Decimal(i["total"]) for i in data["invoices"])
    assert total == sum(Decimal(t["total"]) for t in data["totals"].values())


def test_the_text_report_aligns_its_tables_and_names_empty_sections():
    report = simulate(parse_scenario(small()), InMemoryStorage())
    text = format_report(report)
    assert "Orders by state\n===============" in text
    quiet = small()
    quiet["organizations"][1].pop("policies")
    assert "No policy fired." in format_report(simulate(parse_scenario(quiet), InMemoryStorage()))

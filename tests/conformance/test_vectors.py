"""The project's conformance vectors: each passes against the library, each is what its
scenario records, the tables beside them are what the code exports, and together they
reach every rule the issue names (every transition, approval row, error code, billing type,
plan unit, policy action and period, quotas, deny lists, usage idempotency)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.approvals import APPROVAL_TABLES, ApprovalRow, ApprovalTable
from marketplace_core.conformance import run_vector_file, vector_files
from marketplace_core.conformance.tables import LIFECYCLES, table_text, tables
from marketplace_core.errors import ErrorCode
from marketplace_core.offerings import BillingType, PlanUnit
from marketplace_core.policies import ActionKind, ActionType, PolicyPeriod
from marketplace_core.quotas import DenyTarget, QuotaKind
from tests.conformance.record import VECTORS, record_all

TABLES = VECTORS / "tables"

UNREACHABLE_CODES = {
    ErrorCode.STALE_VERSION: "needs two writers racing; the storage contract suite covers it",
    ErrorCode.BACKEND_FAILED: "a backend's failure is recorded on the erred order, not raised",
    ErrorCode.BACKEND_TIMED_OUT: "raised by real backends (script, remote), not vector plugins",
    ErrorCode.BACKEND_BAD_RESPONSE: "raised by real backends (script, remote), not vector plugins",
}
"""Error codes no vector can show through the facade with the vector plugins, and why."""

FILES = vector_files(VECTORS)


@cache
def shipped() -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in FILES]


def checked_steps() -> Iterator[dict[str, Any]]:
    for vector in shipped():
        yield from vector["steps"]


def checked_events(event_type: str) -> Iterator[dict[str, Any]]:
    for step in checked_steps():
        for event in step.get("expect", {}).get("events", []):
            if event["type"] == event_type:
                yield event


def all_steps(command: str) -> Iterator[dict[str, Any]]:
    for vector in shipped():
        for step in vector.get("setup", []) + vector["steps"]:
            if step["command"] == command:
                yield step


@pytest.mark.parametrize("path", FILES, ids=[p.name.removesuffix(".vector.json") for p in FILES])
def test_the_vector_passes(path: Path) -> None:
    outcome = run_vector_file(path)
    assert outcome.passed, outcome.failure


def test_there_are_enough_vectors() -> None:
    assert len(FILES) >= 80


def test_each_vector_is_what_its_scenario_records(tmp_path: Path) -> None:
    written = record_all(tmp_path)
    recorded = {path.relative_to(tmp_path): path.read_text() for path in written}
    kept = {path.relative_to(VECTORS): path.read_text() for path in FILES}
    assert sorted(recorded) == sorted(kept), "re-record: python -m tests.conformance.record"
    for relative, text in recorded.items():
        assert kept[relative] == text, f"{relative} drifted; re-record it"


@pytest.mark.parametrize("file_name", sorted(tables()))
def test_the_exported_tables_are_what_the_code_says(file_name: str) -> None:
    path = TABLES / file_name
    assert path.is_file(), f"missing {path}: python -m marketplace_core tables {TABLES}"
    assert path.read_text() == table_text(tables()[file_name]), (
        f"{path} drifted from the code: python -m marketplace_core tables {TABLES}"
    )


# --------------------------------------------------------------------------- reach


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=[lc.entity for lc in LIFECYCLES])
def test_every_transition_is_shown(lifecycle: Any) -> None:
    event_type = f"{lifecycle.entity.capitalize()}StateChanged"
    shown = {(e["source"], e["event"], e["target"]) for e in checked_events(event_type)}
    declared = {(s.value, e.value, t.value) for s, e, t in lifecycle.edges()}
    assert declared - shown == set(), f"{lifecycle.entity} transitions no vector shows"


def test_every_error_code_is_shown() -> None:
    shown = {
        step["expect"]["error"]["code"]
        for step in checked_steps()
        if "error" in step.get("expect", {})
    }
    missing = {code.value for code in ErrorCode} - shown - {c.value for c in UNREACHABLE_CODES}
    assert missing == set()


def test_every_approval_row_decides_some_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    decided: set[tuple[str, str]] = set()
    decide = ApprovalTable.decide

    def recording(table: ApprovalTable, facts: Any) -> ApprovalRow:
        row = decide(table, facts)
        decided.add((table.name, row.id))
        return row

    monkeypatch.setattr(ApprovalTable, "decide", recording)
    for path in FILES:
        assert run_vector_file(path).passed
    declared = {(table.name, row.id) for table in APPROVAL_TABLES for row in table.rows}
    assert declared - decided == set()


def test_every_billing_type_writes_items_and_every_plan_unit_is_billed() -> None:
    kinds = {event["kind"] for event in checked_events("InvoiceItemWritten")}
    assert {t.value for t in BillingType} - kinds == set()
    units = {
        step["args"]["unit"]
        for vector in shipped()
        if any(
            e["type"] == "InvoiceItemWritten"
            for s in vector["steps"]
            for e in s.get("expect", {}).get("events", [])
        )
        for step in vector.get("setup", []) + vector["steps"]
        if step["command"] == "create_plan"
    }
    assert {u.value for u in PlanUnit} - units == set()


def test_every_policy_action_type_and_period_fires() -> None:
    labels = [event["action"] for event in checked_events("PolicyActionRun")]
    kinds = {label.split("@")[0] for label in labels}
    assert {k.value for k in ActionKind} - {ActionKind.CUSTOM.value} - kinds == set()
    assert "flag" in kinds, "the custom action never fires"
    assert any("@" in label for label in labels), ActionType.THRESHOLD
    assert any("@" not in label for label in labels), ActionType.IMMEDIATE
    periods = {step["args"]["period"] for step in all_steps("create_policy")}
    assert {p.value for p in PolicyPeriod} - periods == set()
    assert any(True for _ in checked_events("PolicyActionReset"))


def test_quotas_and_deny_lists_are_shown() -> None:
    assert {k.value for k in QuotaKind} - {
        s["args"]["kind"] for s in all_steps("set_quota")
    } == set()
    targets = {s["args"]["target"] for s in all_steps("add_deny_rule")}
    assert {t.value for t in DenyTarget} - targets == set()
    assert any(True for _ in checked_events("DenyRuleRemoved"))


def test_repeated_usage_reports_are_shown_to_commit_nothing() -> None:
    repeats = [
        step
        for step in checked_steps()
        if step["command"] in {"report_usage", "report_usages"}
        and step.get("expect", {}).get("events") == []
    ]
    assert repeats, "no vector repeats a usage report"


def test_every_vector_passes_on_sqlite(tmp_path: Path) -> None:
    files = iter(itertools.count())

    def storage() -> SqliteStorage:
        return SqliteStorage(tmp_path / f"{next(files)}.db")

    failures = [o.failure for o in (run_vector_file(p, storage) for p in FILES) if not o.passed]
    assert failures == []

"""The vector runner catches every kind of departure, names the step, and refuses malformed
vectors with an error naming the place; the CLI prints a line per vector and a summary."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from marketplace_core.__main__ import main
from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.conformance import (
    Recorder,
    VectorFormatError,
    parse_vector,
    run_directory,
    run_vector,
)
from marketplace_core.conformance.recorder import dump_vector
from tests.conformance.world import T0, order, standard


def _record() -> dict[str, Any]:
    rec = Recorder("sample/provider-approves", "A provider approves an order.", start=T0)
    standard(rec, plugin="manual")
    order(rec, as_="order", checked=True)
    rec.step("approve_order_as_provider", actor="$outsider", order_id="$order")
    rec.step("approve_order_as_provider", actor="$provider-owner", order_id="$order")
    rec.step("get_order", order_id="$order")
    return rec.vector()


SAMPLE = _record()
PLACED, REFUSED, APPROVED, QUERY = 0, 1, 2, 3


def run(data: dict[str, Any]) -> str | None:
    return run_vector(parse_vector(data)).failure


def changed(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(SAMPLE)
    edit(data)
    return data


def test_the_recorded_sample_passes() -> None:
    assert SAMPLE["steps"][REFUSED]["expect"]["error"]["code"] == "permission_denied"
    assert run(SAMPLE) is None


def test_the_sample_passes_on_sqlite_storage(tmp_path: Path) -> None:
    outcome = run_vector(parse_vector(SAMPLE), lambda: SqliteStorage(tmp_path / "v.db"))
    assert outcome.passed, outcome.failure


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda d: d["steps"][APPROVED]["expect"]["states"]["order"].update(order="done"),
            "steps[2] (approve_order_as_provider): expected order $order in state 'done', "
            "got 'executing'",
            id="a state",
        ),
        pytest.param(
            lambda d: d["steps"][REFUSED]["expect"]["error"].update(code="not_found"),
            "steps[1] (approve_order_as_provider): expected the error 'not_found', "
            "got permission_denied",
            id="an error code",
        ),
        pytest.param(
            lambda d: d["steps"][APPROVED]["expect"]["events"].pop(),
            "events: expected 1 items, got 2",
            id="an event too many",
        ),
        pytest.param(
            lambda d: d["steps"][APPROVED]["expect"]["events"][0].update(side="consumer"),
            "events.0.side: expected 'consumer', got 'provider'",
            id="an event's field",
        ),
        pytest.param(
            lambda d: d["steps"][PLACED]["expect"]["notifications"][0].update(
                recipient_ids=["$owner"]
            ),
            "notifications.0.recipient_ids.0: expected '$owner', got '$provider-owner'",
            id="a notification's recipients",
        ),
        pytest.param(
            lambda d: d["steps"][PLACED]["expect"]["notifications"].clear(),
            "notifications: expected 0 items, got 1",
            id="a notification too many",
        ),
        pytest.param(
            lambda d: d.update(process_immediately=False),
            "steps[2] (approve_order_as_provider): result.dispatched_at: expected "
            "'2026-01-15T09:00:00+00:00', got None",
            id="orders left to workers",
        ),
        pytest.param(
            lambda d: d["steps"][QUERY]["expect"]["result"].update(cost="15"),
            "result.cost: expected '15', got '14'",
            id="an amount",
        ),
        pytest.param(
            lambda d: d["steps"][QUERY]["expect"]["result"].update(created_by="$manager"),
            "result.created_by: expected '$manager', got '$owner'",
            id="a name",
        ),
        pytest.param(
            lambda d: (
                d["steps"][REFUSED]["expect"].update(error=None)
                or d["steps"][REFUSED]["expect"].pop("error")
            ),
            "steps[1] (approve_order_as_provider): expected success, got permission_denied",
            id="a refusal where success is expected",
        ),
        pytest.param(
            lambda d: (
                d["steps"][APPROVED]["expect"].update(error={"code": "not_found"})
                or d["steps"][APPROVED]["expect"].pop("result")
            ),
            "expected the error 'not_found', but the command succeeded",
            id="success where a refusal is expected",
        ),
        pytest.param(
            lambda d: d["steps"][QUERY].update(command="fetch_order"),
            "unknown command 'fetch_order'",
            id="an unknown command",
        ),
        pytest.param(
            lambda d: d["steps"][QUERY]["args"].update(order_id="$nobody"),
            "name $nobody is not bound by any earlier step",
            id="an unbound name",
        ),
        pytest.param(
            lambda d: d["steps"][QUERY].update(at="2020-01-01T00:00:00+00:00"),
            "a clock never goes backwards",
            id="the clock set back",
        ),
        pytest.param(
            lambda d: d["steps"][QUERY]["args"].update(colour="red"),
            "get_order has no argument 'colour'",
            id="an unknown argument",
        ),
        pytest.param(
            lambda d: d["steps"][QUERY]["args"].clear(),
            "get_order needs the argument 'order_id'",
            id="a missing argument",
        ),
        pytest.param(
            lambda d: d["steps"][QUERY].update(actor="$owner"),
            "get_order takes no actor",
            id="an actor on a query",
        ),
    ],
)
def test_the_runner_catches_each_departure(
    edit: Callable[[dict[str, Any]], object], expected: str
) -> None:
    failure = run(changed(edit))
    assert failure is not None
    assert expected in failure


def test_amounts_and_instants_compare_by_value() -> None:
    def rewrite(data: dict[str, Any]) -> None:
        result = data["steps"][QUERY]["expect"]["result"]
        result["cost"] = "14.000"
        result["created_at"] = "2026-01-15T10:00:00+01:00"

    assert run(changed(rewrite)) is None


def test_a_refused_command_that_commits_events_fails() -> None:
    # The outsider's approval, expected to be refused, is instead run by the provider's
    # owner: it succeeds, so the vector fails at that step.
    def swap(data: dict[str, Any]) -> None:
        data["steps"][REFUSED]["actor"] = "$provider-owner"

    failure = run(changed(swap))
    assert failure is not None
    assert failure.startswith("steps[1]")


MALFORMED = [
    pytest.param(lambda d: d.update(format="other/9"), "format", id="format"),
    pytest.param(lambda d: d.pop("steps"), "steps", id="no steps"),
    pytest.param(lambda d: d.update(start="2026-01-15 09:00"), "start", id="naive start"),
    pytest.param(lambda d: d.update(colour="red"), "the vector", id="unknown key"),
    pytest.param(lambda d: d["steps"][0].pop("command"), "steps[0].command", id="no command"),
    pytest.param(lambda d: d["steps"][0].update(args=[1]), "steps[0].args", id="args list"),
    pytest.param(
        lambda d: d["steps"][2].update(bind={"x": "output.id"}),
        "steps[2].bind.x",
        id="bind path",
    ),
    pytest.param(
        lambda d: d["steps"][2].update(bind={"x": "result..id"}),
        "steps[2].bind.x",
        id="bind path with an empty key",
    ),
    pytest.param(
        lambda d: d["steps"][2]["expect"].update(error={"code": "x"}),
        "steps[2].expect",
        id="result and error",
    ),
    pytest.param(
        lambda d: d["steps"][2]["expect"].update(states={"plan": {}}),
        "steps[2].expect.states",
        id="state kind",
    ),
    pytest.param(
        lambda d: d["steps"][2]["expect"].update(events=[{"side": "x"}]),
        "steps[2].expect.events[0].type",
        id="event without type",
    ),
]
"""Edits that make the sample malformed, with the place the loader names."""


@pytest.mark.parametrize(("edit", "where"), MALFORMED)
def test_malformed_vectors_are_refused_naming_the_place(
    edit: Callable[[dict[str, Any]], object], where: str
) -> None:
    with pytest.raises(VectorFormatError) as caught:
        parse_vector(changed(edit))
    assert caught.value.where == where


def test_the_command_line_prints_a_line_per_vector_and_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "good.vector.json").write_text(dump_vector(SAMPLE))
    bad = changed(lambda d: d["steps"][QUERY]["expect"]["result"].update(state="done"))
    bad["name"] = "sample/bad"
    (tmp_path / "sample" / "bad.vector.json").write_text(dump_vector(bad))
    (tmp_path / "broken.vector.json").write_text("{not json")
    (tmp_path / "lifecycles.json").write_text("[]")  # not a vector: not run

    status = main(["vectors", str(tmp_path)])

    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    assert lines[0].startswith("FAIL broken: ")
    assert lines[1].startswith("FAIL sample/bad: steps[3] (get_order): result.state:")
    assert lines[2] == "PASS sample/provider-approves"
    assert lines[3] == "1 passed, 2 failed"


def test_the_command_line_passes_when_every_vector_passes(tmp_path: Path) -> None:
    (tmp_path / "good.vector.json").write_text(dump_vector(SAMPLE))
    out = io.StringIO()
    outcomes = run_directory(tmp_path, out)
    assert [o.passed for o in outcomes] == [True]
    assert out.getvalue().splitlines()[-1] == "1 passed, 0 failed"
    assert main(["vectors", str(tmp_path)]) == 0


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    assert main(["vectors", str(tmp_path)]) == 1


def test_the_recorded_file_is_the_vector_as_json() -> None:
    assert json.loads(dump_vector(SAMPLE)) == SAMPLE

"""``python -m marketplace_core simulate``: the real command in a subprocess, and its
refusals as ``error: ...`` with exit status 2."""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from marketplace_core.__main__ import main
from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.simulation.command import add_simulate_arguments, run_simulate
from tests.simulation.test_progress import FakeTimer

EXAMPLE = Path(__file__).parents[2] / "examples" / "research-cloud.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marketplace_core", "simulate", *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_command_prints_text_and_json_with_the_same_numbers_and_draws_the_plot(
    tmp_path: Path,
):
    text = run_cli(str(EXAMPLE), "--storage", "memory")
    assert text.returncode == 0, text.stderr
    plot = tmp_path / "costs.png"
    as_json = run_cli(str(EXAMPLE), "--storage", "memory", "--json", "--plot", str(plot))
    assert as_json.returncode == 0, as_json.stderr
    assert plot.read_bytes()[:8] == PNG_MAGIC
    assert f"The plot is in {plot}." in as_json.stderr
    data = json.loads(as_json.stdout)
    report = text.stdout
    assert f"{data['orders']['placed']} orders placed" in report
    for state, by_type in data["orders"]["by_state"].items():
        assert re.search(rf"^{state}\s.*\s{sum(by_type.values())}$", report, re.MULTILINE)
    for name, totals in data["totals"].items():
        assert re.search(
            rf"^{re.escape(name)}\s+{totals['price']}\s+{totals['tax']}\s+{totals['total']}$",
            report,
            re.MULTILINE,
        )
    assert sum(Decimal(t["total"]) for t in data["totals"].values()) > 0
    assert len(data["policy_firings"]) == len(re.findall(r"policy-\d+", report))
    assert "Traceback" not in text.stderr + as_json.stderr


def simulate_arguments(*arguments: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    return parser.parse_args(list(arguments))


def test_a_bad_scenario_prints_an_error_naming_the_field_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    bad = tmp_path / "bad.json"
    data = json.loads(EXAMPLE.read_text())
    data["offerings"][1]["plans"][0]["unit"] = "weekly"
    bad.write_text(json.dumps(data))
    assert main(["simulate", str(bad), "--storage", "memory"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {bad}: offerings[1].plans[0].unit: expected one of")


def test_an_existing_sqlite_file_is_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    taken = tmp_path / "taken.db"
    taken.write_bytes(b"someone's data")
    assert main(["simulate", str(EXAMPLE), "--storage", str(taken)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert taken.read_bytes() == b"someone's data"


def test_a_plot_into_a_missing_directory_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    database = tmp_path / "sim.db"
    plot = tmp_path / "nowhere" / "costs.png"
    assert main(["simulate", str(EXAMPLE), "--storage", str(database), "--plot", str(plot)]) == 2
    assert "no directory" in capsys.readouterr().err
    assert not database.exists()


def test_by_default_the_run_is_kept_in_a_new_temporary_sqlite_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    out, err = io.StringIO(), io.StringIO()
    assert run_simulate(simulate_arguments(str(EXAMPLE)), out, err) == 0
    (database,) = tmp_path.glob("marketplace-simulation-*/simulation.db")
    assert f"SQLite database {database}." in out.getvalue()
    placed = int(re.search(r"(\d+) orders placed", out.getvalue()).group(1))
    with SqliteStorage.open(database) as storage, storage.unit_of_work() as uow:
        assert len(uow.orders.all()) == placed


def test_progress_is_forced_onto_a_stream_that_is_not_a_terminal():
    out, err = io.StringIO(), io.StringIO()
    arguments = simulate_arguments(str(EXAMPLE), "--storage", "memory", "--progress")
    run_simulate(arguments, out, err, timer=FakeTimer(tick=5.0))
    assert "simulating [" in err.getvalue()
    assert "simulating" not in out.getvalue()


def test_no_progress_keeps_even_a_terminal_quiet():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = io.StringIO(), Terminal()
    arguments = simulate_arguments(str(EXAMPLE), "--storage", "memory", "--no-progress")
    run_simulate(arguments, out, err, timer=FakeTimer(tick=5.0))
    assert err.getvalue() == ""

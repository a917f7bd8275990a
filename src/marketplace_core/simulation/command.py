"""``python -m marketplace_core simulate SCENARIO``: the command's options and its run.

The command reads the scenario, opens the storage (a new SQLite file in a temporary
directory unless ``--storage`` names one), plays the scenario with a progress bar on
stderr, prints the report (text, or JSON with ``--json``) on stdout, and draws the plot with
``--plot``. Failures are :class:`~marketplace_core.errors.MarketplaceError` s, which the
command line prints as ``error: ...`` with exit status 2.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from marketplace_core.adapters.locations import new_sqlite_file, open_storage, sqlite_path
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.simulation.engine import simulate
from marketplace_core.simulation.plot import draw_plot, require_matplotlib
from marketplace_core.simulation.progress import ProgressBar
from marketplace_core.simulation.report import format_json, format_report
from marketplace_core.simulation.scenario import load_scenario


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``simulate`` command's arguments."""
    parser.add_argument("scenario", type=Path, help="the scenario file (.toml or .json)")
    parser.add_argument(
        "--storage",
        metavar="LOCATION",
        help="a new SQLite file, 'memory', or an empty database's postgresql:// URL "
        "(default: a SQLite file in a temporary directory)",
    )
    parser.add_argument("--seed", type=int, help="replace the scenario's seed")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the costs to a PNG")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show the progress bar even when stderr is not a terminal (or never)",
    )


def _location(storage: str | None) -> str:
    """The storage location to open: a new temporary SQLite file by default; refuses an
    existing SQLite file."""
    path = None if storage is None else sqlite_path(storage)
    if storage is not None and path is None:
        return storage  # memory, or a PostgreSQL URL
    chosen = None if path is None else Path(path)
    return str(new_sqlite_file(chosen, default_name="simulation.db", field="storage"))


def run_simulate(
    arguments: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    timer: Callable[[], float] = time.monotonic,
) -> int:
    """Run the ``simulate`` command parsed into ``arguments``; returns the exit status."""
    scenario = load_scenario(arguments.scenario)
    if arguments.plot is not None:
        require_matplotlib()
        if not arguments.plot.parent.is_dir():
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"cannot write the plot to {str(arguments.plot)!r}: no directory "
                f"{str(arguments.plot.parent)!r}",
                field="plot",
                value=str(arguments.plot),
            )
    location = _location(arguments.storage)
    progress = ProgressBar(err, timer, force=bool(arguments.progress))
    if arguments.progress is False:
        progress.enabled = False
    storage = open_storage(location)
    try:
        report = simulate(scenario, storage, seed=arguments.seed, progress=progress)
    finally:
        storage.close()
    notes = out if not arguments.json else err
    out.write(format_json(report) if arguments.json else format_report(report))
    if arguments.plot is not None:
        draw_plot(report, arguments.plot)
        notes.write(f"\nThe plot is in {arguments.plot}.\n")
    if sqlite_path(location) is not None:
        notes.write(f"\nThe simulated marketplace is in the SQLite database {location}.\n")
    return 0

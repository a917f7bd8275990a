"""The command line: ``python -m marketplace_core demo``, ``... events DATABASE``,
``... vectors DIR``, ``... tables DIR`` and ``... simulate SCENARIO``.

The commands work on SQLite files by default; ``events`` also reads any storage location
:func:`~marketplace_core.adapters.locations.open_storage` understands (a PostgreSQL URL).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from marketplace_core import __version__
from marketplace_core.adapters.locations import open_storage, sqlite_path
from marketplace_core.console import format_table
from marketplace_core.demo import run_demo
from marketplace_core.errors import MarketplaceError
from marketplace_core.simulation.command import add_simulate_arguments, run_simulate


def show_events(out: TextIO, location: str, after: int, limit: int) -> None:
    """Print the committed events of the storage at ``location`` with positions after
    ``after``, at most ``limit`` of them, one row each."""
    storage = open_storage(location)
    try:
        with storage.unit_of_work() as uow:
            recorded = uow.outbox.read(after, limit)
    finally:
        storage.close()
    rows = [
        [
            r.position,
            r.event.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.event.event_type,
            r.event.actor_id or "system",
        ]
        for r in recorded
    ]
    out.write(format_table(["#", "when", "event", "actor"], rows) + "\n")
    out.write(f"{len(rows)} events after position {after}\n")


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input)."""
    parser = argparse.ArgumentParser(
        prog="python -m marketplace_core",
        description="The marketplace_core domain library, from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"marketplace_core {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="tell the guided story of a marketplace, step by step")
    demo.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="the new SQLite file to keep the story in (default: one in a temporary directory)",
    )
    events = commands.add_parser("events", help="list the events a storage has committed")
    events.add_argument("database", help="a SQLite file, or a postgresql:// URL")
    events.add_argument("--after", type=_non_negative, default=0, help="skip positions up to N")
    events.add_argument("--limit", type=_non_negative, default=50, help="show at most N events")
    vectors = commands.add_parser(
        "vectors", help="run the conformance vectors under a directory against this library"
    )
    vectors.add_argument("directory", type=Path, help="where the *.vector.json files are")
    tables = commands.add_parser(
        "tables",
        help="write the lifecycles, approval tables, roles, commands and vocabularies as JSON",
    )
    tables.add_argument("directory", type=Path, help="where to write them (created if needed)")
    add_simulate_arguments(
        commands.add_parser(
            "simulate", help="play a scenario of orders and usage over months, and report on it"
        )
    )
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "demo":
            run_demo(sys.stdout, arguments.db)
        elif arguments.command == "vectors":
            # The conformance package (and the testing kit its plugins come from) is
            # imported only by the commands that use it, to keep the demo's start quick.
            from marketplace_core.conformance import run_directory  # noqa: PLC0415

            if not arguments.directory.is_dir():
                parser.error(f"no directory at {str(arguments.directory)!r}")
            outcomes = run_directory(arguments.directory, sys.stdout)
            if not outcomes:
                print(f"error: no *.vector.json files under {arguments.directory}", file=sys.stderr)
                return 1
            return 0 if all(outcome.passed for outcome in outcomes) else 1
        elif arguments.command == "simulate":
            return run_simulate(arguments, sys.stdout, sys.stderr)
        elif arguments.command == "tables":
            from marketplace_core.conformance.tables import write_tables  # noqa: PLC0415

            for written in write_tables(arguments.directory):
                print(written)
        else:
            database = arguments.database
            path = sqlite_path(database)
            if path is not None and not Path(path).is_file():
                parser.error(f"no database file at {database!r}")
            show_events(sys.stdout, arguments.database, arguments.after, arguments.limit)
    except MarketplaceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

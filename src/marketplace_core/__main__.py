"""The command line: ``python -m marketplace_core demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from marketplace_core import __version__
from marketplace_core.demo import run_demo


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m marketplace_core",
        description="The marketplace_core domain library, from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"marketplace_core {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("demo", help="tell the guided story of a marketplace, step by step")
    arguments = parser.parse_args(argv)
    if arguments.command == "demo":
        run_demo(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

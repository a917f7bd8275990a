"""Regenerate the lifecycle diagrams in the docs from the code.

Every page under ``docs/`` may hold generated blocks of the form::

    <!-- BEGIN GENERATED: order lifecycle -->
    ```mermaid
    ...
    ```
    <!-- END GENERATED: order lifecycle -->

whose body is ``Lifecycle.to_mermaid()`` of the lifecycle the name gives. Run from the
repository root::

    python docs/scripts/lifecycles.py          # rewrite every drifted block
    python docs/scripts/lifecycles.py --check  # only report drift; exit status 1 if any

``tests/test_docs.py`` fails when a page drifts from the code.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from marketplace_core.conformance.tables import LIFECYCLES as EXPORTED
from marketplace_core.lifecycle import Lifecycle

DOCS = Path(__file__).resolve().parent.parent

LIFECYCLES: Mapping[str, Lifecycle[Any, Any]] = {
    f"{lifecycle.entity} lifecycle": lifecycle for lifecycle in EXPORTED
}

BLOCK = re.compile(
    r"(?P<begin><!-- BEGIN GENERATED: (?P<name>[^>]+?) -->\n```mermaid\n)"
    r"(?P<body>.*?)"
    r"(?P<end>```\n<!-- END GENERATED: (?P=name) -->)",
    flags=re.DOTALL,
)


class UnknownBlockError(ValueError):
    """A page names a generated block that no lifecycle draws."""


def refresh(text: str, where: str = "page") -> str:
    """``text`` with the body of every generated block replaced by its lifecycle's diagram."""

    def draw(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in LIFECYCLES:
            known = ", ".join(sorted(LIFECYCLES))
            raise UnknownBlockError(
                f"{where}: generated block {name!r} names no lifecycle; known: {known}"
            )
        return match.group("begin") + LIFECYCLES[name].to_mermaid() + match.group("end")

    return BLOCK.sub(draw, text)


def blocks(text: str) -> dict[str, str]:
    """The generated blocks of ``text``: name to body."""
    return {match.group("name"): match.group("body") for match in BLOCK.finditer(text)}


def drifted(docs: Path | None = None) -> dict[Path, str]:
    """The pages under ``docs`` (default: this site's) whose generated blocks differ from the
    code, with their refreshed text."""
    docs = docs or DOCS
    changed = {}
    for page in sorted(docs.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        fresh = refresh(text, str(page.relative_to(docs)))
        if fresh != text:
            changed[page] = fresh
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or with ``--check`` only list) the pages that drifted from the code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift, change nothing")
    args = parser.parse_args(argv)
    try:
        changed = drifted()
    except UnknownBlockError as error:
        print(error, file=sys.stderr)
        return 2
    for page, fresh in changed.items():
        name = page.relative_to(DOCS.parent) if page.is_relative_to(DOCS.parent) else page
        if args.check:
            print(f"{name} drifted from the code", file=sys.stderr)
        else:
            page.write_text(fresh, encoding="utf-8")
            print(f"rewrote {name}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())

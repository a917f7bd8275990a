"""Plain-text output for the command line: aligned tables and headings."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """``rows`` under ``headers`` in aligned columns; numbers are right-aligned."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [
        max([len(header), *(len(row[column]) for row in cells)])
        for column, header in enumerate(headers)
    ]
    numeric = [
        bool(rows) and all(isinstance(row[column], int | Decimal) for row in rows)
        for column in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


def heading(title: str) -> str:
    """A section title underlined to its length."""
    return f"\n{title}\n{'=' * len(title)}"

"""The simulation's picture: monthly cost per organization, and when policies fired.

Drawn with matplotlib (the optional extra ``plot``) on the Agg backend, so no display is
needed. The upper panel draws each organization's invoice total per month as a line (each
month's point in its middle); the lower one places each policy firing on a time line, one
row per organization, with a marker per kind of action.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, time
from pathlib import Path
from types import ModuleType

from marketplace_core.errors import ErrorCode, MarketplaceError, ValidationError
from marketplace_core.simulation.report import Report

INSTALL_HINT = "pip install 'marketplace-core[plot]'"

MARKERS = {
    "notify": "o",
    "block": "X",
    "terminate": "v",
    "request": "s",
}


class PlotUnavailableError(MarketplaceError, ImportError):
    """matplotlib is not installed; the message says which extra brings it."""


def require_matplotlib() -> ModuleType:
    """The ``matplotlib.pyplot`` module on the Agg backend; refuses, naming the extra to
    install, when matplotlib is missing."""
    try:
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        return importlib.import_module("matplotlib.pyplot")
    except ImportError:
        raise PlotUnavailableError(
            ErrorCode.INVALID_VALUE,
            f"--plot needs matplotlib, which is not installed; install it with: {INSTALL_HINT}",
            field="plot",
            value="matplotlib",
        ) from None


def _marker(action: str) -> str:
    for prefix, marker in MARKERS.items():
        if action.startswith(prefix):
            return marker
    return "D"


def draw_plot(report: Report, path: Path) -> Path:
    """Write the report's picture as a PNG file at ``path``; returns ``path``.

    Refuses (naming the file) a path that cannot be written.
    """
    pyplot = require_matplotlib()
    costs = report.monthly_costs()
    organizations = list(costs)
    for firing in report.firings:
        if firing.organization not in organizations:
            organizations.append(firing.organization)
    figure, (upper, lower) = pyplot.subplots(
        2,
        1,
        figsize=(10, 6.5),
        sharex=True,
        gridspec_kw={"height_ratios": [3, max(1, len(organizations)) * 0.45 + 0.6]},
    )
    try:
        colours = {name: f"C{index % 10}" for index, name in enumerate(organizations)}
        for name, by_month in costs.items():
            months = sorted(by_month)
            upper.plot(
                [datetime.combine(m.replace(day=15), time(), UTC) for m in months],
                [float(by_month[m]) for m in months],
                marker="o",
                color=colours[name],
                label=name,
            )
        upper.set_ylabel("invoice total per month")
        upper.set_title(f"{report.scenario}: monthly cost per organization (seed {report.seed})")
        upper.grid(visible=True, alpha=0.3)
        if costs:
            upper.legend(loc="upper left", fontsize="small")
        rows = {name: index for index, name in enumerate(organizations)}
        kinds: list[str] = []
        for firing in report.firings:
            kind = firing.action.split("@")[0]
            colour = colours[firing.organization]
            hollow = _marker(kind) == "o"  # a warning ring leaves a block's cross visible
            lower.scatter(
                [firing.at],
                [rows[firing.organization]],
                marker=_marker(kind),
                facecolors="none" if hollow else colour,
                edgecolors=colour,
                s=70,
            )
            if kind not in kinds:
                kinds.append(kind)
        for kind in kinds:  # legend entries in grey: the colour is the organization's
            hollow = _marker(kind) == "o"
            lower.scatter(
                [],
                [],
                marker=_marker(kind),
                facecolors="none" if hollow else "0.35",
                edgecolors="0.35",
                label=kind,
            )
        lower.set_yticks(range(len(organizations)), organizations)
        lower.set_ylim(-0.7, max(len(organizations), 1) - 0.3)
        lower.set_title("policy firings", fontsize="small")
        lower.grid(visible=True, axis="x", alpha=0.3)
        if kinds:
            lower.legend(loc="upper left", fontsize="x-small", ncols=min(len(kinds), 4))
        figure.autofmt_xdate()
        figure.tight_layout()
        try:
            figure.savefig(path, format="png", dpi=100)
        except OSError as error:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"cannot write the plot to {str(path)!r} ({error.strerror or error})",
                field="plot",
                value=str(path),
            ) from None
    finally:
        pyplot.close(figure)
    return path

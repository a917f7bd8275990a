"""The marketplace simulator: play a scenario of organizations, offerings, orders and usage
over several months on any storage, and report what the marketplace recorded.

``python -m marketplace_core simulate SCENARIO`` is the command line's way in (see
``docs/simulator.md``); a host or a test calls :func:`load_scenario` (or
:func:`parse_scenario`) and :func:`simulate`, then :func:`format_report`,
:func:`format_json` or :func:`draw_plot`.
"""

from marketplace_core.simulation.engine import simulate
from marketplace_core.simulation.plot import PlotUnavailableError, draw_plot
from marketplace_core.simulation.progress import NoProgress, Progress, ProgressBar
from marketplace_core.simulation.report import (
    InvoiceLine,
    OrganizationTotal,
    PolicyFiring,
    Report,
    format_json,
    format_report,
    report_data,
)
from marketplace_core.simulation.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
)

__all__ = [
    "InvoiceLine",
    "NoProgress",
    "OrganizationTotal",
    "PlotUnavailableError",
    "PolicyFiring",
    "Progress",
    "ProgressBar",
    "Report",
    "Scenario",
    "ScenarioError",
    "draw_plot",
    "format_json",
    "format_report",
    "load_scenario",
    "parse_scenario",
    "report_data",
    "simulate",
]

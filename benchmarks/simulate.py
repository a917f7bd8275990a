"""Benchmark: scenario throughput of the simulator (orders placed per second, simulated
months per second) on in-memory storage and on a SQLite file.

It plays the two example scenarios, and a larger one built from ``examples/hpc-centre.toml``
with ``SCALE`` times as many consuming organizations over twelve months. The times are
wall-clock seconds for the whole run, world building and the report read back included.

Run: ``python benchmarks/simulate.py``. The numbers go into ``docs/simulator.md``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import attrs

from marketplace_core.adapters.locations import open_storage
from marketplace_core.simulation import Scenario, load_scenario, simulate

EXAMPLES = Path(__file__).parents[1] / "examples"
SCALE = 10


def scaled(scenario: Scenario, times: int, months: int) -> Scenario:
    """``scenario`` with each consuming organization repeated ``times`` times."""
    organizations = list(scenario.organizations)
    for copy in range(2, times + 1):
        organizations += [
            attrs.evolve(o, name=f"{o.name} #{copy}") for o in scenario.organizations if o.projects
        ]
    return attrs.evolve(scenario, organizations=tuple(organizations), months=months)


def measure(name: str, scenario: Scenario, location: str) -> None:
    storage = open_storage(location)
    try:
        started = time.perf_counter()
        report = simulate(scenario, storage)
        seconds = time.perf_counter() - started
    finally:
        storage.close()
    kind = "memory" if location == "memory" else "sqlite"
    print(
        f"{name:<26} {kind:<7} {report.orders_placed:>6} orders {scenario.months:>3} months "
        f"{seconds:>7.2f} s {report.orders_placed / seconds:>8.0f} orders/s "
        f"{scenario.months / seconds:>7.1f} months/s"
    )


def main() -> None:
    hpc = load_scenario(EXAMPLES / "hpc-centre.toml")
    cloud = load_scenario(EXAMPLES / "research-cloud.json")
    large = scaled(hpc, SCALE, 12)
    with tempfile.TemporaryDirectory() as directory:
        for name, scenario in (
            ("hpc-centre.toml", hpc),
            ("research-cloud.json", cloud),
            (f"hpc-centre x{SCALE}, 12 months", large),
        ):
            for location in ("memory", str(Path(directory) / f"{len(name)}-{id(scenario)}.db")):
                measure(name, scenario, location)


if __name__ == "__main__":
    main()

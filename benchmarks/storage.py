"""Benchmark: the durable storage adapters (issue #7's table).

1. **Orders end to end on one file, one process.** The flow of ``orders_end_to_end.py``: an
   organization owner orders a resource of an offering served by a synchronous processor;
   the consumer review is automatic, no provider review is needed, the processor answers at
   once, and the order ends ``done`` with its resource ``ok``, in the command's unit of work.
2. **The same with several worker processes on one file** (``--processes``, 4 by default):
   each process opens its own storage, places and processes its share of the orders; the
   figure is all orders over the time from the first start to the last finish.
3. **Loading 100,000 resources**: written once in batches of 1,000 per unit of work, then a
   fresh ``open`` of the storage and a full listing (``uow.resources.all()``), timed.

Run: ``python benchmarks/storage.py [--storage sqlite] [--folder PATH] [--orders N]
[--processes N] [--resources N] [--runs N] [--synchronous NORMAL]
[--skip orders,processes,load]``. Each run writes a new database file in ``--folder``
(default: a temporary folder).
``--storage memory`` runs the order figures on the in-memory storage, as a yardstick.
Another adapter is added in :func:`open_storage` (a PostgreSQL URL as its location, say).

Targets (issue #7): SQLite at least 3,000 orders/s with one process; 100,000 resources
loaded in under 2 s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marketplace_core import (
    ConflictError,
    FixedClock,
    InMemoryStorage,
    Marketplace,
    OrderState,
    PluginRegistry,
    Resource,
    ResourceState,
    SequentialIdGenerator,
)
from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.testing import InstantProcessor
from orders_end_to_end import catalogue

START = datetime(2026, 1, 1, tzinfo=UTC)
ORDERS_TARGET = 3_000
LOAD_TARGET = 2.0
PROCESS_TARGETS = {
    "sqlite": "no target for SQLite",
    "postgres": "target: at least 1,000 orders/s with 4 processes",
}


def open_storage(kind: str, location: str, synchronous: str = "NORMAL") -> Any:
    """The storage of ``kind`` at ``location``: a new file for SQLite, a URL whose
    ``search_path`` names a new schema for PostgreSQL (ignored in memory)."""
    if kind == "sqlite":
        return SqliteStorage.open(location, synchronous=synchronous)
    if kind == "postgres":
        from marketplace_core.adapters.postgres import PostgresStorage  # noqa: PLC0415

        return PostgresStorage.open(location)
    if kind == "memory":
        return InMemoryStorage()
    raise SystemExit(f"unknown storage kind {kind!r}: sqlite, postgres or memory")


class PostgresSchemas:
    """New schemas on the server at ``url`` for each run, dropped at the end."""

    def __init__(self, url: str) -> None:
        import psycopg  # noqa: PLC0415  (the optional postgres extra)

        if not url:
            raise SystemExit("--storage postgres needs --url or MARKETPLACE_POSTGRES_URL")
        self.url = url
        self.admin = psycopg.connect(url, autocommit=True)
        self.names: list[str] = []

    def fresh(self, name: str) -> str:
        schema = f"bench_{name}_{time.perf_counter_ns()}"
        self.admin.execute(f'CREATE SCHEMA "{schema}"')
        self.names.append(schema)
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}options=-csearch_path%3D{schema}"

    def drop(self) -> None:
        for schema in self.names:
            self.admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        self.admin.close()


class WorkerIds:
    """Sequential ids with a worker's prefix, so processes on one file never collide."""

    def __init__(self, prefix: str) -> None:
        self._ids = SequentialIdGenerator()
        self._prefix = prefix

    def new_id(self, kind: str) -> str:
        return f"{self._prefix}{self._ids.new_id(kind)}"


def marketplace(storage: Any, prefix: str) -> Marketplace:
    plugins = PluginRegistry()
    plugins.register("instant", InstantProcessor())
    return Marketplace(storage, clock=FixedClock(START), ids=WorkerIds(prefix), plugins=plugins)


def set_up(market: Marketplace) -> dict[str, str]:
    """One instant offering with one plan, and a consumer organization whose owner orders;
    one order is placed so that the month's invoice exists before any worker starts."""
    owner, project, offering, plan = catalogue(market)
    world = {"owner": owner, "project": project, "offering": offering, "plan": plan}
    place_orders(market, world, 1)
    return world


def place_orders(market: Marketplace, world: dict[str, str], count: int) -> int:
    """Place ``count`` orders end to end; returns how many conflicts were retried."""
    retries = 0
    order = None
    for _ in range(count):
        while True:
            try:
                order = market.order_resource(
                    world["owner"], world["project"], world["offering"], world["plan"], "vm"
                )
                break
            except ConflictError:
                retries += 1
    if order is not None:
        assert order.state is OrderState.DONE
        assert order.cost == Decimal(10)
        assert market.get_resource(order.resource_id).state is ResourceState.OK
    return retries


def orders_one_process(kind: str, location: str, count: int, synchronous: str) -> float:
    """Orders per second of one process placing ``count`` orders."""
    with closing(open_storage(kind, location, synchronous)) as storage:
        market = marketplace(storage, "")
        world = set_up(market)
        started = time.perf_counter()
        place_orders(market, world, count)
        return count / (time.perf_counter() - started)


def _worker(
    kind: str,
    location: str,
    synchronous: str,
    world: dict[str, str],
    number: int,
    count: int,
    go: Any,
    results: Any,
) -> None:
    with closing(open_storage(kind, location, synchronous)) as storage:
        market = marketplace(storage, f"w{number}-")
        go.wait()
        started = time.perf_counter()
        retries = place_orders(market, world, count)
        results.put((started, time.perf_counter(), retries))


def orders_processes(
    kind: str, location: str, count: int, processes: int, synchronous: str
) -> tuple[float, int]:
    """Orders per second of ``processes`` processes placing ``count`` orders each on one
    storage, and the conflicts they retried."""
    with closing(open_storage(kind, location, synchronous)) as storage:
        world = set_up(marketplace(storage, ""))
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(kind, location, synchronous, world, number, count, go, results),
        )
        for number in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(2.0)  # let every worker import and open its storage
    go.set()
    spans = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"a worker failed with exit code {worker.exitcode}")
    elapsed = max(end for _, end, _ in spans) - min(start for start, _, _ in spans)
    return processes * count / elapsed, sum(retries for _, _, retries in spans)


def write_resources(location: str, count: int) -> None:
    """``count`` live resources, as orders leave them, in batches of 1,000 per commit."""
    with closing(SqliteStorage.open(location)) as storage:
        for first in range(0, count, 1_000):
            with storage.unit_of_work() as uow:
                for number in range(first, min(first + 1_000, count)):
                    uow.resources.add(
                        Resource(
                            id=f"resource-{number}",
                            name=f"vm {number}",
                            project_id=f"project-{number % 100}",
                            offering_id="offering-1",
                            created_at=START,
                            plan_id="plan-1",
                            state=ResourceState.OK,
                            limits={"cpu": 4, "ram": 8192},
                            attributes={"image": "debian-12", "ssh_keys": ["key-1"]},
                            cost=Decimal("10.50"),
                            backend_id=f"backend-resource-{number}",
                            backend_metadata={"address": "10.0.0.1"},
                            activated_at=START,
                        )
                    )
                uow.commit()


def load_resources(location: str, count: int) -> float:
    """Seconds to open the storage afresh and list its ``count`` resources."""
    started = time.perf_counter()
    with closing(SqliteStorage.open(location)) as storage, storage.unit_of_work() as uow:
        resources = uow.resources.all()
    elapsed = time.perf_counter() - started
    assert len(resources) == count
    assert resources[-1].state is ResourceState.OK
    return elapsed


def _runs(measure: Callable[[], float], times: int) -> list[float]:
    return [measure() for _ in range(times)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", default="sqlite", help="sqlite (default), postgres or memory")
    parser.add_argument(
        "--url",
        default=os.environ.get("MARKETPLACE_POSTGRES_URL", ""),
        help="the PostgreSQL server (default: $MARKETPLACE_POSTGRES_URL); a schema per run",
    )
    parser.add_argument("--folder", help="where the database files go (default: a temporary one)")
    parser.add_argument("--orders", type=int, default=5_000, help="orders per figure")
    parser.add_argument("--processes", type=int, default=4, help="worker processes")
    parser.add_argument("--resources", type=int, default=100_000, help="resources to load")
    parser.add_argument("--runs", type=int, default=3, help="runs of each figure")
    parser.add_argument("--synchronous", default="NORMAL", help="SQLite's PRAGMA synchronous")
    parser.add_argument("--skip", default="", help="figures to skip: orders,processes,load")
    options = parser.parse_args()
    skip = set(filter(None, options.skip.split(",")))
    kind = options.storage
    schemas = PostgresSchemas(options.url) if kind == "postgres" else None
    with tempfile.TemporaryDirectory(dir=options.folder) as folder:

        def fresh(name: str) -> str:
            if schemas is not None:
                return schemas.fresh(name)
            return os.path.join(folder, f"{name}-{time.perf_counter_ns()}.sqlite3")

        label = f"{kind}, synchronous={options.synchronous}" if kind == "sqlite" else kind
        if "orders" not in skip:
            rates = _runs(
                lambda: orders_one_process(
                    kind, fresh("orders"), options.orders, options.synchronous
                ),
                options.runs,
            )
            target = {
                "sqlite": f"target: at least {ORDERS_TARGET:,} orders/s",
                "postgres": "no target for one process",
            }.get(kind, "the yardstick for the durable storages")
            print(
                f"orders end to end, {label}, 1 process: {_figures(rates, 'orders/s')} ({target})"
            )
        if "processes" not in skip and kind != "memory":
            results = [
                orders_processes(
                    kind,
                    fresh("processes"),
                    options.orders // options.processes,
                    options.processes,
                    options.synchronous,
                )
                for _ in range(options.runs)
            ]
            retries = sum(conflicts for _, conflicts in results)
            print(
                f"orders end to end, {label}, {options.processes} processes: "
                f"{_figures([rate for rate, _ in results], 'orders/s')}, "
                f"{retries} conflicts retried ({PROCESS_TARGETS[kind]})"
            )
        if "load" not in skip and kind == "sqlite":
            path = fresh("load")
            write_resources(path, options.resources)
            seconds = _runs(lambda: load_resources(path, options.resources), options.runs)
            print(
                f"load {options.resources:,} resources ({label}, fresh open + full listing): "
                f"{_figures(seconds, 's', best=min)} (target: under {LOAD_TARGET:g} s)"
            )
    if schemas is not None:
        schemas.drop()


def _figures(values: list[float], unit: str, best: Callable[..., float] = max) -> str:
    """The best of several runs, and the range, in ``unit``."""
    spread = (
        f"{min(values):,.2f}–{max(values):,.2f}"
        if unit == "s"
        else (f"{min(values):,.0f}–{max(values):,.0f}")
    )
    shown = f"{best(values):,.2f}" if unit == "s" else f"{best(values):,.0f}"
    median = statistics.median(values)
    middle = f"{median:,.2f}" if unit == "s" else f"{median:,.0f}"
    return f"{shown} {unit} best of {len(values)} (median {middle}, runs {spread})"


if __name__ == "__main__":
    main()

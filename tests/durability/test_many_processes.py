"""Four worker processes on one database (SQLite, PostgreSQL): every order is handed to a
backend exactly once, and every usage report is stored once and billed once (issue #7)."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from contextlib import closing
from pathlib import Path

from marketplace_core.adapters.locations import open_storage
from marketplace_core.orders import OrderState
from marketplace_core.testing.workload import (
    journal_calls,
    place_and_process,
    report_usage_lines,
    seed_catalogue,
    storage_problems,
    usage_lines,
)

WORKERS = 4
ORDERS_PER_WORKER = 1_000
REPORTS = 10_000


def run_processes(target, argument_lists) -> None:
    """Run ``target`` in one spawned process per argument list; fail if any process fails."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=arguments) for arguments in argument_lists]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=600)
    assert [process.exitcode for process in processes] == [0] * len(processes)


def test_four_processes_process_every_order_once_and_store_every_report_once(
    location: str, tmp_path: Path
):
    with closing(open_storage(location)) as storage:
        catalogue = seed_catalogue(storage)
    journal = tmp_path / "journal"
    run_processes(
        place_and_process,
        [(location, catalogue, f"worker-{n}", ORDERS_PER_WORKER, journal) for n in range(WORKERS)],
    )
    with closing(open_storage(location)) as storage, storage.unit_of_work() as uow:
        orders = uow.orders.all()
        resource_ids = [resource.id for resource in uow.resources.all()][:200]
    assert len(orders) == WORKERS * ORDERS_PER_WORKER
    assert Counter(order.state for order in orders) == {OrderState.DONE: len(orders)}
    calls = journal_calls(journal)
    assert calls == Counter({order.id: 1 for order in orders}), "an order was processed twice"
    workers = Counter(order.claimed_by for order in orders)
    assert set(workers) == {f"worker-{n}" for n in range(WORKERS)}

    # Every line is sent by two processes, so each key races with itself as well as with the
    # other lines of its resource.
    lines = usage_lines(resource_ids, REPORTS)
    run_processes(
        report_usage_lines,
        [
            (location, catalogue, lines[n::WORKERS] + lines[(n + 1) % WORKERS :: WORKERS])
            for n in range(WORKERS)
        ],
    )
    with closing(open_storage(location)) as storage:
        with storage.unit_of_work() as uow:
            stored = {report.idempotency_key: report.amount for report in uow.usage_reports.all()}
        assert stored == {line.idempotency_key: line.amount for line in lines}
        assert storage_problems(storage) == []

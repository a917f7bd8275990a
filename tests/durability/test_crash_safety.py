"""Kill processes with SIGKILL in the middle of streams of commands; reopen the database
(SQLite, PostgreSQL): every command is there whole or not at all, and the marketplace's rules
hold (issue #7)."""

from __future__ import annotations

import multiprocessing
import random
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from marketplace_core.adapters.locations import open_storage
from marketplace_core.clocks import FixedClock
from marketplace_core.orders import OrderState
from marketplace_core.testing.workload import (
    WORKLOAD_START,
    Catalogue,
    command_stream,
    journaled_commands,
    seed_catalogue,
    storage_problems,
    workload_marketplace,
)


def lines_in(journal: Path) -> int:
    return len(journal.read_text().splitlines()) if journal.exists() else 0


def kill_mid_stream(
    location: str, catalogue: Catalogue, journal: Path, after_lines: int, workers: int, name: str
) -> None:
    """Run ``workers`` command streams, and SIGKILL them all once the journal holds
    ``after_lines`` more lines (plus a random few milliseconds)."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=command_stream, args=(location, catalogue, f"{name}-{n}", journal))
        for n in range(workers)
    ]
    after_lines += lines_in(journal)
    try:
        for process in processes:
            process.start()
        deadline = time.monotonic() + 120
        while lines_in(journal) < after_lines:
            assert all(process.is_alive() for process in processes), "a stream died on its own"
            assert time.monotonic() < deadline, "the streams made no progress"
            time.sleep(0.005)
        time.sleep(random.uniform(0, 0.02))
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.join()
    assert all(process.exitcode == -9 for process in processes)


def check_after_the_crash(location: str, journal: Path, hours: int) -> None:
    done = journaled_commands(journal)
    with closing(open_storage(location)) as storage:
        assert storage_problems(storage) == []
        with storage.unit_of_work() as uow:
            orders = {order.id: order for order in uow.orders.all()}
            keys = {report.idempotency_key for report in uow.usage_reports.all()}
        assert done["order"] <= orders.keys(), "a committed order was lost"
        assert done["usage"] <= keys, "a committed usage report was lost"
        assert all(orders[o].state is not OrderState.EXECUTING for o in done["processed"])
        # The storage takes new work, and the orders a killed worker held are processed once
        # their leases run out.
        clock = FixedClock(WORKLOAD_START + timedelta(hours=hours))
        market = workload_marketplace(storage, clock=clock)
        while market.process_executing_orders(worker_id="after-the-crash"):
            pass
        with storage.unit_of_work() as uow:
            assert {order.state for order in uow.orders.all()} == {OrderState.DONE}
        assert storage_problems(storage) == []


@pytest.mark.parametrize("after_lines", [20, 150, 400])
def test_killed_writers_leave_every_command_whole_or_absent(
    location: str, tmp_path: Path, after_lines: int
):
    journal = tmp_path / "journal"
    with closing(open_storage(location)) as storage:
        catalogue = seed_catalogue(storage)
    for round_number in range(1, 4):
        kill_mid_stream(location, catalogue, journal, after_lines, 2, f"round{round_number}")
        check_after_the_crash(location, journal, hours=round_number)

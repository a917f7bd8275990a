"""Real jobs on a real Slurm: usage pulled from ``sacct``, submissions refused while a
policy blocks the account's jobs, and a termination while a job is still waiting.

These run only with ``MARKETPLACE_SLURM_RUNNER=subprocess`` against a Slurm that runs jobs
(slurmctld and a node; ``.ci/slurm/start.sh`` starts one on this machine). Each job is
``sleep 1``, submitted with ``sbatch`` as ``MARKETPLACE_SLURM_USER`` (default: the user
running the tests), whom each test associates with its account. slurmdbd records a job a
few seconds after ``sbatch`` returns, so the tests poll for it, within
:data:`JOB_WAIT_SECONDS`; nothing here asserts how long anything took.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeVar

import attrs
import pytest

from marketplace_core import OrderState
from marketplace_core.billing.calendar import month_end, month_start
from marketplace_core.errors import BackendError
from marketplace_core.plugins.slurm.client import CommandResult
from marketplace_core.plugins.slurm.output import JobRecord, parse_tres
from marketplace_core.resources import Resource
from tests.plugins.test_slurm import (
    NEEDS_SLURM,
    REAL_RUNNER,
    SlurmTarget,
    SlurmWorld,
    make_target,
    slurm_world,
)
from tests.plugins.test_slurm_policy import block_jobs_over

pytestmark = pytest.mark.skipif(not REAL_RUNNER, reason=NEEDS_SLURM)

JOB_WAIT_SECONDS = 30.0
"""How long a test waits for slurmdbd to show a job in a state (it usually takes ~3 s)."""

USER = os.environ.get("MARKETPLACE_SLURM_USER") or getpass.getuser()
ACTIVE = ("PENDING", "RUNNING", "REQUEUED", "SUSPENDED", "COMPLETING")

T = TypeVar("T")


@pytest.fixture
def real() -> Iterator[SlurmTarget]:
    """The real Slurm, with a fresh account prefix and parent account."""
    made = make_target("subprocess")
    yield made
    made.cleanup()


@attrs.frozen
class JobState:
    """A job as ``sacct -j`` shows it."""

    state: str
    elapsed_seconds: int
    tres: dict[str, int]

    @property
    def active(self) -> bool:
        return self.state.split(" ")[0] in ACTIVE


def wait_for(what: str, probe: Callable[[], T | None]) -> T:
    """Poll ``probe`` until it returns something, at most :data:`JOB_WAIT_SECONDS`."""
    deadline = time.monotonic() + JOB_WAIT_SECONDS
    while (found := probe()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {JOB_WAIT_SECONDS} s")
        time.sleep(0.2)
    return found


def run(target: SlurmTarget, *argv: str) -> CommandResult:
    return target.runner.run(list(argv))


def submit(target: SlurmTarget, account: str, *options: str) -> CommandResult:
    return run(
        target, "sbatch", "--parsable", "--output=/dev/null", "-A", account, *options,
        "--wrap", "sleep 1",
    )  # fmt: skip


def submitted(target: SlurmTarget, account: str, *options: str) -> str:
    result = submit(target, account, *options)
    assert result.exit_code == 0, result
    return result.stdout.strip().split(";")[0]


def job_state(target: SlurmTarget, job_id: str) -> JobState | None:
    """The job's record in slurmdbd, or ``None`` while slurmdbd does not know it yet."""
    shown = run(
        target, "sacct", "-X", "-n", "-P", "-j", job_id, "--format=State,ElapsedRaw,AllocTRES"
    )
    assert shown.exit_code == 0, shown
    if not shown.stdout.strip():
        return None
    state, elapsed, tres = shown.stdout.splitlines()[0].split("|")
    return JobState(state, int(elapsed), parse_tres(tres))


def wait_for_state(
    target: SlurmTarget, job_id: str, accept: Callable[[JobState], bool]
) -> JobState:
    def probe() -> JobState | None:
        found = job_state(target, job_id)
        return found if found is not None and accept(found) else None

    return wait_for(f"job {job_id} in the wanted state", probe)


def cancel(target: SlurmTarget, job_id: str) -> None:
    """Cancel the job and wait until slurmdbd records it ended (else the account could not
    be removed)."""
    assert run(target, "scancel", job_id).exit_code == 0
    wait_for_state(target, job_id, lambda job: not job.active)


def runs_jobs_for(target: SlurmTarget, resource: Resource) -> None:
    """Let :data:`USER` submit jobs under the resource's account."""
    target.client.add_user(USER, resource.backend_id, target.cluster)


def has_gpu(target: SlurmTarget) -> bool:
    nodes = run(target, "sinfo", "-h", "-o", "%G")
    return nodes.exit_code == 0 and "gpu" in nodes.stdout


def exact_hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)


def started_now(slurm: SlurmWorld) -> date:
    """Move the marketplace's clock to now (the jobs run now); the month it is in."""
    now = datetime.now(UTC)
    if now < slurm.world.clock.now():
        pytest.skip("this machine's clock is before the contract world's start")
    slurm.world.clock.set(now)
    return date(now.year, now.month, 1)


def test_pull_usage_counts_a_real_job(real: SlurmTarget):
    slurm = slurm_world(real)
    month = started_now(slurm)
    resource = slurm.live({"cpu_hours": 10, "gpu_hours": 10})
    runs_jobs_for(real, resource)
    gpu = has_gpu(real)
    job_id = submitted(real, resource.backend_id, *(["--gres=gpu:1"] if gpu else []))
    job = wait_for_state(real, job_id, lambda job: job.state == "COMPLETED")

    # The month's window query can lag behind the per-job one: wait until the query the
    # plugin runs shows the finished job.
    def window_shows_it() -> list[JobRecord] | None:
        jobs = real.client.jobs(
            resource.backend_id, month_start(month), month_end(month), real.cluster
        )
        done = [j for j in jobs if (j.job_id, j.elapsed_seconds) == (job_id, job.elapsed_seconds)]
        return jobs if done else None

    wait_for(f"job {job_id} in the month's sacct query", window_shows_it)
    market, world = slurm.world.market, slurm.world
    report = market.pull_usage(world.provider.id, world.offering.id, month)
    assert report.failed == ()
    amounts = {r.component_type: r.amount for r in report.reports}
    cpus = job.tres["cpu"]
    assert cpus >= 1
    assert job.elapsed_seconds >= 1  # sleep 1
    assert amounts == {
        "cpu_hours": exact_hours(job.elapsed_seconds * cpus),
        "gpu_hours": exact_hours(job.elapsed_seconds * job.tres.get("gres/gpu", 0)),
    }
    assert job.tres.get("gres/gpu", 0) == (1 if gpu else 0)
    again = market.pull_usage(world.provider.id, world.offering.id, month)
    assert [r.id for r in again.reports] == [r.id for r in report.reports]


def test_a_blocked_account_cannot_submit_and_lifting_the_block_lets_it(real: SlurmTarget):
    slurm = slurm_world(real)
    world, market = slurm.world, slurm.world.market
    resource = slurm.live({"cpu_hours": 10})
    runs_jobs_for(real, resource)
    policy_id = block_jobs_over(slurm, cpu_hours=5)
    market.report_usage(
        world.provider.id, resource.id, "cpu_hours", Decimal(6), idempotency_key="k"
    )
    assert slurm.sync.reconcile(market, world.offering.id).changed == (resource.id,)
    refused = submit(real, resource.backend_id)
    assert refused.exit_code != 0
    assert "AssocGrpSubmitJobsLimit" in refused.stderr

    market.delete_policy(world.consumer.id, policy_id)
    assert slurm.sync.reconcile(market, world.offering.id).changed == (resource.id,)
    cancel(real, submitted(real, resource.backend_id))


def test_a_termination_errs_while_a_job_waits_and_a_retry_after_it_ended_finishes(
    real: SlurmTarget,
):
    slurm = slurm_world(real)
    world, market = slurm.world, slurm.world.market
    resource = slurm.live({"gpu_hours": 1})  # no CPU hours: GrpTRESMins=cpu=0
    runs_jobs_for(real, resource)
    job_id = submitted(real, resource.backend_id)
    wait_for_state(real, job_id, lambda job: job.state == "PENDING")

    def held_by_the_cpu_budget() -> bool | None:
        reason = run(real, "squeue", "-h", "-j", job_id, "-o", "%r").stdout.strip()
        return True if reason == "AssocGrpCPUMinutesLimit" else None

    wait_for(f"job {job_id} held by GrpTRESMins=cpu=0", held_by_the_cpu_budget)

    ending = market.order_termination(world.consumer.id, resource.id)
    ending = market.approve_order_as_provider(world.provider.id, ending.id)
    ending = market.get_order(ending.id)
    assert ending.state is OrderState.ERRED
    assert "Job(s) active, cancel job(s) before remove" in ending.error_message
    assert real.client.has_association(resource.backend_id, real.cluster)

    cancel(real, job_id)
    assert market.retry_order(world.consumer.id, ending.id).state is OrderState.DONE
    assert real.accounts() == set()
    with pytest.raises(BackendError, match="Nothing deleted"):
        real.client.remove_account(resource.backend_id)

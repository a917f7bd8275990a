"""A policy that blocks HPC jobs, end to end: usage pulled from ``sacct`` takes a project
over its limit, the policy flags the resources, the sync zeroes their Slurm job limits;
the next period lifts the flag and the sync gives the limits back."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from marketplace_core import ActionKind, PolicyAction, PolicyMetric, PolicyPeriod, ScopeKind
from marketplace_core.plugins.slurm.accounts import BLOCKED, JobLimits
from tests.plugins.test_slurm import (
    APR_1,
    SlurmTarget,
    SlurmWorld,
    fake_target,  # noqa: F401  # the fixture
    slurm_world,
    target,  # noqa: F401  # the fixture
)

MAR_2 = datetime(2026, 3, 2, 10, tzinfo=UTC)
MAR_5 = datetime(2026, 3, 5, tzinfo=UTC)
BLOCK_JOBS = PolicyAction(ActionKind.BLOCK_HPC_JOBS)
OPEN = JobLimits(20, -1)


def block_jobs_over(slurm: SlurmWorld, cpu_hours: int) -> str:
    """A monthly usage policy on the project that blocks HPC jobs over ``cpu_hours``."""
    world = slurm.world
    policy = world.market.create_policy(
        world.consumer.id, ScopeKind.PROJECT, world.project.id, PolicyMetric.USAGE,
        PolicyPeriod.MONTH, (BLOCK_JOBS,), component_limits={"cpu_hours": cpu_hours},
    )  # fmt: skip
    return policy.id


def test_a_fired_block_zeroes_job_limits_and_the_next_period_restores_them(
    fake_target: SlurmTarget,  # noqa: F811
):
    slurm = slurm_world(fake_target, grp_jobs=20)
    world, market, fake = slurm.world, slurm.world.market, slurm.fake
    resource = slurm.live()
    account = resource.backend_id
    block_jobs_over(slurm, cpu_hours=50)
    fake.add_job("7", account, MAR_2, MAR_2.replace(day=3), {"cpu": 4, "node": 1})  # 96 h
    world.clock.set(MAR_5)

    pulled = market.pull_usage(world.provider.id, world.offering.id)
    cpu_report = next(r for r in pulled.reports if r.component_type == "cpu_hours")
    assert cpu_report.amount == Decimal(96)
    assert market.get_resource(resource.id).flags == {"jobs_blocked"}
    assert fake_target.job_limits(account) == OPEN  # the marketplace only records the flag

    report = slurm.sync.reconcile(market, world.offering.id)
    assert report.changed == (resource.id,)
    assert fake_target.job_limits(account) == BLOCKED
    assert slurm.sync.reconcile(market, world.offering.id).unchanged == (resource.id,)

    # A resource ordered while the block is in force is created blocked.
    later = slurm.live(name="later")
    assert fake_target.job_limits(later.backend_id) == BLOCKED

    world.clock.set(APR_1)
    market.run_due_jobs()  # the new period resets the policy and lifts the flag
    assert market.get_resource(resource.id).flags == frozenset()
    report = slurm.sync.reconcile(market, world.offering.id)
    assert set(report.changed) == {resource.id, later.id}
    assert fake_target.job_limits(account) == OPEN
    assert fake_target.job_limits(later.backend_id) == OPEN


def test_deleting_the_policy_lets_the_jobs_run_again(target: SlurmTarget):  # noqa: F811
    slurm = slurm_world(target)
    world, market = slurm.world, slurm.world.market
    resource = slurm.live()
    policy_id = block_jobs_over(slurm, cpu_hours=10)
    market.report_usage(
        world.provider.id, resource.id, "cpu_hours", Decimal(11), idempotency_key="by-hand"
    )
    slurm.sync.reconcile(market, world.offering.id)
    assert target.job_limits(resource.backend_id) == BLOCKED
    market.delete_policy(world.consumer.id, policy_id)
    assert slurm.sync.reconcile(market, world.offering.id).changed == (resource.id,)
    assert target.job_limits(resource.backend_id) == JobLimits(-1, -1)

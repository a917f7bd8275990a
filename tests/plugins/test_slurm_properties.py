"""Laws of the slurm plugin, checked by Hypothesis against the fake.

- The command builders and the fake agree: every line built from valid input is accepted,
  and leaves exactly the asked state.
- Through the marketplace, whatever sequence of creates, limit changes, terminations and
  flag changes happens, Slurm holds one account per live resource with that resource's
  limits, and job limits that follow its flag.
- The usage summed from ``sacct`` equals the sum computed independently, exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import attrs
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from marketplace_core import OrderState
from marketplace_core.plugins.slurm.accounts import (
    BLOCKED,
    JobLimits,
    TresLimits,
    account_name,
    limits_of,
    tres_limits,
)
from marketplace_core.plugins.slurm.client import SlurmClient
from marketplace_core.plugins.slurm.options import SLURM_NAME_PATTERN, read_options
from marketplace_core.plugins.slurm.output import JobRecord, parse_jobs
from marketplace_core.plugins.slurm.usage import hours, tres_seconds
from marketplace_core.testing.slurm import FakeSlurmRunner, format_tres
from tests.plugins.test_slurm import MARCH, SlurmWorld, make_target, slurm_world

names = st.from_regex(SLURM_NAME_PATTERN, fullmatch=True).filter(lambda name: name != "root")
counts = st.integers(min_value=0, max_value=10**12)
limit_values = st.integers(min_value=0, max_value=10**9)
job_limit_values = st.integers(min_value=-1, max_value=10**6)
tres_names = st.sampled_from(["cpu", "gres/gpu", "fs/disk", "billing", "node"])


@settings(max_examples=60)
@given(
    name=names,
    minutes=st.dictionaries(tres_names, st.integers(min_value=-1, max_value=10**15), min_size=1),
    amounts=st.dictionaries(tres_names, counts),
    jobs=st.tuples(job_limit_values, job_limit_values),
)
def test_every_line_the_builders_make_is_accepted_and_leaves_the_asked_state(
    name: str,
    minutes: dict[str, int],
    amounts: dict[str, int],
    jobs: tuple[int, int],
):
    fake = FakeSlurmRunner()
    client = SlurmClient(fake)
    client.add_account(name, description="d", organization="o")
    client.set_tres_limits(name, TresLimits(minutes, amounts))
    client.set_job_limits(name, JobLimits(*jobs))
    account = fake.associations[name]
    assert account.grp_tres_mins == {tres: v for tres, v in minutes.items() if v != -1}
    assert account.grp_tres == amounts
    assert (account.grp_jobs, account.grp_submit_jobs) == jobs
    association = client.association(name)
    assert association is not None
    assert association.tres == TresLimits(account.grp_tres_mins, account.grp_tres)
    assert association.job_limits == JobLimits(*jobs)
    assert client.account_exists(name)
    assert client.account_names() == sorted({"root", name})
    client.remove_account(name)
    assert not client.account_exists(name)


limit_sets = st.fixed_dictionaries(
    {},
    optional={"cpu_hours": limit_values, "gpu_hours": limit_values, "storage": limit_values},
)


class SlurmAllocations(RuleBasedStateMachine):
    """Orders through the marketplace; the fake must mirror the live resources."""

    resources = Bundle("resources")

    @initialize(
        factor=st.sampled_from([1, 1024]),
        grp_jobs=job_limit_values,
        grp_submit_jobs=job_limit_values,
        cluster=st.sampled_from([None, "cluster"]),
    )
    def start(self, factor: int, grp_jobs: int, grp_submit_jobs: int, cluster: str | None) -> None:
        target = make_target("fake")
        self.slurm: SlurmWorld = slurm_world(
            target,
            cluster=cluster,
            storage_tres="fs/disk",
            storage_tres_factor=factor,
            grp_jobs=grp_jobs,
            grp_submit_jobs=grp_submit_jobs,
        )
        self.options = read_options(self.slurm.world.offering.plugin_options)
        self.limits: dict[str, dict[str, int]] = {}
        self.blocked: dict[str, bool] = {}
        note(f"options: {self.options}")

    def _settle(self, order_id: str) -> None:
        market, world = self.slurm.world.market, self.slurm.world
        order = market.approve_order_as_provider(world.provider.id, order_id)
        assert market.get_order(order.id).state is OrderState.DONE

    @rule(target=resources, limits=limit_sets)
    def create(self, limits: dict[str, int]) -> str:
        resource = self.slurm.live(limits)
        note(f"created {resource.id} with {limits}")
        self.limits[resource.id] = limits
        self.blocked[resource.id] = False
        return resource.id

    @rule(resource_id=resources, limits=limit_sets)
    def change_limits(self, resource_id: str, limits: dict[str, int]) -> None:
        if self.limits.get(resource_id, limits) == limits:
            return  # terminated, or unchanged (the marketplace refuses that)
        world = self.slurm.world
        order = world.market.order_limit_change(world.consumer.id, resource_id, limits)
        self._settle(order.id)
        note(f"changed {resource_id} to {limits}")
        self.limits[resource_id] = limits

    @rule(resource_id=consumes(resources))
    def terminate(self, resource_id: str) -> None:
        world = self.slurm.world
        order = world.market.order_termination(world.consumer.id, resource_id)
        self._settle(order.id)
        note(f"terminated {resource_id}")
        del self.limits[resource_id]
        del self.blocked[resource_id]

    @rule(resource_id=resources, blocked=st.booleans())
    def apply_flag(self, resource_id: str, blocked: bool) -> None:
        if resource_id not in self.limits:
            return
        resource = self.slurm.world.market.get_resource(resource_id)
        flags = frozenset({("jobs_blocked", "policy-1")}) if blocked else frozenset()
        offering = self.slurm.world.market.get_offering(resource.offering_id)
        self.slurm.sync.apply_flags(attrs.evolve(resource, policy_flags=flags), offering)
        note(f"{'blocked' if blocked else 'unblocked'} {resource_id}")
        self.blocked[resource_id] = blocked

    @invariant()
    def slurm_mirrors_the_live_resources(self) -> None:
        fake = self.slurm.fake
        prefix = self.options.account_prefix
        live = {account_name(resource_id, prefix) for resource_id in self.limits}
        # One account record and one association per live resource; nothing left behind.
        assert fake.account_names() - {"hpc"} == live
        assert set(fake.associations) - {"root", "hpc"} == live
        for resource_id, limits in self.limits.items():
            account = fake.associations[account_name(resource_id, prefix)]
            assert account.parent == "hpc"
            written = TresLimits(account.grp_tres_mins, account.grp_tres)
            assert written == tres_limits(limits, self.options)
            expected = {"cpu_hours": 0, "gpu_hours": 0, "storage": 0} | limits
            assert limits_of(written, self.options) == expected
            job_limits = JobLimits(account.grp_jobs, account.grp_submit_jobs)
            open_limits = JobLimits(self.options.grp_jobs, self.options.grp_submit_jobs)
            assert job_limits == (BLOCKED if self.blocked[resource_id] else open_limits)


SlurmAllocations.TestCase.settings = settings(max_examples=25, stateful_step_count=15)
TestSlurmAllocations = SlurmAllocations.TestCase


# --------------------------------------------------------------------------- usage sums

gpu_entries = st.one_of(
    st.fixed_dictionaries({"gres/gpu": st.integers(0, 8)}),
    st.dictionaries(st.sampled_from(["gres/gpu:a100", "gres/gpu:h100"]), st.integers(0, 8)),
)
jobs_strategy = st.lists(
    st.tuples(st.integers(0, 40 * 86400), st.integers(1, 256), gpu_entries), max_size=12
)


def expected_hours(jobs: list[tuple[int, int, dict[str, int]]], gpu: bool) -> Decimal:
    """The exact hours by rational arithmetic, rounded to the nearest millionth."""
    total = Fraction(0)
    for elapsed, cpus, gpus in jobs:
        total += Fraction(elapsed * (sum(gpus.values()) if gpu else cpus), 3600)
    return Decimal(round(total * 10**6)) / Decimal(10**6)


@settings(max_examples=100)
@given(jobs=jobs_strategy)
def test_the_sacct_sum_equals_the_independent_sum(jobs: list[tuple[int, int, dict[str, int]]]):
    output = "".join(
        f"{number}|{elapsed}|{format_tres({'cpu': cpus, 'mem': '4G', **gpus})}\n"
        for number, (elapsed, cpus, gpus) in enumerate(jobs)
    )
    records = parse_jobs(output)
    assert records == [
        JobRecord(str(n), elapsed, {"cpu": cpus, **gpus})
        for n, (elapsed, cpus, gpus) in enumerate(jobs)
    ]
    assert hours(tres_seconds(records, "cpu")) == expected_hours(jobs, gpu=False)
    assert hours(tres_seconds(records, "gres/gpu")) == expected_hours(jobs, gpu=True)


@settings(max_examples=25)
@given(jobs=jobs_strategy, offset=st.integers(-5 * 86400, 5 * 86400))
def test_pulled_usage_is_the_independent_sum_of_the_month_part_of_each_job(
    jobs: list[tuple[int, int, dict[str, int]]], offset: int
):
    slurm = slurm_world(make_target("fake"))
    resource = slurm.live()
    march = datetime(2026, 3, 1, tzinfo=UTC)
    april = datetime(2026, 4, 1, tzinfo=UTC)
    in_march = []
    for number, (elapsed, cpus, gpus) in enumerate(jobs):
        start = march + timedelta(seconds=offset + number * 3600)
        end = start + timedelta(seconds=elapsed)
        slurm.fake.add_job(str(number), resource.backend_id, start, end, {"cpu": cpus, **gpus})
        inside = (min(end, april) - max(start, march)).total_seconds()
        in_march.append((max(0, int(inside)), cpus, gpus))
    world = slurm.world
    report = world.market.pull_usage(world.provider.id, world.offering.id, MARCH)
    amounts = {r.component_type: r.amount for r in report.reports}
    assert amounts == {
        "cpu_hours": expected_hours(in_march, gpu=False),
        "gpu_hours": expected_hours(in_march, gpu=True),
    }

"""The slurm plugin: its command lines, the processor contract, options, naming, usage and
the job-limit sync.

Behaviour tests run against a :class:`SlurmTarget`: the in-memory ``FakeSlurmRunner`` by
default, and also a real Slurm through ``SubprocessRunner`` when ``MARKETPLACE_SLURM_RUNNER=
subprocess`` is set (``MARKETPLACE_SLURM_PREFIX`` is put before every command, e.g.
``docker exec slurmctld``; ``MARKETPLACE_SLURM_CLUSTER`` names the cluster; ``.ci/slurm/
start.sh`` starts one on this machine). Golden tests of the exact command lines, and tests
that need made-up job records for ``sacct``, use the fake; ``test_slurm_jobs.py`` runs real
jobs.
"""

from __future__ import annotations

import os
import secrets
import shlex
import stat
import sys
import unittest
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from marketplace_core import OrderState, Resource, ResourceState
from marketplace_core.errors import BackendError, ErrorCode, ValidationError
from marketplace_core.offerings import LIMIT_CEILING, BillingType, LimitPeriod, PlanUnit
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.slurm import commands
from marketplace_core.plugins.slurm.accounts import (
    BLOCKED,
    MAX_SLURM_LIMIT,
    JobLimits,
    TresLimits,
    account_description,
    account_name,
    account_organization,
    limits_of,
    tres_limits,
)
from marketplace_core.plugins.slurm.client import (
    CommandResult,
    CommandRunner,
    SlurmClient,
    SubprocessRunner,
)
from marketplace_core.plugins.slurm.options import MAX_JOB_LIMIT, SlurmOptions, read_options
from marketplace_core.plugins.slurm.output import JobRecord, parse_associations, parse_jobs
from marketplace_core.plugins.slurm.processor import (
    SLURM_CAPABILITIES,
    SlurmProcessor,
    register_slurm,
)
from marketplace_core.plugins.slurm.sync import FlagOutcome, SlurmSync
from marketplace_core.plugins.slurm.usage import allocated, hours, tres_seconds
from marketplace_core.plugins.usage_source import UsageSource
from marketplace_core.testing.processor_contract import (
    ContractWorld,
    ProcessorContract,
    build_contract_world,
)
from marketplace_core.testing.slurm import FakeSlurmRunner

REAL_RUNNER = os.environ.get("MARKETPLACE_SLURM_RUNNER", "") == "subprocess"
REAL_PREFIX = shlex.split(os.environ.get("MARKETPLACE_SLURM_PREFIX", ""))
REAL_CLUSTER = os.environ.get("MARKETPLACE_SLURM_CLUSTER") or None
NEEDS_SLURM = "set MARKETPLACE_SLURM_RUNNER=subprocess to run against a real Slurm"

MARCH = date(2026, 3, 1)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
DB_DOWN = "sacctmgr: error: Problem talking to the database: Connection refused"
LIMITS = {"cpu_hours": 100, "gpu_hours": 10, "storage": 50}


# --------------------------------------------------------------------------- targets


class FailNextRunner:
    """Wraps a runner so that a test can make its next command fail."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner
        self.failure: str | None = None

    def run(self, argv: Sequence[str]) -> CommandResult:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            return CommandResult(argv, 1, "", failure)
        return self.runner.run(argv)


@attrs.define
class SlurmTarget:
    """Where behaviour tests run: ``fake`` is set for the in-memory fake; otherwise the
    runner reaches a real Slurm. ``prefix`` starts every account the tests make, and
    ``parent`` is a parent account made for them."""

    runner: CommandRunner
    fake: FakeSlurmRunner | None
    prefix: str
    parent: str
    cluster: str | None = None

    @property
    def client(self) -> SlurmClient:
        return SlurmClient(self.runner)

    def options(self, **more: Any) -> dict[str, Any]:
        """Plugin options that put the tests' accounts under their prefix and parent."""
        cluster = {"cluster": self.cluster} if self.cluster else {}
        return {"account_prefix": self.prefix, "parent_account": self.parent, **cluster} | more

    def fail_next(self, stderr: str) -> None:
        if self.fake is not None:
            self.fake.fail_next(stderr)
        else:
            assert isinstance(self.runner, FailNextRunner)
            self.runner.failure = stderr

    def accounts(self) -> set[str]:
        return {name for name in self.client.account_names() if name.startswith(self.prefix)}

    def job_limits(self, account: str) -> JobLimits:
        association = self.client.association(account, self.cluster)
        assert association is not None, f"account {account} has no association"
        return association.job_limits

    def cleanup(self) -> None:
        """Remove the accounts the test made, records and all (a cluster-scoped removal
        would leave the records), sub-accounts first."""
        if self.fake is None:
            for name in sorted(self.accounts()):
                self.client.remove_account(name)
            self.client.remove_account(self.parent)

    def scoped_cluster(self) -> str:
        """A cluster to name in cluster-scoped tests: the real one, or the fake's."""
        if self.fake is not None:
            return self.fake.cluster
        if self.cluster is None:
            pytest.skip("set MARKETPLACE_SLURM_CLUSTER for cluster-scoped tests")
        return self.cluster


def make_target(kind: str) -> SlurmTarget:
    """A fresh fake, or (``subprocess``) the real Slurm with a new prefix and parent."""
    if kind == "fake":
        fake = FakeSlurmRunner()
        fake.add_account("hpc")
        return SlurmTarget(fake, fake, "mp_", "hpc")
    tag = f"mpt{secrets.token_hex(3)}"
    runner = FailNextRunner(SubprocessRunner(prefix=REAL_PREFIX))
    target = SlurmTarget(runner, None, f"{tag}_", tag, REAL_CLUSTER)
    target.client.add_account(tag, description="marketplace tests", organization=tag)
    return target


REAL = pytest.param("subprocess", marks=pytest.mark.skipif(not REAL_RUNNER, reason=NEEDS_SLURM))


@pytest.fixture(params=["fake", REAL])
def target(request: pytest.FixtureRequest) -> Iterator[SlurmTarget]:
    """The fake, and a real Slurm when one is configured."""
    made = make_target(request.param)
    yield made
    made.cleanup()


@pytest.fixture
def fake_target() -> SlurmTarget:
    return make_target("fake")


@attrs.define
class SlurmWorld:
    """A contract world whose offering is a slurm offering of ``target``."""

    world: ContractWorld
    target: SlurmTarget
    processor: SlurmProcessor
    sync: SlurmSync

    @property
    def fake(self) -> FakeSlurmRunner:
        assert self.target.fake is not None
        return self.target.fake

    def live(self, limits: Mapping[str, int] = LIMITS, name: str = "alloc") -> Resource:
        world = self.world
        order = world.market.order_resource(
            world.consumer.id, world.project.id, world.offering.id, world.plan.id, name,
            limits=dict(limits),
        )  # fmt: skip
        order = world.market.approve_order_as_provider(world.provider.id, order.id)
        order = world.market.get_order(order.id)
        assert order.state is OrderState.DONE, order.error_message
        return world.market.get_resource(order.resource_id)


def slurm_world(target: SlurmTarget, **options: Any) -> SlurmWorld:
    processor = SlurmProcessor(target.client)
    world = build_contract_world(
        "slurm", processor, SLURM_CAPABILITIES, plugin_options=target.options(**options)
    )
    return SlurmWorld(world, target, processor, SlurmSync(target.client))


# --------------------------------------------------------------------------- the contract


class SlurmContract(ProcessorContract):
    __test__ = False
    plugin_type = "slurm"
    target_kind: ClassVar[str] = "fake"

    def make_plugin(self) -> tuple[SlurmProcessor, PluginCapabilities]:
        self.target = make_target(self.target_kind)
        self.addCleanup(self.target.cleanup)
        return SlurmProcessor(self.target.client), SLURM_CAPABILITIES

    def plugin_options(self) -> Mapping[str, Any]:
        return self.target.options(storage_tres="fs/disk")

    def backend_ids(self) -> set[str]:
        return self.target.accounts()

    def fail_next_backend_call(self) -> str:
        self.target.fail_next(DB_DOWN)
        return "Problem talking to the database"

    def order_limits(self) -> Mapping[str, int]:
        return LIMITS

    def new_limits(self) -> Mapping[str, int]:
        return {"cpu_hours": 250, "gpu_hours": 0, "storage": 80}

    def backend_limits(self, resource: Resource) -> Mapping[str, int]:
        association = self.target.client.association(resource.backend_id, self.target.cluster)
        assert association is not None
        return limits_of(association.tres, read_options(self.plugin_options()))

    def invalid_order(self) -> Mapping[str, Any]:
        return {"limits": {"cpu_hours": 2**62}}

    def invalid_plugin_options(self) -> Mapping[str, Any]:
        return {**self.plugin_options(), "acount_prefix": "mp_"}  # a misspelt option


class TestSlurmContractOnTheFake(SlurmContract):
    pass


@unittest.skipUnless(REAL_RUNNER, NEEDS_SLURM)
class TestSlurmContractOnSlurm(SlurmContract):
    target_kind = "subprocess"


# --------------------------------------------------------------------------- golden lines

SACCTMGR = "sacctmgr --immediate --parsable2 --noheader"


def line(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def test_the_command_lines_are_exactly_these():
    limits = TresLimits({"gres/gpu": 600, "cpu": 6000}, {"fs/disk": 50})
    golden = {
        line(commands.list_accounts()): f"{SACCTMGR} list account format=Account",
        line(commands.show_account("mp_r-1")): (
            f"{SACCTMGR} list account where name=mp_r-1 format=Account"
        ),
        line(
            commands.add_account(
                "mp_r-1", description="Big run (r-1)", organization="p-1", parent="hpc",
                cluster="tux",
            )
        ): (
            f"{SACCTMGR} add account mp_r-1 'Description=Big run (r-1)' Organization=p-1 "
            "Parent=hpc Cluster=tux"
        ),
        line(commands.add_account("mp_r-1", description="r", organization="p-1")): (
            f"{SACCTMGR} add account mp_r-1 Description=r Organization=p-1"
        ),
        line(commands.set_tres_limits("mp_r-1", limits)): (
            f"{SACCTMGR} modify account where name=mp_r-1 set "
            "GrpTRESMins=cpu=6000,gres/gpu=600 GrpTRES=fs/disk=50"
        ),
        line(commands.set_tres_limits("mp_r-1", TresLimits({"cpu": -1}, {}), "tux")): (
            f"{SACCTMGR} modify account where name=mp_r-1 cluster=tux set GrpTRESMins=cpu=-1"
        ),
        line(commands.set_job_limits("mp_r-1", BLOCKED)): (
            f"{SACCTMGR} modify account where name=mp_r-1 set GrpJobs=0 GrpSubmitJobs=0"
        ),
        line(commands.set_job_limits("mp_r-1", JobLimits(), "tux")): (
            f"{SACCTMGR} modify account where name=mp_r-1 cluster=tux set GrpJobs=-1 "
            "GrpSubmitJobs=-1"
        ),
        line(commands.remove_account("mp_r-1")): (
            f"{SACCTMGR} remove account where name=mp_r-1"
        ),
        line(commands.show_association("mp_r-1", "tux")): (
            f"{SACCTMGR} list association where account=mp_r-1 cluster=tux "
            "format=Account,User,GrpTRESMins,GrpTRES,GrpJobs,GrpSubmit"
        ),
        line(commands.add_user("alice", "mp_r-1")): (
            f"{SACCTMGR} add user alice Account=mp_r-1"
        ),
        line(commands.remove_user("alice", "mp_r-1", "tux")): (
            f"{SACCTMGR} remove user where name=alice cluster=tux account=mp_r-1"
        ),
        line(commands.job_usage("mp_r-1", MAR_1, APR_1, "tux")): (
            "sacct --allusers --allocations --noheader --parsable2 --truncate "
            "--accounts=mp_r-1 --starttime=2026-03-01T00:00:00 --endtime=2026-04-01T00:00:00 "
            "--format=JobID,ElapsedRaw,AllocTRES --clusters=tux"
        ),
    }  # fmt: skip
    for built, expected in golden.items():
        assert built == expected


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: commands.show_account("x set GrpJobs=5"), "name"),
        (lambda: commands.remove_account("Upper"), "name"),
        (lambda: commands.set_job_limits("ok", BLOCKED, "two words"), "cluster"),
        (lambda: commands.set_tres_limits("ok", TresLimits({"cpu=1,mem": 1}, {})), "tres"),
        (lambda: commands.add_account("ok", description='"', organization="p"), "description"),
        (lambda: commands.add_user("bob", "a,b"), "account"),
    ],
)  # fmt: skip
def test_a_builder_refuses_a_value_that_could_change_the_command(build: Any, field: str):
    with pytest.raises(ValidationError) as refused:
        build()
    assert refused.value.fields["field"] == field


def test_times_on_the_sacct_line_are_written_in_utc():
    from datetime import timedelta, timezone

    two_hours_east = timezone(timedelta(hours=2))
    argv = commands.job_usage("a", datetime(2026, 3, 1, 2, tzinfo=two_hours_east), APR_1)
    assert "--starttime=2026-03-01T00:00:00" in argv


def test_create_runs_these_commands(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target, storage_tres="fs/disk", grp_jobs=20)
    resource = slurm.live(name='Big "run"')
    assert [line(call) for call in slurm.fake.calls] == [
        f"{SACCTMGR} list association where account=mp_resource-1 "
        "format=Account,User,GrpTRESMins,GrpTRES,GrpJobs,GrpSubmit",
        f"{SACCTMGR} add account mp_resource-1 'Description=big _run_ (resource-1)' "
        "Organization=project-1 Parent=hpc",
        f"{SACCTMGR} modify account where name=mp_resource-1 set "
        "GrpTRESMins=cpu=6000,gres/gpu=600 GrpTRES=fs/disk=50",
        f"{SACCTMGR} modify account where name=mp_resource-1 set GrpJobs=20 GrpSubmitJobs=-1",
    ]
    assert resource.backend_id == "mp_resource-1"
    assert dict(resource.backend_metadata) == {
        "slurm_account": "mp_resource-1",
        "slurm_parent_account": "hpc",
        "slurm_cluster": None,
    }


def test_a_repeated_create_finds_the_account_and_only_sets_its_limits(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target)
    resource = slurm.live()
    market = slurm.world.market
    (order,) = market.list_orders(resource.id)
    slurm.fake.calls.clear()
    request = _request(slurm, order, resource)
    slurm.processor.create(request)
    assert [call[4:6] for call in slurm.fake.calls] == [
        ("list", "association"),
        ("modify", "account"),
        ("modify", "account"),
    ]


def _request(slurm: SlurmWorld, order: Any, resource: Resource) -> Any:
    from marketplace_core.plugins.processor import ProcessingRequest

    market = slurm.world.market
    offering = market.get_offering(resource.offering_id)
    return ProcessingRequest(order, resource, offering, market.get_plan(slurm.world.plan.id))


def test_limit_change_and_termination_run_these_commands(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target, cluster="cluster")
    resource = slurm.live()
    market, consumer = slurm.world.market, slurm.world.consumer.id
    slurm.fake.calls.clear()
    change = market.order_limit_change(consumer, resource.id, {"cpu_hours": 7, "gpu_hours": 1})
    market.approve_order_as_provider(slurm.world.provider.id, change.id)
    switch = market.order_plan_switch(consumer, resource.id, slurm.world.other_plan.id)
    market.approve_order_as_provider(slurm.world.provider.id, switch.id)
    ending = market.order_termination(consumer, resource.id)
    market.approve_order_as_provider(slurm.world.provider.id, ending.id)
    assert [line(call) for call in slurm.fake.calls] == [
        f"{SACCTMGR} modify account where name=mp_resource-1 cluster=cluster set "
        "GrpTRESMins=cpu=420,gres/gpu=60",
        # The plan switch changes nothing in Slurm. The termination removes the
        # association on the cluster, then the account record, which has no association
        # left on any cluster.
        f"{SACCTMGR} list association where account=mp_resource-1 cluster=cluster "
        "format=Account,User,GrpTRESMins,GrpTRES,GrpJobs,GrpSubmit",
        f"{SACCTMGR} remove account where name=mp_resource-1 cluster=cluster",
        f"{SACCTMGR} list association where account=mp_resource-1 "
        "format=Account,User,GrpTRESMins,GrpTRES,GrpJobs,GrpSubmit",
        f"{SACCTMGR} list account where name=mp_resource-1 format=Account",
        f"{SACCTMGR} remove account where name=mp_resource-1",
    ]
    assert market.get_resource(resource.id).state is ResourceState.TERMINATED
    assert slurm.fake.account_names() == {"hpc"}


def test_termination_without_a_cluster_removes_the_record_and_every_association(
    fake_target: SlurmTarget,
):
    slurm = slurm_world(fake_target)
    resource = slurm.live()
    slurm.fake.calls.clear()
    market = slurm.world.market
    ending = market.order_termination(slurm.world.consumer.id, resource.id)
    market.approve_order_as_provider(slurm.world.provider.id, ending.id)
    assert [line(call) for call in slurm.fake.calls] == [
        f"{SACCTMGR} list account where name=mp_resource-1 format=Account",
        f"{SACCTMGR} remove account where name=mp_resource-1",
    ]
    assert resource.backend_id not in slurm.fake.associations


def test_termination_keeps_an_account_that_still_serves_another_cluster(
    fake_target: SlurmTarget,
):
    slurm = slurm_world(fake_target, cluster="cluster")
    resource = slurm.live()
    fake = slurm.fake
    market = slurm.world.market
    ending = market.order_termination(slurm.world.consumer.id, resource.id)
    # Slurm lists the account's association on another cluster after the removal on ours.
    fake.answer_next("mp_resource-1|||||\n")  # the cluster-scoped check: it is there
    fake.answer_next(" Deleting account associations...\n")  # the scoped removal
    fake.answer_next("mp_resource-1|||||\n")  # every cluster: one left elsewhere
    market.approve_order_as_provider(slurm.world.provider.id, ending.id)
    assert market.get_order(ending.id).state is OrderState.DONE
    assert [call[4:6] for call in fake.calls[-3:]] == [
        ("list", "association"),
        ("remove", "account"),
        ("list", "association"),
    ]  # and no removal of the record


@pytest.mark.parametrize("scoped", [False, True], ids=["every-cluster", "one-cluster"])
def test_terminating_an_account_that_is_already_gone_succeeds(target: SlurmTarget, scoped: bool):
    cluster = target.scoped_cluster() if scoped else None
    slurm = slurm_world(target, cluster=cluster)
    resource = slurm.live()
    target.client.remove_account(resource.backend_id)  # by hand, say
    market = slurm.world.market
    ending = market.order_termination(slurm.world.consumer.id, resource.id)
    ending = market.approve_order_as_provider(slurm.world.provider.id, ending.id)
    assert market.get_order(ending.id).state is OrderState.DONE
    assert target.accounts() == set()


@pytest.mark.parametrize("scoped", [False, True], ids=["every-cluster", "one-cluster"])
def test_terminating_removes_a_bare_account_record_too(target: SlurmTarget, scoped: bool):
    cluster = target.scoped_cluster() if scoped else None
    slurm = slurm_world(target, cluster=cluster)
    resource = slurm.live()
    # By hand, say: a cluster-scoped removal leaves the record without an association.
    target.client.remove_account(resource.backend_id, target.scoped_cluster())
    assert target.client.account_exists(resource.backend_id)
    assert not target.client.has_association(resource.backend_id)
    market = slurm.world.market
    ending = market.order_termination(slurm.world.consumer.id, resource.id)
    ending = market.approve_order_as_provider(slurm.world.provider.id, ending.id)
    assert market.get_order(ending.id).state is OrderState.DONE, ending.error_message
    assert target.accounts() == set()


def test_a_create_gives_a_bare_account_record_its_association_back(target: SlurmTarget):
    cluster = target.scoped_cluster()
    slurm = slurm_world(target, cluster=cluster, grp_jobs=7)
    resource = slurm.live({"cpu_hours": 2})
    target.client.remove_account(resource.backend_id, cluster)  # the record stays
    assert target.client.association(resource.backend_id, cluster) is None
    (order,) = slurm.world.market.list_orders(resource.id)
    slurm.processor.create(_request(slurm, order, resource))  # a create handed over again
    association = target.client.association(resource.backend_id, cluster)
    assert association is not None
    assert association.tres.minutes == {"cpu": 120, "gres/gpu": 0}
    assert association.job_limits == JobLimits(7, -1)


def test_a_termination_errs_while_the_account_has_active_jobs_and_a_retry_finishes_it(
    fake_target: SlurmTarget,
):
    slurm = slurm_world(fake_target)
    resource = slurm.live()
    slurm.fake.add_job("41", resource.backend_id, None)  # pending
    market, world = slurm.world.market, slurm.world
    ending = market.order_termination(world.consumer.id, resource.id)
    ending = market.approve_order_as_provider(world.provider.id, ending.id)
    ending = market.get_order(ending.id)
    assert ending.state is OrderState.ERRED
    assert "Job(s) active, cancel job(s) before remove" in ending.error_message
    assert fake_target.client.has_association(resource.backend_id)
    slurm.fake.end_job("41", MAR_1)  # cancelled by its user, say
    assert market.retry_order(world.consumer.id, ending.id).state is OrderState.DONE
    assert fake_target.accounts() == set()


def test_slurm_refuses_removing_an_absent_account_so_the_processor_looks_first(
    fake_target: SlurmTarget,
):
    with pytest.raises(BackendError) as refused:
        fake_target.client.remove_account("mp_nobody")
    assert "Nothing deleted" in refused.value.message


def test_create_of_a_flagged_resource_blocks_its_jobs_at_once(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target)
    resource = slurm.live()
    (order,) = slurm.world.market.list_orders(resource.id)
    flagged = attrs.evolve(resource, policy_flags=frozenset({("jobs_blocked", "policy-1")}))
    slurm.processor.create(_request(slurm, order, flagged))
    assert fake_target.job_limits(resource.backend_id) == BLOCKED
    slurm.processor.create(_request(slurm, order, resource))
    assert fake_target.job_limits(resource.backend_id) == JobLimits(-1, -1)


def test_limits_reach_the_account_in_minutes(target: SlurmTarget):
    slurm = slurm_world(target, storage_tres="fs/disk", storage_tres_factor=1024)
    resource = slurm.live({"cpu_hours": 3, "gpu_hours": 2, "storage": 5})
    association = target.client.association(resource.backend_id, target.cluster)
    assert association is not None
    assert association.tres == TresLimits({"cpu": 180, "gres/gpu": 120}, {"fs/disk": 5120})


def test_the_largest_limits_the_plugin_writes_are_kept_exactly(target: SlurmTarget):
    # GrpTRESMins / GrpTRES are 64-bit in Slurm, GrpJobs / GrpSubmitJobs 32-bit signed:
    # one more than MAX_JOB_LIMIT is not stored ("Nothing modified"), so options refuse it.
    # The marketplace takes limits up to LIMIT_CEILING; in minutes they stay within 64 bits.
    slurm = slurm_world(
        target, storage_tres="fs/disk", grp_jobs=MAX_JOB_LIMIT, grp_submit_jobs=MAX_JOB_LIMIT
    )
    largest = LIMIT_CEILING
    assert largest * 60 <= MAX_SLURM_LIMIT
    resource = slurm.live({"cpu_hours": largest, "gpu_hours": largest, "storage": largest})
    association = target.client.association(resource.backend_id, target.cluster)
    assert association is not None
    assert association.tres == TresLimits(
        {"cpu": largest * 60, "gres/gpu": largest * 60}, {"fs/disk": largest}
    )
    assert association.job_limits == JobLimits(MAX_JOB_LIMIT, MAX_JOB_LIMIT)


def test_setting_the_limits_an_account_already_has_succeeds(target: SlurmTarget):
    slurm = slurm_world(target)
    resource = slurm.live({"cpu_hours": 3})
    limits = TresLimits({"cpu": 180, "gres/gpu": 0}, {})
    target.client.set_tres_limits(resource.backend_id, limits, target.cluster)  # exit 0 again
    target.client.set_job_limits(resource.backend_id, JobLimits(), target.cluster)
    association = target.client.association(resource.backend_id, target.cluster)
    assert association is not None
    assert (association.tres, association.job_limits) == (limits, JobLimits())


def test_limits_of_an_account_without_an_association_are_refused(target: SlurmTarget):
    cluster = target.scoped_cluster()
    slurm = slurm_world(target, cluster=cluster)
    resource = slurm.live()
    target.client.remove_account(resource.backend_id, cluster)  # a bare record stays
    with pytest.raises(BackendError, match=r"exited with 1: Nothing modified"):
        target.client.set_job_limits(resource.backend_id, BLOCKED, cluster)
    assert slurm.sync.apply_flags(resource, slurm.world.offering) is FlagOutcome.MISSING


def test_a_component_without_a_limit_is_written_as_zero(target: SlurmTarget):
    slurm = slurm_world(target)
    resource = slurm.live({"cpu_hours": 3})
    association = target.client.association(resource.backend_id, target.cluster)
    assert association is not None
    assert association.tres.minutes == {"cpu": 180, "gres/gpu": 0}


def test_the_plugin_registers_under_its_type_with_its_components():
    registry = PluginRegistry()
    processor = SlurmProcessor(SlurmClient(FakeSlurmRunner()))
    register_slurm(registry, processor)
    register_slurm(registry, processor, plugin_type="slurm-eu")
    assert registry.plugin_types() == ("slurm", "slurm-eu")
    capabilities = registry.capabilities("slurm")
    assert capabilities.can_update_limits
    assert capabilities.needs_provider_review
    assert {(c.type, c.billing_type, c.limit_period) for c in capabilities.components} == {
        ("cpu_hours", BillingType.LIMIT, LimitPeriod.TOTAL),
        ("gpu_hours", BillingType.LIMIT, LimitPeriod.TOTAL),
        ("storage", BillingType.LIMIT, LimitPeriod.MONTH),
    }
    assert isinstance(processor, UsageSource)


# --------------------------------------------------------------------------- failures


def test_a_failing_command_raises_with_its_line_and_the_end_of_its_stderr():
    fake = FakeSlurmRunner()
    fake.fail_next("x" * 2000 + " the real reason")
    with pytest.raises(BackendError) as failed:
        SlurmClient(fake).account_exists("mp_a")
    error = failed.value
    assert error.code is ErrorCode.BACKEND_FAILED
    assert error.message.startswith(
        f"{SACCTMGR} list account where name=mp_a format=Account exited with 1: "
    )
    assert error.message.endswith("the real reason")
    assert len(error.fields["output_tail"]) == 500
    assert error.fields["exit_code"] == 1


def test_a_failure_without_stderr_quotes_stdout():
    fake = FakeSlurmRunner()
    fake.answer_next(" Nothing modified\n", exit_code=1)
    with pytest.raises(BackendError, match=r"exited with 1: Nothing modified$"):
        SlurmClient(fake).set_job_limits("mp_a", BLOCKED)


def test_unreadable_output_is_a_bad_response_naming_the_command():
    fake = FakeSlurmRunner()
    fake.answer_next("mp_a|extra\n")
    with pytest.raises(BackendError) as failed:
        SlurmClient(fake).account_exists("mp_a")
    assert failed.value.code is ErrorCode.BACKEND_BAD_RESPONSE
    assert failed.value.message.startswith(f"{SACCTMGR} list account where name=mp_a")
    assert "line 1 'mp_a|extra': expected 1 fields (Account), got 2" in failed.value.message


def test_associations_that_differ_between_clusters_are_refused():
    fake = FakeSlurmRunner()
    fake.answer_next("mp_a||cpu=60|||\nmp_a||cpu=120|||\n")
    with pytest.raises(BackendError, match="different limits on different clusters"):
        SlurmClient(fake).association("mp_a")


def test_a_failed_limit_change_errs_the_order_and_keeps_the_old_limits(target: SlurmTarget):
    slurm = slurm_world(target)
    resource = slurm.live()
    market = slurm.world.market
    target.fail_next(DB_DOWN)
    change = market.order_limit_change(slurm.world.consumer.id, resource.id, {"cpu_hours": 1})
    change = market.approve_order_as_provider(slurm.world.provider.id, change.id)
    change = market.get_order(change.id)
    assert change.state is OrderState.ERRED
    assert change.error_message.startswith("BackendError: sacctmgr --immediate")
    assert change.error_message.endswith(DB_DOWN)
    association = target.client.association(resource.backend_id, target.cluster)
    assert association is not None
    assert association.tres.minutes["cpu"] == 6000


# --------------------------------------------------------------------------- the real runner


def _script(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_the_subprocess_runner_runs_the_command_with_tz_utc(tmp_path: Path):
    _script(
        tmp_path,
        "sacctmgr",
        "import os, sys\nprint(os.environ['TZ'] + ' ' + ' '.join(sys.argv[1:]))\n"
        "print('to stderr', file=sys.stderr)\nsys.exit(3)\n",
    )
    runner = SubprocessRunner(environment={"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"})
    result = runner.run(["sacctmgr", "list", "account"])
    assert result == CommandResult(
        ("sacctmgr", "list", "account"), 3, "UTC list account\n", "to stderr\n"
    )


def test_the_subprocess_runner_puts_its_prefix_first(tmp_path: Path):
    _script(tmp_path, "remote", "import sys\nprint(' '.join(sys.argv[1:]))\n")
    runner = SubprocessRunner(prefix=[str(tmp_path / "remote"), "head-node"])
    assert runner.run(["sacct", "--noheader"]).stdout == "head-node sacct --noheader\n"


def test_a_command_that_cannot_start_is_a_backend_failure(tmp_path: Path):
    runner = SubprocessRunner(environment={"PATH": str(tmp_path)})
    with pytest.raises(BackendError) as failed:
        runner.run(["sacctmgr", "list", "account"])
    assert failed.value.code is ErrorCode.BACKEND_FAILED
    assert failed.value.message.startswith("sacctmgr list account could not be started")


def test_a_command_that_hangs_is_a_backend_timeout(tmp_path: Path):
    _script(tmp_path, "sacct", "import time\ntime.sleep(30)\n")
    runner = SubprocessRunner(prefix=[str(tmp_path / "sacct")], timeout_seconds=0.2)
    with pytest.raises(BackendError) as failed:
        runner.run(["--noheader"])
    assert failed.value.code is ErrorCode.BACKEND_TIMED_OUT
    assert failed.value.fields["timeout_seconds"] == 0.2


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"acount_prefix": "x"}, "plugin_options.acount_prefix"),
        ({"account_prefix": "1abc"}, "plugin_options.account_prefix"),
        ({"account_prefix": "a" * 17}, "plugin_options.account_prefix"),
        ({"parent_account": "Has Space"}, "plugin_options.parent_account"),
        ({"cluster": 7}, "plugin_options.cluster"),
        ({"gpu_tres": "cpu"}, "plugin_options.gpu_tres"),
        ({"storage_tres": "mem"}, "plugin_options.storage_tres"),
        ({"storage_tres": "bb/datawarp"}, "plugin_options.storage_tres"),
        ({"storage_tres": "gres/gpu"}, "plugin_options.storage_tres"),
        ({"storage_tres_factor": 0}, "plugin_options.storage_tres_factor"),
        ({"grp_jobs": -2}, "plugin_options.grp_jobs"),
        ({"grp_jobs": MAX_JOB_LIMIT + 1}, "plugin_options.grp_jobs"),  # Slurm would not keep it
        ({"grp_submit_jobs": "10"}, "plugin_options.grp_submit_jobs"),
    ],
)
def test_malformed_plugin_options_are_refused_by_name(options: dict[str, Any], field: str):
    with pytest.raises(ValidationError) as refused:
        read_options(options)
    assert refused.value.fields["field"] == field
    assert field in refused.value.message


def test_options_default_to_root_every_cluster_gres_gpu_and_unlimited_jobs():
    assert read_options({}) == SlurmOptions("mp_", None, None, "gres/gpu", None, 1, -1, -1)
    assert read_options({"gpu_tres": None, "storage_tres": "license/lustre"}).gpu_tres is None


def test_an_order_with_bad_options_is_refused_before_anything_is_stored(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target, storage_tres="mem")
    world = slurm.world
    with pytest.raises(ValidationError, match=r"plugin_options\.storage_tres"):
        world.market.order_resource(
            world.consumer.id, world.project.id, world.offering.id, world.plan.id, "x",
            limits=LIMITS,
        )  # fmt: skip
    assert world.market.list_resources(world.project.id) == []
    assert fake_target.fake is not None
    assert fake_target.fake.calls == []


def test_a_termination_is_taken_even_when_the_options_went_bad(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target)
    resource = slurm.live()
    world, market = slurm.world, slurm.world.market
    market.update_offering(world.provider.id, world.offering.id, plugin_options={"bogus": 1})
    ending = market.order_termination(world.consumer.id, resource.id)  # not refused
    ending = market.approve_order_as_provider(world.provider.id, ending.id)
    ending = market.get_order(ending.id)
    assert ending.state is OrderState.ERRED
    assert ending.error_message.startswith("ValidationError: plugin_options.bogus is not")
    market.update_offering(
        world.provider.id, world.offering.id, plugin_options=fake_target.options()
    )
    assert market.retry_order(world.consumer.id, ending.id).state is OrderState.DONE
    assert market.get_resource(resource.id).state is ResourceState.TERMINATED
    assert fake_target.accounts() == set()


def test_gpu_hours_are_refused_where_the_cluster_has_no_gpus(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target, gpu_tres=None)
    world = slurm.world
    with pytest.raises(ValidationError) as refused:
        world.market.order_resource(
            world.consumer.id, world.project.id, world.offering.id, world.plan.id, "x",
            limits={"cpu_hours": 1, "gpu_hours": 1},
        )  # fmt: skip
    assert refused.value.fields["field"] == "limits[gpu_hours]"
    resource = slurm.live({"cpu_hours": 1, "gpu_hours": 0})
    association = fake_target.client.association(resource.backend_id)
    assert association is not None
    assert association.tres.minutes == {"cpu": 60}


# --------------------------------------------------------------------------- naming


def test_account_names_are_the_prefix_and_the_id_when_that_is_safe():
    assert account_name("resource-12", "mp_") == "mp_resource-12"
    uuid = "3f2a9c1e-0b7d-4f43-9a55-2a8d2f0c6e11"
    assert account_name(uuid, "mp_") == f"mp_{uuid}"


def test_unsafe_or_long_ids_get_a_digest_so_they_never_meet():
    upper, lower = account_name("Res-1", "mp_"), account_name("res-1", "mp_")
    assert upper != lower
    assert upper.startswith("mp_res-1_")
    assert len(upper) == len("mp_res-1_") + 8
    long_id = "r" * 100
    name = account_name(long_id, "mp_")
    assert len(name) == 40
    assert name != account_name("r" * 99, "mp_")
    assert account_name("a b;c", "mp_").startswith("mp_a_b_c_")


def test_the_description_keeps_only_characters_sacctmgr_keeps_as_they_are():
    resource = Resource("r-1", "Ünïcode 'name' = x" + "y" * 100, "p-1", "o-1", MAR_1)
    description = account_description(resource)
    assert description.startswith("_n_code _name_ _ x")
    assert description.endswith(" (r-1)")
    assert len(description) <= 100
    commands.add_account("a", description=description, organization="p")  # accepted


def test_the_description_and_organization_are_written_in_lower_case_as_slurm_keeps_them():
    resource = Resource("Res-1", "Big Run", "Project-X", "o-1", MAR_1)
    assert account_description(resource) == "big run (res-1)"
    assert account_organization(resource) == "project-x"


# --------------------------------------------------------------------------- usage

SACCT_GOLDEN = (
    "101|3600|billing=4,cpu=4,mem=16G,node=1\n"
    "102|1800|billing=8,cpu=8,gres/gpu=2,gres/gpu:a100=2,mem=64G,node=1\n"
    "103_4|60|cpu=1,gres/gpu:a100=1,gres/gpu:h100=2,mem=1024M,node=1\n"
    "104+0|0|\n"
)


def test_sacct_output_is_read_job_by_job():
    assert parse_jobs(SACCT_GOLDEN) == [
        JobRecord("101", 3600, {"billing": 4, "cpu": 4, "node": 1}),
        JobRecord(
            "102", 1800, {"billing": 8, "cpu": 8, "gres/gpu": 2, "gres/gpu:a100": 2, "node": 1}
        ),
        JobRecord("103_4", 60, {"cpu": 1, "gres/gpu:a100": 1, "gres/gpu:h100": 2, "node": 1}),
        JobRecord("104+0", 0, {}),
    ]


def test_cpu_and_gpu_hours_are_elapsed_times_allocated_tres():
    jobs = parse_jobs(SACCT_GOLDEN)
    # 3600 x 4 + 1800 x 8 + 60 x 1 = 28860 CPU-seconds; 1800 x 2 + 60 x 3 = 3780 GPU-seconds
    assert tres_seconds(jobs, "cpu") == 28860
    assert tres_seconds(jobs, "gres/gpu") == 3780
    assert hours(28860) == Decimal("8.016667")
    assert hours(3780) == Decimal("1.05")


def test_a_plain_gpu_count_wins_over_typed_ones():
    assert allocated({"gres/gpu": 2, "gres/gpu:a100": 2}, "gres/gpu") == 2
    assert allocated({"gres/gpu:a100": 1, "gres/gpu:h100": 2}, "gres/gpu") == 3
    assert allocated({"gres/gpumem": 80}, "gres/gpu") == 0


def test_hours_round_to_the_nearest_millionth():
    assert hours(0) == Decimal(0)
    assert hours(1) == Decimal("0.000278")  # 0.0002777...: up
    assert hours(4) == Decimal("0.001111")  # 0.0011111...: down
    assert hours(9) == Decimal("0.0025")
    # Beyond the 28 digits of the default decimal context, still exact:
    assert hours(3600 * 10**30 + 1) == Decimal(f"{10**30}.000278")


def test_empty_sacct_output_is_no_jobs():
    assert parse_jobs("") == []
    assert parse_jobs("\n") == []


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ("101|3600\n", "expected 3 fields (JobID, ElapsedRaw, AllocTRES), got 2"),
        ("101|01:00:00|cpu=4\n", "ElapsedRaw '01:00:00' is not a number of seconds"),
        ("101|3600|cpu=four\n", "TRES 'cpu' has value 'four', not a count"),
        ("101|3600|cpu\n", "'cpu' is not a TRES=value pair"),
        ("|3600|cpu=1\n", "the JobID is empty"),
    ],
)
def test_a_malformed_sacct_line_is_a_bad_response(output: str, problem: str):
    fake = FakeSlurmRunner()
    fake.answer_next("100|60|cpu=1\n" + output)
    with pytest.raises(BackendError) as failed:
        SlurmClient(fake).jobs("mp_a", MAR_1, APR_1)
    assert failed.value.code is ErrorCode.BACKEND_BAD_RESPONSE
    assert f"line 2 {output.strip()!r}: {problem}" in failed.value.message
    assert failed.value.message.startswith("sacct --allusers")


def test_association_rows_are_read_with_unset_limits_as_unlimited():
    (own, user) = parse_associations("mp_a||cpu=60,mem=1G|fs/disk=5|0|\nmp_a|alice||||\n")
    assert own.tres == TresLimits({"cpu": 60}, {"fs/disk": 5})
    assert own.job_limits == JobLimits(0, -1)
    assert (user.user, user.job_limits) == ("alice", JobLimits(-1, -1))


def test_the_fake_cuts_jobs_to_the_month_and_to_now():
    from marketplace_core.clocks import FixedClock

    fake = FakeSlurmRunner(clock=FixedClock(datetime(2026, 3, 10, tzinfo=UTC)))
    fake.add_job("1", "a", datetime(2026, 2, 28, 23, tzinfo=UTC), MAR_1.replace(hour=1), {"cpu": 2})
    fake.add_job("2", "a", datetime(2026, 3, 9, 23, tzinfo=UTC), None, {"cpu": 1})  # running
    fake.add_job("3", "a", None)  # pending
    fake.add_job("4", "b", MAR_1, APR_1, {"cpu": 64})  # another account
    fake.add_job("5", "a", datetime(2026, 2, 1, tzinfo=UTC), MAR_1, {"cpu": 64})  # February
    jobs = SlurmClient(fake).jobs("a", MAR_1, APR_1)
    assert jobs == [
        JobRecord("1", 3600, {"cpu": 2}),
        JobRecord("2", 3600, {"cpu": 1}),
        JobRecord("3", 0, {}),
    ]


def test_pull_usage_reports_the_months_cpu_and_gpu_hours(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target)
    resource = slurm.live()
    account = resource.backend_id
    fake = slurm.fake
    fake.add_job(
        "1",
        account,
        MAR_1.replace(day=2, hour=10),
        MAR_1.replace(day=2, hour=12),
        {"cpu": 4, "gres/gpu": 1},
    )
    fake.add_job("2", account, MAR_1.replace(day=3), MAR_1.replace(day=3, minute=30), {"cpu": 3})
    fake.add_job("3", "mp_other", MAR_1.replace(day=3), APR_1, {"cpu": 100})
    market, provider = slurm.world.market, slurm.world.provider.id
    report = market.pull_usage(provider, slurm.world.offering.id, MARCH)
    assert report.failed == ()
    assert {(r.component_type, r.amount) for r in report.reports} == {
        ("cpu_hours", Decimal("9.5")),  # 2 h x 4 + 0.5 h x 3
        ("gpu_hours", Decimal("2")),
    }
    assert fake.calls[-1] == tuple(commands.job_usage(account, MAR_1, APR_1))
    # Pulling the same answer again reports nothing new.
    again = market.pull_usage(provider, slurm.world.offering.id, MARCH)
    assert [r.id for r in again.reports] == [r.id for r in report.reports]
    assert len(market.list_usage_reports(resource.id, "cpu_hours")) == 1


def test_pull_usage_without_a_gpu_tres_reports_cpu_hours_only(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target, gpu_tres=None)
    resource = slurm.live({"cpu_hours": 5})
    slurm.fake.add_job(
        "1",
        resource.backend_id,
        MAR_1.replace(day=2),
        MAR_1.replace(day=2, hour=1),
        {"cpu": 1, "gres/gpu": 1},
    )
    report = slurm.world.market.pull_usage(slurm.world.provider.id, slurm.world.offering.id, MARCH)
    assert [(r.component_type, r.amount) for r in report.reports] == [("cpu_hours", Decimal(1))]


def test_a_sacct_failure_is_reported_per_resource(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target)
    resource = slurm.live()
    slurm.fake.fail_next("sacct: error: slurmdbd: Connection refused")
    report = slurm.world.market.pull_usage(slurm.world.provider.id, slurm.world.offering.id)
    assert report.reports == ()
    ((failed_id, message),) = report.failed
    assert failed_id == resource.id
    assert message.startswith("BackendError: sacct --allusers")
    assert message.endswith("Connection refused")


# --------------------------------------------------------------------------- sync


def test_apply_flags_blocks_then_restores_and_writes_only_on_change(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target, grp_jobs=10, grp_submit_jobs=40)
    resource = slurm.live()
    offering = slurm.world.offering
    flagged = attrs.evolve(resource, policy_flags=frozenset({("jobs_blocked", "p-1")}))
    sync, fake = slurm.sync, slurm.fake
    assert sync.apply_flags(flagged, offering) is FlagOutcome.CHANGED
    assert fake.associations[resource.backend_id].grp_jobs == 0
    assert fake.associations[resource.backend_id].grp_submit_jobs == 0
    fake.calls.clear()
    assert sync.apply_flags(flagged, offering) is FlagOutcome.UNCHANGED
    assert [call[4] for call in fake.calls] == ["list"]  # read, no write
    assert sync.apply_flags(resource, offering) is FlagOutcome.CHANGED
    assert fake_target.job_limits(resource.backend_id) == JobLimits(10, 40)


def test_reconcile_reports_missing_accounts_and_failures_without_stopping(target: SlurmTarget):
    slurm = slurm_world(target)
    first, second, third = (slurm.live(name=f"r{n}") for n in range(3))
    target.client.remove_account(second.backend_id, target.cluster)
    market, offering = slurm.world.market, slurm.world.offering
    target.fail_next(DB_DOWN)
    report = slurm.sync.reconcile(market, offering.id)
    assert report.failed == ((first.id, f"BackendError: {_failure(first, target)}"),)
    assert report.missing == (second.id,)
    assert report.unchanged == (third.id,)
    assert report.changed == ()


def _failure(resource: Resource, target: SlurmTarget) -> str:
    argv = commands.show_association(resource.backend_id, target.cluster)
    return f"{line(argv)} exited with 1: {DB_DOWN}"


def test_reconcile_leaves_out_resources_not_on_the_backend(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target)
    live = slurm.live()
    gone = slurm.live(name="gone")
    market = slurm.world.market
    ending = market.order_termination(slurm.world.consumer.id, gone.id)
    market.approve_order_as_provider(slurm.world.provider.id, ending.id)
    world = slurm.world
    waiting = market.order_resource(
        world.consumer.id, world.project.id, world.offering.id, world.plan.id, "waiting",
        limits=LIMITS,
    )  # fmt: skip
    assert market.get_resource(waiting.resource_id).state is ResourceState.CREATING
    report = slurm.sync.reconcile(market, world.offering.id)
    assert report.unchanged == (live.id,)
    assert (report.changed, report.missing, report.failed) == ((), (), ())


def test_reconcile_touches_only_the_resources_of_its_offering(fake_target: SlurmTarget):
    slurm = slurm_world(fake_target)
    world, market = slurm.world, slurm.world.market
    mine = slurm.live()
    other = market.create_offering(
        world.provider.id, world.offering.provider_id, "Other cluster", "slurm",
        category_id=world.offering.category_id,
        plugin_options=fake_target.options(account_prefix="other_"),
    )  # fmt: skip
    plan = market.create_plan(world.provider.id, other.id, "Plan", PlanUnit.MONTH, prices={})
    market.activate_offering(world.staff.id, other.id)
    order = market.order_resource(
        world.consumer.id, world.project.id, other.id, plan.id, "theirs", limits=LIMITS
    )
    market.approve_order_as_provider(world.provider.id, order.id)
    assert market.get_resource(order.resource_id).backend_id == "other_resource-2"
    report = slurm.sync.reconcile(market, world.offering.id)
    assert report.unchanged == (mine.id,)


def test_tres_limits_and_limits_of_are_inverse():
    options = read_options({"storage_tres": "fs/disk", "storage_tres_factor": 1000})
    for limits in ({"cpu_hours": 1, "gpu_hours": 2, "storage": 3}, {"cpu_hours": 0}):
        expected = {"cpu_hours": 0, "gpu_hours": 0, "storage": 0} | limits
        assert limits_of(tres_limits(limits, options), options) == expected
    assert limits_of(TresLimits({}, {}), options) == {
        "cpu_hours": -1,
        "gpu_hours": -1,
        "storage": -1,
    }


def test_the_quick_start_in_the_docs_runs():
    text = (Path(__file__).parents[2] / "docs" / "plugins" / "slurm.md").read_text("utf-8")
    code = text.split("## Quick start", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/plugins/slurm.md", "exec"), namespace)
    assert isinstance(namespace["sync"], SlurmSync)
    assert namespace["plugins"].plugin_types() == ("slurm",)

"""The ``remote`` plugin between two real marketplaces, each on its own storage, clock and ids.

The remote marketplace sells an offering fulfilled by a scripted backend and has an
organization for the local marketplace's account; the local marketplace resells that
offering through the remote plugin. Its ids start with ``remote-`` so a mix-up shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from marketplace_core.clocks import FixedClock
from marketplace_core.errors import BackendError, ErrorCode, ValidationError
from marketplace_core.ids import SequentialIdGenerator
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import (
    BillingType,
    Offering,
    OfferingComponent,
    OfferingOptions,
    PlanUnit,
)
from marketplace_core.orders import OPEN_STATES, Order, OrderState
from marketplace_core.plugins.processor import InProgress, ProcessingRequest
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.remote import (
    REMOTE_CAPABILITIES,
    InProcessRemoteClient,
    RemoteOptions,
    RemoteProcessor,
    RemoteSync,
    SyncReport,
    register_remote,
)
from marketplace_core.plugins.remote.port import RemoteMarketplaceClient
from marketplace_core.resources import Resource, ResourceState
from marketplace_core.roles import Role
from marketplace_core.testing.processor_contract import (
    ContractWorld,
    ProcessorContract,
    build_contract_world,
)
from marketplace_core.testing.processors import Outcome, ScriptedProcessor

REMOTE_START = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
MARCH = date(2026, 3, 1)
DISK = OfferingComponent("disk", "Disk", BillingType.LIMIT)
REMOTE_CPU = OfferingComponent("cpu", "CPU hours", BillingType.USAGE)
REMOTE_GPU = OfferingComponent("gpu", "GPU hours", BillingType.USAGE)
STORAGE = OfferingComponent("storage", "Storage", BillingType.LIMIT)
LOCAL_CPU = OfferingComponent("cpu", "CPU hours", BillingType.USAGE)
LOCAL_PRICES = {"storage": Decimal("3"), "cpu": Decimal("2")}


class PrefixedIds:
    """Sequential ids with a prefix, so remote ids never look like local ones."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.sequence = SequentialIdGenerator()

    def new_id(self, kind: str) -> str:
        return f"{self.prefix}-{self.sequence.new_id(kind)}"


@attrs.define
class RemoteSide:
    """The remote marketplace, its scripted backend, and the account the local side uses."""

    market: Marketplace
    backend: ScriptedProcessor
    provider_id: str
    consumer_id: str
    organization_id: str
    offering_id: str
    plans: dict[str, str]
    client: InProcessRemoteClient

    def orders(self) -> list[Order]:
        return [
            order
            for project in self.market.list_projects(self.organization_id)
            for order in self.market.list_project_orders(project.id)
        ]

    def resources(self) -> list[Resource]:
        return [
            resource
            for project in self.market.list_projects(self.organization_id)
            for resource in self.market.list_resources(project.id)
        ]

    def live_ids(self) -> set[str]:
        return {resource.id for resource in self.resources() if resource.is_live}

    def pending(self) -> list[Order]:
        return [o for o in self.orders() if o.state is OrderState.PENDING_PROVIDER]

    def approve(self, order: Order, outcome: Outcome = Outcome.SUCCEED) -> Order:
        self.backend.then(outcome)
        return self.market.approve_order_as_provider(self.provider_id, order.id)

    def approve_all(self) -> None:
        for order in self.pending():
            self.market.approve_order_as_provider(self.provider_id, order.id)


def build_remote(*, provider_review: bool = True) -> RemoteSide:
    """A remote marketplace selling a disk-and-CPU offering, with an organization whose
    owner is the account the local marketplace acts as."""
    backend = ScriptedProcessor()
    plugins = PluginRegistry()
    plugins.register("scripted", backend, PluginCapabilities(can_update_limits=True))
    market = Marketplace(clock=FixedClock(REMOTE_START), ids=PrefixedIds("remote"), plugins=plugins)
    staff = market.bootstrap_staff_user("remote-staff")
    seller = market.create_organization(staff.id, "HPC centre")
    market.register_provider(staff.id, seller.id)
    category = market.create_category(staff.id, "Compute")
    provider = market.create_user(staff.id, "hpc-provider")
    market.grant_role(staff.id, provider.id, Role.ORGANIZATION_OWNER, seller.id)
    offering = market.create_offering(
        provider.id,
        seller.id,
        "HPC allocation",
        "scripted",
        category_id=category.id,
        components=(DISK, REMOTE_CPU, REMOTE_GPU),
        options=OfferingOptions(needs_provider_review=provider_review),
    )
    prices = {"disk": Decimal("1"), "cpu": Decimal("0.5"), "gpu": Decimal("4")}
    plans = {
        name: market.create_plan(provider.id, offering.id, name, PlanUnit.MONTH, prices=prices).id
        for name in ("small", "large")
    }
    market.activate_offering(staff.id, offering.id)
    buyer = market.create_organization(staff.id, "Local marketplace")
    account = market.create_user(staff.id, "local-marketplace")
    market.grant_role(staff.id, account.id, Role.ORGANIZATION_OWNER, buyer.id)
    client = InProcessRemoteClient(market, account.id, buyer.id)
    return RemoteSide(
        market, backend, provider.id, account.id, buyer.id, offering.id, plans, client
    )


def options_for(remote: RemoteSide) -> dict[str, Any]:
    """Plugin options pointing at the remote offering; the contract world numbers its plans
    ``plan-1`` (small) and ``plan-2`` (large)."""
    return {
        "remote_offering_id": remote.offering_id,
        "plan_mapping": {"plan-1": remote.plans["small"], "plan-2": remote.plans["large"]},
        "component_mapping": {"storage": "disk"},
    }


class FlakyClient:
    """A client that can be made to fail every call, as a network or a gateway would."""

    def __init__(self, inner: RemoteMarketplaceClient) -> None:
        self.inner = inner
        self.failure: Exception | None = None

    def cut_off(self) -> None:
        self.failure = ConnectionError("connection refused by remote.example.org")

    def __getattr__(self, name: str) -> Callable[..., Any]:
        call: Callable[..., Any] = getattr(self.inner, name)

        def guarded(*args: Any) -> Any:
            if self.failure is not None:
                raise self.failure
            return call(*args)

        return guarded


@attrs.define
class Pair:
    """A remote marketplace and a local one reselling its offering."""

    remote: RemoteSide
    local: ContractWorld
    client: FlakyClient
    sync: RemoteSync

    @property
    def market(self) -> Marketplace:
        return self.local.market

    def order(self, storage: int = 10) -> Order:
        world = self.local
        return self.market.order_resource(
            world.consumer.id,
            world.project.id,
            world.offering.id,
            world.plan.id,
            "allocation",
            limits={"storage": storage},
        )

    def settle(self) -> SyncReport:
        self.remote.approve_all()
        return self.sync.run()

    def live(self, storage: int = 10) -> Resource:
        order = self.order(storage)
        self.settle()
        resource = self.market.get_resource(order.resource_id)
        assert resource.state is ResourceState.OK, resource.error_message
        return resource

    def remote_of(self, resource: Resource) -> Resource:
        return self.remote.market.get_resource(resource.backend_id)


def build_pair(
    *, provider_review: bool = True, plugin_options: Mapping[str, Any] | None = None
) -> Pair:
    remote = build_remote(provider_review=provider_review)
    client = FlakyClient(remote.client)
    plugins_options = options_for(remote) if plugin_options is None else plugin_options
    local = build_contract_world(
        "remote",
        RemoteProcessor(client),
        REMOTE_CAPABILITIES,
        components=(STORAGE, LOCAL_CPU),
        plugin_options=plugins_options,
        prices=LOCAL_PRICES,
    )
    assert (local.plan.id, local.other_plan.id) == ("plan-1", "plan-2")
    return Pair(remote, local, client, RemoteSync(local.market, local.provider.id))


# --------------------------------------------------------------------------- the contract


class TestRemoteProcessorContract(ProcessorContract):
    """The remote processor passes the processor contract; its backend is the remote
    marketplace, whose provider approves every order and whose sync reports back."""

    plugin_type = "remote"

    def make_plugin(self) -> tuple[RemoteProcessor, PluginCapabilities]:
        self.remote = build_remote()
        return RemoteProcessor(self.remote.client), REMOTE_CAPABILITIES

    def backend_ids(self) -> set[str]:
        return self.remote.live_ids()

    def fail_next_backend_call(self) -> str:
        self.remote.backend.then(Outcome.RAISE)
        return "backend crashed"

    def offering_components(self) -> tuple[OfferingComponent, ...]:
        return (STORAGE, LOCAL_CPU)

    def plugin_options(self) -> Mapping[str, Any]:
        return options_for(self.remote)

    def invalid_plugin_options(self) -> Mapping[str, Any]:
        return {"plan_mapping": {}}  # no remote offering to forward to

    def order_limits(self) -> Mapping[str, int]:
        return {"storage": 10}

    def new_limits(self) -> Mapping[str, int]:
        return {"storage": 20}

    def backend_limits(self, resource: Resource) -> Mapping[str, int]:
        remote = self.remote.market.get_resource(resource.backend_id)
        return {"storage": remote.limits["disk"]}

    def finish_backend_work(self, order: Order) -> None:
        self.remote.approve_all()
        RemoteSync(self.world.market, self.world.provider.id, self.plugin_type).run()


# --------------------------------------------------------------------------- options


def test_validate_names_a_missing_remote_offering_id_and_stores_nothing() -> None:
    pair = build_pair(plugin_options={"plan_mapping": {"plan-1": "x"}})
    before = len(pair.market.events())
    with pytest.raises(ValidationError) as caught:
        pair.order()
    assert caught.value.fields["field"] == "plugin_options.remote_offering_id"
    assert "remote_offering_id" in caught.value.message
    assert len(pair.market.events()) == before
    assert pair.remote.orders() == []


def test_validate_names_a_missing_plan_mapping() -> None:
    pair = build_pair(plugin_options={"remote_offering_id": "remote-offering-1"})
    with pytest.raises(ValidationError) as caught:
        pair.order()
    assert caught.value.fields["field"] == "plugin_options.plan_mapping"


def test_validate_refuses_a_plan_the_mapping_lacks_for_create_and_plan_switch() -> None:
    pair = build_pair()
    options = dict(options_for(pair.remote), plan_mapping={"plan-1": pair.remote.plans["small"]})
    resource = pair.live()
    pair.market.update_offering(
        pair.local.provider.id, pair.local.offering.id, plugin_options=options
    )
    with pytest.raises(ValidationError, match="'plan-2'") as caught:
        pair.market.order_plan_switch(pair.local.consumer.id, resource.id, pair.local.other_plan.id)
    assert caught.value.fields["field"] == "plugin_options.plan_mapping"


def test_a_resource_can_be_terminated_whatever_the_options_say() -> None:
    pair = build_pair()
    resource = pair.live()
    pair.market.update_offering(pair.local.provider.id, pair.local.offering.id, plugin_options={})
    order = pair.market.order_termination(pair.local.consumer.id, resource.id)
    pair.settle()
    assert pair.market.get_order(order.id).state is OrderState.DONE
    assert pair.remote_of(resource).state is ResourceState.TERMINATED


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"storage": "cpu"}, "puts local components 'storage' and 'cpu' both under remote"),
        ({"ram": "memory"}, "names component 'ram', which offering"),
    ],
)
def test_validate_refuses_a_component_mapping_that_mixes_components(
    mapping: dict[str, str], expected: str
) -> None:
    pair = build_pair()
    options = dict(options_for(pair.remote), component_mapping=mapping)
    pair.market.update_offering(
        pair.local.provider.id, pair.local.offering.id, plugin_options=options
    )
    with pytest.raises(ValidationError, match=expected) as caught:
        pair.order()
    assert caught.value.fields["field"] == "plugin_options.component_mapping"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"remote_offering_id": " ", "plan_mapping": {}}, "plugin_options.remote_offering_id"),
        ({"remote_offering_id": "o", "plan_mapping": []}, "plugin_options.plan_mapping"),
        ({"remote_offering_id": "o", "plan_mapping": {"p": 3}}, "plugin_options.plan_mapping['p']"),
    ],
)
def test_options_refuse_malformed_values_naming_them(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RemoteOptions.parse(options)
    assert caught.value.fields["field"] == field


names = st.text("abc", min_size=1, max_size=2)


@given(mapping=st.dictionaries(names, names), local_types=st.sets(names, min_size=1))
def test_usage_comes_back_under_the_component_its_limit_went_out_under(
    mapping: dict[str, str], local_types: set[str]
) -> None:
    offering = Offering(
        "offering-1",
        "Resold",
        "organization-1",
        "remote",
        REMOTE_START,
        components=tuple(OfferingComponent(t, t, BillingType.USAGE) for t in sorted(local_types)),
        plugin_options={
            "remote_offering_id": "o",
            "plan_mapping": {},
            "component_mapping": mapping,
        },
    )
    try:
        options = RemoteOptions.of(offering)
    except ValidationError:
        renamed = [mapping.get(t, t) for t in local_types]
        assert not set(mapping) <= local_types or len(set(renamed)) < len(renamed)
        return
    taken = {options.remote_component(local_type) for local_type in local_types}
    for local_type in local_types:
        assert options.local_component(options.remote_component(local_type)) == local_type
    for remote_name in {*mapping, *mapping.values(), *local_types} - taken:
        assert options.local_component(remote_name) not in local_types


# --------------------------------------------------------------------------- forwarding


def test_a_create_order_waits_while_the_remote_provider_has_not_approved() -> None:
    pair = build_pair()
    order = pair.order()
    assert order.state is OrderState.EXECUTING
    assert order.dispatched_at is not None
    resource = pair.market.get_resource(order.resource_id)
    (remote_order,) = pair.remote.orders()
    assert resource.backend_id == remote_order.resource_id
    assert resource.backend_id.startswith("remote-")
    assert remote_order.state is OrderState.PENDING_PROVIDER
    report = pair.sync.run()
    assert not report.changed_anything
    assert pair.market.get_order(order.id).state is OrderState.EXECUTING
    pair.remote.approve(remote_order)
    report = pair.sync.run()
    assert report.completed == (order.id,)
    resource = pair.market.get_resource(order.resource_id)
    assert resource.state is ResourceState.OK
    remote_resource = pair.remote_of(resource)
    assert remote_resource.limits == {"disk": 10}
    assert remote_resource.plan_id == pair.remote.plans["small"]
    assert resource.backend_metadata["remote_backend_id"] == remote_resource.backend_id


def test_the_remote_project_is_one_per_local_project() -> None:
    pair = build_pair()
    pair.order()
    pair.order()
    (project,) = pair.remote.market.list_projects(pair.remote.organization_id)
    assert project.name == pair.local.project.id
    assert len(pair.remote.orders()) == 2


def test_a_local_order_handed_over_twice_places_one_remote_order() -> None:
    pair = build_pair()
    order = pair.order()
    market = pair.market
    resource = market.get_resource(order.resource_id)
    request = ProcessingRequest(
        market.get_order(order.id),
        resource,
        market.get_offering(order.offering_id),
        market.get_plan(pair.local.plan.id),
    )
    processor = market.plugins.get("remote").processor
    again = processor.create(request)
    assert again == InProgress(backend_id=resource.backend_id)
    assert len(pair.remote.orders()) == 1


def test_a_fresh_client_on_the_same_ledger_finds_the_remote_order() -> None:
    pair = build_pair()
    order = pair.order()
    remote = pair.remote
    again = InProcessRemoteClient(
        remote.market, remote.consumer_id, remote.organization_id, ledger=remote.client.ledger
    )
    known = again.get_order(order.id)
    assert known is not None
    assert known.id == remote.orders()[0].id
    forgetful = InProcessRemoteClient(remote.market, remote.consumer_id, remote.organization_id)
    assert forgetful.get_order(order.id) is None
    assert forgetful.ensure_project(order.project_id) == remote.orders()[0].project_id


def test_limit_change_and_plan_switch_are_mirrored() -> None:
    pair = build_pair()
    resource = pair.live()
    world = pair.local
    pair.market.order_limit_change(world.consumer.id, resource.id, {"storage": 25})
    assert pair.market.get_resource(resource.id).state is ResourceState.UPDATING
    assert pair.settle().completed
    assert pair.market.get_resource(resource.id).limits == {"storage": 25}
    assert pair.remote_of(resource).limits == {"disk": 25}
    pair.market.order_plan_switch(world.consumer.id, resource.id, world.other_plan.id)
    assert pair.settle().completed
    assert pair.market.get_resource(resource.id).plan_id == world.other_plan.id
    assert pair.remote_of(resource).plan_id == pair.remote.plans["large"]
    assert pair.market.get_resource(resource.id).state is ResourceState.OK


def test_termination_removes_both_resources() -> None:
    pair = build_pair()
    resource = pair.live()
    order = pair.market.order_termination(pair.local.consumer.id, resource.id)
    assert pair.market.get_resource(resource.id).state is ResourceState.TERMINATING
    assert pair.settle().completed == (order.id,)
    assert pair.market.get_resource(resource.id).state is ResourceState.TERMINATED
    assert pair.remote_of(resource).state is ResourceState.TERMINATED


# --------------------------------------------------------------------------- remote outcomes


def test_a_remote_rejection_cancels_the_local_order_and_reports_the_reason() -> None:
    pair = build_pair()
    order = pair.order()
    (remote_order,) = pair.remote.pending()
    pair.remote.market.reject_order(pair.remote.provider_id, remote_order.id, reason="no capacity")
    report = pair.sync.run()
    assert report.canceled == (order.id,)
    assert report.rejected == ((order.id, "no capacity"),)
    assert pair.market.get_order(order.id).state is OrderState.CANCELED
    local = pair.market.get_resource(order.resource_id)
    assert local.state is ResourceState.TERMINATED
    assert pair.remote_of(local).state is ResourceState.TERMINATED


def test_a_rejected_limit_change_leaves_both_resources_as_they_were() -> None:
    pair = build_pair()
    resource = pair.live()
    order = pair.market.order_limit_change(pair.local.consumer.id, resource.id, {"storage": 30})
    (remote_order,) = pair.remote.pending()
    pair.remote.market.reject_order(pair.remote.provider_id, remote_order.id)
    assert pair.sync.run().canceled == (order.id,)
    local = pair.market.get_resource(resource.id)
    assert (local.state, dict(local.limits)) == (ResourceState.OK, {"storage": 10})
    assert pair.remote_of(local).limits == {"disk": 10}


def test_a_remote_erred_update_errs_the_local_update_with_the_remote_message() -> None:
    pair = build_pair()
    resource = pair.live()
    order = pair.market.order_limit_change(pair.local.consumer.id, resource.id, {"storage": 30})
    (remote_order,) = pair.remote.pending()
    pair.remote.approve(remote_order, Outcome.RAISE)
    assert pair.sync.run().failed == (order.id,)
    erred = pair.market.get_order(order.id)
    assert erred.state is OrderState.ERRED
    assert f"remote order {remote_order.id!r} erred" in erred.error_message
    assert "backend crashed on update" in erred.error_message
    assert pair.market.get_resource(resource.id).state is ResourceState.ERRED
    # The scripted remote backend crashed before it touched the remote resource.
    assert pair.remote_of(resource).state is ResourceState.OK


def test_a_remote_resource_broken_on_the_remote_backend_errs_the_local_one() -> None:
    pair = build_pair()
    resource = pair.live()
    remote = pair.remote
    remote.market.resource_erred_on_backend(remote.provider_id, resource.backend_id, "disks lost")
    report = pair.sync.run()
    assert report.resources_erred == (resource.id,)
    local = pair.market.get_resource(resource.id)
    assert local.state is ResourceState.ERRED
    assert "disks lost" in local.error_message


def test_a_remote_termination_errs_the_local_resource_and_local_termination_is_immediate() -> None:
    pair = build_pair()
    resource = pair.live()
    remote = pair.remote
    remote.market.order_termination(remote.provider_id, resource.backend_id)
    assert pair.remote_of(resource).state is ResourceState.TERMINATED
    assert pair.sync.run().resources_erred == (resource.id,)
    local = pair.market.get_resource(resource.id)
    assert "terminated on the remote marketplace" in local.error_message
    orders_before = len(remote.orders())
    order = pair.market.order_termination(pair.local.consumer.id, resource.id)
    assert order.state is OrderState.DONE
    assert pair.market.get_resource(resource.id).state is ResourceState.TERMINATED
    assert len(remote.orders()) == orders_before


def test_a_local_order_whose_remote_order_is_unknown_errs() -> None:
    pair = build_pair()
    order = pair.order()
    pair.remote.client.ledger.clear()  # the ledger was lost
    assert pair.sync.run().failed == (order.id,)
    erred = pair.market.get_order(order.id)
    assert "has no order for local order" in erred.error_message


# --------------------------------------------------------------------------- remote failures


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("refuse", "invalid_value: the backend refuses order"),
        ("unknown plan", "not_found: plan 'remote-plan-9' does not exist"),
        ("paused", "offering_not_active"),
    ],
)
def test_a_remote_refusal_errs_the_local_order_with_the_remote_code(
    breakage: str, expected: str
) -> None:
    pair = build_pair()
    remote = pair.remote
    if breakage == "refuse":
        remote.backend.then(Outcome.REFUSE)
    elif breakage == "unknown plan":
        options = dict(options_for(remote), plan_mapping={"plan-1": "remote-plan-9"})
        pair.market.update_offering(
            pair.local.provider.id, pair.local.offering.id, plugin_options=options
        )
    else:
        remote.market.pause_offering(remote.provider_id, remote.offering_id)
    order = pair.order()
    assert order.state is OrderState.ERRED
    assert order.error_message.startswith(
        f"BackendError: the remote marketplace refused to take the create order of local "
        f"order {order.id!r}: "
    )
    assert expected in order.error_message
    assert pair.market.get_resource(order.resource_id).state is ResourceState.ERRED
    assert remote.orders() == []


def test_a_refused_order_is_placed_anew_when_retried() -> None:
    pair = build_pair()
    pair.remote.backend.then(Outcome.REFUSE)
    order = pair.order()
    pair.market.retry_order(pair.local.consumer.id, order.id)
    pair.settle()
    assert pair.market.get_order(order.id).state is OrderState.DONE
    assert len(pair.remote.orders()) == 1


def test_a_resource_that_never_reached_the_remote_is_terminated_at_once() -> None:
    pair = build_pair()
    pair.remote.backend.then(Outcome.REFUSE)
    order = pair.order()
    assert not pair.market.get_resource(order.resource_id).backend_id
    pair.client.cut_off()  # nothing remote is asked
    termination = pair.market.order_termination(pair.local.consumer.id, order.resource_id)
    assert termination.state is OrderState.DONE
    assert pair.market.get_resource(order.resource_id).state is ResourceState.TERMINATED


def test_an_unreachable_remote_errs_the_order_and_stalls_the_sync() -> None:
    pair = build_pair()
    pair.client.cut_off()
    order = pair.order()
    assert order.state is OrderState.ERRED
    assert "could not be reached" in order.error_message
    assert "ConnectionError: connection refused" in order.error_message
    pair.client.failure = None
    order = pair.market.retry_order(pair.local.consumer.id, order.id)
    pair.remote.approve_all()
    pair.client.cut_off()
    report = pair.sync.run()
    assert not report.changed_anything
    assert [subject for subject, _ in report.problems] == [order.id]
    assert "could not be reached" in report.problems[0][1]
    assert pair.market.get_order(order.id).state is OrderState.EXECUTING
    pair.client.failure = None
    assert pair.sync.run().completed == (order.id,)


def test_a_client_timeout_keeps_its_code() -> None:
    pair = build_pair()
    pair.client.failure = BackendError(ErrorCode.BACKEND_TIMED_OUT, "no answer within 30 s")
    order = pair.order()
    assert order.error_message == (
        "BackendError: the remote marketplace failed to set up a project for local project "
        f"{order.project_id!r}: backend_timed_out: no answer within 30 s"
    )


def test_a_remote_refusal_is_a_backend_error_with_the_remote_code() -> None:
    pair = build_pair()
    pair.remote.backend.then(Outcome.REFUSE)
    order = pair.order()
    processor = pair.market.plugins.get("remote").processor
    market = pair.market
    request = ProcessingRequest(
        order,
        market.get_resource(order.resource_id),
        market.get_offering(order.offering_id),
        market.get_plan(pair.local.plan.id),
    )
    pair.remote.backend.then(Outcome.REFUSE)
    with pytest.raises(BackendError) as caught:
        processor.create(request)
    assert caught.value.code is ErrorCode.BACKEND_FAILED
    assert caught.value.fields["remote_code"] == "invalid_value"


# --------------------------------------------------------------------------- usage and invoices


def test_usage_pulled_twice_is_reported_once_under_the_local_component() -> None:
    pair = build_pair()
    resource = pair.live()
    remote = pair.remote
    remote.market.report_usage(
        remote.provider_id, resource.backend_id, "cpu", Decimal("7.5"), idempotency_key="u1"
    )
    world = pair.local
    first = pair.market.pull_usage(world.provider.id, world.offering.id)
    second = pair.market.pull_usage(world.provider.id, world.offering.id)
    assert first.failed == second.failed == ()
    assert [r.amount for r in first.reports] == [Decimal("7.5")]
    assert first.reports == second.reports
    assert len(pair.market.list_usage_reports(resource.id, "cpu")) == 1
    assert pair.market.current_usage(resource.id, MARCH) == {"cpu": Decimal("7.5")}
    remote.market.report_usage(
        remote.provider_id, resource.backend_id, "cpu", Decimal("9"), idempotency_key="u2"
    )
    assert [r.amount for r in pair.sync.run().usage] == [Decimal("9")]
    assert len(pair.market.list_usage_reports(resource.id, "cpu")) == 2


def test_usage_of_a_remote_component_the_local_offering_does_not_meter_is_left_out() -> None:
    pair = build_pair()
    resource = pair.live()
    remote = pair.remote
    for component, amount in (("disk", "4"), ("gpu", "1")):
        remote.market.report_usage(
            remote.provider_id,
            resource.backend_id,
            component,
            Decimal(amount),
            idempotency_key=component,
        )
    pulled = pair.market.pull_usage(pair.local.provider.id, pair.local.offering.id)
    assert [(r.component_type, r.amount) for r in pulled.reports] == [("storage", Decimal("4"))]


def test_invoice_items_are_pulled_read_only_beside_the_local_ones() -> None:
    pair = build_pair()
    resource = pair.live()
    pair.remote.market.run_billing()
    pair.market.run_billing()
    before = (len(pair.market.events()), len(pair.remote.market.events()))
    (found,) = pair.sync.reconcile_invoices(MARCH)
    assert found.resource_id == resource.id
    assert found.remote_resource_id == resource.backend_id
    remote_items = pair.remote.market.list_resource_items(resource.backend_id)
    assert {item.id for item in found.remote_items} == {item.id for item in remote_items}
    assert found.remote_total == sum(item.price for item in remote_items)
    local_items = pair.market.list_resource_items(resource.id)
    assert found.local_total == sum(item.price for item in local_items) > found.remote_total
    assert found.margin == found.local_total - found.remote_total
    assert pair.sync.reconcile_invoices(MARCH) == (found,)
    assert (len(pair.market.events()), len(pair.remote.market.events())) == before
    assert pair.sync.reconcile_invoices(date(2026, 2, 1))[0].remote_items == ()


# --------------------------------------------------------------------------- the sync itself


def test_a_second_sync_changes_nothing() -> None:
    pair = build_pair()
    resource = pair.live()
    remote = pair.remote
    remote.market.report_usage(
        remote.provider_id, resource.backend_id, "cpu", Decimal("2"), idempotency_key="u"
    )
    pair.market.order_limit_change(pair.local.consumer.id, resource.id, {"storage": 12})
    pair.order()
    first = pair.settle()
    assert len(first.completed) == 2
    events = len(pair.market.events())
    second = pair.sync.run()
    assert not second.changed_anything
    assert second.problems == ()
    assert len(pair.market.events()) == events


def test_the_sync_refuses_a_plugin_type_that_is_not_remote() -> None:
    pair = build_pair()
    pair.market.plugins.register("plain", ScriptedProcessor())
    with pytest.raises(ValidationError, match="'plain' is not a remote plugin"):
        RemoteSync(pair.market, pair.local.provider.id, "plain").run()


def test_register_remote_registers_the_processor_with_its_capabilities() -> None:
    registry = PluginRegistry()
    processor = register_remote(registry, build_remote().client, "remote-hpc")
    assert registry.get("remote-hpc").processor is processor
    assert registry.capabilities("remote-hpc").can_update_limits


# --------------------------------------------------------------------------- local and remote agree


def check_agreement(pair: Pair) -> None:
    """After a sync: every local resource with a remote one is in the same state as it
    (ok, erred or terminated; with the mapped plan and limits when ok), unless its order is
    still executing, and then the remote order is still open. The one exception: a remote
    update that erred before it started leaves the remote resource ok and the local erred."""
    market, client = pair.market, pair.remote.client
    mapping = options_for(pair.remote)["plan_mapping"]
    for local in market.list_resources(pair.local.project.id):
        if not local.backend_id:
            continue
        remote = pair.remote_of(local)
        open_orders = [o for o in market.list_orders(local.id) if o.is_open]
        if open_orders:
            (order,) = open_orders
            remote_order = client.get_order(order.id)
            assert remote_order is not None, order
            assert remote_order.state in OPEN_STATES, (order, remote_order)
            continue
        if local.state is ResourceState.ERRED and remote.state is ResourceState.OK:
            # A remote update that erred before the remote backend touched the resource
            # leaves it ok; the local resource, whose update was under way, errs.
            last = market.list_orders(local.id)[-1]
            assert last.is_limit_change or last.is_plan_switch, last
            assert last.state is OrderState.ERRED, last
            remote_last = client.get_order(last.id)
            assert remote_last is not None, last
            assert remote_last.state is OrderState.ERRED, remote_last
            continue
        assert local.state is remote.state, (local, remote)
        if local.state is ResourceState.OK:
            assert remote.plan_id == mapping[local.plan_id or ""]
            assert dict(remote.limits) == {"disk": local.limits["storage"]}


REMOTE_ANSWERS = st.sampled_from(["approve", "approve", "crash", "reject", "wait"])
"""What the remote side does with a remote order right after it is placed."""


class LocalAndRemoteAgree(RuleBasedStateMachine):
    """Random local orders, remote outcomes and syncs; after every sync both sides agree,
    and a second sync changes nothing on either side."""

    pair: Pair

    @initialize()
    def start(self) -> None:
        self.pair = build_pair()

    def settled(self) -> list[Resource]:
        market = self.pair.market
        return [
            resource
            for resource in market.list_resources(self.pair.local.project.id)
            if resource.is_live and not any(o.is_open for o in market.list_orders(resource.id))
        ]

    def ok(self) -> list[Resource]:
        return [r for r in self.settled() if r.state is ResourceState.OK]

    def erred_orders(self) -> list[Order]:
        market = self.pair.market
        return [
            market.list_orders(r.id)[-1]
            for r in self.settled()
            if market.list_orders(r.id)[-1].state is OrderState.ERRED
        ]

    def remote_ok_and_idle(self) -> list[Resource]:
        remote = self.pair.remote
        busy = {o.resource_id for o in remote.orders() if o.is_open}
        return [r for r in remote.resources() if r.state is ResourceState.OK and r.id not in busy]

    def answer(self, order: Order, remote_answer: str, then_sync: bool) -> None:
        """Let the remote side answer the local order's remote order, then maybe sync."""
        remote = self.pair.remote
        placed = remote.client.get_order(order.id)
        note(f"  remote order {placed}")
        if placed is not None and placed.state is OrderState.PENDING_PROVIDER:
            pending = remote.market.get_order(placed.id)
            if remote_answer == "reject":
                remote.market.reject_order(remote.provider_id, pending.id, reason="full")
            elif remote_answer != "wait":
                remote.approve(
                    pending, Outcome.RAISE if remote_answer == "crash" else Outcome.SUCCEED
                )
            note(f"  remote answers: {remote_answer}")
        if then_sync:
            self.sync()

    def live(self) -> list[Resource]:
        return [
            resource
            for resource in self.pair.market.list_resources(self.pair.local.project.id)
            if resource.is_live
        ]

    @precondition(lambda self: len(self.live()) < 3)
    @rule(storage=st.integers(1, 5), remote_answer=REMOTE_ANSWERS, then_sync=st.booleans())
    def create(self, storage: int, remote_answer: str, then_sync: bool) -> None:
        order = self.pair.order(storage)
        note(f"create {order.resource_id} with storage {storage}: {order.state.value}")
        self.answer(order, remote_answer, then_sync)

    @precondition(lambda self: bool(self.ok()))
    @rule(
        pick=st.integers(0, 9),
        storage=st.integers(1, 5),
        remote_answer=REMOTE_ANSWERS,
        then_sync=st.booleans(),
    )
    def change_limits(self, pick: int, storage: int, remote_answer: str, then_sync: bool) -> None:
        resource = self.ok()[pick % len(self.ok())]
        storage = storage if storage != resource.limits["storage"] else storage + 5
        order = self.pair.market.order_limit_change(
            self.pair.local.consumer.id, resource.id, {"storage": storage}
        )
        note(f"limits of {resource.id} to {storage}: {order.state.value}")
        self.answer(order, remote_answer, then_sync)

    @precondition(lambda self: bool(self.ok()))
    @rule(pick=st.integers(0, 9), remote_answer=REMOTE_ANSWERS, then_sync=st.booleans())
    def switch_plan(self, pick: int, remote_answer: str, then_sync: bool) -> None:
        resource = self.ok()[pick % len(self.ok())]
        world = self.pair.local
        plan = world.other_plan if resource.plan_id == world.plan.id else world.plan
        order = self.pair.market.order_plan_switch(world.consumer.id, resource.id, plan.id)
        note(f"switch {resource.id} to {plan.id}: {order.state.value}")
        self.answer(order, remote_answer, then_sync)

    @precondition(lambda self: bool(self.settled()))
    @rule(pick=st.integers(0, 9), remote_answer=REMOTE_ANSWERS, then_sync=st.booleans())
    def terminate(self, pick: int, remote_answer: str, then_sync: bool) -> None:
        resource = self.settled()[pick % len(self.settled())]
        order = self.pair.market.order_termination(self.pair.local.consumer.id, resource.id)
        note(f"terminate {resource.id}: {order.state.value}")
        self.answer(order, remote_answer, then_sync)

    @precondition(lambda self: bool(self.erred_orders()))
    @rule(pick=st.integers(0, 9), then_sync=st.booleans())
    def retry(self, pick: int, then_sync: bool) -> None:
        order = self.erred_orders()[pick % len(self.erred_orders())]
        order = self.pair.market.retry_order(self.pair.local.consumer.id, order.id)
        note(f"retry {order.id}: {order.state.value}")
        self.answer(order, "approve", then_sync)

    @precondition(lambda self: bool(self.pair.remote.pending()))
    @rule(pick=st.integers(0, 9), outcome=st.sampled_from([Outcome.SUCCEED, Outcome.RAISE]))
    def remote_approves(self, pick: int, outcome: Outcome) -> None:
        pending = self.pair.remote.pending()
        order = self.pair.remote.approve(pending[pick % len(pending)], outcome)
        note(f"remote approves {order.id} ({order.type.value}), backend {outcome.value}")

    @precondition(lambda self: bool(self.pair.remote.pending()))
    @rule(pick=st.integers(0, 9))
    def remote_rejects(self, pick: int) -> None:
        remote = self.pair.remote
        pending = remote.pending()
        order = remote.market.reject_order(remote.provider_id, pending[pick % len(pending)].id)
        note(f"remote rejects {order.id} ({order.type.value})")

    @precondition(lambda self: bool(self.remote_ok_and_idle()))
    @rule(pick=st.integers(0, 9))
    def remote_backend_breaks(self, pick: int) -> None:
        remote = self.pair.remote
        candidates = self.remote_ok_and_idle()
        resource = candidates[pick % len(candidates)]
        remote.market.resource_erred_on_backend(remote.provider_id, resource.id, "node down")
        note(f"remote resource {resource.id} breaks")

    @rule()
    def sync(self) -> None:
        pair = self.pair
        report = pair.sync.run()
        note(f"sync: {report}")
        assert report.problems == ()
        check_agreement(pair)
        events = (len(pair.market.events()), len(pair.remote.market.events()))
        again = pair.sync.run()
        assert not again.changed_anything
        assert again.problems == ()
        assert (len(pair.market.events()), len(pair.remote.market.events())) == events


TestLocalAndRemoteAgree = LocalAndRemoteAgree.TestCase
TestLocalAndRemoteAgree.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)


def test_items_of_a_canceled_invoice_do_not_count_in_the_reconciliation() -> None:
    pair = build_pair()
    pair.live()
    remote = pair.remote.market
    april = datetime(2026, 4, 1, 1, tzinfo=UTC)
    for clock in (remote.clock, pair.local.clock):
        assert isinstance(clock, FixedClock)
        clock.set(april)
    (issued,) = remote.run_billing().issued
    (counted,) = pair.sync.reconcile_invoices(MARCH)
    assert counted.remote_total > 0
    staff = remote.get_user("remote-user-1")
    assert staff.is_staff
    remote.cancel_invoice(staff.id, issued)
    (found,) = pair.sync.reconcile_invoices(MARCH)
    assert found.remote_items == ()
    assert found.remote_total == 0
    assert found.local_total == counted.local_total

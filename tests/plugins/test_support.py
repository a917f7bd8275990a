"""The support plugin: every order opens a ticket; the ticket's outcome ends the order."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from marketplace_core.errors import (
    BackendError,
    ErrorCode,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from marketplace_core.inputs import MESSAGE_MAX_LENGTH
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import BillingType, OfferingComponent
from marketplace_core.orders import Order, OrderState, OrderType
from marketplace_core.plugins.processor import InProgress, ProcessingRequest
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.support import (
    SUPPORT_CAPABILITIES,
    InMemoryTicketDesk,
    SupportProcessor,
    Ticket,
    TicketStatus,
    TicketSyncReport,
    TicketText,
    apply_ticket,
    register_support,
    sync_tickets,
    write_ticket,
)
from marketplace_core.resources import Resource, ResourceState
from marketplace_core.testing.processor_contract import (
    ContractWorld,
    ProcessorContract,
    build_contract_world,
)
from tests.support import World

STORAGE = OfferingComponent("storage", "Storage", BillingType.LIMIT, measured_unit="GB")
CORES = OfferingComponent("cores", "CPU cores", BillingType.LIMIT)


def provisioned(world: ContractWorld, desk: InMemoryTicketDesk) -> set[str]:
    """The backend ids of the resources the support team has set up and not removed,
    according to its resolved create and termination tickets."""
    held: set[str] = set()
    for ticket in desk.tickets():
        if ticket.status is TicketStatus.RESOLVED:
            order = world.market.get_order(ticket.order_id)
            if order.type is OrderType.CREATE:
                held.add(ticket.key)
            elif order.type is OrderType.TERMINATE:
                held.discard(world.market.get_resource(order.resource_id).backend_id)
    return held


class TestSupportProcessorContract(ProcessorContract):
    plugin_type = "support"

    def make_plugin(self) -> tuple[SupportProcessor, PluginCapabilities]:
        self.desk = InMemoryTicketDesk()
        self.rejection = ""
        return SupportProcessor(self.desk), SUPPORT_CAPABILITIES

    def backend_ids(self) -> set[str]:
        return provisioned(self.world, self.desk)

    def fail_next_backend_call(self) -> str:
        self.rejection = "No capacity left in rack 4."
        return self.rejection

    def finish_backend_work(self, order: Order) -> None:
        for ticket in self.desk.list_open_tickets():
            if self.rejection:
                self.desk.reject(ticket.key, self.rejection)
                self.rejection = ""
            else:
                self.desk.resolve(ticket.key, "Done.")
        sync_tickets(self.world.market, self.world.provider.id, self.world.offering.id)

    def offering_components(self) -> tuple[OfferingComponent, ...]:
        return (STORAGE,)

    def order_limits(self) -> dict[str, int]:
        return {"storage": 10}

    def new_limits(self) -> dict[str, int]:
        return {"storage": 20}

    def invalid_order(self) -> dict[str, Any]:
        return {"attributes": {"description": 42}}


# --------------------------------------------------------------------------- a small world


class Support:
    """A marketplace with one active support offering (storage and cores limits, plans
    "Small" and "Large") whose tickets go to ``desk``."""

    def __init__(self, desk: InMemoryTicketDesk | None = None, **processor: Any) -> None:
        self.desk = desk or InMemoryTicketDesk()
        self.processor = SupportProcessor(self.desk, **processor)
        self.world = build_contract_world(
            "support", self.processor, SUPPORT_CAPABILITIES, components=(STORAGE, CORES)
        )
        self.market = self.world.market
        self.provider = self.world.provider.id
        self.consumer = self.world.consumer.id

    def order(self, name: str = "db-1", **arguments: Any) -> Order:
        arguments = {"limits": {"storage": 100, "cores": 4}} | arguments
        world = self.world
        return self.market.order_resource(
            self.consumer, world.project.id, world.offering.id, world.plan.id, name, **arguments
        )

    def ticket(self, order: Order) -> Ticket:
        ticket = self.desk.find_ticket(order.id)
        assert ticket is not None, f"order {order.id} has no ticket"
        return ticket

    def sync(self) -> TicketSyncReport:
        return sync_tickets(self.market, self.provider, self.world.offering.id)

    def close(self, key: str, outcome: str, comment: str) -> Ticket:
        """The support team closes the ticket: ``outcome`` is resolve, reject or cancel."""
        close = {
            "resolve": self.desk.resolve,
            "reject": self.desk.reject,
            "cancel": self.desk.cancel_ticket,
        }[outcome]
        return close(key, comment)

    def resolve(self, order: Order, comment: str = "Done.") -> Order:
        self.desk.resolve(self.ticket(order).key, comment)
        self.sync()
        return self.market.get_order(order.id)

    def live(self) -> Resource:
        order = self.resolve(self.order())
        return self.market.get_resource(order.resource_id)

    def place(self, kind: str) -> Order:
        """An executing order of ``kind`` (create, limits, plan, terminate) on a resource."""
        if kind == "create":
            return self.order()
        resource = self.live()
        if kind == "limits":
            return self.market.order_limit_change(
                self.consumer, resource.id, {"storage": 200, "cores": 4}
            )
        if kind == "plan":
            return self.market.order_plan_switch(
                self.consumer, resource.id, self.world.other_plan.id
            )
        return self.market.order_termination(self.consumer, resource.id)

    def resource(self, order: Order) -> Resource:
        return self.market.get_resource(order.resource_id)


KINDS = ["create", "limits", "plan", "terminate"]


# --------------------------------------------------------------------------- the flows


def test_a_create_order_opens_a_ticket_and_waits_for_it() -> None:
    support = Support()
    order = support.order()
    ticket = support.ticket(order)
    assert order.state is OrderState.EXECUTING
    assert order.dispatched_at is not None
    assert ticket.status is TicketStatus.OPEN
    resource = support.resource(order)
    assert resource.state is ResourceState.CREATING
    assert resource.backend_id == ticket.key


def test_a_resolved_create_ticket_completes_the_order() -> None:
    support = Support()
    order = support.resolve(support.order(), "Reachable at db-1.example.org.")
    resource = support.resource(order)
    assert order.state is OrderState.DONE
    assert resource.state is ResourceState.OK
    assert resource.backend_id == "SUP-1"
    assert dict(resource.backend_metadata) == {
        "support_ticket": "SUP-1",
        "support_resolution": "Reachable at db-1.example.org.",
    }


def test_a_limit_change_is_applied_when_its_ticket_is_resolved() -> None:
    support = Support()
    order = support.place("limits")
    assert support.resource(order).state is ResourceState.UPDATING
    assert dict(support.resource(order).limits) == {"storage": 100, "cores": 4}
    order = support.resolve(order)
    assert order.state is OrderState.DONE
    assert dict(support.resource(order).limits) == {"storage": 200, "cores": 4}
    assert support.resource(order).backend_metadata["support_ticket"] == "SUP-2"


def test_a_plan_switch_is_applied_when_its_ticket_is_resolved() -> None:
    support = Support()
    order = support.place("plan")
    assert support.resource(order).plan_id == support.world.plan.id
    order = support.resolve(order)
    assert order.state is OrderState.DONE
    assert support.resource(order).plan_id == support.world.other_plan.id
    assert support.resource(order).state is ResourceState.OK


def test_a_termination_ends_the_resource_when_its_ticket_is_resolved() -> None:
    support = Support()
    order = support.place("terminate")
    assert support.resource(order).state is ResourceState.TERMINATING
    order = support.resolve(order)
    assert order.state is OrderState.DONE
    assert support.resource(order).state is ResourceState.TERMINATED
    assert provisioned(support.world, support.desk) == set()


def test_every_order_of_a_resource_gets_a_ticket_of_its_own() -> None:
    support = Support()
    resource = support.live()
    market = support.market
    support.resolve(market.order_limit_change(support.consumer, resource.id, {"storage": 5}))
    support.resolve(market.order_termination(support.consumer, resource.id))
    orders = market.list_orders(resource.id)
    assert [t.order_id for t in support.desk.tickets()] == [o.id for o in orders]
    assert [o.state for o in orders] == [OrderState.DONE] * 3


# --------------------------------------------------------------------------- outcomes


ENDINGS = {
    "resolve": (
        OrderState.DONE,
        {"create": "ok", "limits": "ok", "plan": "ok", "terminate": "terminated"},
    ),
    "reject": (
        OrderState.ERRED,
        {"create": "erred", "limits": "erred", "plan": "erred", "terminate": "ok"},
    ),
    "cancel": (
        OrderState.CANCELED,
        {"create": "terminated", "limits": "ok", "plan": "ok", "terminate": "ok"},
    ),
}
"""How a closed ticket ends its order, and the resource by order kind (docs/plugins/support.md)."""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("outcome", ENDINGS)
def test_a_closed_ticket_ends_the_order_and_its_resource_as_the_table_says(
    kind: str, outcome: str
) -> None:
    support = Support()
    order = support.place(kind)
    support.close(support.ticket(order).key, outcome, "The rack is full until May.")
    report = support.sync()
    order = support.market.get_order(order.id)
    resource = support.resource(order)
    order_state, resource_states = ENDINGS[outcome]
    assert report.ended == (order,)
    assert order.state is order_state
    assert resource.state.value == resource_states[kind]
    if outcome == "reject":
        assert order.error_message == "The rack is full until May."
        assert resource.error_message == "The rack is full until May."
    if kind in ("limits", "plan") and outcome != "resolve":
        assert dict(resource.limits) == {"storage": 100, "cores": 4}
        assert resource.plan_id == support.world.plan.id


def test_a_rejection_without_a_comment_names_the_ticket() -> None:
    support = Support()
    order = support.order()
    support.desk.reject(support.ticket(order).key, "")
    support.sync()
    assert support.market.get_order(order.id).error_message == "ticket SUP-1 was rejected"


def test_a_long_rejection_comment_is_cut_to_what_an_order_can_hold() -> None:
    support = Support()
    order = support.order()
    comment = "no capacity" + "x" * MESSAGE_MAX_LENGTH + "ask again in May"
    support.desk.reject(support.ticket(order).key, comment)
    support.sync()
    message = support.market.get_order(order.id).error_message
    assert len(message) == MESSAGE_MAX_LENGTH
    assert message.startswith("no capacity")
    assert message.endswith("ask again in May")
    assert "\u2026" in message


def test_retrying_a_rejected_order_reopens_its_ticket() -> None:
    support = Support()
    order = support.order()
    key = support.ticket(order).key
    support.desk.reject(key, "Which data centre?")
    support.sync()
    order = support.market.retry_order(support.consumer, order.id)
    ticket = support.ticket(order)
    assert (ticket.key, ticket.status, ticket.resolution_comment) == (key, TicketStatus.OPEN, "")
    assert support.desk.comments(key)[-1].startswith(f"Reopened: marketplace order {order.id}")
    assert support.resolve(order).state is OrderState.DONE
    assert len(support.desk.tickets()) == 1


def test_a_resolved_ticket_is_not_reopened_when_its_order_is_handed_over_again() -> None:
    support = Support()
    order = support.order()
    support.desk.resolve(support.ticket(order).key)
    request = ProcessingRequest(
        order, support.resource(order), support.world.offering, support.world.plan
    )
    assert support.processor.create(request) == InProgress(backend_id="SUP-1")
    assert support.ticket(order).status is TicketStatus.RESOLVED
    assert support.desk.comments("SUP-1") == ()


def test_an_unreachable_desk_errs_the_order_and_a_retry_opens_the_ticket() -> None:
    support = Support()
    support.desk.fail_next_call("Jira answered 503 Service Unavailable")
    order = support.order()
    assert order.state is OrderState.ERRED
    assert order.error_message == "BackendError: Jira answered 503 Service Unavailable"
    assert support.desk.tickets() == []
    order = support.market.retry_order(support.consumer, order.id)
    assert support.ticket(order).status is TicketStatus.OPEN
    assert support.resolve(order).state is OrderState.DONE


# --------------------------------------------------------------------------- cancellations


@pytest.mark.parametrize("kind", KINDS)
def test_a_consumer_canceling_an_executing_order_cancels_its_ticket_at_the_next_sync(
    kind: str,
) -> None:
    support = Support()
    order = support.place(kind)
    order = support.market.cancel_order(support.consumer, order.id)
    assert support.ticket(order).status is TicketStatus.OPEN  # the desk hears at the sync
    report = support.sync()
    ticket = support.ticket(order)
    assert report == TicketSyncReport(canceled_tickets=(ticket,))
    assert ticket.status is TicketStatus.CANCELED
    assert ticket.resolution_comment == (
        f"Canceled by the marketplace: order {order.id} is canceled and no longer needs "
        "this ticket."
    )
    assert support.resource(order).state.value == ENDINGS["cancel"][1][kind]
    assert support.sync() == TicketSyncReport()


def test_a_ticket_left_open_by_a_manual_report_is_canceled_at_the_sync() -> None:
    support = Support()
    order = support.order()
    support.market.resource_creation_succeeded(support.provider, order.resource_id)
    report = support.sync()
    assert [t.order_id for t in report.canceled_tickets] == [order.id]
    assert "is done" in support.ticket(order).resolution_comment
    assert support.market.get_order(order.id).state is OrderState.DONE


def test_a_ticket_resolved_after_the_consumer_canceled_is_ignored() -> None:
    support = Support()
    order = support.order()
    support.market.cancel_order(support.consumer, order.id)
    ticket = support.desk.resolve(support.ticket(order).key, "Set up anyway.")
    assert apply_ticket(support.market, support.provider, ticket).state is OrderState.CANCELED
    assert support.sync() == TicketSyncReport()
    assert support.ticket(order).status is TicketStatus.RESOLVED
    assert support.resource(order).state is ResourceState.TERMINATED


def test_the_sync_leaves_tickets_of_other_offerings_and_other_marketplaces() -> None:
    support = Support()
    world, market = support.world, support.market
    elsewhere = support.desk.open_ticket("order-of-another-marketplace", "Other", "Other")
    other = market.create_offering(
        world.provider.id,
        world.offering.provider_id,
        "Second",
        "support",
        category_id=world.offering.category_id,
        components=(STORAGE,),
    )
    market.create_plan(world.provider.id, other.id, "Only", world.plan.unit)
    market.activate_offering(world.staff.id, other.id)
    order = market.cancel_order(support.consumer, support.order().id)
    assert sync_tickets(market, support.provider, other.id) == TicketSyncReport()
    report = support.sync()
    assert [t.order_id for t in report.canceled_tickets] == [order.id]
    assert support.desk.get_ticket(elsewhere.key).status is TicketStatus.OPEN


# --------------------------------------------------------------------------- webhooks and polling


def _snapshot(support: Support, order: Order) -> tuple[Order, Resource, object, object]:
    market = support.market
    return (
        market.get_order(order.id),
        market.get_resource(order.resource_id),
        list(market.events()),
        support.desk.tickets(),
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("outcome", ["resolve", "reject", "cancel"])
def test_a_webhook_and_the_polling_sync_end_an_order_alike(kind: str, outcome: str) -> None:
    snapshots = []
    for deliver in ("webhook", "poll"):
        support = Support()
        order = support.place(kind)
        key = support.ticket(order).key
        support.close(key, outcome, "Handled by Alice.")
        if deliver == "webhook":
            apply_ticket(support.market, support.provider, support.desk.get_ticket(key))
        else:
            support.sync()
        snapshots.append(_snapshot(support, order))
    webhook, poll = snapshots
    assert webhook == poll
    assert webhook[0].state is not OrderState.EXECUTING


def test_webhooks_over_http_to_a_second_marketplace_count_once() -> None:
    support = Support()
    orders = [support.order(f"db-{n}") for n in range(2)]
    web = Marketplace(
        support.market.storage,
        clock=support.world.clock,
        ids=support.market.ids,
        plugins=support.market.plugins,
    )

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            ticket = support.desk.get_ticket(body["key"])  # the desk's view, not the payload
            order = apply_ticket(web, support.provider, ticket)
            answer = json.dumps({"order": order.id, "state": order.state.value}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/tickets"

    def deliver(key: str) -> dict[str, str]:
        request = urllib.request.Request(url, json.dumps({"key": key}).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, str] = json.loads(response.read())
            return answer

    try:
        keys = [support.ticket(order).key for order in orders]
        support.desk.resolve(keys[0], "Ready.")
        support.desk.reject(keys[1], "Not in this region.")
        answers = [deliver(key) for key in keys]
        events = len(support.market.events())
        assert [deliver(key) for key in keys] == answers  # the desk delivers again
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert [a["state"] for a in answers] == ["done", "erred"]
    assert support.sync() == TicketSyncReport()  # the poller finds nothing left
    assert len(support.market.events()) == events


# --------------------------------------------------------------------------- idempotency


def test_applying_a_ticket_twice_counts_once() -> None:
    support = Support()
    order = support.order()
    ticket = support.desk.resolve(support.ticket(order).key)
    first = apply_ticket(support.market, support.provider, ticket)
    events = len(support.market.events())
    assert apply_ticket(support.market, support.provider, ticket) == first
    assert len(support.market.events()) == events
    assert first.state is OrderState.DONE


def test_a_second_sync_changes_nothing() -> None:
    support = Support()
    orders = [support.order(f"db-{n}") for n in range(3)]
    support.desk.resolve(support.ticket(orders[0]).key)
    support.desk.reject(support.ticket(orders[1]).key, "No.")
    first = support.sync()
    events = len(support.market.events())
    assert [o.id for o in first.ended] == [orders[0].id, orders[1].id]
    assert support.sync() == TicketSyncReport()
    assert len(support.market.events()) == events
    assert support.market.get_order(orders[2].id).state is OrderState.EXECUTING


def test_an_open_ticket_changes_nothing() -> None:
    support = Support()
    order = support.order()
    assert apply_ticket(support.market, support.provider, support.ticket(order)) == order


def test_a_ticket_of_an_order_not_yet_handed_over_waits_for_the_handover() -> None:
    support = Support()
    support.market.process_immediately = False
    order = support.order()
    assert order.dispatched_at is None
    opened = support.desk.open_ticket(order.id, "opened before a crash", "-")
    resolved = support.desk.resolve(opened.key)
    assert apply_ticket(support.market, support.provider, resolved) == order
    assert support.sync() == TicketSyncReport()
    support.market.process_executing_orders()
    support.sync()
    assert support.market.get_order(order.id).state is OrderState.DONE
    assert len(support.desk.tickets()) == 1


# --------------------------------------------------------------------------- refusals


def test_the_sync_needs_order_fulfil_on_the_offering() -> None:
    support = Support()
    order = support.order()
    support.desk.resolve(support.ticket(order).key)
    with pytest.raises(PermissionDeniedError):
        sync_tickets(support.market, support.consumer, support.world.offering.id)
    assert support.market.get_order(order.id).state is OrderState.EXECUTING


def test_tickets_apply_only_to_support_offerings(world: World) -> None:
    order = world.waiting_order()
    ticket = Ticket("SUP-9", order.id, "s", "d", TicketStatus.RESOLVED)
    with pytest.raises(ValidationError, match="'basic', which is not a support plugin"):
        apply_ticket(world.marketplace, world.provider_owner.id, ticket)
    with pytest.raises(ValidationError, match=repr(world.offering.id)):
        sync_tickets(world.marketplace, world.provider_owner.id, world.offering.id)
    assert world.marketplace.get_order(order.id).state is OrderState.EXECUTING


def test_the_sync_reports_orders_the_desk_has_no_ticket_for() -> None:
    support = Support()
    order = support.order()
    support.processor.desk = InMemoryTicketDesk()  # the host pointed the plugin elsewhere
    assert support.sync() == TicketSyncReport(missing=(order.id,))


def test_a_consumer_note_must_be_text_of_bounded_length() -> None:
    support = Support()
    with pytest.raises(ValidationError, match=r"attributes\.description must be a string"):
        support.order(attributes={"description": "x" * 10_001})
    assert support.desk.tickets() == []


def test_register_support_registers_the_plugin_with_its_capabilities() -> None:
    registry = PluginRegistry()
    desk = InMemoryTicketDesk()
    register_support(registry, desk)
    plugin = registry.get("support")
    assert plugin.capabilities == SUPPORT_CAPABILITIES
    assert (SUPPORT_CAPABILITIES.can_update_limits, SUPPORT_CAPABILITIES.can_cancel_orders) == (
        True,
        True,
    )
    assert SUPPORT_CAPABILITIES.needs_provider_review is False
    assert isinstance(plugin.processor, SupportProcessor)
    assert plugin.processor.desk is desk


def test_support_orders_need_no_provider_review() -> None:
    assert Support().order().state is OrderState.EXECUTING


# --------------------------------------------------------------------------- the desk


def test_the_desk_opens_one_ticket_per_order() -> None:
    desk = InMemoryTicketDesk()
    first = desk.open_ticket("order-1", "a", "b")
    assert desk.open_ticket("order-1", "other", "words") == first
    assert desk.open_ticket("order-2", "c", "d").key == "SUP-2"
    assert desk.find_ticket("order-1") == first
    assert desk.find_ticket("order-3") is None


def test_the_desk_refuses_an_unknown_key() -> None:
    with pytest.raises(NotFoundError, match="ticket 'SUP-7' does not exist"):
        InMemoryTicketDesk().get_ticket("SUP-7")


def test_canceling_a_closed_ticket_changes_nothing() -> None:
    desk = InMemoryTicketDesk()
    resolved = desk.resolve(desk.open_ticket("order-1", "a", "b").key, "done")
    assert desk.cancel_ticket(resolved.key, "too late") == resolved
    assert desk.comments(resolved.key) == ("done",)


def test_only_rejected_or_canceled_tickets_are_reopened() -> None:
    desk = InMemoryTicketDesk()
    keys = [desk.open_ticket(f"order-{n}", "a", "b").key for n in range(4)]
    desk.resolve(keys[1])
    desk.reject(keys[2], "no")
    desk.cancel_ticket(keys[3], "dup")
    statuses = [desk.reopen_ticket(key, "again").status for key in keys]
    assert statuses == [TicketStatus.OPEN, TicketStatus.RESOLVED] + [TicketStatus.OPEN] * 2
    assert desk.comments(keys[0]) == ()
    assert desk.comments(keys[2]) == ("no", "again")
    assert desk.list_open_tickets() == [desk.get_ticket(k) for k in (keys[0], keys[2], keys[3])]


def test_the_support_team_cannot_close_a_closed_ticket() -> None:
    desk = InMemoryTicketDesk()
    key = desk.open_ticket("order-1", "a", "b").key
    desk.reject(key, "no")
    with pytest.raises(InvalidTransitionError, match="cannot resolve ticket 'SUP-1'"):
        desk.resolve(key)


def test_an_unreachable_desk_fails_one_call() -> None:
    desk = InMemoryTicketDesk()
    desk.fail_next_call("timeout")
    with pytest.raises(BackendError, match="timeout") as raised:
        desk.find_ticket("order-1")
    assert raised.value.code is ErrorCode.BACKEND_FAILED
    assert desk.find_ticket("order-1") is None


# --------------------------------------------------------------------------- ticket text


def _ids(support: Support, order: Order) -> dict[str, str]:
    world = support.world
    return {
        "order": order.id,
        "resource": order.resource_id,
        "project": world.project.id,
        "offering": world.offering.id,
        "small": world.plan.id,
        "large": world.other_plan.id,
        "consumer": support.consumer,
    }


GOLDEN_CREATE = """\
Please set up the resource below, then resolve this ticket. If it cannot be done, reject \
the ticket and say why in the comment.

Order:     {order} (create)
Resource:  "db-1" ({resource})
Project:   {project}
Offering:  "Offering under test" ({offering})
Plan:      "Small" ({small})
Limits:
  Storage (storage): 100 GB
  CPU cores (cores): 4
Ordered by: {consumer}

The consumer wrote:
> PostgreSQL 16, please.
> Backups nightly.

Order attributes:
  zone: "eu\""""

GOLDEN_LIMITS = """\
Please change the resource below, then resolve this ticket. If it cannot be done, reject \
the ticket and say why in the comment.

Order:     {order} (limit change)
Resource:  "db-1" ({resource})
Backend:   SUP-1
Project:   {project}
Offering:  "Offering under test" ({offering})
Plan:      "Small" ({small})
Limits:
  Storage (storage): 100 GB -> 200 GB
  CPU cores (cores): 4 (unchanged)
Ordered by: {consumer}"""

GOLDEN_PLAN = """\
Please change the resource below, then resolve this ticket. If it cannot be done, reject \
the ticket and say why in the comment.

Order:     {order} (plan switch)
Resource:  "db-1" ({resource})
Backend:   SUP-1
Project:   {project}
Offering:  "Offering under test" ({offering})
Plan:      {small} -> "Large" ({large})
Limits:
  Storage (storage): 100 GB
  CPU cores (cores): 4
Ordered by: {consumer}"""

GOLDEN_TERMINATE = """\
Please remove the resource below, then resolve this ticket. If it cannot be done, reject \
the ticket and say why in the comment.

Order:     {order} (terminate)
Resource:  "db-1" ({resource})
Backend:   SUP-1
Project:   {project}
Offering:  "Offering under test" ({offering})
Plan:      "Small" ({small})
Limits:
  Storage (storage): 100 GB
  CPU cores (cores): 4
Ordered by: {consumer}"""


def test_a_create_ticket_reads_as_an_instruction() -> None:
    support = Support()
    order = support.order(
        "db-1",
        attributes={"description": "PostgreSQL 16, please.\nBackups nightly.", "zone": "eu"},
    )
    ticket = support.ticket(order)
    assert ticket.summary == 'Create "db-1" on plan "Small" in "Offering under test"'
    assert ticket.description == GOLDEN_CREATE.format(**_ids(support, order))


@pytest.mark.parametrize(
    ("kind", "summary", "golden"),
    [
        ("limits", 'Change the limits of "db-1"', GOLDEN_LIMITS),
        ("plan", 'Switch "db-1" to plan "Large"', GOLDEN_PLAN),
        ("terminate", 'Terminate "db-1"', GOLDEN_TERMINATE),
    ],
)
def test_a_change_ticket_shows_the_resource_its_backend_id_and_old_and_new_values(
    kind: str, summary: str, golden: str
) -> None:
    support = Support()
    order = support.place(kind)
    ticket = support.ticket(order)
    assert ticket.summary == f'{summary} in "Offering under test"'
    assert ticket.description == golden.format(**_ids(support, order))


def test_a_host_can_word_the_tickets_itself() -> None:
    def terse(request: ProcessingRequest) -> TicketText:
        return TicketText(f"{request.order.type} {request.resource.name}", "as ordered")

    support = Support(write_ticket=terse)
    ticket = support.ticket(support.order())
    assert (ticket.summary, ticket.description) == ("create db-1", "as ordered")
    assert write_ticket is not terse


# --------------------------------------------------------------------------- the machine


RETRY_REFUSALS = (
    ErrorCode.ORDER_OUTDATED,
    ErrorCode.ORDER_IN_PROGRESS,
    ErrorCode.RESOURCE_NOT_READY,
)


class SupportMachine(RuleBasedStateMachine):
    """Random orders and ticket outcomes: after each sync (or webhook round) every
    executing order whose ticket was closed has ended the way the ticket says, and no
    order ever has two tickets."""

    def __init__(self) -> None:
        super().__init__()
        self.support = Support()
        self.market = self.support.market
        self.desk = self.support.desk
        self.expected: dict[str, tuple[OrderState, str]] = {}
        self.names = 0

    # ------------------------------------------------------------ helpers

    def orders(self, state: OrderState) -> list[Order]:
        world = self.support.world
        return [o for o in self.market.list_project_orders(world.project.id) if o.state is state]

    def idle_resources(self) -> list[Resource]:
        world = self.support.world
        return [
            r
            for r in self.market.list_resources(world.project.id)
            if r.state is ResourceState.OK
            and not any(o.is_open for o in self.market.list_orders(r.id))
        ]

    def check_expectations(self) -> None:
        for order_id, (state, message) in self.expected.items():
            order = self.market.get_order(order_id)
            assert order.state is state, (order_id, order.state, state)
            if state is OrderState.ERRED:
                assert order.error_message == message
        self.expected.clear()

    # ------------------------------------------------------------ rules

    @rule(storage=st.integers(1, 50))
    def order_a_resource(self, storage: int) -> None:
        self.names += 1
        order = self.support.order(f"r{self.names}", limits={"storage": storage})
        note(f"create {order.id} ({order.resource_id})")

    @precondition(lambda self: self.idle_resources())
    @rule(data=st.data(), kind=st.sampled_from(["limits", "plan", "terminate"]))
    def change_a_resource(self, data: st.DataObject, kind: str) -> None:
        resource = data.draw(st.sampled_from(self.idle_resources()), label="resource")
        world, consumer = self.support.world, self.support.consumer
        if kind == "limits":
            storage = resource.limits.get("storage", 0) % 50 + 1
            order = self.market.order_limit_change(consumer, resource.id, {"storage": storage})
        elif kind == "plan":
            plan = world.other_plan if resource.plan_id == world.plan.id else world.plan
            order = self.market.order_plan_switch(consumer, resource.id, plan.id)
        else:
            order = self.market.order_termination(consumer, resource.id)
        note(f"{kind} {order.id} on {resource.id}")

    @precondition(lambda self: self.desk.list_open_tickets())
    @rule(
        data=st.data(),
        outcome=st.sampled_from(sorted(ENDINGS)),
        comment=st.sampled_from(["", "Done by Bob.", "Out of stock."]),
    )
    def close_a_ticket(self, data: st.DataObject, outcome: str, comment: str) -> None:
        ticket = data.draw(st.sampled_from(self.desk.list_open_tickets()), label="ticket")
        order = self.market.get_order(ticket.order_id)
        self.support.close(ticket.key, outcome, comment)
        note(f"{outcome} {ticket.key} of {order.id} ({order.state})")
        if order.state is OrderState.EXECUTING:
            self.expected[order.id] = (
                ENDINGS[outcome][0],
                comment or f"ticket {ticket.key} was rejected",
            )

    @precondition(lambda self: self.orders(OrderState.EXECUTING))
    @rule(data=st.data())
    def consumer_cancels(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from(self.orders(OrderState.EXECUTING)), label="order")
        self.market.cancel_order(self.support.consumer, order.id)
        self.expected[order.id] = (OrderState.CANCELED, "")
        note(f"consumer cancels {order.id}")

    @precondition(lambda self: self.orders(OrderState.ERRED))
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from(self.orders(OrderState.ERRED)), label="order")
        try:
            self.market.retry_order(self.support.consumer, order.id)
        except ValidationError as error:
            note(f"retry of {order.id} refused: {error.code}")
            assert error.code in RETRY_REFUSALS
            return
        note(f"retry {order.id}")
        self.expected.pop(order.id, None)

    @precondition(lambda self: self.orders(OrderState.EXECUTING))
    @rule(data=st.data())
    def hand_over_again(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from(self.orders(OrderState.EXECUTING)), label="order")
        resource = self.market.get_resource(order.resource_id)
        plan = self.market.get_plan(order.plan_id) if order.plan_id else None
        request = ProcessingRequest(order, resource, self.support.world.offering, plan)
        step = {
            OrderType.CREATE: self.support.processor.create,
            OrderType.UPDATE: self.support.processor.update,
            OrderType.TERMINATE: self.support.processor.terminate,
        }[order.type]
        step(request)
        note(f"{order.id} handed over again")
        if self.desk.find_ticket(order.id) in self.desk.list_open_tickets():
            self.expected.pop(order.id, None)  # a rejected or canceled ticket is reopened

    @rule()
    def sync(self) -> None:
        report = self.support.sync()
        note(f"sync: {len(report.ended)} ended, {len(report.canceled_tickets)} canceled")
        self.check_expectations()
        for ticket in self.desk.list_open_tickets():
            assert self.market.get_order(ticket.order_id).state is OrderState.EXECUTING

    @rule()
    def deliver_webhooks(self) -> None:
        for ticket in self.desk.tickets():
            apply_ticket(self.market, self.support.provider, self.desk.get_ticket(ticket.key))
        note("webhooks delivered")
        self.check_expectations()

    # ------------------------------------------------------------ invariants

    @invariant()
    def no_order_has_two_tickets(self) -> None:
        order_ids = [t.order_id for t in self.desk.tickets()]
        assert len(order_ids) == len(set(order_ids))

    @invariant()
    def every_executing_order_has_an_open_ticket_unless_one_closed_since(self) -> None:
        for order in self.orders(OrderState.EXECUTING):
            ticket = self.desk.find_ticket(order.id)
            assert ticket is not None
            assert ticket.status is TicketStatus.OPEN or order.id in self.expected

    @invariant()
    def a_backend_id_is_the_create_ticket_key(self) -> None:
        for ticket in self.desk.tickets():
            order = self.market.get_order(ticket.order_id)
            if order.type is OrderType.CREATE:
                assert self.market.get_resource(order.resource_id).backend_id == ticket.key


TestSupportMachine = SupportMachine.TestCase
TestSupportMachine.settings = settings(
    TestSupportMachine.settings, max_examples=50, stateful_step_count=30
)

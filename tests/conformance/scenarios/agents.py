"""Site agents: claiming dispatched orders of a ``manual`` offering under a lease, releasing
claims, and reporting the outcome of claimed orders."""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace_core.conformance import Recorder
from tests.conformance.world import T0, order, standard

PROVIDER = "$provider-owner"
AFTER_LEASE = datetime(2026, 1, 15, 9, 6, tzinfo=UTC)
"""Six minutes after :data:`T0`: a five-minute lease taken at T0 has run out."""


def _dispatched(rec: Recorder) -> None:
    """A ``manual`` offering whose provider approved ``$owner``'s order ``$order`` for
    ``$resource``: it executes, handed to the backend, and waits for an agent."""
    standard(rec, plugin="manual")
    order(rec, "resource", as_="order")
    rec.setup("approve_order_as_provider", actor=PROVIDER, order_id="$order")


def _claim(rec: Recorder, agent: str, *, checked: bool = False, **when: datetime) -> None:
    record = rec.step if checked else rec.setup
    record(
        "claim_order",
        actor=PROVIDER,
        order_id="$order",
        agent_id=agent,
        lease_seconds=300,
        **when,
    )


def vector_agent_claims_dispatched_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An agent claims a dispatched order for five minutes: the order leaves the list of "
        "claimable orders; claiming it again renews the lease.",
        start=T0,
    )
    _dispatched(rec)
    rec.step("list_claimable_orders", offering_id="$offering")
    _claim(rec, "agent-a", checked=True)
    rec.step("list_claimable_orders", offering_id="$offering")
    _claim(rec, "agent-a", checked=True, at=datetime(2026, 1, 15, 9, 4, tzinfo=UTC))
    return rec


def vector_claim_refused_while_another_agent_holds(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Two agents cannot hold one order: while agent-a's lease runs, agent-b's claim is "
        "refused (order_claimed); once it has run out agent-b takes the order.",
        start=T0,
    )
    _dispatched(rec)
    _claim(rec, "agent-a")
    _claim(rec, "agent-b", checked=True)
    _claim(rec, "agent-b", checked=True, at=AFTER_LEASE)
    return rec


def vector_released_claim_frees_order(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An agent gives up its claim, so another agent may claim the order at once; "
        "releasing a claim the agent does not hold changes nothing.",
        start=T0,
    )
    _dispatched(rec)
    _claim(rec, "agent-a")
    release = {"actor": PROVIDER, "order_id": "$order"}
    rec.step("release_order_claim", **release, agent_id="agent-b")
    rec.step("release_order_claim", **release, agent_id="agent-a")
    _claim(rec, "agent-b", checked=True)
    return rec


def vector_claimed_order_reported_done(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The agent holding the claim reports the order done, with the backend id: the order "
        "completes and the resource is ok, as a backend callback would do; the same report "
        "again changes nothing.",
        start=T0,
    )
    _dispatched(rec)
    _claim(rec, "agent-a")
    done = {"actor": PROVIDER, "order_id": "$order", "agent_id": "agent-a"}
    rec.step("report_claimed_order_done", **done, backend_id="vm-9")
    rec.step("report_claimed_order_done", **done, backend_id="vm-9")
    return rec


def vector_claimed_order_reported_erred(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The agent holding the claim reports the order failed: order and resource err with "
        "its message, as a failure callback would do.",
        start=T0,
    )
    _dispatched(rec)
    _claim(rec, "agent-a")
    rec.step(
        "report_claimed_order_erred",
        actor=PROVIDER,
        order_id="$order",
        agent_id="agent-a",
        message="rack offline",
    )
    return rec


def vector_report_refused_without_claim(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Only the agent holding a running claim may report: an agent that never claimed the "
        "order is refused (claim_not_held), and so is one whose lease ran out.",
        start=T0,
    )
    _dispatched(rec)
    _claim(rec, "agent-a")
    rec.step("report_claimed_order_done", actor=PROVIDER, order_id="$order", agent_id="agent-b")
    rec.step(
        "report_claimed_order_erred",
        actor=PROVIDER,
        at=AFTER_LEASE,
        order_id="$order",
        agent_id="agent-a",
        message="too late",
    )
    return rec


def vector_claim_refused_for_order_not_executing(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Agents claim executing orders only: an order still waiting for the provider's "
        "approval is refused (order_not_executing).",
        start=T0,
    )
    standard(rec, plugin="manual")
    order(rec, "resource", as_="order")
    _claim(rec, "agent-a", checked=True)
    return rec


def vector_claim_refused_for_consumer(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Claiming needs order.fulfil on the order's offering: the consumer's owner cannot "
        "act as an agent for its own order (permission_denied).",
        start=T0,
    )
    _dispatched(rec)
    rec.step("claim_order", actor="$owner", order_id="$order", agent_id="agent-a")
    return rec

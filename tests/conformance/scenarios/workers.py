"""Backends that keep orders waiting, hosts that process orders from workers, and usage
pulled from a backend: what the fixed-speed plugins of the other areas cannot show."""

from __future__ import annotations

from marketplace_core.conformance import Recorder
from tests.conformance.world import T0, order, standard


def vector_executing_order_not_cancelable(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A plugin that cannot cancel orders keeps its executing orders: the owner's "
        "cancellation is refused (order_not_cancelable), and the order ends when the "
        "provider reports the resource created.",
        start=T0,
    )
    standard(rec, plugin="waiting")
    order(rec, "resource", as_="order")
    rec.step("cancel_order", actor="$owner", order_id="$order")
    rec.step(
        "resource_creation_succeeded",
        actor="$provider-owner",
        resource_id="$resource",
        backend_id="vm-1",
    )
    return rec


def vector_limits_not_updatable(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A plugin that cannot change limits refuses a limit change on its resources "
        "(limits_not_updatable).",
        start=T0,
    )
    standard(rec, plugin="waiting")
    order(rec, "resource", as_="order")
    rec.setup(
        "resource_creation_succeeded",
        actor="$provider-owner",
        resource_id="$resource",
        backend_id="vm-1",
    )
    rec.step("order_limit_change", actor="$owner", resource_id="$resource", limits={"cores": 4})
    return rec


def vector_worker_processes_executing_orders(name: str) -> Recorder:
    rec = Recorder(
        name,
        "With a host that processes orders from workers, an approved order waits in "
        "executing, undispatched: a site agent cannot claim it yet (order_not_dispatched); "
        "the worker's process_executing_orders hands it to its processor, which finishes it.",
        start=T0,
        process_immediately=False,
    )
    standard(rec)
    order(rec, "resource", as_="order", checked=True)
    rec.step("claim_order", actor="$provider-owner", order_id="$order", agent_id="site-agent-1")
    rec.step("process_executing_orders")
    rec.step("process_executing_orders")
    return rec


def vector_usage_not_pullable(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Usage can be pulled only from an offering whose plugin reports usage; none of the "
        "vector plugins does, so the pull is refused (usage_not_pullable), and a consumer "
        "may not pull at all.",
        start=T0,
    )
    standard(rec)
    rec.step("pull_usage", actor="$member", offering_id="$offering")
    rec.step("pull_usage", actor="$provider-owner", offering_id="$offering")
    return rec

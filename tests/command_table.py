"""Every facade command, with a way to run it correctly in the standard world.

Tests use this table to check laws that hold for *every* command (the permission is checked
first; a refused command changes nothing). A test fails when a command is added to the facade
but not to this table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs

from marketplace_core import (
    ActionKind,
    BillingType,
    DenyTarget,
    OfferingComponent,
    Order,
    PlanUnit,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
    QuotaKind,
    Resource,
    Role,
    ScopeKind,
    UsageLine,
)
from marketplace_core.testing import Outcome
from tests.support import World

GPU = OfferingComponent("gpu", "GPU", BillingType.USAGE)


@attrs.frozen
class CommandCase:
    """How to run one command: ``prepare`` sets the stage (as staff), ``run`` is the command
    itself, as the actor given, with what ``prepare`` returned."""

    allowed: str
    """The ``World`` attribute naming a user allowed to run the command."""
    run: Callable[[World, str, Any], object]
    prepare: Callable[[World], Any] = lambda world: None


def _draft_offering_with_plan(world: World) -> str:
    market = world.marketplace
    offering = market.create_offering(world.staff.id, world.provider.id, "Draft", "basic")
    market.create_plan(world.staff.id, offering.id, "Plan", PlanUnit.DAY)
    return offering.id


def _vm_and_another_plan(world: World) -> tuple[str, str]:
    vm = world.live_vm()
    other = world.marketplace.create_plan(
        world.provider_owner.id, vm.offering_id, "Large", PlanUnit.DAY
    )
    return vm.id, other.id


def _erred_vm_order(world: World) -> Order:
    offering, plan = world.cloud_offering()
    world.cloud.then(Outcome.RAISE)
    return world.order(offering_id=offering.id, plan_id=plan.id, limits={"ram": 1024})


def _report(command: str, outcome: str) -> Callable[[World, str, Any], object]:
    def run(world: World, actor_id: str, resource: Resource) -> object:
        method = getattr(world.marketplace, command)
        if outcome == "failed":
            return method(actor_id, resource.id, "backend said no")
        return method(actor_id, resource.id)

    return run


def _claimed_order(world: World) -> Order:
    """A waiting create order, claimed by ``agent-1``."""
    order = world.waiting_order()
    return world.marketplace.claim_order(world.provider_owner.id, order.id, "agent-1")


SPEND_WARNING = (PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(80)),)


def _project_policy(world: World) -> str:
    """A monthly spending policy of the world's project, made by the consumer's owner."""
    return world.marketplace.create_policy(
        world.owner.id,
        ScopeKind.PROJECT,
        world.project.id,
        PolicyMetric.ESTIMATED_COST,
        PolicyPeriod.MONTH,
        SPEND_WARNING,
        limit=1000,
    ).id


def _issued_invoice(world: World) -> str:
    """The consumer's January invoice, issued by the February billing run."""
    world.live_basic()
    world.clock.set(datetime(2026, 2, 1, 0, 30, tzinfo=UTC))
    world.marketplace.run_billing()
    invoice = world.marketplace.find_invoice(world.consumer.id, date(2026, 1, 1))
    assert invoice is not None
    return invoice.id


COMMANDS: dict[str, CommandCase] = {
    "create_user": CommandCase("staff", lambda w, a, _: w.marketplace.create_user(a, "someone")),
    "set_user_staff": CommandCase(
        "staff", lambda w, a, _: w.marketplace.set_user_staff(a, w.owner.id, True)
    ),
    "grant_role": CommandCase(
        "owner",
        lambda w, a, _: w.marketplace.grant_role(
            a, w.outsider.id, Role.PROJECT_MEMBER, w.project.id
        ),
    ),
    "revoke_role": CommandCase(
        "owner",
        lambda w, a, grant_id: w.marketplace.revoke_role(a, grant_id),
        prepare=lambda w: w.marketplace.list_role_grants(w.project_member.id)[0].id,
    ),
    "create_organization_group": CommandCase(
        "staff", lambda w, a, _: w.marketplace.create_organization_group(a, "Group")
    ),
    "create_organization": CommandCase(
        "staff", lambda w, a, _: w.marketplace.create_organization(a, "Org")
    ),
    "rename_organization": CommandCase(
        "owner", lambda w, a, _: w.marketplace.rename_organization(a, w.consumer.id, "Uni")
    ),
    "set_organization_group": CommandCase(
        "staff",
        lambda w, a, group_id: w.marketplace.set_organization_group(a, w.consumer.id, group_id),
        prepare=lambda w: w.marketplace.create_organization_group(w.staff.id, "G").id,
    ),
    "block_organization": CommandCase(
        "staff", lambda w, a, _: w.marketplace.block_organization(a, w.consumer.id)
    ),
    "unblock_organization": CommandCase(
        "staff",
        lambda w, a, _: w.marketplace.unblock_organization(a, w.consumer.id),
        prepare=lambda w: w.marketplace.block_organization(w.staff.id, w.consumer.id),
    ),
    "archive_organization": CommandCase(
        "staff", lambda w, a, _: w.marketplace.archive_organization(a, w.consumer.id)
    ),
    "create_project": CommandCase(
        "owner", lambda w, a, _: w.marketplace.create_project(a, w.consumer.id, "P")
    ),
    "update_project": CommandCase(
        "project_manager",
        lambda w, a, _: w.marketplace.update_project(a, w.project.id, name="Renamed"),
    ),
    "register_provider": CommandCase(
        "staff", lambda w, a, _: w.marketplace.register_provider(a, w.consumer.id)
    ),
    "create_category": CommandCase(
        "staff", lambda w, a, _: w.marketplace.create_category(a, "Storage")
    ),
    "create_offering": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.create_offering(a, w.provider.id, "New", "basic"),
    ),
    "update_offering": CommandCase(
        "offering_manager",
        lambda w, a, _: w.marketplace.update_offering(a, w.offering.id, description="Updated"),
    ),
    "activate_offering": CommandCase(
        "staff",
        lambda w, a, offering_id: w.marketplace.activate_offering(a, offering_id),
        prepare=_draft_offering_with_plan,
    ),
    "pause_offering": CommandCase(
        "provider_owner", lambda w, a, _: w.marketplace.pause_offering(a, w.offering.id)
    ),
    "resume_offering": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.resume_offering(a, w.offering.id),
        prepare=lambda w: w.marketplace.pause_offering(w.staff.id, w.offering.id),
    ),
    "archive_offering": CommandCase(
        "provider_owner", lambda w, a, _: w.marketplace.archive_offering(a, w.offering.id)
    ),
    "add_offering_component": CommandCase(
        "offering_manager",
        lambda w, a, _: w.marketplace.add_offering_component(a, w.offering.id, GPU),
    ),
    "update_offering_component": CommandCase(
        "offering_manager",
        lambda w, a, _: w.marketplace.update_offering_component(
            a, w.offering.id, OfferingComponent("cpu", "CPU", BillingType.USAGE)
        ),
    ),
    "remove_offering_component": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.remove_offering_component(a, w.offering.id, "gpu"),
        prepare=lambda w: w.marketplace.add_offering_component(w.staff.id, w.offering.id, GPU),
    ),
    "create_plan": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.create_plan(a, w.offering.id, "Daily", PlanUnit.DAY),
    ),
    "update_plan": CommandCase(
        "provider_owner", lambda w, a, _: w.marketplace.update_plan(a, w.plan.id, name="Renamed")
    ),
    "archive_plan": CommandCase(
        "provider_owner", lambda w, a, _: w.marketplace.archive_plan(a, w.plan.id)
    ),
    "set_plan_prices": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.set_plan_prices(a, w.plan.id, {"cpu": 1}),
    ),
    "schedule_plan_prices": CommandCase(
        "provider_owner",
        lambda w, a, _: w.marketplace.schedule_plan_prices(a, w.plan.id, {"cpu": 1}),
    ),
    "order_resource": CommandCase(
        "owner",
        lambda w, a, _: w.marketplace.order_resource(
            a, w.project.id, w.offering.id, w.plan.id, "R", limits={"storage": 10}
        ),
    ),
    "order_plan_switch": CommandCase(
        "owner",
        lambda w, a, target: w.marketplace.order_plan_switch(a, *target),
        prepare=_vm_and_another_plan,
    ),
    "order_limit_change": CommandCase(
        "owner",
        lambda w, a, vm: w.marketplace.order_limit_change(a, vm.id, {"ram": 2048}),
        prepare=lambda w: w.live_vm(),
    ),
    "order_termination": CommandCase(
        "owner",
        lambda w, a, vm: w.marketplace.order_termination(a, vm.id),
        prepare=lambda w: w.live_vm(),
    ),
    "approve_order_as_consumer": CommandCase(
        "owner",
        lambda w, a, order: w.marketplace.approve_order_as_consumer(a, order.id),
        prepare=lambda w: w.order(w.project_admin),
    ),
    "approve_order_as_provider": CommandCase(
        "provider_owner",
        lambda w, a, order: w.marketplace.approve_order_as_provider(a, order.id),
        prepare=lambda w: w.order(),
    ),
    "reject_order": CommandCase(
        "provider_owner",
        lambda w, a, order: w.marketplace.reject_order(a, order.id, reason="No capacity"),
        prepare=lambda w: w.order(),
    ),
    "cancel_order": CommandCase(
        "project_manager",
        lambda w, a, order: w.marketplace.cancel_order(a, order.id),
        prepare=lambda w: w.order(),
    ),
    "retry_order": CommandCase(
        "owner",
        lambda w, a, order: w.marketplace.retry_order(a, order.id),
        prepare=_erred_vm_order,
    ),
    "set_resource_end_date": CommandCase(
        "project_manager",
        lambda w, a, vm: w.marketplace.set_resource_end_date(a, vm.id, date(2026, 2, 1)),
        prepare=lambda w: w.live_vm(),
    ),
    "schedule_termination": CommandCase(
        "provider_owner",
        lambda w, a, vm: w.marketplace.schedule_termination(a, vm.id, date(2026, 3, 1)),
        prepare=lambda w: w.live_vm(),
    ),
    "resource_erred_on_backend": CommandCase(
        "offering_manager",
        lambda w, a, vm: w.marketplace.resource_erred_on_backend(a, vm.id, "disk lost"),
        prepare=lambda w: w.live_basic(),
    ),
    **{
        f"resource_{step}_{outcome}": CommandCase(
            "provider_owner",
            _report(f"resource_{step}_{outcome}", outcome),
            prepare=lambda w, kind=kind: w.waiting_for_backend(kind),
        )
        for step, kind in (("creation", "create"), ("update", "update"), ("deletion", "terminate"))
        for outcome in ("succeeded", "failed", "canceled")
    },
    "claim_order": CommandCase(
        "offering_manager",
        lambda w, a, order: w.marketplace.claim_order(a, order.id, "agent-1"),
        prepare=lambda w: w.waiting_order(),
    ),
    "release_order_claim": CommandCase(
        "provider_owner",
        lambda w, a, order: w.marketplace.release_order_claim(a, order.id, "agent-1"),
        prepare=_claimed_order,
    ),
    "report_claimed_order_done": CommandCase(
        "provider_owner",
        lambda w, a, order: w.marketplace.report_claimed_order_done(
            a, order.id, "agent-1", backend_id="site-1"
        ),
        prepare=_claimed_order,
    ),
    "report_claimed_order_erred": CommandCase(
        "offering_manager",
        lambda w, a, order: w.marketplace.report_claimed_order_erred(
            a, order.id, "agent-1", "no nodes left"
        ),
        prepare=_claimed_order,
    ),
    "report_usage": CommandCase(
        "offering_manager",
        lambda w, a, r: w.marketplace.report_usage(a, r.id, "cpu", 3, idempotency_key="k"),
        prepare=lambda w: w.live_basic(),
    ),
    "report_usages": CommandCase(
        "provider_owner",
        lambda w, a, r: w.marketplace.report_usages(a, [UsageLine(r.id, "cpu", "2.5", "k")]),
        prepare=lambda w: w.live_basic(),
    ),
    "set_tax_percent": CommandCase(
        "staff", lambda w, a, _: w.marketplace.set_tax_percent(a, w.consumer.id, 20)
    ),
    "set_credit": CommandCase(
        "staff", lambda w, a, _: w.marketplace.set_credit(a, w.consumer.id, "100")
    ),
    "mark_invoice_paid": CommandCase(
        "staff",
        lambda w, a, invoice_id: w.marketplace.mark_invoice_paid(a, invoice_id),
        prepare=_issued_invoice,
    ),
    "cancel_invoice": CommandCase(
        "staff",
        lambda w, a, invoice_id: w.marketplace.cancel_invoice(a, invoice_id),
        prepare=_issued_invoice,
    ),
    "create_policy": CommandCase(
        "owner",
        lambda w, a, _: w.marketplace.create_policy(
            a,
            ScopeKind.PROJECT,
            w.project.id,
            PolicyMetric.ESTIMATED_COST,
            PolicyPeriod.MONTH,
            SPEND_WARNING,
            limit=500,
        ),
    ),
    "change_policy_limits": CommandCase(
        "owner",
        lambda w, a, policy_id: w.marketplace.change_policy_limits(a, policy_id, limit=2000),
        prepare=_project_policy,
    ),
    "delete_policy": CommandCase(
        "owner",
        lambda w, a, policy_id: w.marketplace.delete_policy(a, policy_id),
        prepare=_project_policy,
    ),
    "set_quota": CommandCase(
        "staff",
        lambda w, a, _: w.marketplace.set_quota(
            a, ScopeKind.PROJECT, w.project.id, QuotaKind.LIVE_RESOURCES, 5
        ),
    ),
    "add_deny_rule": CommandCase(
        "staff",
        lambda w, a, _: w.marketplace.add_deny_rule(
            a, ScopeKind.PROJECT, w.project.id, DenyTarget.OFFERING, w.offering.id
        ),
    ),
    "remove_deny_rule": CommandCase(
        "staff",
        lambda w, a, rule_id: w.marketplace.remove_deny_rule(a, rule_id),
        prepare=lambda w: (
            w.marketplace.add_deny_rule(
                w.staff.id, ScopeKind.PROJECT, w.project.id, DenyTarget.OFFERING, w.offering.id
            ).id
        ),
    ),
}
"""Each command that acts for a user, and how to run it in the standard world."""

ORDER_COMMANDS = frozenset(
    name
    for name in COMMANDS
    if name.startswith(("order_", "resource_", "approve_order", "reject_order", "cancel_order"))
    or name
    in {
        "retry_order",
        "set_resource_end_date",
        "schedule_termination",
        "claim_order",
        "release_order_claim",
        "report_claimed_order_done",
        "report_claimed_order_erred",
    }
)
"""The commands on orders and resources (the rest are platform and catalogue commands)."""

BILLING_COMMANDS = frozenset(
    {
        "report_usage",
        "report_usages",
        "set_tax_percent",
        "set_credit",
        "mark_invoice_paid",
        "cancel_invoice",
    }
)
"""The commands on usage, invoices and credits."""

POLICY_COMMANDS = frozenset(
    {
        "create_policy",
        "change_policy_limits",
        "delete_policy",
        "set_quota",
        "add_deny_rule",
        "remove_deny_rule",
    }
)
"""The commands on policies, quotas and deny lists."""

POLICY_QUERIES = frozenset(
    {
        "get_policy",
        "list_policies",
        "policy_share",
        "dry_run_policy",
        "list_quotas",
        "list_deny_rules",
    }
)

BILLING_QUERIES = frozenset(
    {
        "list_usage_reports",
        "current_usage",
        "get_invoice",
        "find_invoice",
        "list_invoices",
        "list_invoice_items",
        "list_resource_items",
        "get_invoice_totals",
        "list_credits",
    }
)

ORDER_QUERIES = frozenset(
    {
        "get_order",
        "list_orders",
        "list_project_orders",
        "get_resource",
        "list_resources",
        "list_claimable_orders",
        "list_executing_orders",
        "list_offering_resources",
    }
)

QUERIES = (
    ORDER_QUERIES
    | BILLING_QUERIES
    | POLICY_QUERIES
    | frozenset(
        {
            "get_user",
            "list_role_grants",
            "get_organization_group",
            "get_organization",
            "list_organizations",
            "get_project",
            "list_projects",
            "get_category",
            "list_categories",
            "get_offering",
            "list_offerings",
            "get_plan",
            "list_plans",
            "list_orderable_offerings",
        }
    )
)
"""Read-only facade methods: no actor, no writes."""

WITHOUT_ACTOR = frozenset({"bootstrap_staff_user", "process_order", "claim_order_for_processing"})
"""Commands that run without an acting user (the system runs them)."""

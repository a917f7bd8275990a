"""Policies: every action kind, threshold and immediate actions, every period with its
rollover, both metrics, the three scopes, and editing or deleting a policy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import PlanUnit
from marketplace_core.policies import (
    ActionKind,
    ActionType,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
)
from marketplace_core.roles import ScopeKind
from tests.conformance.world import BASE, CORES, STORAGE, T0, offering, order, people

PRICES = {"base": "100", "storage": "1", "cores": "0"}
"""A VM activated on 15 January costs 55.00 that month (17/31 → 0.55 of 100), a full month
100.00; each reported GB of storage adds 1.00."""

FEBRUARY_1 = datetime(2026, 2, 1, 0, 5, tzinfo=UTC)
LATER = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)


def _world(rec: Recorder, **offering_options: Any) -> None:
    people(rec)
    offering(
        rec,
        components=(CORES, STORAGE, BASE),
        plans={"plan": (PlanUnit.MONTH, PRICES)},
        **offering_options,
    )


def _policy(
    rec: Recorder,
    actions: Sequence[PolicyAction],
    *,
    checked: bool = False,
    actor: str = "$owner",
    scope_kind: ScopeKind = ScopeKind.PROJECT,
    scope_id: str = "$project",
    metric: PolicyMetric = PolicyMetric.ESTIMATED_COST,
    period: PolicyPeriod = PolicyPeriod.MONTH,
    limit: str | None = "100",
    **options: Any,
) -> object:
    """Create the policy ``$policy`` (a monthly cost policy of ``$project`` by default)."""
    record = rec.step if checked else rec.setup
    if metric is PolicyMetric.USAGE:
        limit = None
    return record(
        "create_policy",
        actor=actor,
        as_="policy",
        scope_kind=scope_kind,
        scope_id=scope_id,
        metric=metric,
        period=period,
        actions=list(actions),
        limit=limit,
        **options,
    )


def _report(rec: Recorder, amount: str, key: str, *, at: datetime | None = None) -> None:
    rec.step(
        "report_usage",
        actor="$provider-owner",
        at=at,
        resource_id="$resource",
        component_type="storage",
        amount=amount,
        idempotency_key=key,
    )


def _backed_resource(rec: Recorder) -> None:
    """``$resource`` on a ``manual`` offering, approved and created with the backend id
    ``vm-1`` (a checked ``get_resource`` of a resource without a backend id cannot be
    recorded: the recorder would bind its empty ``backend_id`` as a name)."""
    order(rec, "resource", limits={"cores": 1})
    rec.setup("approve_order_as_provider", actor="$provider-owner", order_id="$resource-order")
    rec.setup(
        "resource_creation_succeeded",
        actor="$provider-owner",
        resource_id="$resource",
        backend_id="vm-1",
    )


def _action(kind: ActionKind, percent: int = 100, **options: Any) -> PolicyAction:
    return PolicyAction(kind, percent=Decimal(percent), **options)


def vector_threshold_runs_once_when_share_is_over(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A threshold action runs the first time the share goes over its percent: at exactly "
        "80.00 % of the limit nothing happens, at 81 % the owners are notified, and going "
        "further over in the same month does not notify them again.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    _policy(rec, [_action(ActionKind.NOTIFY_ORGANIZATION_OWNERS, 80)])
    _report(rec, "25", "vm-storage-a")
    rec.step("policy_share", policy_id="$policy")
    _report(rec, "26", "vm-storage-b", at=LATER)
    _report(rec, "40", "vm-storage-c")
    rec.step("policy_share", policy_id="$policy")
    return rec


def vector_notify_project_members_at_creation(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A policy whose scope is already over a threshold fires when it is created: a project "
        "policy at 50 % of 100 with the project at 55.00 notifies the project's members at once.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    _policy(rec, [_action(ActionKind.NOTIFY_PROJECT_MEMBERS, 50)], checked=True)
    rec.step("get_policy", policy_id="$policy")
    return rec


def vector_block_creation_until_month_ends(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A monthly block_creation refuses new orders in the project with "
        "policy_blocks_creation once the cost is over the limit; the due jobs of the next "
        "month reset it (period ended) and orders are placed again.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    _policy(rec, [_action(ActionKind.BLOCK_CREATION)])
    _report(rec, "50", "vm-storage-a")
    order(rec, "second", limits={"cores": 1}, checked=True)
    rec.step("run_due_jobs", at=FEBRUARY_1)
    order(rec, "second", limits={"cores": 1}, checked=True)
    return rec


def vector_block_modification_spares_termination(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A block_modification in force refuses limit changes and plan switches with "
        "policy_blocks_modification, but never a termination.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    rec.setup(
        "create_plan",
        actor="$staff",
        as_="other",
        offering_id="$offering",
        name="Other",
        unit=PlanUnit.MONTH,
        prices=PRICES,
    )
    _policy(rec, [_action(ActionKind.BLOCK_MODIFICATION, 50)], checked=True)
    rec.step("order_limit_change", actor="$owner", resource_id="$resource", limits={"cores": 4})
    rec.step("order_plan_switch", actor="$owner", resource_id="$resource", plan_id="$other")
    rec.step("order_termination", actor="$owner", resource_id="$resource")
    return rec


def vector_terminate_resources_of_organization(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An organization policy (created by staff) with terminate_resources: when the "
        "organization's cost goes over the limit the system orders the termination of each "
        "live resource of the organization: a at 55.00 is under 80, ordering b takes it to "
        "94.00 and both are terminated.",
        start=T0,
    )
    _world(rec)
    order(rec, "a")
    _policy(
        rec,
        [_action(ActionKind.TERMINATE_RESOURCES)],
        actor="$staff",
        scope_kind=ScopeKind.ORGANIZATION,
        scope_id="$consumer",
        limit="80",
        checked=True,
    )
    order(rec, "b", limits={"cores": 1}, checked=True, at=LATER)
    return rec


def vector_flag_actions_set_and_removed(name: str) -> Recorder:
    rec = Recorder(
        name,
        "block_hpc_jobs, request_downscaling and request_pausing set their flags on each live "
        "resource of the project when they run; the next month's due jobs reset them and the "
        "flags are removed.",
        start=T0,
    )
    _world(rec, plugin="manual")
    _backed_resource(rec)
    _policy(
        rec,
        [
            _action(ActionKind.BLOCK_HPC_JOBS),
            _action(ActionKind.REQUEST_DOWNSCALING),
            _action(ActionKind.REQUEST_PAUSING),
        ],
    )
    _report(rec, "50", "vm-storage-a")
    rec.step("get_resource", resource_id="$resource")
    rec.step("run_due_jobs", at=FEBRUARY_1)
    rec.step("get_resource", resource_id="$resource")
    return rec


def vector_custom_immediate_runs_and_resets(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An immediate custom action (the registered 'flag') runs each time the share goes "
        "over 100 % and is reset as soon as it drops back: over with a second VM, back "
        "under when it is terminated the same day, over again with a third.",
        start=T0,
    )
    _world(rec)
    order(rec, "a")
    _policy(
        rec,
        [PolicyAction(ActionKind.CUSTOM, ActionType.IMMEDIATE, name="flag")],
    )
    order(rec, "b", limits={"cores": 1}, checked=True)
    rec.step("order_termination", actor="$owner", resource_id="$b")
    order(rec, "c", limits={"cores": 1}, checked=True)
    return rec


def vector_quarter_rolls_over_in_april(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A quarterly cost policy counts January and February together: February's billing "
        "run takes it over the limit and blocks creation; the March due jobs leave it in "
        "force, the April due jobs reset it.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    _policy(rec, [_action(ActionKind.BLOCK_CREATION)], period=PolicyPeriod.QUARTER, limit="150")
    rec.step("run_billing", at=FEBRUARY_1)
    rec.step("run_due_jobs", at=datetime(2026, 3, 1, 0, 5, tzinfo=UTC))
    rec.step("run_due_jobs", at=datetime(2026, 4, 1, 0, 5, tzinfo=UTC))
    return rec


def vector_year_rolls_over_in_january(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A yearly policy that fired in January 2026 stays in force through December and is "
        "reset by the first due jobs of 2027.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    _policy(
        rec,
        [_action(ActionKind.NOTIFY_ORGANIZATION_OWNERS, 50)],
        period=PolicyPeriod.YEAR,
        checked=True,
    )
    rec.step("run_due_jobs", at=datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    rec.step("run_due_jobs", at=datetime(2027, 1, 1, 0, 5, tzinfo=UTC))
    return rec


def vector_total_period_never_resets(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A policy over the total period has no end: a block_creation that fired in January "
        "is still in force after February's due jobs, and orders stay refused.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    _policy(rec, [_action(ActionKind.BLOCK_CREATION)], period=PolicyPeriod.TOTAL, limit="50")
    rec.step("run_due_jobs", at=FEBRUARY_1)
    order(rec, "second", limits={"cores": 1}, checked=True)
    return rec


def vector_usage_metric_on_offering(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An offering policy on usage, created by the provider's owner: reported storage over "
        "90 % of its component limit notifies the provider's owners, over 100 % blocks new "
        "orders of the offering from any project.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    _policy(
        rec,
        [
            _action(ActionKind.NOTIFY_ORGANIZATION_OWNERS, 90),
            _action(ActionKind.BLOCK_CREATION),
        ],
        actor="$provider-owner",
        scope_kind=ScopeKind.OFFERING,
        scope_id="$offering",
        metric=PolicyMetric.USAGE,
        component_limits={"storage": "100"},
        checked=True,
    )
    _report(rec, "95", "vm-storage-a")
    _report(rec, "101", "vm-storage-b", at=LATER)
    rec.step("policy_share", policy_id="$policy")
    order(rec, "second", limits={"cores": 1}, checked=True)
    return rec


def vector_organization_policy_is_staff_only(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Organization policies need billing.manage: the organization's owner is refused, "
        "staff create it; its block_creation applies to every project of the organization.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    for actor in ("$owner", "$staff"):
        _policy(
            rec,
            [_action(ActionKind.BLOCK_CREATION)],
            actor=actor,
            scope_kind=ScopeKind.ORGANIZATION,
            scope_id="$consumer",
            limit="50",
            checked=True,
        )
    order(rec, "second", limits={"cores": 1}, checked=True)
    return rec


def vector_action_not_available_for_scope(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An action a scope may not use is refused with policy_action_not_available: "
        "terminate_resources on an offering, notify_project_members on an organization, "
        "and a custom action no handler is registered for.",
        start=T0,
    )
    _world(rec)
    _policy(
        rec,
        [_action(ActionKind.TERMINATE_RESOURCES)],
        actor="$provider-owner",
        scope_kind=ScopeKind.OFFERING,
        scope_id="$offering",
        checked=True,
    )
    _policy(
        rec,
        [_action(ActionKind.NOTIFY_PROJECT_MEMBERS)],
        actor="$staff",
        scope_kind=ScopeKind.ORGANIZATION,
        scope_id="$consumer",
        checked=True,
    )
    _policy(rec, [_action(ActionKind.CUSTOM, name="ticket")], checked=True)
    return rec


def vector_raised_limit_lifts_immediate_at_next_evaluation(name: str) -> Recorder:
    rec = Recorder(
        name,
        "change_policy_limits runs and resets nothing by itself: an immediate block_creation "
        "stays in force until the next evaluation (here the due jobs), which finds the share "
        "back under the new limit and resets it; then orders are placed.",
        start=T0,
    )
    _world(rec)
    order(rec, "a")
    order(rec, "b")
    _policy(rec, [PolicyAction(ActionKind.BLOCK_CREATION, ActionType.IMMEDIATE)], checked=True)
    rec.step("change_policy_limits", actor="$owner", policy_id="$policy", limit="200")
    order(rec, "c", limits={"cores": 1}, checked=True)
    rec.step("run_due_jobs", at=LATER)
    order(rec, "c", limits={"cores": 1}, checked=True)
    return rec


def vector_raised_limit_keeps_fired_threshold(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A threshold action that fired stays in force until its period ends, even when the "
        "limit is raised so the share is below it: orders stay refused after the change and "
        "after the due jobs of the same month.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    _policy(rec, [_action(ActionKind.BLOCK_CREATION)], limit="50")
    rec.step("change_policy_limits", actor="$owner", policy_id="$policy", limit="500")
    rec.step("policy_share", policy_id="$policy")
    rec.step("run_due_jobs", at=LATER)
    order(rec, "second", limits={"cores": 1}, checked=True)
    return rec


def vector_delete_policy_lifts_block(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Deleting a policy resets its actions in force first (reason policy deleted): the "
        "block it held is lifted and orders are placed again.",
        start=T0,
    )
    _world(rec)
    order(rec, "resource")
    _policy(rec, [_action(ActionKind.BLOCK_CREATION)], limit="50")
    order(rec, "second", limits={"cores": 1}, checked=True)
    rec.step("delete_policy", actor="$owner", policy_id="$policy")
    order(rec, "second", limits={"cores": 1}, checked=True)
    return rec

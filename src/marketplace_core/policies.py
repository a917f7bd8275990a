"""Policies: watch a scope's cost or usage over a calendar period and act on thresholds.

A :class:`Policy` is attached to a project, an organization or an offering. It watches a
metric (the estimated cost of the scope's invoice items, or the reported usage of named
components) over a period (``month``, ``quarter``, ``year`` or ``total``; calendar periods in
UTC, half-open), compares it with its limit, and runs actions:

* a **threshold** action runs once per period, the first time the metric goes over its
  percentage of the limit (a warning at 80 %, a block at 100 %), and stays in force until the
  period ends;
* an **immediate** action runs the moment the metric goes over the limit and is reset the
  moment it drops back under it (or the period ends).

The comparison is strict: a metric *over* ``limit × percent ÷ 100`` crosses it; reaching it
exactly does not (Waldur's rule). Usage policies hold one limit per component and cross when
any component does. :func:`evaluate` is the whole decision, as a pure function of the policy,
the metric and the instant; the service layer applies what it returns.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal

import attrs
from dateutil.relativedelta import relativedelta

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.frozen import frozen_mapping
from marketplace_core.roles import ScopeKind

POLICY_SCOPES = frozenset({ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING})


class PolicyPeriod(enum.StrEnum):
    """The calendar window a policy sums its metric over."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    TOTAL = "total"


_PERIOD_MONTHS = {PolicyPeriod.MONTH: 1, PolicyPeriod.QUARTER: 3, PolicyPeriod.YEAR: 12}


def period_window(period: PolicyPeriod, moment: datetime) -> tuple[date | None, date | None]:
    """The months ``[first, end)`` of the period containing ``moment`` (UTC), by their first
    days; ``(None, None)`` for ``total``, which has no bounds."""
    if period is PolicyPeriod.TOTAL:
        return None, None
    months = _PERIOD_MONTHS[period]
    day = moment.astimezone(UTC).date()
    first = date(day.year, (day.month - 1) // months * months + 1, 1)
    return first, first + relativedelta(months=months)


def window_start(period: PolicyPeriod, moment: datetime) -> datetime | None:
    """The first instant of the period containing ``moment`` (``None`` for ``total``)."""
    first, _ = period_window(period, moment)
    return None if first is None else datetime.combine(first, time(), UTC)


class PolicyMetric(enum.StrEnum):
    """What a policy watches."""

    ESTIMATED_COST = "estimated_cost"
    """The sum of the prices of the scope's invoice items of the period's months (before
    tax; credit lines count once an invoice is issued)."""
    USAGE = "usage"
    """The reported usage of each named component in the period's months."""


class ActionType(enum.StrEnum):
    """When an action runs (see the module docstring)."""

    THRESHOLD = "threshold"
    IMMEDIATE = "immediate"


class ActionKind(enum.StrEnum):
    """What an action does. ``custom`` actions are registered by plugins under a name."""

    NOTIFY_PROJECT_MEMBERS = "notify_project_members"
    NOTIFY_ORGANIZATION_OWNERS = "notify_organization_owners"
    BLOCK_CREATION = "block_creation"
    BLOCK_MODIFICATION = "block_modification"
    TERMINATE_RESOURCES = "terminate_resources"
    BLOCK_HPC_JOBS = "block_hpc_jobs"
    REQUEST_DOWNSCALING = "request_downscaling"
    REQUEST_PAUSING = "request_pausing"
    CUSTOM = "custom"


RESOURCE_FLAGS: Mapping[ActionKind, str] = {
    ActionKind.BLOCK_HPC_JOBS: "jobs_blocked",
    ActionKind.REQUEST_DOWNSCALING: "downscaling_requested",
    ActionKind.REQUEST_PAUSING: "pausing_requested",
}
"""The actions that set a flag on each live resource of the scope, and the flag's name."""

ACTIONS_OF_SCOPE: Mapping[ScopeKind, frozenset[ActionKind]] = {
    ScopeKind.PROJECT: frozenset(ActionKind),
    ScopeKind.ORGANIZATION: frozenset(ActionKind) - {ActionKind.NOTIFY_PROJECT_MEMBERS},
    ScopeKind.OFFERING: frozenset(
        {
            ActionKind.NOTIFY_ORGANIZATION_OWNERS,
            ActionKind.BLOCK_CREATION,
            ActionKind.BLOCK_MODIFICATION,
            ActionKind.CUSTOM,
        }
    ),
}
"""Which actions each scope may use. An offering policy acts on the provider's side
(notifying its owners) and on new orders of the offering; it does not terminate or flag the
consumers' resources."""


def _percent(value: object) -> Decimal:
    """Whole-number percentages may be given as ``int``; anything else is kept as given and
    refused by :func:`check_policy_actions` unless it is a finite ``Decimal``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value  # type: ignore[return-value]  # checked by check_policy_actions


@attrs.frozen
class PolicyAction:
    """One action of a policy: ``kind``, when it runs (``type``), and for a threshold action
    the percentage of the limit that triggers it. ``name`` names a custom action."""

    kind: ActionKind
    type: ActionType = ActionType.THRESHOLD
    percent: Decimal = attrs.field(default=Decimal(100), converter=_percent)
    name: str = ""

    @property
    def label(self) -> str:
        """How events and messages name the action."""
        kind = self.name if self.kind is ActionKind.CUSTOM else self.kind.value
        if self.type is ActionType.THRESHOLD:
            return f"{kind}@{self.percent.normalize():f}%"
        return kind


@attrs.frozen
class Policy:
    """A policy on ``(scope_kind, scope_id)``.

    ``limit`` is the cost limit of an estimated-cost policy; ``component_limits`` maps
    components to their usage limits for a usage policy. The firing state belongs to the
    period that starts at ``period_start``: ``fired`` holds the indexes of the threshold
    actions that ran in it, ``over`` whether the immediate actions are in force.
    """

    id: str
    scope_kind: ScopeKind
    scope_id: str
    metric: PolicyMetric
    period: PolicyPeriod
    actions: tuple[PolicyAction, ...]
    created_at: datetime
    limit: Decimal = Decimal(0)
    component_limits: Mapping[str, Decimal] = attrs.field(factory=dict, converter=frozen_mapping)
    created_by: str | None = None
    period_start: datetime | None = None
    fired: frozenset[int] = frozenset()
    over: bool = False
    version: int = 0

    def in_force(self, kind: ActionKind, now: datetime) -> bool:
        """Whether an action of ``kind`` is in force at ``now``: a threshold action fired in
        the current period, or an immediate one while over the limit. Nothing from an earlier
        period is in force, even before an evaluation has reset it."""
        if window_start(self.period, now) != self.period_start:
            return False
        for index, action in enumerate(self.actions):
            if action.kind is not kind:
                continue
            if action.type is ActionType.THRESHOLD and index in self.fired:
                return True
            if action.type is ActionType.IMMEDIATE and self.over:
                return True
        return False


def check_policy_actions(scope_kind: ScopeKind, actions: tuple[PolicyAction, ...]) -> None:
    """Refuse an empty action list, an action the scope cannot use, or a malformed one."""
    if not actions:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            "actions must list at least one action",
            field="actions",
            value="()",
        )
    for index, action in enumerate(actions):
        field = f"actions[{index}]"
        if not isinstance(action, PolicyAction):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"{field} must be a PolicyAction, got {action!r}",
                field=field,
                value=repr(action),
            )
        if action.kind not in ACTIONS_OF_SCOPE[scope_kind]:
            raise ValidationError(
                ErrorCode.POLICY_ACTION_NOT_AVAILABLE,
                f"{field}: {action.kind.value} is not available on a {scope_kind.value} policy",
                action=action.kind.value,
                scope_kind=scope_kind.value,
            )
        if not isinstance(action.percent, Decimal) or not action.percent.is_finite():
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"{field}.percent must be a finite Decimal, got {action.percent!r}",
                field=f"{field}.percent",
                value=repr(action.percent),
            )
        if not Decimal(0) < action.percent <= Decimal(1000):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"{field}.percent must be above 0 and at most 1000, got {action.percent}",
                field=f"{field}.percent",
                value=str(action.percent),
            )
        if action.type is ActionType.IMMEDIATE and action.percent != 100:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"{field}: an immediate action acts at the limit (100%), got {action.percent}%",
                field=f"{field}.percent",
                value=str(action.percent),
            )
        if (action.kind is ActionKind.CUSTOM) != bool(action.name):
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"{field}: a custom action needs a name, and only a custom action has one",
                field=f"{field}.name",
                value=repr(action.name),
            )


def share_of_limit(policy: Policy, cost: Decimal, usage: Mapping[str, Decimal]) -> Decimal:
    """How far the metric is through the limit, in percent: the cost over the limit, or the
    highest of the components' usage over their limits. A zero limit is infinitely far
    through once anything is spent (and 0 % before)."""
    if policy.metric is PolicyMetric.ESTIMATED_COST:
        pairs = [(cost, policy.limit)]
    else:
        pairs = [(usage.get(c, Decimal(0)), limit) for c, limit in policy.component_limits.items()]
    highest = Decimal(0)
    for value, limit in pairs:
        if limit > 0:
            highest = max(highest, value * 100 / limit)
        elif value > 0:
            return Decimal("Infinity")
    return highest


@attrs.frozen
class Evaluation:
    """What evaluating a policy decided: the policy's next state, the actions to run and to
    reset (by index), and whether a period ended first."""

    policy: Policy
    run: tuple[int, ...] = ()
    reset: tuple[int, ...] = ()
    new_period: bool = False


def evaluate(policy: Policy, share: Decimal, now: datetime) -> Evaluation:
    """Decide what ``policy`` does at ``now`` with its metric ``share`` percent of the limit.

    A new period first resets everything in force (threshold actions fired, immediate
    actions on). Then each threshold action not yet fired in the period runs if ``share`` is
    over its percentage, and the immediate actions run when the share goes over 100 % and
    are reset when it is no longer over.
    """
    start = window_start(policy.period, now)
    immediate = [i for i, a in enumerate(policy.actions) if a.type is ActionType.IMMEDIATE]
    fired, over = policy.fired, policy.over
    reset: list[int] = []
    new_period = start != policy.period_start
    if new_period:
        reset += sorted(fired) + (immediate if over else [])
        fired, over = frozenset(), False
    crossed = [
        index
        for index, action in enumerate(policy.actions)
        if action.type is ActionType.THRESHOLD and index not in fired and share > action.percent
    ]
    now_over = share > 100
    run = crossed + (immediate if now_over and not over else [])
    if over and not now_over:
        reset += immediate
    state = attrs.evolve(
        policy, period_start=start, fired=fired | frozenset(crossed), over=now_over
    )
    return Evaluation(state, tuple(run), tuple(reset), new_period)


@attrs.frozen
class MonthlyTotal:
    """The running aggregate of one scope in one billing month: the prices of its invoice
    items (``cost``) and its reported usage per component. Kept up to date in the unit of
    work that writes an item or accepts a report, so evaluating a policy reads at most
    twelve of these, however many items the period holds."""

    id: str
    scope_kind: ScopeKind
    scope_id: str
    month: date
    cost: Decimal = Decimal(0)
    usage: Mapping[str, Decimal] = attrs.field(factory=dict, converter=frozen_mapping)
    version: int = 0


def monthly_total_id(scope_kind: ScopeKind, scope_id: str, month: date) -> str:
    """The id of a scope's total for ``month`` (derived, so concurrent writers conflict)."""
    return f"total:{scope_kind.value}:{scope_id}:{month.year:04d}-{month.month:02d}"


def in_window(month: date, window: tuple[date | None, date | None]) -> bool:
    """Whether ``month`` falls in ``window`` (as :func:`period_window` gives it)."""
    first, end = window
    return (first is None or month >= first) and (end is None or month < end)

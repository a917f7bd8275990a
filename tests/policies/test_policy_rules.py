"""The pure rules of policies: calendar windows, how far through its limit a metric is, what
an evaluation decides, and which action lists a scope accepts.

Every expected window and share below is worked out by hand in the comments; nothing is read
back from the library.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core import (
    ActionKind,
    ActionType,
    ErrorCode,
    Policy,
    PolicyAction,
    PolicyMetric,
    PolicyPeriod,
    ValidationError,
)
from marketplace_core.policies import (
    check_policy_actions,
    evaluate,
    period_window,
    share_of_limit,
    window_start,
)
from marketplace_core.roles import ScopeKind

JAN_15 = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)

WARN_80 = PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=Decimal(80))
BLOCK_100 = PolicyAction(ActionKind.BLOCK_CREATION)
PAUSE_NOW = PolicyAction(ActionKind.REQUEST_PAUSING, ActionType.IMMEDIATE)


def cost_policy(
    *actions: PolicyAction, limit: str = "100", period: PolicyPeriod = PolicyPeriod.MONTH
) -> Policy:
    return Policy(
        id="policy-x",
        scope_kind=ScopeKind.PROJECT,
        scope_id="project-x",
        metric=PolicyMetric.ESTIMATED_COST,
        period=period,
        actions=actions or (WARN_80,),
        created_at=JAN_1,
        limit=Decimal(limit),
    )


def usage_policy(**limits: str) -> Policy:
    return Policy(
        id="policy-u",
        scope_kind=ScopeKind.PROJECT,
        scope_id="project-x",
        metric=PolicyMetric.USAGE,
        period=PolicyPeriod.MONTH,
        actions=(BLOCK_100,),
        created_at=JAN_1,
        component_limits={name: Decimal(value) for name, value in limits.items()},
    )


def d(value: str) -> Decimal:
    return Decimal(value)


# --------------------------------------------------------------------------- period_window


@pytest.mark.parametrize(
    ("period", "moment", "window"),
    [
        # Months: the month of the instant, half-open.
        (PolicyPeriod.MONTH, JAN_15, (date(2026, 1, 1), date(2026, 2, 1))),
        (PolicyPeriod.MONTH, FEB_1 - ONE_MICROSECOND, (date(2026, 1, 1), date(2026, 2, 1))),
        (PolicyPeriod.MONTH, FEB_1, (date(2026, 2, 1), date(2026, 3, 1))),
        (
            PolicyPeriod.MONTH,
            datetime(2028, 2, 29, 12, tzinfo=UTC),
            (date(2028, 2, 1), date(2028, 3, 1)),
        ),
        # December's window ends in the next year.
        (
            PolicyPeriod.MONTH,
            datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
            (date(2026, 12, 1), date(2027, 1, 1)),
        ),
        # Quarters start in January, April, July and October.
        (PolicyPeriod.QUARTER, JAN_15, (date(2026, 1, 1), date(2026, 4, 1))),
        (
            PolicyPeriod.QUARTER,
            datetime(2026, 2, 28, tzinfo=UTC),
            (date(2026, 1, 1), date(2026, 4, 1)),
        ),
        (
            PolicyPeriod.QUARTER,
            datetime(2026, 4, 1, tzinfo=UTC) - ONE_MICROSECOND,
            (date(2026, 1, 1), date(2026, 4, 1)),
        ),
        (
            PolicyPeriod.QUARTER,
            datetime(2026, 4, 1, tzinfo=UTC),
            (date(2026, 4, 1), date(2026, 7, 1)),
        ),
        (
            PolicyPeriod.QUARTER,
            datetime(2026, 6, 30, 23, tzinfo=UTC),
            (date(2026, 4, 1), date(2026, 7, 1)),
        ),
        (
            PolicyPeriod.QUARTER,
            datetime(2026, 7, 1, tzinfo=UTC),
            (date(2026, 7, 1), date(2026, 10, 1)),
        ),
        (
            PolicyPeriod.QUARTER,
            datetime(2026, 9, 30, tzinfo=UTC),
            (date(2026, 7, 1), date(2026, 10, 1)),
        ),
        (
            PolicyPeriod.QUARTER,
            datetime(2026, 10, 1, tzinfo=UTC),
            (date(2026, 10, 1), date(2027, 1, 1)),
        ),
        # The last quarter ends on 1 January of the next year.
        (
            PolicyPeriod.QUARTER,
            datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            (date(2026, 10, 1), date(2027, 1, 1)),
        ),
        (
            PolicyPeriod.QUARTER,
            datetime(2027, 1, 1, tzinfo=UTC),
            (date(2027, 1, 1), date(2027, 4, 1)),
        ),
        # Years are calendar years.
        (PolicyPeriod.YEAR, JAN_15, (date(2026, 1, 1), date(2027, 1, 1))),
        (
            PolicyPeriod.YEAR,
            datetime(2027, 1, 1, tzinfo=UTC) - ONE_MICROSECOND,
            (date(2026, 1, 1), date(2027, 1, 1)),
        ),
        (PolicyPeriod.YEAR, datetime(2027, 1, 1, tzinfo=UTC), (date(2027, 1, 1), date(2028, 1, 1))),
        # Total has no bounds.
        (PolicyPeriod.TOTAL, JAN_15, (None, None)),
        (PolicyPeriod.TOTAL, datetime(1999, 12, 31, tzinfo=UTC), (None, None)),
    ],
)
def test_period_window(period: PolicyPeriod, moment: datetime, window: tuple):
    assert period_window(period, moment) == window


def test_period_window_reads_the_instant_in_utc():
    # 1 April 01:00 at UTC+2 is 31 March 23:00 UTC: still March and still Q1.
    east = datetime(2026, 4, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert period_window(PolicyPeriod.MONTH, east) == (date(2026, 3, 1), date(2026, 4, 1))
    assert period_window(PolicyPeriod.QUARTER, east) == (date(2026, 1, 1), date(2026, 4, 1))
    # 31 December 20:00 at UTC-5 is 1 January 01:00 UTC: the next year.
    west = datetime(2026, 12, 31, 20, tzinfo=timezone(timedelta(hours=-5)))
    assert period_window(PolicyPeriod.YEAR, west) == (date(2027, 1, 1), date(2028, 1, 1))


def test_window_start_is_the_first_instant_of_the_window():
    assert window_start(PolicyPeriod.MONTH, JAN_15) == JAN_1
    assert window_start(PolicyPeriod.QUARTER, datetime(2026, 8, 20, tzinfo=UTC)) == datetime(
        2026, 7, 1, tzinfo=UTC
    )
    assert window_start(PolicyPeriod.YEAR, datetime(2026, 8, 20, tzinfo=UTC)) == JAN_1
    assert window_start(PolicyPeriod.TOTAL, JAN_15) is None


MONTHS_OF = {PolicyPeriod.MONTH: 1, PolicyPeriod.QUARTER: 3, PolicyPeriod.YEAR: 12}


@given(
    period=st.sampled_from([PolicyPeriod.MONTH, PolicyPeriod.QUARTER, PolicyPeriod.YEAR]),
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ),
)
def test_every_instant_lies_in_one_aligned_window(period: PolicyPeriod, moment: datetime):
    first, end = period_window(period, moment)
    assert first is not None
    assert end is not None
    months = MONTHS_OF[period]
    # The window starts on the 1st of a month that is a multiple of its length from January,
    # and spans exactly that many months.
    assert first.day == 1
    assert (first.month - 1) % months == 0
    assert (end.year - first.year) * 12 + end.month - first.month == months
    assert end.day == 1
    assert first <= moment.date() < end
    # The instant the window ends starts the next one.
    boundary = datetime(end.year, end.month, 1, tzinfo=UTC)
    assert period_window(period, boundary)[0] == end
    assert period_window(period, boundary - ONE_MICROSECOND) == (first, end)


# --------------------------------------------------------------------------- share_of_limit


@pytest.mark.parametrize(
    ("limit", "cost", "share"),
    [
        ("200", "50", "25"),  # 50 × 100 / 200
        ("100", "105.55", "105.55"),
        ("3", "1", d("100") / 3),  # 33.33…, unrounded
        ("100", "0", "0"),
        ("100", "-5", "0"),  # refunds can take a month below zero: the share stops at 0
        # A zero limit: nothing spent is 0 %, anything spent is infinitely far through.
        ("0", "0", "0"),
        ("0", "-1", "0"),
        ("0", "0.01", "Infinity"),
    ],
)
def test_share_of_a_cost_limit(limit: str, cost: str, share: str | Decimal):
    assert share_of_limit(cost_policy(limit=limit), Decimal(cost), {}) == Decimal(share)


def test_a_cost_policy_ignores_usage():
    assert share_of_limit(cost_policy(limit="100"), d("10"), {"cpu": d("1e9")}) == d("10")


@pytest.mark.parametrize(
    ("limits", "usage", "share"),
    [
        # The highest component decides: cpu 30/100 = 30 %, gpu 9/10 = 90 %.
        ({"cpu": "100", "gpu": "10"}, {"cpu": "30", "gpu": "9"}, "90"),
        ({"cpu": "100", "gpu": "10"}, {"cpu": "150", "gpu": "1"}, "150"),
        # A component with no usage reported counts as 0.
        ({"cpu": "100", "gpu": "10"}, {"gpu": "5"}, "50"),
        ({"cpu": "100", "gpu": "10"}, {}, "0"),
        # Components without a limit are not watched.
        ({"cpu": "100"}, {"cpu": "20", "ram": "1000000"}, "20"),
        # A zero limit on one component: infinite once it is used, whatever the others.
        ({"cpu": "100", "gpu": "0"}, {"cpu": "50"}, "50"),
        ({"cpu": "100", "gpu": "0"}, {"cpu": "50", "gpu": "0.001"}, "Infinity"),
        ({"gpu": "0"}, {"gpu": "0"}, "0"),
    ],
)
def test_share_of_component_limits(limits: dict, usage: dict, share: str):
    policy = usage_policy(**limits)
    reported = {name: Decimal(value) for name, value in usage.items()}
    assert share_of_limit(policy, d("999999"), reported) == Decimal(share)


# --------------------------------------------------------------------------- evaluate


def test_the_first_evaluation_starts_the_period_and_resets_nothing():
    decision = evaluate(cost_policy(WARN_80), d("0"), JAN_15)
    assert decision.new_period  # no period before
    assert (decision.run, decision.reset) == ((), ())
    assert decision.policy.period_start == JAN_1
    assert (decision.policy.fired, decision.policy.over) == (frozenset(), False)


def test_a_threshold_action_runs_once_per_period():
    policy = evaluate(cost_policy(WARN_80, BLOCK_100), d("10"), JAN_15).policy
    # 81 > 80: the warning runs, the block (100) does not.
    first = evaluate(policy, d("81"), JAN_15)
    assert (first.run, first.reset, first.new_period) == ((0,), (), False)
    # Higher again: only the block is new.
    second = evaluate(first.policy, d("150"), JAN_15 + timedelta(days=1))
    assert (second.run, second.reset) == ((1,), ())
    # Higher still, later in January: nothing runs twice.
    third = evaluate(second.policy, d("500"), JAN_15 + timedelta(days=10))
    assert (third.run, third.reset) == ((), ())
    # Dropping back under does not lift a threshold action.
    fourth = evaluate(third.policy, d("0"), JAN_15 + timedelta(days=11))
    assert (fourth.run, fourth.reset) == ((), ())
    assert fourth.policy.fired == frozenset({0, 1})
    assert fourth.policy.in_force(ActionKind.BLOCK_CREATION, JAN_15 + timedelta(days=11))


def test_two_thresholds_crossed_at_once_both_run():
    policy = evaluate(cost_policy(WARN_80, BLOCK_100), d("0"), JAN_15).policy
    decision = evaluate(policy, d("100.01"), JAN_15)
    assert decision.run == (0, 1)
    assert decision.policy.fired == frozenset({0, 1})


@pytest.mark.parametrize(
    ("share", "runs"),
    [
        (d("79.99"), ()),
        (d("80"), ()),  # exactly at the threshold is not over it
        (d("80.00000001"), (0,)),
        (d("100"), (0,)),  # 100 is over 80 but not over 100
        (d("100.0001"), (0, 1)),
    ],
)
def test_the_comparison_is_strict(share: Decimal, runs: tuple):
    policy = evaluate(cost_policy(WARN_80, BLOCK_100), d("0"), JAN_15).policy
    assert evaluate(policy, share, JAN_15).run == runs


def test_an_immediate_action_exactly_at_the_limit_does_not_run():
    policy = evaluate(cost_policy(PAUSE_NOW), d("0"), JAN_15).policy
    at_limit = evaluate(policy, d("100"), JAN_15)
    assert (at_limit.run, at_limit.policy.over) == ((), False)


def test_an_immediate_action_runs_over_the_limit_and_resets_under_it():
    policy = evaluate(cost_policy(WARN_80, PAUSE_NOW), d("0"), JAN_15).policy
    over = evaluate(policy, d("100.5"), JAN_15)
    assert (over.run, over.reset, over.policy.over) == ((0, 1), (), True)
    # Still over: nothing new.
    still = evaluate(over.policy, d("300"), JAN_15)
    assert (still.run, still.reset, still.policy.over) == ((), (), True)
    # Back to exactly the limit is no longer over: the immediate action is reset, the
    # threshold warning is not.
    back = evaluate(still.policy, d("100"), JAN_15)
    assert (back.run, back.reset, back.policy.over) == ((), (1,), False)
    assert back.policy.fired == frozenset({0})
    # Under again: nothing to reset twice.
    under = evaluate(back.policy, d("50"), JAN_15)
    assert (under.run, under.reset) == ((), ())
    # Over again in the same period: the immediate action runs again, the warning does not.
    again = evaluate(under.policy, d("101"), JAN_15)
    assert (again.run, again.reset) == ((1,), ())


def test_a_new_period_resets_what_is_in_force():
    policy = evaluate(cost_policy(WARN_80, BLOCK_100, PAUSE_NOW), d("0"), JAN_15).policy
    policy = evaluate(policy, d("120"), JAN_15).policy
    assert (policy.fired, policy.over) == (frozenset({0, 1}), True)
    # The first instant of February, with nothing spent in February.
    decision = evaluate(policy, d("0"), FEB_1)
    assert decision.new_period
    assert decision.reset == (0, 1, 2)  # each once, the immediate one included
    assert decision.run == ()
    assert decision.policy.period_start == FEB_1
    assert (decision.policy.fired, decision.policy.over) == (frozenset(), False)


def test_a_new_period_already_over_resets_then_runs_again():
    policy = evaluate(cost_policy(WARN_80, PAUSE_NOW), d("0"), JAN_15).policy
    policy = evaluate(policy, d("120"), JAN_15).policy
    decision = evaluate(policy, d("130"), FEB_1 + timedelta(hours=3))
    assert (decision.reset, decision.run, decision.new_period) == ((0, 1), (0, 1), True)
    assert (decision.policy.fired, decision.policy.over) == (frozenset({0}), True)


def test_the_last_instant_of_a_period_is_still_in_it():
    policy = evaluate(cost_policy(WARN_80), d("90"), JAN_15).policy
    decision = evaluate(policy, d("90"), FEB_1 - ONE_MICROSECOND)
    assert (decision.new_period, decision.reset, decision.run) == (False, (), ())


def test_a_quarterly_policy_keeps_its_state_across_the_months_of_the_quarter():
    policy = cost_policy(BLOCK_100, period=PolicyPeriod.QUARTER)
    policy = evaluate(policy, d("101"), JAN_15).policy
    march = evaluate(policy, d("0"), datetime(2026, 3, 31, 23, tzinfo=UTC))
    assert (march.new_period, march.reset) == (False, ())
    april = evaluate(march.policy, d("0"), datetime(2026, 4, 1, tzinfo=UTC))
    assert (april.new_period, april.reset) == (True, (0,))


def test_a_total_policy_never_starts_a_new_period():
    policy = cost_policy(BLOCK_100, period=PolicyPeriod.TOTAL)
    fired = evaluate(policy, d("101"), JAN_15)
    assert (fired.new_period, fired.run) == (False, (0,))
    years_later = evaluate(fired.policy, d("0"), datetime(2031, 1, 1, tzinfo=UTC))
    assert (years_later.new_period, years_later.reset, years_later.run) == (False, (), ())


def test_an_infinite_share_crosses_every_threshold():
    policy = cost_policy(
        PolicyAction(ActionKind.NOTIFY_ORGANIZATION_OWNERS, percent=d("1000")), PAUSE_NOW
    )
    decision = evaluate(policy, Decimal("Infinity"), JAN_15)
    assert decision.run == (0, 1)


def test_nothing_from_an_earlier_period_is_in_force():
    policy = evaluate(cost_policy(BLOCK_100, PAUSE_NOW), d("150"), JAN_15).policy
    assert policy.in_force(ActionKind.BLOCK_CREATION, JAN_15)
    assert policy.in_force(ActionKind.REQUEST_PAUSING, JAN_15)
    assert not policy.in_force(ActionKind.BLOCK_MODIFICATION, JAN_15)
    # In February, before anything evaluated the policy again.
    assert not policy.in_force(ActionKind.BLOCK_CREATION, FEB_1)
    assert not policy.in_force(ActionKind.REQUEST_PAUSING, FEB_1)


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("action", "label"),
    [
        (PolicyAction(ActionKind.BLOCK_CREATION), "block_creation@100%"),
        (WARN_80, "notify_organization_owners@80%"),
        (PolicyAction(ActionKind.BLOCK_HPC_JOBS, percent=d("80.50")), "block_hpc_jobs@80.5%"),
        (PAUSE_NOW, "request_pausing"),
        (PolicyAction(ActionKind.CUSTOM, percent=d("90"), name="slack"), "slack@90%"),
        (PolicyAction(ActionKind.CUSTOM, ActionType.IMMEDIATE, name="slack"), "slack"),
    ],
)
def test_action_labels(action: PolicyAction, label: str):
    assert action.label == label


# --------------------------------------------------------------------------- check_policy_actions


@pytest.mark.parametrize(
    "scope_kind", [ScopeKind.PROJECT, ScopeKind.ORGANIZATION, ScopeKind.OFFERING]
)
def test_an_empty_action_list_is_refused(scope_kind: ScopeKind):
    with pytest.raises(ValidationError) as refused:
        check_policy_actions(scope_kind, ())
    assert refused.value.code is ErrorCode.INVALID_VALUE


def test_something_that_is_not_an_action_is_refused():
    with pytest.raises(ValidationError) as refused:
        check_policy_actions(ScopeKind.PROJECT, (BLOCK_100, "block_creation"))  # type: ignore[arg-type]
    assert refused.value.code is ErrorCode.INVALID_VALUE
    assert refused.value.fields["field"] == "actions[1]"


def test_a_project_policy_may_use_every_action():
    every = tuple(
        PolicyAction(kind, name="hook" if kind is ActionKind.CUSTOM else "") for kind in ActionKind
    )
    check_policy_actions(ScopeKind.PROJECT, every)


@pytest.mark.parametrize(
    ("scope_kind", "kind"),
    [
        (ScopeKind.ORGANIZATION, ActionKind.NOTIFY_PROJECT_MEMBERS),
        (ScopeKind.OFFERING, ActionKind.NOTIFY_PROJECT_MEMBERS),
        (ScopeKind.OFFERING, ActionKind.TERMINATE_RESOURCES),
        (ScopeKind.OFFERING, ActionKind.BLOCK_HPC_JOBS),
        (ScopeKind.OFFERING, ActionKind.REQUEST_DOWNSCALING),
        (ScopeKind.OFFERING, ActionKind.REQUEST_PAUSING),
    ],
)
def test_actions_a_scope_cannot_use_are_refused(scope_kind: ScopeKind, kind: ActionKind):
    with pytest.raises(ValidationError) as refused:
        check_policy_actions(scope_kind, (PolicyAction(kind),))
    assert refused.value.code is ErrorCode.POLICY_ACTION_NOT_AVAILABLE
    assert refused.value.fields == {"action": kind.value, "scope_kind": scope_kind.value}


@pytest.mark.parametrize(
    "kind",
    [
        ActionKind.NOTIFY_ORGANIZATION_OWNERS,
        ActionKind.BLOCK_CREATION,
        ActionKind.BLOCK_MODIFICATION,
        ActionKind.TERMINATE_RESOURCES,
        ActionKind.BLOCK_HPC_JOBS,
        ActionKind.REQUEST_DOWNSCALING,
        ActionKind.REQUEST_PAUSING,
    ],
)
def test_an_organization_policy_may_use_everything_but_project_notices(kind: ActionKind):
    check_policy_actions(ScopeKind.ORGANIZATION, (PolicyAction(kind),))


@pytest.mark.parametrize(
    "kind",
    [
        ActionKind.NOTIFY_ORGANIZATION_OWNERS,
        ActionKind.BLOCK_CREATION,
        ActionKind.BLOCK_MODIFICATION,
    ],
)
def test_an_offering_policy_may_notify_and_block(kind: ActionKind):
    check_policy_actions(ScopeKind.OFFERING, (PolicyAction(kind),))
    check_policy_actions(ScopeKind.OFFERING, (PolicyAction(ActionKind.CUSTOM, name="hook"),))


@pytest.mark.parametrize(
    "percent",
    [
        Decimal(0),
        Decimal(-1),
        Decimal("1000.01"),
        Decimal("NaN"),
        Decimal("Infinity"),
        80.0,
        True,
        0,
    ],
)
def test_percentages_outside_0_to_1000_or_not_numbers_are_refused(percent: object):
    action = PolicyAction(ActionKind.BLOCK_CREATION, percent=percent)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as refused:
        check_policy_actions(ScopeKind.PROJECT, (action,))
    assert refused.value.code is ErrorCode.INVALID_VALUE
    assert refused.value.fields["field"] == "actions[0].percent"


@pytest.mark.parametrize("percent", [Decimal("0.01"), Decimal(1000), Decimal("99.5"), 80, 1000])
def test_percentages_in_range_pass(percent: Decimal | int):
    action = PolicyAction(ActionKind.BLOCK_CREATION, percent=percent)  # type: ignore[arg-type]
    check_policy_actions(ScopeKind.PROJECT, (action,))
    # A whole number is taken as the Decimal it names.
    assert action.percent == Decimal(percent)
    assert isinstance(action.percent, Decimal)


def test_an_immediate_action_must_act_at_100_percent():
    action = PolicyAction(ActionKind.REQUEST_PAUSING, ActionType.IMMEDIATE, percent=d("80"))
    with pytest.raises(ValidationError) as refused:
        check_policy_actions(ScopeKind.PROJECT, (BLOCK_100, action))
    assert refused.value.code is ErrorCode.INVALID_VALUE
    assert refused.value.fields["field"] == "actions[1].percent"


@pytest.mark.parametrize(
    "action",
    [
        PolicyAction(ActionKind.CUSTOM),  # a custom action without a name
        PolicyAction(ActionKind.BLOCK_CREATION, name="hook"),  # a name on a built-in action
    ],
)
def test_only_custom_actions_have_names(action: PolicyAction):
    with pytest.raises(ValidationError) as refused:
        check_policy_actions(ScopeKind.PROJECT, (action,))
    assert refused.value.code is ErrorCode.INVALID_VALUE
    assert refused.value.fields["field"] == "actions[0].name"

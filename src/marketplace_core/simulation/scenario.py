"""Scenario files: what a simulation builds and plays, read from TOML or JSON and checked.

A scenario names its organizations (with their projects and cost policies), the offerings
providers sell (components, plans, and how much each resource uses), and the process: how
many orders each project places a month, how often the month's work is done, how often a
resource is terminated. :func:`parse_scenario` turns the plain data of a file into a
:class:`Scenario` or raises a :class:`ScenarioError` naming the first bad field by its dotted
path (``offerings[1].plans[0].unit``) and what was expected there. Unknown keys are refused,
so a misspelt setting never passes silently. ``docs/simulator.md`` describes every field.

Numbers that are money, percentages or chances are read as exact decimals: TOML and JSON
floats are parsed as :class:`~decimal.Decimal`, and strings such as ``"0.015"`` are accepted.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import attrs

from marketplace_core.errors import ErrorCode, MarketplaceError, ValidationError
from marketplace_core.money import parse_money
from marketplace_core.offerings import (
    BillingType,
    LimitPeriod,
    OfferingComponent,
    PlanUnit,
    check_component_settings,
)
from marketplace_core.policies import (
    ActionKind,
    ActionType,
    PolicyAction,
    PolicyPeriod,
    check_policy_actions,
)
from marketplace_core.roles import ScopeKind

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

MAX_MONTHS = 120
MAX_STEPS_PER_MONTH = 28
MAX_ORDERS_PER_MONTH = 1000
MAX_AMOUNT = 10**12


class ScenarioError(ValidationError):
    """A scenario file is malformed: ``path`` is the dotted path of the bad field (``""``
    for the file as a whole), ``expected`` what belongs there, ``value`` what was found."""

    def __init__(
        self, path: str, problem: str, *, expected: str = "", value: str = "", source: str = ""
    ) -> None:
        where = path or "scenario"
        prefix = f"{source}: " if source else ""
        super().__init__(
            ErrorCode.INVALID_VALUE,
            f"{prefix}{where}: {problem}",
            field=path,
            expected=expected,
            value=value,
            source=source,
        )
        self.path = path
        self.problem = problem
        self.expected = expected
        self.value = value


def _shown(value: object) -> str:
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _wrong(path: str, expected: str, value: object) -> ScenarioError:
    return ScenarioError(
        path, f"expected {expected}, got {_shown(value)}", expected=expected, value=_shown(value)
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------- values

Parser = Callable[[object, str], T]


def text(value: object, path: str) -> str:
    """A non-blank string of at most 200 characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise _wrong(path, "a non-blank string of at most 200 characters", value)
    return value


def integer(low: int, high: int) -> Parser[int]:
    """An integer in ``[low, high]``."""

    def parse(value: object, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _wrong(path, f"an integer from {low} to {high}", value)
        return value

    return parse


def decimal(low: Decimal, high: Decimal) -> Parser[Decimal]:
    """An exact number in ``[low, high]``: an integer, a decimal, or a numeric string."""

    def parse(value: object, path: str) -> Decimal:
        expected = f'a number from {low} to {high} (such as 12 or "0.25")'
        try:
            number = parse_money(value, path, allow_negative=True)
        except ValidationError:
            raise _wrong(path, expected, value) from None
        if not low <= number <= high:
            raise _wrong(path, expected, value)
        return number

    return parse


amount = decimal(Decimal(0), Decimal(MAX_AMOUNT))
chance = decimal(Decimal(0), Decimal(1))


def boolean(value: object, path: str) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise _wrong(path, "true or false", value)
    return value


def choice(kind: type[E]) -> Parser[E]:
    """One of the values of the enumeration ``kind``."""

    def parse(value: object, path: str) -> E:
        names = ", ".join(repr(member.value) for member in kind)
        if isinstance(value, str):
            try:
                return kind(value)
            except ValueError:
                pass
        raise _wrong(path, f"one of {names}", value)

    return parse


def month(value: object, path: str) -> date:
    """A month as ``"YYYY-MM"`` (or a TOML date on the first day of a month)."""
    expected = 'a month such as "2026-01"'
    if isinstance(value, date) and value.day == 1:
        return value
    if isinstance(value, str) and len(value) == 7 and value[4] == "-":
        try:
            return date(int(value[:4]), int(value[5:]), 1)
        except ValueError:
            pass
    raise _wrong(path, expected, value)


def listing(item: Parser[T], *, least: int = 0, most: int = 1000) -> Parser[tuple[T, ...]]:
    """A list of ``least`` to ``most`` items, each read by ``item``."""

    def parse(value: object, path: str) -> tuple[T, ...]:
        if not isinstance(value, list) or not least <= len(value) <= most:
            raise _wrong(path, f"a list of {least} to {most} items", value)
        return tuple(item(entry, f"{path}[{index}]") for index, entry in enumerate(value))

    return parse


def table_of(item: Parser[T]) -> Parser[dict[str, T]]:
    """A table whose values are each read by ``item``."""

    def parse(value: object, path: str) -> dict[str, T]:
        if not isinstance(value, Mapping):
            raise _wrong(path, "a table", value)
        return {str(key): item(entry, _join(path, str(key))) for key, entry in value.items()}

    return parse


@attrs.frozen
class Range:
    """Whole numbers from ``low`` to ``high``, both included; a draw is uniform."""

    low: int
    high: int


def span(value: object, path: str) -> Range:
    """A range written ``[low, high]``: two integers, ``0 <= low <= high``."""
    expected = f"a range [low, high] of integers with 0 <= low <= high <= {MAX_AMOUNT}"
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not 0 <= value[0] <= value[1] <= MAX_AMOUNT
    ):
        raise _wrong(path, expected, value)
    return Range(value[0], value[1])


_MISSING: Any = object()


class Table:
    """The keys of one table of the file, read one by one; :meth:`finish` refuses the keys
    nobody asked for."""

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, Mapping):
            raise _wrong(path or "scenario", "a table", value)
        self.values: Mapping[str, object] = value
        self.path = path
        self.known: list[str] = []

    def get(self, key: str, parse: Parser[T], default: T = _MISSING) -> T:
        """The value at ``key`` read by ``parse``; ``default`` when it is absent (required
        when no default is given)."""
        self.known.append(key)
        path = _join(self.path, key)
        if key not in self.values:
            if default is _MISSING:
                raise ScenarioError(path, "is missing", expected="a value")
            return default
        return parse(self.values[key], path)

    def finish(self) -> None:
        """Refuse any key that :meth:`get` was not asked for."""
        for key in self.values:
            if key not in self.known:
                allowed = ", ".join(self.known)
                raise ScenarioError(
                    _join(self.path, str(key)),
                    f"unknown key; expected one of {allowed}",
                    expected=f"one of {allowed}",
                    value=str(key),
                )


# --------------------------------------------------------------------------- the scenario


@attrs.frozen
class PolicySpec:
    """A cost policy on an organization: the estimated cost of a period against ``limit``."""

    limit: Decimal
    period: PolicyPeriod
    actions: tuple[PolicyAction, ...]


@attrs.frozen
class OrganizationSpec:
    """An organization: its projects (none for a pure provider), tax rate and policies."""

    name: str
    projects: tuple[str, ...]
    tax_percent: Decimal
    policies: tuple[PolicySpec, ...]


@attrs.frozen
class PlanSpec:
    """A plan of an offering, as :meth:`~marketplace_core.Marketplace.create_plan` takes it."""

    name: str
    unit: PlanUnit
    prices: Mapping[str, Decimal]
    amounts: Mapping[str, int]
    max_amount: int | None


@attrs.frozen
class OfferingSpec:
    """An offering, how it is fulfilled, and how much each of its resources uses.

    ``usage`` maps usage components to the range a resource's monthly usage is drawn from;
    ``limits`` maps every limit component to the range an order's limit is drawn from.
    With ``provider_review`` the provider decides each order at the next step and rejects
    a share ``rejection_chance`` of create orders; the backend fails a share
    ``failure_chance`` of creations. ``weight`` makes the offering chosen more often.
    """

    name: str
    provider: str
    category: str
    components: tuple[OfferingComponent, ...]
    plans: tuple[PlanSpec, ...]
    visible_to: tuple[str, ...]
    provider_review: bool
    rejection_chance: Decimal
    failure_chance: Decimal
    weight: int
    usage: Mapping[str, Range]
    limits: Mapping[str, Range]


@attrs.frozen
class ProcessSpec:
    """The month's rhythm: each project places ``orders_per_month`` create orders a month
    (drawn), spread over ``steps_per_month`` steps; usage is reported at every step; at the
    end of a month each live resource is terminated with ``termination_chance``."""

    orders_per_month: Range
    steps_per_month: int
    termination_chance: Decimal


@attrs.frozen
class Scenario:
    """A whole scenario: ``months`` months from ``start`` (a month's first day)."""

    name: str
    start: date
    months: int
    seed: int
    organizations: tuple[OrganizationSpec, ...]
    offerings: tuple[OfferingSpec, ...]
    process: ProcessSpec


def _action(value: object, path: str) -> PolicyAction:
    table = Table(value, path)
    kinds = [kind for kind in ActionKind if kind is not ActionKind.CUSTOM]
    kind = table.get("kind", choice(ActionKind))
    if kind not in kinds:
        raise _wrong(_join(path, "kind"), "an action kind other than 'custom'", kind.value)
    action = PolicyAction(
        kind,
        table.get("type", choice(ActionType), ActionType.THRESHOLD),
        table.get("percent", decimal(Decimal(0), Decimal(1000)), Decimal(100)),
    )
    table.finish()
    return action


def _policy(value: object, path: str) -> PolicySpec:
    table = Table(value, path)
    spec = PolicySpec(
        limit=table.get("limit", amount),
        period=table.get("period", choice(PolicyPeriod), PolicyPeriod.MONTH),
        actions=table.get("actions", listing(_action, least=1, most=20)),
    )
    table.finish()
    for index, action in enumerate(spec.actions):
        try:
            check_policy_actions(ScopeKind.ORGANIZATION, (action,))
        except ValidationError as error:
            field = str(error.fields.get("field", "actions[0].kind"))
            problem = error.message.removeprefix(field).removeprefix("actions[0]")
            where = f"{path}.actions[{index}]{field.removeprefix('actions[0]')}"
            raise ScenarioError(where, problem.lstrip(": ")) from None
    return spec


def _organization(value: object, path: str) -> OrganizationSpec:
    table = Table(value, path)
    spec = OrganizationSpec(
        name=table.get("name", text),
        projects=table.get("projects", listing(text, most=100), ()),
        tax_percent=table.get("tax_percent", decimal(Decimal(0), Decimal(100)), Decimal(0)),
        policies=table.get("policies", listing(_policy, most=10), ()),
    )
    table.finish()
    _refuse_repeats(spec.projects, _join(path, "projects"), "project name")
    return spec


def _component(value: object, path: str) -> OfferingComponent:
    table = Table(value, path)
    optional_int = _optional(integer(0, MAX_AMOUNT))
    kind = table.get("type", text)
    component = OfferingComponent(
        type=kind,
        name=table.get("name", text, kind),
        billing_type=table.get("billing_type", choice(BillingType)),
        measured_unit=table.get("measured_unit", _string, ""),
        limit_period=table.get("limit_period", _optional(choice(LimitPeriod)), None),
        limit_amount=table.get("limit_amount", optional_int, None),
        min_value=table.get("min_value", optional_int, None),
        max_value=table.get("max_value", optional_int, None),
        max_available_limit=table.get("max_available_limit", optional_int, None),
        is_boolean=table.get("is_boolean", boolean, False),
        factor=table.get("factor", integer(1, 10**9), 1),
    )
    table.finish()
    try:
        check_component_settings(component)
    except ValidationError as error:
        setting = str(error.fields.get("setting", ""))
        raise ScenarioError(_join(path, setting), error.message) from None
    return component


def _string(value: object, path: str) -> str:
    if not isinstance(value, str) or len(value) > 200:
        raise _wrong(path, "a string of at most 200 characters", value)
    return value


def _optional(parse: Parser[T]) -> Parser[T | None]:
    def parse_optional(value: object, path: str) -> T | None:
        return None if value is None else parse(value, path)

    return parse_optional


def _plan(value: object, path: str) -> PlanSpec:
    table = Table(value, path)
    spec = PlanSpec(
        name=table.get("name", text),
        unit=table.get("unit", choice(PlanUnit)),
        prices=table.get("prices", table_of(amount), {}),
        amounts=table.get("amounts", table_of(integer(0, MAX_AMOUNT)), {}),
        max_amount=table.get("max_amount", _optional(integer(1, MAX_AMOUNT)), None),
    )
    table.finish()
    return spec


def _offering(value: object, path: str) -> OfferingSpec:
    table = Table(value, path)
    spec = OfferingSpec(
        name=table.get("name", text),
        provider=table.get("provider", text),
        category=table.get("category", text, "General"),
        components=table.get("components", listing(_component, least=1, most=50)),
        plans=table.get("plans", listing(_plan, least=1, most=50)),
        visible_to=table.get("visible_to", listing(text, most=100), ()),
        provider_review=table.get("provider_review", boolean, False),
        rejection_chance=table.get("rejection_chance", chance, Decimal(0)),
        failure_chance=table.get("failure_chance", chance, Decimal(0)),
        weight=table.get("weight", integer(1, 1000), 1),
        usage=table.get("usage", table_of(span), {}),
        limits=table.get("limits", table_of(span), {}),
    )
    table.finish()
    _check_offering(spec, path)
    return spec


def _check_offering(spec: OfferingSpec, path: str) -> None:
    """The cross-field rules of one offering: components unique, plans pricing only its
    components, a demand range for each metered component that fits the component."""
    by_type: dict[str, OfferingComponent] = {}
    for index, component in enumerate(spec.components):
        if component.type in by_type:
            raise ScenarioError(
                f"{path}.components[{index}].type",
                f"component type {component.type!r} appears twice; types are unique per offering",
                expected="a type not used before in this offering",
                value=component.type,
            )
        by_type[component.type] = component
    _refuse_repeats([plan.name for plan in spec.plans], f"{path}.plans", "plan name")
    known = ", ".join(repr(kind) for kind in by_type)
    for index, plan in enumerate(spec.plans):
        for key in plan.prices:
            if key not in by_type:
                raise _wrong(f"{path}.plans[{index}].prices.{key}", f"a component ({known})", key)
        for key in plan.amounts:
            if key not in by_type or by_type[key].billing_type is not BillingType.FIXED:
                raise _wrong(f"{path}.plans[{index}].amounts.{key}", "a fixed component", key)
    for field, billing in (("usage", BillingType.USAGE), ("limits", BillingType.LIMIT)):
        ranges: Mapping[str, Range] = getattr(spec, field)
        for key in ranges:
            if key not in by_type or by_type[key].billing_type is not billing:
                raise _wrong(f"{path}.{field}.{key}", f"a {billing.value} component", key)
    for component in spec.components:
        if component.billing_type is not BillingType.LIMIT:
            continue
        where = f"{path}.limits.{component.type}"
        limit = spec.limits.get(component.type)
        if limit is None:
            raise ScenarioError(
                where,
                "is missing; every limit component needs the range its orders' limits are "
                "drawn from",
                expected="a range [low, high]",
            )
        low, high = component.lowest_limit or 0, component.highest_limit
        if limit.low < low or (high is not None and limit.high > high):
            bounds = f"{low} to {high}" if high is not None else f"{low} or more"
            raise _wrong(where, f"a range within the component's limits ({bounds})", limit.high)


def _process(value: object, path: str) -> ProcessSpec:
    table = Table(value, path)
    spec = ProcessSpec(
        orders_per_month=table.get("orders_per_month", span),
        steps_per_month=table.get("steps_per_month", integer(1, MAX_STEPS_PER_MONTH), 4),
        termination_chance=table.get("termination_chance", chance, Decimal(0)),
    )
    table.finish()
    if spec.orders_per_month.high > MAX_ORDERS_PER_MONTH:
        raise _wrong(
            _join(path, "orders_per_month"),
            f"at most {MAX_ORDERS_PER_MONTH} orders a month",
            spec.orders_per_month.high,
        )
    return spec


def _refuse_repeats(names: Any, path: str, what: str) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise ScenarioError(
                f"{path}[{index}]",
                f"{what} {name!r} appears twice",
                expected=f"a unique {what}",
                value=name,
            )
        seen.add(name)


def parse_scenario(data: object) -> Scenario:
    """The scenario the plain data ``data`` (a file's parsed TOML or JSON) describes;
    raises :class:`ScenarioError` naming the first bad field."""
    table = Table(data, "")
    scenario = Scenario(
        name=table.get("name", text),
        start=table.get("start", month),
        months=table.get("months", integer(1, MAX_MONTHS)),
        seed=table.get("seed", integer(0, 2**63), 0),
        organizations=table.get("organizations", listing(_organization, least=1, most=1000)),
        offerings=table.get("offerings", listing(_offering, least=1, most=1000)),
        process=table.get("process", _process),
    )
    table.finish()
    names = [organization.name for organization in scenario.organizations]
    _refuse_repeats(names, "organizations", "organization name")
    _refuse_repeats([o.name for o in scenario.offerings], "offerings", "offering name")
    for index, offering in enumerate(scenario.offerings):
        path = f"offerings[{index}]"
        if offering.provider not in names:
            raise _wrong(
                f"{path}.provider", "the name of one of the organizations", offering.provider
            )
        for number, name in enumerate(offering.visible_to):
            if name not in names:
                raise _wrong(
                    f"{path}.visible_to[{number}]", "the name of one of the organizations", name
                )
    if not any(organization.projects for organization in scenario.organizations):
        raise ScenarioError(
            "organizations",
            "no organization has a project, so nobody would order",
            expected="at least one organization with projects",
        )
    return scenario


def load_scenario(path: Path) -> Scenario:
    """Read and check the scenario file at ``path`` (``.toml`` or ``.json``).

    Every failure, including a missing file and a syntax error, is a :class:`ScenarioError`
    whose message starts with the file's name.
    """
    try:
        return _load(path)
    except ScenarioError as error:
        raise ScenarioError(
            error.path,
            error.problem,
            expected=error.expected,
            value=error.value,
            source=str(path),
        ) from None


def _load(path: Path) -> Scenario:
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ScenarioError(
            "", "expected a file ending in .toml or .json", expected=".toml or .json"
        )
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ScenarioError("", f"cannot be read ({reason})") from None
    try:
        if suffix == ".toml":
            data: object = tomllib.loads(source, parse_float=Decimal)
        else:
            data = json.loads(source, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError("", f"is not valid TOML ({error})") from None
    except json.JSONDecodeError as error:
        raise ScenarioError(
            "", f"is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    try:
        return parse_scenario(data)
    except ScenarioError:
        raise
    except MarketplaceError as error:  # a domain rule the checks above did not foresee
        raise ScenarioError("", error.message) from None

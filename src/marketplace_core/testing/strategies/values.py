"""Strategies of plain values: names, prices and offering components."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from marketplace_core.money import AMOUNT_LIMIT
from marketplace_core.offerings import (
    LIMIT_CEILING,
    BillingType,
    LimitPeriod,
    OfferingComponent,
)

NAME_CHARACTERS = st.characters(
    codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\x00"
)
"""Characters every text field takes: no lone surrogates, no control characters (NUL
included)."""


def names(max_size: int = 40) -> st.SearchStrategy[str]:
    """Non-blank text of at most ``max_size`` characters that UTF-8 can carry."""
    return st.text(NAME_CHARACTERS, min_size=1, max_size=max_size).filter(str.strip)


def prices(max_value: Decimal = AMOUNT_LIMIT) -> st.SearchStrategy[Decimal]:
    """Prices: non-negative ``Decimal`` s below ``max_value`` (at most
    :data:`~marketplace_core.money.AMOUNT_LIMIT`), with up to 6 decimal places; small
    everyday prices are drawn more often than huge ones."""
    top = min(max_value, AMOUNT_LIMIT) - Decimal("0.000001")
    return st.one_of(
        st.decimals(min_value=0, max_value=min(Decimal(1000), top), places=2),
        st.integers(0, 6).flatmap(
            lambda places: st.decimals(min_value=0, max_value=top, places=places)
        ),
    )


_COMPONENT_TYPE = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/:"),
    min_size=1,
    max_size=50,
)


@st.composite
def offering_components(
    draw: st.DrawFn, billing_type: BillingType | None = None
) -> OfferingComponent:
    """A component with settings its billing type allows (of ``billing_type`` when given):
    limit components with bounds up to :data:`~marketplace_core.offerings.LIMIT_CEILING`,
    boolean switches, offering caps and period caps; usage components with optional period
    caps; the other types with no limit settings."""
    kind = billing_type if billing_type is not None else draw(st.sampled_from(BillingType))
    common = {
        "type": draw(_COMPONENT_TYPE),
        "name": draw(names()),
        "billing_type": kind,
        "measured_unit": draw(st.sampled_from(["", "hour", "GB", "core", "ticket"])),
        "description": draw(st.text(NAME_CHARACTERS, max_size=60)),
    }
    period_cap: dict[str, object] = {}
    if kind in (BillingType.LIMIT, BillingType.USAGE) and draw(st.booleans()):
        period_cap["limit_period"] = draw(st.sampled_from(LimitPeriod))
        period_cap["limit_amount"] = draw(st.none() | st.integers(0, LIMIT_CEILING))
    if kind is not BillingType.LIMIT:
        return OfferingComponent(**common, **period_cap)  # type: ignore[arg-type]
    factor = draw(st.sampled_from([1, 1, 1000, 1024]))
    cap = draw(st.none() | st.integers(0, LIMIT_CEILING))
    if draw(st.booleans()):
        period = period_cap.get("limit_period")
        return OfferingComponent(
            **common,  # type: ignore[arg-type]
            is_boolean=True,
            limit_period=period,  # type: ignore[arg-type]
            max_available_limit=cap,
            factor=factor,
        )
    low = draw(st.none() | st.integers(0, 100))
    high = draw(st.none() | st.integers(low or 0, LIMIT_CEILING))
    return OfferingComponent(
        **common,  # type: ignore[arg-type]
        **period_cap,  # type: ignore[arg-type]
        min_value=low,
        max_value=high,
        max_available_limit=cap,
        factor=factor,
    )

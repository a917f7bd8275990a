"""The ``site-agent`` plugin: orders fulfilled by agents that run at the provider's site.

This is the pull model. The marketplace never calls the site: its processor accepts every
order and hands it over at once (it answers "in progress"). An agent running next to the
backend (a batch system, a cloud) asks the marketplace for the orders waiting for it,
claims one under a lease, does the work at the site, and reports the outcome. Several agents
may serve one offering: two of them never hold the same order, and an agent that crashes lets
its lease run out, after which another agent takes the order over.

:class:`SiteAgent` is the reference agent loop; a host copies it, or runs it as is with its
own :class:`SiteBackend`. Orders need the provider's review by default, as Waldur's SLURM
site-agent offerings do; an offering turns that off with
``OfferingOptions(needs_provider_review=False)``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from marketplace_core.errors import (
    BackendError,
    ConflictError,
    ErrorCode,
    MarketplaceError,
    ValidationError,
)
from marketplace_core.inputs import require_int, require_text, shorten_message
from marketplace_core.money import parse_money
from marketplace_core.orders import Order, OrderType
from marketplace_core.plugins.basic import BasicProcessor
from marketplace_core.plugins.processor import Completed
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.usage_source import PulledUsage, UsageRequest
from marketplace_core.resources import Resource
from marketplace_core.services.claims import MAX_LEASE_SECONDS

if TYPE_CHECKING:  # the facade imports the plugins package, which may export this module
    from marketplace_core.marketplace import Marketplace, UsagePullReport

logger = logging.getLogger(__name__)

REPORT_ATTEMPTS = 5
"""How often an agent sends a report that conflicts with a concurrent write (two agents
finishing orders of one organization both write its monthly invoice) before it leaves the
order to run out its lease."""

SITE_AGENT_CAPABILITIES = PluginCapabilities(needs_provider_review=True, can_update_limits=True)
"""Provider review by default (Waldur's ``Marketplace.Slurm`` always asks for it); limits can
change. Executing orders cannot be canceled: an agent may already be working on them."""


class SiteAgentProcessor(BasicProcessor):
    """Accepts every order and hands it over at once (``InProgress``): the order waits,
    executing, until a site agent claims it and reports. The same answers as the basic
    plugin's; only the one who finishes the work differs."""


def register_site_agent(registry: PluginRegistry, plugin_type: str = "site-agent") -> None:
    """Register the site-agent plugin under ``plugin_type``."""
    registry.register(plugin_type, SiteAgentProcessor(), SITE_AGENT_CAPABILITIES)


class SiteBackend(Protocol):
    """What an agent drives at its site.

    Every method must be idempotent per ``order.id``: an agent that crashes after the work
    but before its report leaves the order to another agent, which calls again with the same
    order. A method raises (preferably :class:`~marketplace_core.errors.BackendError`) to
    fail the order; the agent reports ``"<ExceptionType>: <message>"`` as its error.
    """

    def create(self, order: Order, resource: Resource) -> Completed:
        """Create the resource for the create ``order``; return its backend id (required)
        and any metadata to record on it."""
        ...

    def update(self, order: Order, resource: Resource) -> None:
        """Apply the update ``order``: a new plan (``order.plan_id``) or new limits
        (``order.limits``) for the resource known as ``resource.backend_id``."""
        ...

    def terminate(self, order: Order, resource: Resource) -> None:
        """Remove the resource known as ``resource.backend_id``; removing one that is
        already gone succeeds."""
        ...


@runtime_checkable
class MeteredSiteBackend(SiteBackend, Protocol):
    """A site backend that can also tell what a resource consumed."""

    def usage(self, resource: Resource, month: date) -> Mapping[str, Decimal]:
        """The month-to-date usage of ``resource`` in ``month`` (its first day), by usage
        component type. Raise to report that the backend failed."""
        ...


class SiteAgent:
    """One agent serving one offering: it claims waiting orders, does the work through
    ``backend`` and reports the outcome, as ``actor_id`` (a user who fulfils the offering's
    orders and reports its usage: its provider's owner or manager, or an offering manager).

    ``agent_id`` names this agent to the marketplace; every agent of an offering needs its
    own. ``lease_seconds`` must be longer than the slowest backend call: an agent whose
    lease runs out before it reports loses the order to another agent.
    """

    def __init__(
        self,
        market: Marketplace,
        actor_id: str,
        offering_id: str,
        agent_id: str,
        backend: SiteBackend,
        *,
        lease_seconds: int = 300,
    ) -> None:
        self.market = market
        self.actor_id = actor_id
        self.offering_id = offering_id
        self.agent_id = require_text(agent_id, "agent_id", max_length=200)
        self.backend = backend
        self.lease_seconds = require_int(
            lease_seconds, "lease_seconds", minimum=1, maximum=MAX_LEASE_SECONDS
        )

    def run_once(self, limit: int | None = None) -> int:
        """Take every order waiting now (at most ``limit``), one at a time; returns how many
        this agent finished (reported done or erred).

        Orders another agent claims first are skipped, as are reports the marketplace
        refuses because the lease ran out or the order moved on (canceled, say).
        """
        waiting = self.market.list_claimable_orders(self.offering_id, limit)
        return sum(self.handle(order) for order in waiting)

    def handle(self, order: Order) -> bool:
        """Claim ``order``, do its work at the site and report; whether it was reported."""
        try:
            order = self.market.claim_order(
                self.actor_id, order.id, self.agent_id, self.lease_seconds
            )
        except (ConflictError, ValidationError) as error:
            if not _lost_race(error):
                raise
            logger.info("%s: order %s taken elsewhere (%s)", self.agent_id, order.id, error.code)
            return False
        resource = self.market.get_resource(order.resource_id)
        logger.info("%s: claimed %s order %s", self.agent_id, order.type.value, order.id)
        try:
            outcome = self._work(order, resource)
        except Exception as error:  # the site's failure becomes the order's error
            message = shorten_message(f"{type(error).__name__}: {error}")
            return self._report(
                order,
                lambda: self.market.report_claimed_order_erred(
                    self.actor_id, order.id, self.agent_id, message
                ),
            )
        return self._report(
            order,
            lambda: self.market.report_claimed_order_done(
                self.actor_id,
                order.id,
                self.agent_id,
                backend_id=outcome.backend_id,
                metadata=outcome.metadata,
            ),
        )

    def _work(self, order: Order, resource: Resource) -> Completed:
        if order.type is OrderType.CREATE:
            outcome = self.backend.create(order, resource)
            if not isinstance(outcome, Completed) or not outcome.backend_id:
                raise BackendError(
                    ErrorCode.BACKEND_BAD_RESPONSE,
                    f"the site backend created order {order.id!r} but answered {outcome!r}; "
                    "expected Completed with a backend id",
                    order_id=order.id,
                )
            return outcome
        if order.type is OrderType.UPDATE:
            self.backend.update(order, resource)
        else:
            self.backend.terminate(order, resource)
        return Completed()

    def _report(self, order: Order, report: Callable[[], Order]) -> bool:
        attempt = 1
        while True:
            try:
                reported = report()
                break
            except (ConflictError, ValidationError) as error:
                if error.code in _CONCURRENT_WRITE and attempt < REPORT_ATTEMPTS:
                    attempt += 1  # a concurrent write elsewhere (the month's invoice, say)
                    continue
                if not _lost_race(error):
                    raise
                logger.warning(
                    "%s: report on order %s refused, left to the next agent: %s",
                    self.agent_id,
                    order.id,
                    error.message,
                )
                return False
        logger.info("%s: order %s is %s", self.agent_id, order.id, reported.state.value)
        return True

    def report_usage(self, month: date | None = None) -> UsagePullReport:
        """Report what the backend says each live resource of the offering consumed in
        ``month`` (default: the current one), one batch per resource, through
        :meth:`Marketplace.pull_usage <marketplace_core.Marketplace.pull_usage>` with the
        backend as the usage source.

        The backend must be a :class:`MeteredSiteBackend`. Reporting an unchanged answer
        again changes nothing; a resource whose backend call fails, or whose batch is
        refused, is listed in ``failed`` and does not stop the others.
        """
        backend = self.backend
        if not isinstance(backend, MeteredSiteBackend):
            raise ValidationError(
                ErrorCode.USAGE_NOT_PULLABLE,
                f"the site backend of agent {self.agent_id!r} cannot tell usage "
                f"({type(backend).__name__} has no usage method)",
                agent_id=self.agent_id,
            )
        source = _SiteUsage(backend)
        return self.market.pull_usage(self.actor_id, self.offering_id, month, source=source)

    def run_forever(self, stop: threading.Event, poll_interval: float) -> None:
        """Run :meth:`run_once` every ``poll_interval`` seconds until ``stop`` is set.

        A pass that fails (the marketplace unreachable, say) is logged, and the loop goes on.
        """
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                logger.exception("%s: a pass over the waiting orders failed", self.agent_id)
            stop.wait(poll_interval)


class _SiteUsage:
    """A metered site backend seen as a usage source."""

    def __init__(self, backend: MeteredSiteBackend) -> None:
        self.backend = backend

    def pull_usage(self, request: UsageRequest) -> list[PulledUsage]:
        amounts = self.backend.usage(request.resource, request.month)
        return [
            PulledUsage(component, parse_money(amount, f"usage[{component!r}]"))
            for component, amount in amounts.items()
        ]


_CONCURRENT_WRITE = frozenset({ErrorCode.STALE_VERSION, ErrorCode.ALREADY_EXISTS})
"""A command lost to a concurrent one that wrote what it read, or created what it creates."""

_LOST_RACE = _CONCURRENT_WRITE | {
    ErrorCode.ORDER_CLAIMED,
    ErrorCode.CLAIM_NOT_HELD,
    ErrorCode.ORDER_NOT_EXECUTING,
    ErrorCode.ORDER_NOT_DISPATCHED,  # retried meanwhile, and not handed over again yet
}


def _lost_race(error: MarketplaceError) -> bool:
    """Whether ``error`` says someone else got to the order first: another agent claimed it,
    the lease ran out, a concurrent write won, or the order was canceled or finished."""
    return error.code in _LOST_RACE

"""The marketplace a vector runs on: the plugins every runner registers, the clock, the ids.

Vectors name plugin types; a runner (this one, or a port's) registers these, with exactly
this behaviour (see ``docs/vectors.md``):

``instant``
    finishes every order at once, without a backend id; no provider review by default;
    limits can change.
``manual``
    the library's ``basic`` plugin: the provider reviews by default and reports the outcome
    through the callbacks; limits can change and executing orders can be canceled.
``failing``
    every backend call fails with :data:`FAILING_MESSAGE`; limits can change.
``bundled``
    like ``instant``, with the built-in fixed component ``licence``.
``waiting``
    leaves every order executing until a callback reports the outcome; no provider review
    by default; limits cannot change and executing orders cannot be canceled.

and the custom policy action ``flag``, which does nothing but fire and reset.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from marketplace_core.errors import BackendError, ErrorCode
from marketplace_core.marketplace import Marketplace
from marketplace_core.offerings import BillingType, OfferingComponent
from marketplace_core.plugins import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.basic import BASIC_CAPABILITIES, BasicProcessor
from marketplace_core.plugins.policy_actions import PolicyActionCall
from marketplace_core.plugins.processor import Completed, ProcessingRequest
from marketplace_core.ports import Clock, IdGenerator, Notifier, Storage
from marketplace_core.testing.processors import InstantProcessor

FAILING_MESSAGE = "the backend is down"
"""What the ``failing`` plugin's backend says on every call."""

LICENCE = OfferingComponent("licence", "Licence", BillingType.FIXED, measured_unit="seat")
"""The ``bundled`` plugin's built-in component."""

CUSTOM_ACTION = "flag"
"""The custom policy action every runner registers."""


class _FailingProcessor:
    def validate(self, request: ProcessingRequest) -> None:
        """Accept every order (the failure comes when the backend is called)."""

    def _fail(self, request: ProcessingRequest) -> Completed:
        raise BackendError(ErrorCode.BACKEND_FAILED, FAILING_MESSAGE, order=request.order.id)

    create = update = terminate = _fail


class _FlagAction:
    def run(self, call: PolicyActionCall) -> None:
        """Nothing to do: the event says it fired."""

    def reset(self, call: PolicyActionCall) -> None:
        """Nothing to undo."""


def vector_plugins() -> PluginRegistry:
    """A registry with the plugins and the custom action every vector may use."""
    registry = PluginRegistry()
    instant = PluginCapabilities(can_update_limits=True)
    registry.register("instant", InstantProcessor(backend_ids=False), instant)
    registry.register("manual", BasicProcessor(), BASIC_CAPABILITIES)
    registry.register("failing", _FailingProcessor(), instant)
    registry.register(
        "bundled",
        InstantProcessor(backend_ids=False),
        PluginCapabilities(can_update_limits=True, components=(LICENCE,)),
    )
    registry.register("waiting", BasicProcessor(), PluginCapabilities())
    registry.register_policy_action(CUSTOM_ACTION, _FlagAction())
    return registry


class ScrambledIdGenerator:
    """Deterministic ids that say nothing about their kind or their order of creation.

    The runner uses them so that a vector passes only through its names, never because the
    reference happened to number things the same way, and so that nothing may depend on how
    ids sort.
    """

    def __init__(self, seed: str = "vectors") -> None:
        self._seed = seed
        self._issued: Counter[str] = Counter()

    def new_id(self, kind: str) -> str:
        """A 16-character hex id, the same for the same kind and count."""
        self._issued[kind] += 1
        text = f"{self._seed}:{kind}:{self._issued[kind]}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def vector_marketplace(
    storage: Storage,
    clock: Clock,
    ids: IdGenerator,
    notifier: Notifier,
    *,
    process_immediately: bool = True,
) -> Marketplace:
    """The marketplace a vector runs on: ``storage``, ``clock``, ``ids`` and ``notifier``,
    the vector plugins and the default role table. With ``process_immediately`` off, orders
    that reach ``executing`` wait for ``process_executing_orders``."""
    return Marketplace(
        storage,
        clock=clock,
        ids=ids,
        plugins=vector_plugins(),
        notifier=notifier,
        process_immediately=process_immediately,
    )

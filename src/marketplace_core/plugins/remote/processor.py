"""The ``remote`` processor: orders forwarded to an offering of another marketplace.

Each local order becomes one remote order on the offering named by the local offering's
``plugin_options`` (see :mod:`~marketplace_core.plugins.remote.options`), placed through a
:class:`~marketplace_core.plugins.remote.port.RemoteMarketplaceClient`. The processor always
answers "in progress": :class:`~marketplace_core.plugins.remote.sync.RemoteSync` mirrors the
remote order's outcome back. The local resource's backend id is the remote resource's id.
The processor is also a usage source: it reads the remote resource's month-to-date usage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from marketplace_core.errors import BackendError, ErrorCode, MarketplaceError
from marketplace_core.offerings import BillingType
from marketplace_core.orders import OrderState
from marketplace_core.plugins.processor import Completed, InProgress, ProcessingRequest
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.remote.options import RemoteOptions
from marketplace_core.plugins.remote.port import (
    RemoteMarketplaceClient,
    RemoteOrder,
    RemoteOrderKind,
    RemoteOrderRequest,
)
from marketplace_core.plugins.usage_source import PulledUsage, UsageRequest
from marketplace_core.resources import ResourceState

REMOTE_CAPABILITIES = PluginCapabilities(can_update_limits=True)
"""Limits can be changed (the remote offering must allow it too). No provider review by
default: the remote provider reviews, if its offering asks for it. Executing orders cannot
be canceled locally: the remote order would carry on."""

T = TypeVar("T")


def call_remote(what: str, call: Callable[[], T]) -> T:
    """Run ``call`` against the remote marketplace, turning its failures into a
    ``BackendError`` whose message says ``what`` was attempted and what the remote said.

    A refusal keeps the remote's code in the message and in ``fields["remote_code"]``; a
    ``BackendError`` keeps its own code; anything else counts as "unreachable".
    """
    try:
        return call()
    except MarketplaceError as error:
        failed = isinstance(error, BackendError)
        raise BackendError(
            error.code if failed else ErrorCode.BACKEND_FAILED,
            f"the remote marketplace {'failed' if failed else 'refused'} to {what}: "
            f"{error.code}: {error.message}",
            remote_code=str(error.code),
        ) from error
    except Exception as error:  # a client's transport failure, whatever its type
        raise BackendError(
            ErrorCode.BACKEND_FAILED,
            f"the remote marketplace could not be reached to {what}: "
            f"{type(error).__name__}: {error}",
        ) from error


def _kind(request: ProcessingRequest) -> RemoteOrderKind:
    order = request.order
    if order.is_limit_change:
        return RemoteOrderKind.LIMIT_CHANGE
    if order.is_plan_switch:
        return RemoteOrderKind.PLAN_SWITCH
    return RemoteOrderKind(order.type.value)


class RemoteProcessor:
    """Forwards orders to the remote marketplace through ``client``."""

    def __init__(self, client: RemoteMarketplaceClient) -> None:
        self.client = client

    def validate(self, request: ProcessingRequest) -> None:
        """Refuse a create or update order of an offering whose ``plugin_options`` lack the
        remote offering id or a remote plan for the order's plan, or whose component
        mapping is bad. Terminations are always accepted: letting a resource go needs only
        its remote id."""
        kind = _kind(request)
        if kind is RemoteOrderKind.TERMINATE:
            return
        options = RemoteOptions.of(request.offering)
        if kind in (RemoteOrderKind.CREATE, RemoteOrderKind.PLAN_SWITCH):
            options.remote_plan_id(request.plan)

    def create(self, request: ProcessingRequest) -> InProgress:
        """Place the remote create order (in a remote project of the local project's)."""
        options = RemoteOptions.of(request.offering)
        order = request.order
        remote_plan_id = options.remote_plan_id(request.plan)
        project_id = call_remote(
            f"set up a project for local project {order.project_id!r}",
            lambda: self.client.ensure_project(order.project_id),
        )
        remote = self._forward(
            request,
            RemoteOrderRequest(
                order.id,
                RemoteOrderKind.CREATE,
                remote_project_id=project_id,
                remote_offering_id=options.remote_offering_id,
                remote_plan_id=remote_plan_id,
                name=request.resource.name,
                limits=options.remote_limits(order.limits),
                attributes=order.attributes,
            ),
        )
        return InProgress(backend_id=remote.resource_id)

    def update(self, request: ProcessingRequest) -> InProgress:
        """Place the remote plan switch or limit change."""
        options = RemoteOptions.of(request.offering)
        kind = _kind(request)
        remote = self._forward(
            request,
            RemoteOrderRequest(
                request.order.id,
                kind,
                remote_resource_id=self._remote_resource_id(request),
                remote_plan_id=(
                    options.remote_plan_id(request.plan)
                    if kind is RemoteOrderKind.PLAN_SWITCH
                    else ""
                ),
                limits=(
                    options.remote_limits(request.order.limits)
                    if kind is RemoteOrderKind.LIMIT_CHANGE
                    else {}
                ),
            ),
        )
        return InProgress(backend_id=remote.resource_id)

    def terminate(self, request: ProcessingRequest) -> Completed | InProgress:
        """Place the remote termination; done at once when there is nothing remote to
        remove (the create never reached the remote, or the remote resource is gone)."""
        remote_id = request.resource.backend_id
        if not remote_id:
            return Completed()
        resource = call_remote(
            f"read remote resource {remote_id!r}", lambda: self.client.get_resource(remote_id)
        )
        if resource.state is ResourceState.TERMINATED:
            return Completed()
        remote = self._forward(
            request,
            RemoteOrderRequest(
                request.order.id,
                RemoteOrderKind.TERMINATE,
                remote_resource_id=remote_id,
                attributes=request.order.attributes,
            ),
        )
        return InProgress(backend_id=remote.resource_id)

    def _remote_resource_id(self, request: ProcessingRequest) -> str:
        if not request.resource.backend_id:
            raise BackendError(
                ErrorCode.BACKEND_FAILED,
                f"resource {request.resource.id!r} has no remote resource id; its create "
                "order never reached the remote marketplace",
                resource_id=request.resource.id,
            )
        return request.resource.backend_id

    def _forward(
        self, request: ProcessingRequest, remote_request: RemoteOrderRequest
    ) -> RemoteOrder:
        """Place the remote order once per local order; an erred remote order placed for
        this local order before (the local order is being retried) is retried instead."""
        order_id = request.order.id
        what = f"take the {remote_request.kind.value} order of local order {order_id!r}"
        known = call_remote(what, lambda: self.client.get_order(order_id))
        if known is not None and known.state is OrderState.ERRED:
            return call_remote(what, lambda: self.client.retry_order(order_id))
        return call_remote(what, lambda: self.client.place_order(remote_request))

    def pull_usage(self, request: UsageRequest) -> Sequence[PulledUsage]:
        """The remote resource's month-to-date usage, under the local component types;
        remote components the local offering does not meter (usage or limit) are left
        out."""
        remote_id = request.resource.backend_id
        if not remote_id:
            return ()
        options = RemoteOptions.of(request.offering)
        metered = {
            component.type
            for component in request.offering.components
            if component.billing_type in (BillingType.USAGE, BillingType.LIMIT)
        }
        usages = call_remote(
            f"read the usage of remote resource {remote_id!r}",
            lambda: self.client.list_usage(remote_id, request.month),
        )
        pulled = []
        for usage in usages:
            local_type = options.local_component(usage.component_type)
            if local_type in metered:
                description = usage.description or f"pulled from remote resource {remote_id}"
                pulled.append(PulledUsage(local_type, usage.amount, description))
        return pulled


def register_remote(
    registry: PluginRegistry, client: RemoteMarketplaceClient, plugin_type: str = "remote"
) -> RemoteProcessor:
    """Register a remote processor over ``client`` as ``plugin_type`` and return it.

    One client reaches one remote marketplace as one consumer account; register one plugin
    type per remote marketplace.
    """
    processor = RemoteProcessor(client)
    registry.register(plugin_type, processor, REMOTE_CAPABILITIES)
    return processor

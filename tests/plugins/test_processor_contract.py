"""The processor contract suite itself: it passes a correct backend, synchronous and
asynchronous, and fails processors that break the contract."""

from __future__ import annotations

import unittest

from marketplace_core import BillingType, OfferingComponent, PluginCapabilities, Resource
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.plugins import Completed, InProgress, ProcessingRequest
from marketplace_core.testing import ProcessorContract


class DictBackend:
    """A backend keeping resources in a dictionary, keyed by order id for idempotency."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, int]] = {}
        self.by_order: dict[str, str] = {}
        self.failure = ""
        self.created = 0

    def check(self) -> None:
        if self.failure:
            failure, self.failure = self.failure, ""
            raise RuntimeError(failure)

    def create(self, request: ProcessingRequest) -> str:
        self.check()
        if request.order.id not in self.by_order:
            self.created += 1
            backend_id = f"vm-{self.created}"
            self.by_order[request.order.id] = backend_id
            self.resources[backend_id] = dict(request.order.limits)
        return self.by_order[request.order.id]


class DictProcessor:
    def __init__(self, backend: DictBackend) -> None:
        self.backend = backend

    def validate(self, request: ProcessingRequest) -> None:
        if request.order.attributes.get("size") == "huge":
            raise ValidationError(ErrorCode.INVALID_VALUE, "too big", field="size")
        if request.offering.plugin_options.get("zone") == "nowhere":
            raise ValidationError(ErrorCode.INVALID_VALUE, "no such zone", field="zone")

    def create(self, request: ProcessingRequest) -> Completed | InProgress:
        return Completed(backend_id=self.backend.create(request))

    def update(self, request: ProcessingRequest) -> Completed | InProgress:
        self.backend.check()
        if request.resource.backend_id:
            self.backend.resources[request.resource.backend_id] = dict(request.order.limits)
        return Completed()

    def terminate(self, request: ProcessingRequest) -> Completed | InProgress:
        self.backend.check()
        self.backend.resources.pop(request.resource.backend_id or "", None)
        return Completed()


CAPABILITIES = PluginCapabilities(can_update_limits=True)


class DictContract(ProcessorContract):
    __test__ = False

    def make_plugin(self) -> tuple[DictProcessor, PluginCapabilities]:
        self.backend = DictBackend()
        return self.make_processor(self.backend), CAPABILITIES

    def make_processor(self, backend: DictBackend) -> DictProcessor:
        return DictProcessor(backend)

    def backend_ids(self) -> set[str]:
        return set(self.backend.resources)

    def fail_next_backend_call(self) -> str:
        self.backend.failure = "the disk is full"
        return "the disk is full"

    def new_limits(self) -> dict[str, int]:
        return {"storage": 20}

    def order_limits(self) -> dict[str, int]:
        return {"storage": 10}

    def offering_components(self) -> tuple[OfferingComponent, ...]:
        return (OfferingComponent("storage", "Storage", BillingType.LIMIT),)

    def backend_limits(self, resource: Resource) -> dict[str, int]:
        return self.backend.resources[resource.backend_id or ""]

    def invalid_plugin_options(self) -> dict[str, object]:
        return {"zone": "nowhere"}

    def invalid_order(self) -> dict[str, object]:
        return {"attributes": {"size": "huge"}}


class TestASynchronousBackendPasses(DictContract):
    __test__ = True


class AsyncProcessor(DictProcessor):
    """Answers "in progress"; the backend reports through the callbacks."""

    def __init__(self, backend: DictBackend) -> None:
        super().__init__(backend)
        self.pending: list[tuple[str, ProcessingRequest]] = []

    def create(self, request: ProcessingRequest) -> Completed | InProgress:
        self.pending.append(("create", request))
        return InProgress()

    def update(self, request: ProcessingRequest) -> Completed | InProgress:
        self.pending.append(("update", request))
        return InProgress()

    def terminate(self, request: ProcessingRequest) -> Completed | InProgress:
        self.pending.append(("terminate", request))
        return InProgress()


class TestAnAsynchronousBackendPasses(DictContract):
    def make_processor(self, backend: DictBackend) -> DictProcessor:
        self.async_processor = AsyncProcessor(backend)
        return self.async_processor

    def finish_backend_work(self, order: object) -> None:
        market, provider = self.world.market, self.world.provider.id
        while self.async_processor.pending:
            kind, request = self.async_processor.pending.pop(0)
            resource_id = request.resource.id
            try:
                if kind == "create":
                    backend_id = self.backend.create(request)
                    market.resource_creation_succeeded(provider, resource_id, backend_id=backend_id)
                elif kind == "update":
                    DictProcessor.update(self.async_processor, request)
                    market.resource_update_succeeded(provider, resource_id)
                else:
                    DictProcessor.terminate(self.async_processor, request)
                    market.resource_deletion_succeeded(provider, resource_id)
            except RuntimeError as error:
                report = {
                    "create": market.resource_creation_failed,
                    "update": market.resource_update_failed,
                    "terminate": market.resource_deletion_failed,
                }[kind]
                report(provider, resource_id, str(error))


class TrustsItsOptions(DictProcessor):
    def validate(self, request: ProcessingRequest) -> None:
        """Accepts every offering."""


class CreatesTwice(DictProcessor):
    def create(self, request: ProcessingRequest) -> Completed | InProgress:
        self.backend.by_order.pop(request.order.id, None)  # forgets what it did
        return super().create(request)


class SwallowsFailures(DictProcessor):
    def create(self, request: ProcessingRequest) -> Completed | InProgress:
        self.backend.failure = ""
        return super().create(request)


class ForgetsLimits(DictProcessor):
    def update(self, request: ProcessingRequest) -> Completed | InProgress:
        return Completed()


class RemovesOnlyOnce(DictProcessor):
    def terminate(self, request: ProcessingRequest) -> Completed | InProgress:
        if request.resource.backend_id not in self.backend.resources:
            raise RuntimeError(f"no such VM {request.resource.backend_id}")
        return super().terminate(request)


class NeverRemoves(DictProcessor):
    def terminate(self, request: ProcessingRequest) -> Completed | InProgress:
        return Completed()


BROKEN = [
    (
        TrustsItsOptions,
        "test_validate_refuses_orders_of_a_misconfigured_offering_and_stores_nothing",
    ),
    (CreatesTwice, "test_an_order_handed_over_twice_is_created_once"),
    (SwallowsFailures, "test_a_failed_create_errs_the_order_with_the_backend_message"),
    (ForgetsLimits, "test_a_limit_change_reaches_the_backend"),
    (RemovesOnlyOnce, "test_a_termination_handed_over_twice_is_done_once"),
    (NeverRemoves, "test_termination_removes_the_resource_from_the_backend"),
]


def test_the_contract_fails_processors_that_break_it() -> None:
    for processor_class, test_name in BROKEN:

        class Broken(DictContract):
            __test__ = False

            def make_processor(self, backend: DictBackend) -> DictProcessor:
                return processor_class(backend)  # noqa: B023  # called within the loop

        result = unittest.TestResult()
        Broken(test_name).run(result)
        assert len(result.failures) + len(result.errors) == 1, processor_class.__name__


def test_the_base_is_not_collected_but_its_subclasses_are() -> None:
    assert ProcessorContract.__test__ is False
    assert TestAnAsynchronousBackendPasses.__test__ is True

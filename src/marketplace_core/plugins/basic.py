"""The ``basic`` plugin: manual fulfilment by the provider.

Every order needs the provider's review by default. Once approved and executing, the order
waits for a person: the provider does the work by hand and reports the outcome through the
backend callbacks (``resource_creation_succeeded``, ``resource_update_failed``, ...). Limits
can be changed, and executing orders canceled.
"""

from __future__ import annotations

from marketplace_core.plugins.processor import InProgress, ProcessingRequest
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry

BASIC_CAPABILITIES = PluginCapabilities(
    needs_provider_review=True, can_update_limits=True, can_cancel_orders=True
)


class BasicProcessor:
    """Accepts every order and leaves it to the provider to finish through the callbacks."""

    def validate(self, request: ProcessingRequest) -> None:
        """Accept every order."""

    def create(self, request: ProcessingRequest) -> InProgress:
        """Wait for the provider to create the resource by hand."""
        return InProgress()

    def update(self, request: ProcessingRequest) -> InProgress:
        """Wait for the provider to change the resource by hand."""
        return InProgress()

    def terminate(self, request: ProcessingRequest) -> InProgress:
        """Wait for the provider to remove the resource by hand."""
        return InProgress()


def register_basic(registry: PluginRegistry, plugin_type: str = "basic") -> None:
    """Register the basic plugin under ``plugin_type``."""
    registry.register(plugin_type, BasicProcessor(), BASIC_CAPABILITIES)

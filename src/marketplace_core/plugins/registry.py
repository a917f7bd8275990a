"""The plugin registry: which plugin types exist, what each can do, and who fulfils them.

An offering names a plugin type; the type must be registered for the offering to be created
and ordered. The capabilities a plugin declares drive the core's rules: whether orders need a
provider review by default, whether limits can be changed and executing orders canceled, and
which components every offering of the type starts with.
"""

from __future__ import annotations

import attrs

from marketplace_core.errors import ConflictError, ErrorCode, ValidationError
from marketplace_core.inputs import require_text
from marketplace_core.offerings import OfferingComponent, check_components
from marketplace_core.plugins.policy_actions import PolicyActionHandler
from marketplace_core.plugins.processor import Processor


@attrs.frozen
class PluginCapabilities:
    """What a plugin type declares about itself.

    ``components`` are built in: every offering of the type starts with them and cannot
    remove them. ``can_cancel_orders`` lets consumers cancel orders that are already
    executing (pending ones can always be canceled).
    """

    needs_provider_review: bool = False
    can_update_limits: bool = False
    can_cancel_orders: bool = False
    components: tuple[OfferingComponent, ...] = ()


@attrs.frozen
class Plugin:
    """A registered plugin type: its processor and capabilities."""

    plugin_type: str
    processor: Processor
    capabilities: PluginCapabilities


class PluginRegistry:
    """The plugin types a marketplace knows."""

    def __init__(self) -> None:
        self._plugins: dict[str, Plugin] = {}
        self._policy_actions: dict[str, PolicyActionHandler] = {}

    def register_policy_action(self, name: str, handler: PolicyActionHandler) -> None:
        """Register a custom policy action under ``name``; each name is registered once."""
        require_text(name, "name", max_length=100)
        if name in self._policy_actions:
            raise ConflictError(
                ErrorCode.ALREADY_EXISTS,
                f"policy action {name!r} is already registered",
                name=name,
            )
        self._policy_actions[name] = handler

    def policy_action(self, name: str) -> PolicyActionHandler | None:
        """The custom policy action registered as ``name``, or ``None``."""
        return self._policy_actions.get(name)

    def register(
        self,
        plugin_type: str,
        processor: Processor,
        capabilities: PluginCapabilities | None = None,
    ) -> None:
        """Register ``plugin_type`` with its processor; each type is registered once."""
        require_text(plugin_type, "plugin_type", max_length=100)
        capabilities = capabilities or PluginCapabilities()
        check_components(capabilities.components)
        if plugin_type in self._plugins:
            raise ConflictError(
                ErrorCode.ALREADY_EXISTS,
                f"plugin type {plugin_type!r} is already registered",
                plugin_type=plugin_type,
            )
        self._plugins[plugin_type] = Plugin(plugin_type, processor, capabilities)

    def is_registered(self, plugin_type: str) -> bool:
        """Whether ``plugin_type`` is registered."""
        return plugin_type in self._plugins

    def get(self, plugin_type: str) -> Plugin:
        """The plugin registered as ``plugin_type``; refuses an unregistered type."""
        try:
            return self._plugins[plugin_type]
        except KeyError:
            known = ", ".join(repr(name) for name in sorted(self._plugins)) or "none"
            raise ValidationError(
                ErrorCode.PLUGIN_NOT_REGISTERED,
                f"plugin type {plugin_type!r} is not registered (registered: {known})",
                plugin_type=plugin_type,
            ) from None

    def capabilities(self, plugin_type: str) -> PluginCapabilities:
        """The capabilities of ``plugin_type``; refuses an unregistered type."""
        return self.get(plugin_type).capabilities

    def plugin_types(self) -> tuple[str, ...]:
        """The registered plugin types, sorted."""
        return tuple(sorted(self._plugins))

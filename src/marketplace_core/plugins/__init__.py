"""Plugins: the backends that fulfil orders, registered under a plugin type."""

from marketplace_core.plugins.basic import BASIC_CAPABILITIES, BasicProcessor, register_basic
from marketplace_core.plugins.policy_actions import PolicyActionCall, PolicyActionHandler
from marketplace_core.plugins.processor import (
    Completed,
    InProgress,
    ProcessingRequest,
    ProcessingResult,
    Processor,
)
from marketplace_core.plugins.registry import Plugin, PluginCapabilities, PluginRegistry
from marketplace_core.plugins.usage_source import PulledUsage, UsageRequest, UsageSource

__all__ = [
    "BASIC_CAPABILITIES",
    "BasicProcessor",
    "Completed",
    "InProgress",
    "Plugin",
    "PluginCapabilities",
    "PluginRegistry",
    "PolicyActionCall",
    "PolicyActionHandler",
    "ProcessingRequest",
    "ProcessingResult",
    "Processor",
    "PulledUsage",
    "UsageRequest",
    "UsageSource",
    "register_basic",
]

"""Plugins: the backends that fulfil orders, registered under a plugin type."""

from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry

__all__ = ["PluginCapabilities", "PluginRegistry"]

"""Plugins: the backends that fulfil orders, registered under a plugin type.

The package exports what registers each reference plugin; their ports and helpers are in
the plugin's own module (``plugins.script``, ``plugins.site_agent``, ``plugins.support``,
``plugins.slurm``, ``plugins.remote``).
"""

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
from marketplace_core.plugins.script import SCRIPT_CAPABILITIES, ScriptProcessor, register_script
from marketplace_core.plugins.site_agent import (
    SITE_AGENT_CAPABILITIES,
    SiteAgent,
    SiteAgentProcessor,
    SiteBackend,
    register_site_agent,
)
from marketplace_core.plugins.slurm import SLURM_CAPABILITIES, SlurmProcessor, register_slurm
from marketplace_core.plugins.support import (
    SUPPORT_CAPABILITIES,
    InMemoryTicketDesk,
    SupportProcessor,
    TicketDesk,
    register_support,
)
from marketplace_core.plugins.usage_source import PulledUsage, UsageRequest, UsageSource

__all__ = [
    "BASIC_CAPABILITIES",
    "SCRIPT_CAPABILITIES",
    "SITE_AGENT_CAPABILITIES",
    "SLURM_CAPABILITIES",
    "SUPPORT_CAPABILITIES",
    "BasicProcessor",
    "Completed",
    "InMemoryTicketDesk",
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
    "ScriptProcessor",
    "SiteAgent",
    "SiteAgentProcessor",
    "SiteBackend",
    "SlurmProcessor",
    "SupportProcessor",
    "TicketDesk",
    "UsageRequest",
    "UsageSource",
    "register_basic",
    "register_script",
    "register_site_agent",
    "register_slurm",
    "register_support",
]

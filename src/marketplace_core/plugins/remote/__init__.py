"""The ``remote`` plugin: resources hosted on another marketplace.

A local offering of this plugin resells an offering of another marketplace. Its orders are
forwarded there by :class:`RemoteProcessor` through a :class:`RemoteMarketplaceClient`
(:class:`InProcessRemoteClient` is the reference one), and :class:`RemoteSync`, run
periodically by the host, mirrors the remote outcomes, resource states and usage back.

Modules: :mod:`.port` (the client port and its records), :mod:`.options` (the offering's
``plugin_options``), :mod:`.processor`, :mod:`.in_process` and :mod:`.sync`.
"""

from marketplace_core.plugins.remote.in_process import InProcessRemoteClient
from marketplace_core.plugins.remote.options import RemoteOptions
from marketplace_core.plugins.remote.port import (
    RemoteInvoiceItem,
    RemoteMarketplaceClient,
    RemoteOrder,
    RemoteOrderKind,
    RemoteOrderRequest,
    RemoteResource,
    RemoteUsage,
)
from marketplace_core.plugins.remote.processor import (
    REMOTE_CAPABILITIES,
    RemoteProcessor,
    register_remote,
)
from marketplace_core.plugins.remote.sync import (
    InvoiceReconciliation,
    RemoteSync,
    SyncReport,
    remote_metadata,
)

__all__ = [
    "REMOTE_CAPABILITIES",
    "InProcessRemoteClient",
    "InvoiceReconciliation",
    "RemoteInvoiceItem",
    "RemoteMarketplaceClient",
    "RemoteOptions",
    "RemoteOrder",
    "RemoteOrderKind",
    "RemoteOrderRequest",
    "RemoteProcessor",
    "RemoteResource",
    "RemoteSync",
    "RemoteUsage",
    "SyncReport",
    "register_remote",
    "remote_metadata",
]

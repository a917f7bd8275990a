"""The service layer: command handlers grouped by area, and the context they run in.

Each handler is a plain function ``handler(ctx, ...)``: it loads what it needs through
``ctx.uow``, checks the actor's permission, calls the domain rules, stores the result and
emits events. The :class:`~marketplace_core.marketplace.Marketplace` facade opens the unit of
work, builds the :class:`~marketplace_core.services.context.Context` and commits.
"""

"""Griffe extension for the API reference: show the facade's commands as methods.

``Marketplace`` declares most commands as ``name = _Command(module.handler)``: at run time a
descriptor turns the service handler ``handler(ctx, *args)`` into the method ``name(*args)``
with the handler's docstring and signature minus ``ctx``. Static analysis only sees class
attributes without docstrings, so this extension replaces each such attribute with a method
built the same way from the handler that griffe loaded.
"""

from __future__ import annotations

from typing import Any

import griffe


class FacadeCommands(griffe.Extension):
    """Turn ``_Command(handler)`` attributes of ``Marketplace`` into documented methods."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **_: Any) -> None:
        if pkg.name != "marketplace_core":
            return
        facade = pkg["marketplace.Marketplace"]
        for name, member in list(facade.members.items()):
            value = getattr(member, "value", None)
            if not (isinstance(value, griffe.ExprCall) and str(value.function) == "_Command"):
                continue
            (target,) = value.arguments
            handler = loader.modules_collection[target.canonical_path]
            method = griffe.Function(
                name,
                lineno=member.lineno,
                endlineno=member.endlineno,
                parameters=griffe.Parameters(*list(handler.parameters)[1:]),
                returns=handler.returns,
            )
            if handler.docstring is not None:
                method.docstring = griffe.Docstring(
                    handler.docstring.value, lineno=handler.docstring.lineno, parent=method
                )
            facade.set_member(name, method)

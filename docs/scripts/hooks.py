"""MkDocs hook for the site: tidy the reST habits of the docstrings in the API reference.

The docstrings use reST roles (``:class:`~marketplace_core.ports.Storage```) and ``::`` before
literal blocks; mkdocstrings renders them as Markdown, so after rendering a role shows as
``:class:`` followed by the code span. This hook drops the role and, when the target is a
dotted path inside the package, turns the code span into an optional cross-reference, which
mkdocs-autorefs resolves to the object's entry (or leaves as plain code when the object is
not documented).
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|type):<code>(~?)([\w.]+)(\(\))?</code>"
)
_DOUBLE_COLON = re.compile(r"(\S)(\s*)::</p>")


def _role(match: re.Match[str]) -> str:
    tilde, target, call = match.group(1), match.group(2), match.group(3) or ""
    shown = target.rsplit(".", 1)[-1] if tilde else target
    code = f"<code>{shown}{call}</code>"
    if target.startswith("marketplace_core.") or target == "marketplace_core":
        return f'<autoref identifier="{target}" optional>{code}</autoref>'
    return code


def _colon(match: re.Match[str]) -> str:
    # reST: "text::" shows as "text:", "text ::" as "text".
    return match.group(1) + ("</p>" if match.group(2) else ":</p>")


def on_page_content(html: str, **_: Any) -> str:
    """Rewrite roles into code (and cross-references), and drop reST's ``::`` markers."""
    return _DOUBLE_COLON.sub(_colon, _ROLE.sub(_role, html))

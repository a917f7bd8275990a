"""Finding and checking the program an offering names for an action.

A program is a file below the root the host handed the processor: named by a relative
path without ``..``, not leading outside the root (also not through a symbolic link), and
either run by an interpreter chosen by its file-name ending or executable itself.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath

from marketplace_core.frozen import FrozenMap
from marketplace_core.offerings import Offering
from marketplace_core.plugins.script.actions import REQUIRED_ACTIONS, ScriptAction
from marketplace_core.plugins.script.refusals import refuse

DEFAULT_INTERPRETERS: Mapping[str, tuple[str, ...]] = FrozenMap({".py": (sys.executable,)})
"""Python files run through the interpreter running the marketplace."""


def check_interpreters(
    interpreters: Mapping[str, Sequence[str]], search_path: str | None
) -> Mapping[str, tuple[str, ...]]:
    """``interpreters`` (file-name ending to command) checked and frozen: each ending looks
    like ``.py``, each command is a non-empty sequence of non-empty strings, and its program
    is an executable file, found on ``search_path`` (the PATH programs see) when not a path."""
    checked: dict[str, tuple[str, ...]] = {}
    for ending, command in interpreters.items():
        if not isinstance(ending, str) or len(ending) < 2 or not ending.startswith("."):
            raise refuse(
                "interpreters", ending, f"interpreter endings look like '.py', got {ending!r}"
            )
        if (
            isinstance(command, str)
            or not command
            or not all(isinstance(part, str) and part for part in command)
        ):
            raise refuse(
                "interpreters",
                command,
                f"interpreters[{ending!r}] must be a non-empty sequence of non-empty "
                f"strings (a program and its arguments), got {command!r}",
            )
        if shutil.which(command[0], path=search_path) is None:
            raise refuse(
                "interpreters",
                command,
                f"interpreters[{ending!r}]: the program {command[0]!r} is not an executable "
                "file (nor found on the PATH programs see)",
            )
        checked[ending] = tuple(command)
    return FrozenMap(checked)


def interpreter_for(
    path: Path, interpreters: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...] | None:
    """The command that runs ``path``: the one of the longest ending its name has, or
    ``None`` when no ending matches (the file must then be executable itself)."""
    endings = sorted((e for e in interpreters if path.name.endswith(e)), key=len)
    return interpreters[endings[-1]] if endings else None


def find_program(
    root: Path,
    interpreters: Mapping[str, tuple[str, ...]],
    offering: Offering,
    action: ScriptAction,
) -> Path | None:
    """The program ``offering`` names for ``action``, resolved below ``root`` (itself
    resolved), or ``None`` when it names none.

    Refuses (``invalid_value``, naming ``plugin_options.<action>``) a value that is not a
    non-empty string, an absolute path, one with a ``..`` part, one that leads outside the
    root (also through a symbolic link), and one that is not an existing file, or not
    executable when no interpreter runs it.
    """
    field = f"plugin_options.{action.value}"
    value = offering.plugin_options.get(action.value)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise refuse(field, value, f"{field} must name a program, got {value!r}")
    relative = PurePath(value)
    if relative.is_absolute():
        raise refuse(
            field, value, f"{field} must be a path relative to the scripts' root, got {value!r}"
        )
    if ".." in relative.parts:
        raise refuse(field, value, f"{field} must not contain '..', got {value!r}")
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise refuse(field, value, f"{field}: {value!r} leads outside the scripts' root")
    if not path.is_file():
        raise refuse(field, value, f"{field}: {value!r} is not a file in the scripts' root")
    if interpreter_for(path, interpreters) is None and not os.access(path, os.X_OK):
        raise refuse(
            field,
            value,
            f"{field}: {value!r} is not executable, and no interpreter runs files like it",
        )
    return path


def check_programs(
    root: Path,
    interpreters: Mapping[str, tuple[str, ...]],
    offering: Offering,
    actions: Sequence[ScriptAction],
) -> None:
    """Refuse an offering whose programs for ``actions`` are not allowed (see
    :func:`find_program`), or that names no program for one of :data:`REQUIRED_ACTIONS`
    among ``actions``."""
    for action in actions:
        path = find_program(root, interpreters, offering, action)
        if path is None and action in REQUIRED_ACTIONS:
            field = f"plugin_options.{action.value}"
            raise refuse(
                field,
                None,
                f"{field} is required: offerings of the script plugin name a "
                f"{action.value} program",
            )

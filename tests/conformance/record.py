"""Record the scenarios into ``vectors/``: ``python -m tests.conformance.record [DIR] [AREA...]``
(every area when none is named).

Each scenario module under :mod:`tests.conformance.scenarios` holds functions
``vector_<name>(path)`` returning a :class:`Recorder`; the vector is written to
``DIR/<area>/<name>.vector.json`` (``-`` in names for ``_``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from marketplace_core.conformance import Recorder
from tests.conformance import scenarios

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
"""Where the project keeps its vectors."""


def all_scenarios(
    areas: Collection[str] = (),
) -> Iterator[tuple[str, Callable[[str], Recorder]]]:
    """``(vector name, scenario)`` for every scenario (of ``areas``, when given), in module
    and definition order."""
    for module_info in pkgutil.iter_modules(scenarios.__path__):
        area = module_info.name.replace("_", "-")
        if areas and area not in areas:
            continue
        module = importlib.import_module(f"{scenarios.__name__}.{module_info.name}")
        for attribute, scenario in vars(module).items():
            if attribute.startswith("vector_") and callable(scenario):
                name = attribute.removeprefix("vector_").replace("_", "-")
                yield f"{area}/{name}", scenario


def record_all(directory: Path, areas: Collection[str] = ()) -> list[Path]:
    """Record every scenario (of ``areas``) under ``directory``; returns the files written."""
    return [scenario(name).write(directory) for name, scenario in all_scenarios(areas)]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else VECTORS
    written = record_all(target, sys.argv[2:])
    print(f"{len(written)} vectors written under {target}")

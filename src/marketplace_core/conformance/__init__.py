"""Conformance vectors: language-neutral scenarios that pin down the library's behaviour.

A vector (``*.vector.json``, format in ``docs/vectors.md``, JSON Schema in
``vector.schema.json`` beside this module) is a scenario with the outcome expected of every
step. :func:`run_directory` runs a directory of them (``python -m marketplace_core vectors
DIR``); a port in another language implements the same runner and checks itself against
the same files. :class:`Recorder` writes a new vector from a few lines of calls played on
the reference, and :mod:`~marketplace_core.conformance.tables` exports the lifecycles,
approval rules and commands as data.
"""

from __future__ import annotations

from marketplace_core.conformance.format import (
    FORMAT,
    Vector,
    VectorFormatError,
    load_vector,
    parse_vector,
)
from marketplace_core.conformance.recorder import Recorder
from marketplace_core.conformance.runner import (
    VectorOutcome,
    run_directory,
    run_vector,
    run_vector_file,
    vector_files,
)

__all__ = [
    "FORMAT",
    "Recorder",
    "Vector",
    "VectorFormatError",
    "VectorOutcome",
    "load_vector",
    "parse_vector",
    "run_directory",
    "run_vector",
    "run_vector_file",
    "vector_files",
]

"""Id generators: random UUIDs for production, readable sequences for tests and demos."""

from __future__ import annotations

import uuid
from collections import Counter


class UuidGenerator:
    """Random, globally unique ids (UUID4, hex)."""

    def new_id(self, kind: str) -> str:
        """A fresh UUID4 in hex; ``kind`` is not part of it."""
        return uuid.uuid4().hex


class SequentialIdGenerator:
    """Readable, deterministic ids, counted per kind: ``offering-1``, ``plan-1``, ``plan-2``.

    Deterministic ids make test failures, demos and conformance vectors reproducible. Use one
    generator per storage, and only on storage it has numbered from the start: a second
    generator would hand out the same ids again.
    """

    def __init__(self) -> None:
        self._issued: Counter[str] = Counter()

    def new_id(self, kind: str) -> str:
        """``f"{kind}-{n}"``, where ``n`` counts the ids of ``kind`` handed out so far."""
        self._issued[kind] += 1
        return f"{kind}-{self._issued[kind]}"

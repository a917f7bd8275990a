"""Id generators: random UUIDs for production, readable sequences for tests and demos."""

from __future__ import annotations

import itertools
import uuid


class UuidGenerator:
    """Random, globally unique ids (UUID4, hex)."""

    def new_id(self, kind: str) -> str:
        """A fresh UUID4 in hex; ``kind`` is not part of it."""
        return uuid.uuid4().hex


class SequentialIdGenerator:
    """Readable, deterministic ids: ``offering-1``, ``plan-2``, ... (one counter for all kinds).

    Deterministic ids make test failures, demos and conformance vectors reproducible. Use one
    generator per storage: two generators would hand out the same ids.
    """

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)

    def new_id(self, kind: str) -> str:
        """``f"{kind}-{n}"`` with ``n`` one more than the last id handed out."""
        return f"{kind}-{next(self._counter)}"

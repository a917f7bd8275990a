"""The storage contract suite: the tests every :class:`~marketplace_core.ports.Storage` must
pass. A storage adapter subclasses :class:`StorageContract` and inherits them.

- :mod:`.samples`: the fixed sample values, :func:`sample_entities` (realistic entities of
  every repository) and :func:`sample_events`.
- :mod:`.specs`: :class:`AggregateSpec`, :class:`KeyedQuery` and :class:`Answer`, how the
  suite exercises each repository (:data:`AGGREGATES`), and what the ports declare
  (:func:`unit_of_work_repositories`, :func:`protocol_methods`).
- :mod:`.varied`: :func:`varied`, Hypothesis strategies of entities shaped like the
  samples, for the varied-values round trip.
- :mod:`.suite`: :class:`StorageContract`, the tests themselves.
"""

from marketplace_core.testing.storage_contract.samples import (
    FEBRUARY,
    MARCH,
    NESTED_JSON,
    T0,
    T_EAST,
    T_WEST,
    sample_entities,
    sample_events,
)
from marketplace_core.testing.storage_contract.specs import (
    AGGREGATES,
    AggregateSpec,
    Answer,
    KeyedQuery,
    protocol_methods,
    unit_of_work_repositories,
)
from marketplace_core.testing.storage_contract.suite import CommandFailedError, StorageContract
from marketplace_core.testing.storage_contract.varied import varied

__all__ = [
    "AGGREGATES",
    "FEBRUARY",
    "MARCH",
    "NESTED_JSON",
    "T0",
    "T_EAST",
    "T_WEST",
    "AggregateSpec",
    "Answer",
    "CommandFailedError",
    "KeyedQuery",
    "StorageContract",
    "protocol_methods",
    "sample_entities",
    "sample_events",
    "unit_of_work_repositories",
    "varied",
]

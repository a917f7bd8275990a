"""The testing kit: processors and helpers for hosts' tests and the library's own.

Everything here is public and typed, so a host can test its own code against the same
doubles the library uses.
"""

from marketplace_core.testing.processor_contract import (
    ContractWorld,
    ProcessorContract,
    build_contract_world,
)
from marketplace_core.testing.processors import InstantProcessor, Outcome, ScriptedProcessor
from marketplace_core.testing.slurm import FakeSlurmRunner
from marketplace_core.testing.storage_contract import (
    AGGREGATES,
    AggregateSpec,
    KeyedQuery,
    StorageContract,
)

__all__ = [
    "AGGREGATES",
    "AggregateSpec",
    "ContractWorld",
    "FakeSlurmRunner",
    "InstantProcessor",
    "KeyedQuery",
    "Outcome",
    "ProcessorContract",
    "ScriptedProcessor",
    "StorageContract",
    "build_contract_world",
]

"""The ``slurm`` reference plugin: HPC allocations as Slurm accounts.

- :mod:`.options`: the offering's ``plugin_options``, read and checked.
- :mod:`.accounts`: the account name, TRES limits and job limits of a resource (pure).
- :mod:`.commands`: the ``sacctmgr`` and ``sacct`` command lines (pure argument lists).
- :mod:`.output`: reading what those commands print.
- :mod:`.usage`: summing job records into hours.
- :mod:`.client`: the :class:`CommandRunner` port, :class:`SubprocessRunner`, and
  :class:`SlurmClient`, which runs one operation per command.
- :mod:`.processor`: :class:`SlurmProcessor`, :data:`SLURM_CAPABILITIES`,
  :func:`register_slurm`.
- :mod:`.sync`: :class:`SlurmSync`, which makes Slurm honour the ``jobs_blocked`` flag.

``FakeSlurmRunner`` (:mod:`marketplace_core.testing.slurm`) answers the same command lines
from memory, for tests.
"""

from marketplace_core.plugins.slurm.accounts import (
    BLOCKED,
    CPU_HOURS,
    GPU_HOURS,
    JOBS_BLOCKED,
    STORAGE,
    JobLimits,
    TresLimits,
    account_name,
    limits_of,
    tres_limits,
)
from marketplace_core.plugins.slurm.client import (
    CommandResult,
    CommandRunner,
    SlurmClient,
    SubprocessRunner,
)
from marketplace_core.plugins.slurm.options import SlurmOptions, read_options
from marketplace_core.plugins.slurm.output import Association, JobRecord
from marketplace_core.plugins.slurm.processor import (
    SLURM_CAPABILITIES,
    SLURM_COMPONENTS,
    SlurmProcessor,
    register_slurm,
)
from marketplace_core.plugins.slurm.sync import FlagOutcome, ReconcileReport, SlurmSync

__all__ = [
    "BLOCKED",
    "CPU_HOURS",
    "GPU_HOURS",
    "JOBS_BLOCKED",
    "SLURM_CAPABILITIES",
    "SLURM_COMPONENTS",
    "STORAGE",
    "Association",
    "CommandResult",
    "CommandRunner",
    "FlagOutcome",
    "JobLimits",
    "JobRecord",
    "ReconcileReport",
    "SlurmClient",
    "SlurmOptions",
    "SlurmProcessor",
    "SlurmSync",
    "SubprocessRunner",
    "TresLimits",
    "account_name",
    "limits_of",
    "read_options",
    "register_slurm",
    "tres_limits",
]

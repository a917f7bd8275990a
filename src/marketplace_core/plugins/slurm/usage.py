"""Usage from job records: elapsed seconds times allocated TRES, summed into hours.

The sum is exact: TRES-seconds are added as integers, and only the total is turned into
hours, rounded half-even to :data:`HOURS_QUANTUM` (a millionth of an hour, 3.6 ms, well
below the one-second resolution of ``sacct``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from marketplace_core.plugins.slurm.output import JobRecord

HOURS_QUANTUM = Decimal("0.000001")
SECONDS_PER_HOUR = 3600


def allocated(tres: Mapping[str, int], name: str) -> int:
    """How many of TRES ``name`` a job was allocated: the plain entry if there is one
    (``gres/gpu=2``), else the sum of its typed entries (``gres/gpu:a100=1``,
    ``gres/gpu:h100=1``); Slurm lists the plain total beside typed ones, so it wins."""
    if name in tres:
        return tres[name]
    return sum(count for key, count in tres.items() if key.startswith(f"{name}:"))


def tres_seconds(jobs: Iterable[JobRecord], name: str) -> int:
    """The TRES-seconds of TRES ``name`` over ``jobs``: each job's elapsed seconds times
    its allocation of ``name``."""
    return sum(job.elapsed_seconds * allocated(job.tres, name) for job in jobs)


def hours(seconds: int) -> Decimal:
    """``seconds`` as hours, rounded half-even to :data:`HOURS_QUANTUM`, in integer
    arithmetic, so no decimal context limits how large a total may be."""
    millionths, rest = divmod(seconds * 10**6, SECONDS_PER_HOUR)
    if 2 * rest > SECONDS_PER_HOUR or (2 * rest == SECONDS_PER_HOUR and millionths % 2):
        millionths += 1
    return Decimal(f"{millionths}E-6")

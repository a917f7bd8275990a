"""What a resource is in Slurm: an account named after it, with TRES limits and job limits.

The rules here are pure: the account's name from the resource id, the TRES limits from the
resource's limits (hours become minutes), the limits back from what Slurm holds, and the job
limits a flag asks for.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.plugins.slurm.options import UNLIMITED, SlurmOptions
from marketplace_core.policies import RESOURCE_FLAGS, ActionKind
from marketplace_core.resources import Resource

CPU_HOURS = "cpu_hours"
"""The component of CPU core hours; written as ``GrpTRESMins=cpu=<hours x 60>``."""
GPU_HOURS = "gpu_hours"
"""The component of GPU hours; written as ``GrpTRESMins=<gpu_tres>=<hours x 60>``."""
STORAGE = "storage"
"""The component of storage in GB; written as ``GrpTRES=<storage_tres>=<GB x factor>``."""

JOBS_BLOCKED = RESOURCE_FLAGS[ActionKind.BLOCK_HPC_JOBS]
"""The resource flag (``jobs_blocked``) under which the account may run no jobs."""

MAX_ACCOUNT_NAME_LENGTH = 40
MAX_SLURM_LIMIT = 2**63 - 1
"""The largest value the plugin writes to a Slurm limit (Slurm keeps 64-bit counters and
reserves the top values for "unset" and "infinite")."""

_UNSAFE = re.compile(r"[^a-z0-9_-]")
_UNSAFE_TEXT = re.compile(r"[^A-Za-z0-9 _.:/-]")


def account_name(resource_id: str, prefix: str) -> str:
    """The Slurm account of the resource ``resource_id``: ``prefix`` and the id.

    Deterministic, so a repeated create finds the account it made. An id that is not
    already lower-case letters, digits, ``_`` and ``-``, or that would make the name longer
    than 40 characters, is cut down to safe characters and followed by 8 hex digits of its
    SHA-256, so two different ids never meet in one name.
    """
    slug = _UNSAFE.sub("_", resource_id.lower())
    if slug == resource_id and len(prefix) + len(slug) <= MAX_ACCOUNT_NAME_LENGTH:
        return prefix + slug
    digest = hashlib.sha256(resource_id.encode()).hexdigest()[:8]
    room = MAX_ACCOUNT_NAME_LENGTH - len(prefix) - len(digest) - 1
    return f"{prefix}{slug[:room]}_{digest}"


def account_description(resource: Resource) -> str:
    """The account's description: the resource's name and id in lower case (Slurm folds a
    description to lower case, so this is what it keeps), in characters ``sacctmgr`` keeps
    as they are, at most 100 of them."""
    name, resource_id = (_UNSAFE_TEXT.sub("_", text) for text in (resource.name, resource.id))
    return f"{name[:60]} ({resource_id[:37]})".lower()


def account_organization(resource: Resource) -> str:
    """The account's organization: the resource's project, in lower case (as Slurm keeps
    it) and safe characters."""
    return _UNSAFE.sub("_", resource.project_id.lower())[:MAX_ACCOUNT_NAME_LENGTH]


@attrs.frozen
class TresLimits:
    """An account's TRES limits: ``minutes`` go to ``GrpTRESMins``, ``amounts`` to
    ``GrpTRES``, each keyed by TRES name."""

    minutes: Mapping[str, int]
    amounts: Mapping[str, int]


def _limit(limits: Mapping[str, int], component: str) -> int:
    return limits.get(component, 0)


def check_limits(limits: Mapping[str, int], options: SlurmOptions) -> None:
    """Refuse limits Slurm cannot hold: values too large for its counters, and GPU hours on
    an offering whose cluster has no GPU TRES."""
    if options.gpu_tres is None and _limit(limits, GPU_HOURS) > 0:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"limits[{GPU_HOURS!r}] must be 0: the offering's cluster has no GPUs "
            "(plugin_options.gpu_tres is None)",
            field=f"limits[{GPU_HOURS}]",
            value=repr(limits[GPU_HOURS]),
        )
    for component, value in limits.items():
        scale = options.storage_tres_factor if component == STORAGE else 60
        if value * scale > MAX_SLURM_LIMIT:
            raise ValidationError(
                ErrorCode.INVALID_VALUE,
                f"limits[{component!r}] = {value} is too large for Slurm (at most "
                f"{MAX_SLURM_LIMIT // scale})",
                field=f"limits[{component}]",
                value=repr(value),
            )


def tres_limits(limits: Mapping[str, int], options: SlurmOptions) -> TresLimits:
    """The TRES limits for a resource's ``limits``: CPU and GPU hours as minutes, storage
    scaled by the factor. A component without a limit is written as 0: what a resource has
    not bought it may not use. GPU and storage are written only when the offering names
    their TRES."""
    minutes = {"cpu": _limit(limits, CPU_HOURS) * 60}
    if options.gpu_tres is not None:
        minutes[options.gpu_tres] = _limit(limits, GPU_HOURS) * 60
    amounts = {}
    if options.storage_tres is not None:
        amounts[options.storage_tres] = _limit(limits, STORAGE) * options.storage_tres_factor
    return TresLimits(minutes, amounts)


def limits_of(tres: TresLimits, options: SlurmOptions) -> dict[str, int]:
    """The resource limits an account's TRES limits stand for (the inverse of
    :func:`tres_limits`): whole hours and GB, rounded down; ``-1`` where Slurm holds no
    limit for the TRES. Components the offering does not write to Slurm are left out."""

    def back(values: Mapping[str, int], name: str, scale: int) -> int:
        value = values.get(name)
        return UNLIMITED if value is None or value < 0 else value // scale

    limits = {CPU_HOURS: back(tres.minutes, "cpu", 60)}
    if options.gpu_tres is not None:
        limits[GPU_HOURS] = back(tres.minutes, options.gpu_tres, 60)
    if options.storage_tres is not None:
        limits[STORAGE] = back(tres.amounts, options.storage_tres, options.storage_tres_factor)
    return limits


@attrs.frozen
class JobLimits:
    """An account's job limits: running jobs (``GrpJobs``) and pending plus running jobs
    (``GrpSubmitJobs``) across its users; ``-1`` is unlimited."""

    grp_jobs: int = UNLIMITED
    grp_submit_jobs: int = UNLIMITED


BLOCKED = JobLimits(0, 0)
"""The job limits of an account whose jobs a policy blocks: nothing runs, nothing queues."""


def job_limits(resource: Resource, options: SlurmOptions) -> JobLimits:
    """The job limits ``resource``'s account should have: :data:`BLOCKED` while it carries
    the ``jobs_blocked`` flag, the offering's job limits otherwise."""
    if JOBS_BLOCKED in resource.flags:
        return BLOCKED
    return JobLimits(options.grp_jobs, options.grp_submit_jobs)

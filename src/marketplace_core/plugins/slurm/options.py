"""The offering's ``plugin_options`` for the slurm plugin, read and checked once.

Every option is optional. A provider names the parent account and cluster its allocations
live under, which TRES carry GPU and storage limits, and the job limits an account has when
no policy blocks its jobs. Unknown keys are refused, so a misspelt option is noticed at the
first order instead of being silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.inputs import require_int

SLURM_NAME_PATTERN = re.compile(r"[a-z0-9_][a-z0-9_-]{0,39}")
"""Account, cluster and user names the plugin writes: lower case (Slurm folds account names
to lower case), letters, digits, ``_`` and ``-``, at most 40 characters."""

PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,15}")
"""An account prefix: starts with a letter, at most 16 characters."""

TRES_PATTERN = re.compile(r"[a-z][a-z0-9_]*(/[a-z0-9_.:-]+)?")
"""A TRES name as ``sacctmgr`` takes it: ``cpu``, ``gres/gpu``, ``license/lustre``."""

UNLIMITED = -1
"""Slurm's "no limit" for a job limit."""

MAX_JOB_LIMIT = 2**31 - 1
"""The largest ``GrpJobs`` / ``GrpSubmitJobs`` Slurm keeps: they are 32-bit signed counters.
A larger value is not stored (``sacctmgr`` answers "Nothing modified", exit 1, or keeps it
modulo 2**32 when it is larger still)."""

_UNIT_PRINTED_TRES = ("mem", "gres/gpumem")
_KNOWN_OPTIONS = (
    "account_prefix",
    "parent_account",
    "cluster",
    "gpu_tres",
    "storage_tres",
    "storage_tres_factor",
    "grp_jobs",
    "grp_submit_jobs",
)


def _refuse(option: str, value: object, expected: str) -> ValidationError:
    return ValidationError(
        ErrorCode.INVALID_VALUE,
        f"plugin_options.{option} must be {expected}, got {value!r}",
        field=f"plugin_options.{option}",
        value=repr(value),
        expected=expected,
    )


def _name(options: Mapping[str, Any], option: str, pattern: re.Pattern[str], what: str) -> str:
    value = options[option]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _refuse(option, value, what)
    return value


def _optional_name(
    options: Mapping[str, Any], option: str, default: str | None, pattern: re.Pattern[str]
) -> str | None:
    if option not in options:
        return default
    if options[option] is None:
        return None
    return _name(options, option, pattern, f"None or a name matching {pattern.pattern}")


def _counted_tres(options: Mapping[str, Any], option: str, default: str | None) -> str | None:
    tres = _optional_name(options, option, default, TRES_PATTERN)
    if tres == "cpu" or tres in _UNIT_PRINTED_TRES or (tres or "").startswith("bb/"):
        raise _refuse(
            option,
            tres,
            "a TRES other than cpu that Slurm prints as a plain count (not mem, gres/gpumem "
            "or a burst buffer bb/...)",
        )
    return tres


@attrs.frozen
class SlurmOptions:
    """The slurm plugin's settings of one offering.

    ``account_prefix`` starts every account name. ``parent_account`` (an account the provider
    made) is the parent of every allocation's account; ``None`` puts them under ``root``.
    ``cluster`` limits every command to one cluster; ``None`` means every cluster of the
    Slurm database. ``gpu_tres`` is the TRES GPU hours count and limit (``None``: the
    cluster has no GPUs). ``storage_tres`` is the TRES the storage limit is written to,
    as ``GrpTRES=<storage_tres>=<GB x storage_tres_factor>`` (``None``: storage is billed
    but not written to Slurm). ``grp_jobs`` and ``grp_submit_jobs`` are the account's job
    limits while no policy blocks its jobs (``-1``: unlimited; at most
    :data:`MAX_JOB_LIMIT`).
    """

    account_prefix: str = "mp_"
    parent_account: str | None = None
    cluster: str | None = None
    gpu_tres: str | None = "gres/gpu"
    storage_tres: str | None = None
    storage_tres_factor: int = 1
    grp_jobs: int = UNLIMITED
    grp_submit_jobs: int = UNLIMITED


def read_options(plugin_options: Mapping[str, Any]) -> SlurmOptions:
    """The :class:`SlurmOptions` an offering's ``plugin_options`` say; refuses unknown keys
    and malformed values, naming ``plugin_options.<key>``."""
    unknown = sorted(set(plugin_options) - set(_KNOWN_OPTIONS))
    if unknown:
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"plugin_options.{unknown[0]} is not a slurm option (known: "
            f"{', '.join(_KNOWN_OPTIONS)})",
            field=f"plugin_options.{unknown[0]}",
            value=repr(plugin_options[unknown[0]]),
        )
    defaults = SlurmOptions()
    prefix = defaults.account_prefix
    if "account_prefix" in plugin_options:
        prefix = _name(
            plugin_options,
            "account_prefix",
            PREFIX_PATTERN,
            f"a prefix matching {PREFIX_PATTERN.pattern}",
        )
    gpu_tres = _counted_tres(plugin_options, "gpu_tres", defaults.gpu_tres)
    storage_tres = _counted_tres(plugin_options, "storage_tres", defaults.storage_tres)
    if storage_tres is not None and storage_tres == gpu_tres:
        raise _refuse("storage_tres", storage_tres, f"a TRES other than gpu_tres {gpu_tres!r}")

    def job_limit(option: str, default: int) -> int:
        value = plugin_options.get(option, default)
        return require_int(
            value, f"plugin_options.{option}", minimum=UNLIMITED, maximum=MAX_JOB_LIMIT
        )

    return SlurmOptions(
        account_prefix=prefix,
        parent_account=_optional_name(plugin_options, "parent_account", None, SLURM_NAME_PATTERN),
        cluster=_optional_name(plugin_options, "cluster", None, SLURM_NAME_PATTERN),
        gpu_tres=gpu_tres,
        storage_tres=storage_tres,
        storage_tres_factor=require_int(
            plugin_options.get("storage_tres_factor", defaults.storage_tres_factor),
            "plugin_options.storage_tres_factor",
            minimum=1,
        ),
        grp_jobs=job_limit("grp_jobs", defaults.grp_jobs),
        grp_submit_jobs=job_limit("grp_submit_jobs", defaults.grp_submit_jobs),
    )

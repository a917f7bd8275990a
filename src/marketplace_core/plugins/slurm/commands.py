"""The command lines the slurm plugin runs, built as argument lists (never through a shell).

Each builder is pure and returns the whole ``argv``. Every ``sacctmgr`` call is
non-interactive and machine-readable (``--immediate --parsable2 --noheader``); every name
is checked against :data:`~marketplace_core.plugins.slurm.options.SLURM_NAME_PATTERN` first,
so no value can smuggle in another ``key=value`` or ``set`` word. ``FakeSlurmRunner`` in
:mod:`marketplace_core.testing.slurm` parses exactly these lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.plugins.slurm.accounts import JobLimits, TresLimits
from marketplace_core.plugins.slurm.options import SLURM_NAME_PATTERN, TRES_PATTERN

SACCTMGR = ("sacctmgr", "--immediate", "--parsable2", "--noheader")
"""How every ``sacctmgr`` call starts."""

ASSOCIATION_FORMAT = ("Account", "User", "GrpTRESMins", "GrpTRES", "GrpJobs", "GrpSubmit")
"""The fields read from an account's association, in this order."""

SACCT_FORMAT = ("JobID", "ElapsedRaw", "AllocTRES")
"""The fields read from ``sacct``, in this order."""

SACCT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"

_DESCRIPTION = re.compile(r"[A-Za-z0-9 _.:/()-]{0,100}")


def _check(value: str, what: str, pattern: re.Pattern[str] = SLURM_NAME_PATTERN) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValidationError(
            ErrorCode.INVALID_VALUE,
            f"{what} must match {pattern.pattern} to be passed to Slurm, got {value!r}",
            field=what,
            value=repr(value),
        )
    return value


def _where(name_key: str, name: str, cluster: str | None) -> list[str]:
    where = ["where", f"{name_key}={_check(name, name_key)}"]
    if cluster is not None:
        where.append(f"cluster={_check(cluster, 'cluster')}")
    return where


def _tres_list(values: Mapping[str, int]) -> str:
    return ",".join(
        f"{_check(tres, 'tres', TRES_PATTERN)}={values[tres]}" for tres in sorted(values)
    )


def show_account(name: str) -> list[str]:
    """List the account record ``name``: one line with its name if it exists, nothing if not.

    The record is not cluster-scoped and outlives its associations: it is listed even when
    the account has no association on any cluster."""
    return [*SACCTMGR, "list", "account", *_where("name", name, None), "format=Account"]


def list_accounts() -> list[str]:
    """List every account, one name a line (``root`` and the provider's own included)."""
    return [*SACCTMGR, "list", "account", "format=Account"]


def add_account(
    name: str,
    *,
    description: str,
    organization: str,
    parent: str | None = None,
    cluster: str | None = None,
) -> list[str]:
    """Add the account ``name`` and its association (under ``parent``, default ``root``; on
    ``cluster``, default every cluster).

    Slurm folds the description and organization to lower case. If the record already
    exists, only the missing association is added and the record keeps its old description
    and organization; if the association exists too, Slurm answers ``Nothing new added.``
    (exit 1)."""
    argv = [
        *SACCTMGR,
        "add",
        "account",
        _check(name, "name"),
        f"Description={_check(description, 'description', _DESCRIPTION)}",
        f"Organization={_check(organization, 'organization')}",
    ]
    if parent is not None:
        argv.append(f"Parent={_check(parent, 'parent')}")
    if cluster is not None:
        argv.append(f"Cluster={_check(cluster, 'cluster')}")
    return argv


def set_tres_limits(name: str, limits: TresLimits, cluster: str | None = None) -> list[str]:
    """Set the ``GrpTRESMins`` (and ``GrpTRES``, if any amounts) of the account's own
    association, TRES sorted by name. A TRES given ``-1`` loses its limit; TRES not given
    keep theirs. Slurm answers ``Nothing modified`` (exit 1) when the account has no
    association (on ``cluster``)."""
    settings = [f"GrpTRESMins={_tres_list(limits.minutes)}"]
    if limits.amounts:
        settings.append(f"GrpTRES={_tres_list(limits.amounts)}")
    return [*SACCTMGR, "modify", "account", *_where("name", name, cluster), "set", *settings]


def set_job_limits(name: str, limits: JobLimits, cluster: str | None = None) -> list[str]:
    """Set the ``GrpJobs`` and ``GrpSubmitJobs`` of the account's own association (``-1``
    clears a limit; at most :data:`~marketplace_core.plugins.slurm.options.MAX_JOB_LIMIT`)."""
    return [
        *SACCTMGR,
        "modify",
        "account",
        *_where("name", name, cluster),
        "set",
        f"GrpJobs={int(limits.grp_jobs)}",
        f"GrpSubmitJobs={int(limits.grp_submit_jobs)}",
    ]


def remove_account(name: str, cluster: str | None = None) -> list[str]:
    """Remove the account ``name``'s associations, its users' and its sub-accounts' ones
    included.

    With ``cluster`` only the associations on that cluster go, and the account record stays
    (with no association left it is a bare record, which :func:`show_account` still lists).
    Without ``cluster`` the record goes too, with every association on every cluster; the
    records of sub-accounts stay. Slurm refuses (exit 1, ``Job(s) active, cancel job(s)
    before remove``) while a job of a removed association is pending or running, and
    answers ``Nothing deleted`` (exit 1) when nothing matches."""
    return [*SACCTMGR, "remove", "account", *_where("name", name, cluster)]


def show_association(name: str, cluster: str | None = None) -> list[str]:
    """List the associations of account ``name`` with the fields of
    :data:`ASSOCIATION_FORMAT`: the account's own row has an empty ``User``."""
    return [
        *SACCTMGR,
        "list",
        "association",
        *_where("account", name, cluster),
        f"format={','.join(ASSOCIATION_FORMAT)}",
    ]


def add_user(user: str, account: str, cluster: str | None = None) -> list[str]:
    """Associate the existing Slurm user ``user`` with ``account``."""
    argv = [*SACCTMGR, "add", "user", _check(user, "user"), f"Account={_check(account, 'account')}"]
    if cluster is not None:
        argv.append(f"Cluster={_check(cluster, 'cluster')}")
    return argv


def remove_user(user: str, account: str, cluster: str | None = None) -> list[str]:
    """Remove the association of ``user`` with ``account``."""
    return [
        *SACCTMGR,
        "remove",
        "user",
        *_where("name", user, cluster),
        f"account={_check(account, 'account')}",
    ]


def job_usage(
    account: str, start: datetime, end: datetime, cluster: str | None = None
) -> list[str]:
    """List the job allocations of ``account`` (all users) that ran in ``[start, end)``,
    times truncated to the window (``--truncate``), with the fields of
    :data:`SACCT_FORMAT`. Times are written in UTC; the runner must run ``sacct`` with
    ``TZ=UTC`` (the :class:`~marketplace_core.plugins.slurm.client.SubprocessRunner`
    does)."""
    argv = [
        "sacct",
        "--allusers",
        "--allocations",
        "--noheader",
        "--parsable2",
        "--truncate",
        f"--accounts={_check(account, 'account')}",
        f"--starttime={start.astimezone(UTC):{SACCT_TIME_FORMAT}}",
        f"--endtime={end.astimezone(UTC):{SACCT_TIME_FORMAT}}",
        f"--format={','.join(SACCT_FORMAT)}",
    ]
    if cluster is not None:
        argv.append(f"--clusters={_check(cluster, 'cluster')}")
    return argv

"""Reading what ``sacctmgr`` and ``sacct`` print with ``--parsable2 --noheader``.

One record a line, fields separated by ``|`` in the order the command's ``format`` asked
for. Anything else (a wrong number of fields, a count that is not a number) is refused
with a :class:`~marketplace_core.errors.BackendError` (``backend_bad_response``) naming the
line; a plugin never guesses at output it cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from marketplace_core.errors import BackendError, ErrorCode
from marketplace_core.plugins.slurm.accounts import JobLimits, TresLimits
from marketplace_core.plugins.slurm.commands import ASSOCIATION_FORMAT, SACCT_FORMAT
from marketplace_core.plugins.slurm.options import UNLIMITED

_COUNT = re.compile(r"\d+")
_WITH_UNIT = re.compile(r"\d+(\.\d+)?[KMGTPE]")
_TRES_NAME = re.compile(r"[a-z][a-z0-9_]*(/[A-Za-z0-9_.:-]+)?")


def _bad(message: str, line_number: int, line: str) -> BackendError:
    return BackendError(
        ErrorCode.BACKEND_BAD_RESPONSE,
        f"line {line_number} {line!r}: {message}",
        line=line,
        line_number=line_number,
    )


def _records(stdout: str, fields: tuple[str, ...]) -> list[tuple[int, str, list[str]]]:
    records = []
    for number, line in enumerate(stdout.splitlines(), start=1):
        if not line.strip():
            continue
        values = line.split("|")
        if len(values) != len(fields):
            raise _bad(
                f"expected {len(fields)} fields ({', '.join(fields)}), got {len(values)}",
                number,
                line,
            )
        records.append((number, line, values))
    return records


def parse_tres(text: str, line_number: int = 0, line: str = "") -> dict[str, int]:
    """A TRES list (``cpu=4,mem=16G,gres/gpu=2``) as counts by TRES name.

    Values Slurm prints with a unit (``mem=16G``) are left out: the plugin counts only TRES
    printed as plain numbers. An empty text is no TRES at all.
    """
    counts: dict[str, int] = {}
    for pair in filter(None, text.split(",")):
        name, equals, value = pair.partition("=")
        if not equals or not _TRES_NAME.fullmatch(name):
            raise _bad(f"{pair!r} is not a TRES=value pair", line_number, line or text)
        if _COUNT.fullmatch(value):
            counts[name] = int(value)
        elif not _WITH_UNIT.fullmatch(value):
            raise _bad(f"TRES {name!r} has value {value!r}, not a count", line_number, line or text)
    return counts


def parse_account_names(stdout: str) -> list[str]:
    """The account names of ``list account ... format=Account``, one a line."""
    return [values[0] for _, _, values in _records(stdout, ("Account",))]


@attrs.frozen
class Association:
    """One association row of an account: the account's own (``user == ""``) or a user's."""

    account: str
    user: str
    tres: TresLimits
    job_limits: JobLimits


def _job_limit(value: str, field: str, number: int, line: str) -> int:
    if value == "":
        return UNLIMITED
    if not _COUNT.fullmatch(value):
        raise _bad(f"{field} {value!r} is not a count", number, line)
    return int(value)


def parse_associations(stdout: str) -> list[Association]:
    """The rows of ``list association ... format=`` :data:`ASSOCIATION_FORMAT`. An empty
    job limit is unlimited (``-1``); a TRES without a limit is absent."""
    associations = []
    for number, line, values in _records(stdout, ASSOCIATION_FORMAT):
        account, user, minutes, amounts, grp_jobs, grp_submit = values
        associations.append(
            Association(
                account,
                user,
                TresLimits(parse_tres(minutes, number, line), parse_tres(amounts, number, line)),
                JobLimits(
                    _job_limit(grp_jobs, "GrpJobs", number, line),
                    _job_limit(grp_submit, "GrpSubmit", number, line),
                ),
            )
        )
    return associations


@attrs.frozen
class JobRecord:
    """One job allocation as ``sacct`` reports it: its id, how many seconds it ran within
    the asked window, and the TRES it was allocated."""

    job_id: str
    elapsed_seconds: int
    tres: Mapping[str, int]


def parse_jobs(stdout: str) -> list[JobRecord]:
    """The rows of ``sacct ... --format=`` :data:`SACCT_FORMAT`."""
    jobs = []
    for number, line, (job_id, elapsed, tres) in _records(stdout, SACCT_FORMAT):
        if not job_id:
            raise _bad("the JobID is empty", number, line)
        if not _COUNT.fullmatch(elapsed):
            raise _bad(f"ElapsedRaw {elapsed!r} is not a number of seconds", number, line)
        jobs.append(JobRecord(job_id, int(elapsed), parse_tres(tres, number, line)))
    return jobs

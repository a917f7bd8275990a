"""A fake Slurm accounting database that answers ``sacctmgr`` and ``sacct`` command lines.

:class:`FakeSlurmRunner` is a :class:`~marketplace_core.plugins.slurm.client.CommandRunner`:
hand it to a :class:`~marketplace_core.plugins.slurm.client.SlurmClient` in place of a
:class:`~marketplace_core.plugins.slurm.client.SubprocessRunner`. It parses each argument
list the way the real commands do (the subset the slurm plugin uses) and keeps the state
those commands change, as Slurm keeps it: account **records** (name, description,
organization) apart from account **associations** on its one cluster (parent, TRES limits,
job limits, users), and job records for ``sacct``.

Its answers follow Slurm 22.05's, as observed on a real slurmdbd:

- names, descriptions and organizations are folded to lower case;
- ``add account`` of a record that exists adds only a missing association (the record keeps
  its old description and organization); with both present it exits 1 with
  ``Nothing new added.`` on stdout;
- ``modify`` changes associations only: an account without one (a bare record, or another
  cluster named) gets ``Nothing modified`` (stdout, exit 1); setting the values it already
  has is a change like any other (exit 0);
- ``remove account ... cluster=<c>`` removes the associations on that cluster (the
  account's, its users' and its sub-accounts') and leaves the record; without a cluster the
  record goes too and the sub-accounts' records stay; ``Nothing deleted`` (stdout, exit 1)
  when nothing matches; refused (stderr, exit 1, ``Job(s) active``) while a job of a
  removed association is pending or running; ``root`` is never removed;
- ``-1`` clears a limit, and an unset limit lists as an empty field;
- a cluster that does not exist makes ``add`` fail and ``list`` / ``sacct`` print nothing;
- ``sacct --truncate`` cuts each job's elapsed time to the window and to now; jobs stay
  listed after their account is removed. Times on the command line are read as UTC (the
  real runner sets ``TZ=UTC``).

Where Slurm is lax the fake is deliberately strict, so that a caller's mistake shows up in
tests instead of being stored silently: an option, entity, format field or TRES the fake
does not model is refused (exit 1), and so is a limit value Slurm would not store as
written (Slurm takes ``GrpTRESMins=cpu=abc`` as 0 and ``cpu=5k`` as 5120 with exit 0,
ignores ``GrpJobs`` above 2**31 - 1, wraps ``GrpJobs`` above 2**32). A list without
``--parsable2 --noheader`` and a change without ``--immediate`` are refused too.

A test drives failures with :meth:`FakeSlurmRunner.fail_next` and odd output with
:meth:`FakeSlurmRunner.answer_next`, adds and ends jobs with :meth:`FakeSlurmRunner.add_job`
and :meth:`FakeSlurmRunner.end_job`, and reads the state from
:attr:`FakeSlurmRunner.accounts` and :attr:`FakeSlurmRunner.associations`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

import attrs

from marketplace_core.errors import NotFoundError
from marketplace_core.plugins.slurm.client import CommandResult
from marketplace_core.plugins.slurm.options import MAX_JOB_LIMIT
from marketplace_core.ports import Clock

ROOT = "root"
DEFAULT_TRES = (
    "billing",
    "cpu",
    "energy",
    "fs/disk",
    "gres/gpu",
    "mem",
    "node",
    "pages",
    "vmem",
)
"""The TRES a fresh fake knows: Slurm's defaults and ``gres/gpu``."""

MAX_TRES_VALUE = 2**63 - 1
"""The largest TRES limit the fake takes (Slurm keeps 64-bit values and reserves the top
ones for "unset" and "infinite")."""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
_INTEGER = re.compile(r"-?\d+")
_SACCTMGR_FLAGS = {
    "--immediate": "immediate",
    "-i": "immediate",
    "--parsable2": "parsable2",
    "-P": "parsable2",
    "--noheader": "noheader",
    "-n": "noheader",
}
_VERBS = {
    "add": "add",
    "create": "add",
    "modify": "modify",
    "update": "modify",
    "remove": "remove",
    "delete": "remove",
    "list": "list",
    "show": "list",
}
_ENTITIES = {
    "account": "account",
    "accounts": "account",
    "association": "association",
    "associations": "association",
    "assoc": "association",
    "user": "user",
    "users": "user",
}
_JOBS = ("grpjobs", "grpsubmitjobs", "grpsubmit")
_SACCT_FLAGS = ("--allusers", "--allocations", "--noheader", "--parsable2", "--truncate")
_SACCT_OPTIONS = ("--accounts", "--starttime", "--endtime", "--format", "--clusters")
_CONTACT = "        Contact your admin to add"


class _RefusedError(Exception):
    """A command the fake answers with exit code 1 and ``message`` on stderr (or, with
    ``on_stdout``, on stdout, where sacctmgr prints "Nothing ..."). The message is printed
    as Slurm prints it: its own lines, each ending in a newline."""

    def __init__(self, message: str, *, on_stdout: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.on_stdout = on_stdout


def _nothing(what: str) -> _RefusedError:
    return _RefusedError(f" Nothing {what}", on_stdout=True)


@attrs.define
class FakeAccount:
    """An account record: the name and the labels, in lower case as Slurm keeps them. The
    record is not tied to a cluster and outlives its associations."""

    name: str
    description: str = ""
    organization: str = ""


@attrs.define
class FakeAssociation:
    """An account's own association on the fake's cluster: its parent account, its limits
    (``-1``: unset; TRES limits hold only the TRES that have one) and the users associated
    with the account."""

    account: str
    parent: str = ROOT
    grp_tres_mins: dict[str, int] = attrs.field(factory=dict)
    grp_tres: dict[str, int] = attrs.field(factory=dict)
    grp_jobs: int = -1
    grp_submit_jobs: int = -1
    users: list[str] = attrs.field(factory=list)


@attrs.frozen
class FakeJob:
    """A job allocation for ``sacct``: ``start`` ``None`` is still pending (or was cancelled
    before it started), ``end`` ``None`` still pending or running. ``alloc_tres`` is printed
    as given (``cpu=4,gres/gpu=1``)."""

    job_id: str
    account: str
    start: datetime | None
    end: datetime | None = None
    alloc_tres: str = ""

    @property
    def active(self) -> bool:
        """Pending or running: it keeps its account from being removed."""
        return self.end is None


def _limit_text(value: int) -> str:
    return "" if value == -1 else str(value)


def format_tres(tres: Mapping[str, int | str]) -> str:
    """A TRES mapping as Slurm prints it: ``name=value`` pairs, comma-separated."""
    return ",".join(f"{name}={value}" for name, value in tres.items())


@attrs.define
class _Command:
    """A ``sacctmgr`` line taken apart."""

    flags: set[str]
    verb: str
    entity: str
    names: list[str]
    where: dict[str, str]
    settings: dict[str, str]
    format: list[str] | None
    spelled: dict[str, str] = attrs.field(factory=dict)
    """Each lower-cased key as the line spelled it, for messages."""

    def setting(self, key: str) -> str:
        """``Key=value`` of a setting as the line wrote it."""
        return f"{self.spelled.get(key, key)}={self.settings[key]}"

    def requested(self) -> list[str]:
        """The names the line is about: bare words and ``name=`` / ``names=``, lower case,
        in order, each once."""
        names = list(self.names)
        for key in ("name", "names"):
            if key in self.where:
                names.extend(self.where[key].lower().split(","))
        return list(dict.fromkeys(name for name in names if name))


class FakeSlurmRunner:
    """An in-memory Slurm accounting database behind the ``CommandRunner`` port.

    ``cluster`` is the one cluster it has; ``known_tres`` the TRES limits may name;
    ``clock`` says when "now" is for jobs still running (without one, they run to the end
    of the asked window). ``calls`` records every argument list run, in order. It starts,
    like a new cluster, with the account ``root`` and the user ``root`` associated with it.
    """

    def __init__(
        self,
        *,
        cluster: str = "cluster",
        known_tres: Iterable[str] = DEFAULT_TRES,
        clock: Clock | None = None,
    ) -> None:
        self.cluster = cluster.lower()
        self.known_tres = frozenset(known_tres)
        self.clock = clock
        self.accounts: dict[str, FakeAccount] = {
            ROOT: FakeAccount(ROOT, "default root account", ROOT)
        }
        self.associations: dict[str, FakeAssociation] = {
            ROOT: FakeAssociation(ROOT, parent="", users=[ROOT])
        }
        self.jobs: list[FakeJob] = []
        self.calls: list[tuple[str, ...]] = []
        self._canned: deque[CommandResult] = deque()

    # ------------------------------------------------------------------ test controls

    def fail_next(self, stderr: str, exit_code: int = 1) -> None:
        """Make the next command fail with ``stderr`` and change nothing."""
        self._canned.append(CommandResult((), exit_code, "", stderr))

    def answer_next(self, stdout: str, stderr: str = "", exit_code: int = 0) -> None:
        """Make the next command print ``stdout`` (and exit ``exit_code``) and change
        nothing."""
        self._canned.append(CommandResult((), exit_code, stdout, stderr))

    def add_account(self, name: str, parent: str = ROOT) -> FakeAssociation:
        """Seed an account with its association (a provider's parent account, say) without
        a command."""
        name, parent = name.lower(), parent.lower()
        self.accounts[name] = FakeAccount(name, name, parent if parent != ROOT else name)
        association = FakeAssociation(name, parent=parent)
        self.associations[name] = association
        return association

    def add_job(
        self,
        job_id: str,
        account: str,
        start: datetime | None,
        end: datetime | None = None,
        tres: Mapping[str, int | str] | str = "",
    ) -> FakeJob:
        """Record a job allocation of ``account`` for ``sacct``."""
        alloc = tres if isinstance(tres, str) else format_tres(tres)
        job = FakeJob(job_id, account.lower(), start, end, alloc)
        self.jobs.append(job)
        return job

    def end_job(self, job_id: str, end: datetime) -> FakeJob:
        """End the job ``job_id`` at ``end`` (finished, or cancelled if it never started);
        raises :class:`~marketplace_core.errors.NotFoundError` for an unknown job."""
        for index, job in enumerate(self.jobs):
            if job.job_id == job_id:
                self.jobs[index] = attrs.evolve(job, end=end)
                return self.jobs[index]
        raise NotFoundError("fake Slurm job", job_id)

    def account_names(self) -> set[str]:
        """Every account record but ``root``, with or without an association."""
        return set(self.accounts) - {ROOT}

    # ------------------------------------------------------------------ the port

    def run(self, argv: Sequence[str]) -> CommandResult:
        """Answer ``argv`` as Slurm would, changing the state as the command does."""
        argv = tuple(argv)
        self.calls.append(argv)
        if self._canned:
            return attrs.evolve(self._canned.popleft(), argv=argv)
        programs: dict[str, Callable[[Sequence[str]], str]] = {
            "sacctmgr": self._sacctmgr,
            "sacct": self._sacct,
        }
        program = programs.get(argv[0]) if argv else None
        if program is None:
            return CommandResult(argv, 127, "", f"{argv[0] if argv else ''}: command not found")
        try:
            return CommandResult(argv, 0, program(argv[1:]), "")
        except _RefusedError as refused:
            if refused.on_stdout:
                return CommandResult(argv, 1, f"{refused.message}\n", "")
            return CommandResult(argv, 1, "", f"{refused.message}\n")

    # ------------------------------------------------------------------ sacctmgr

    def _parse(self, arguments: Sequence[str]) -> _Command:
        flags: set[str] = set()
        position = 0
        while position < len(arguments) and arguments[position].startswith("-"):
            flag = _SACCTMGR_FLAGS.get(arguments[position])
            if flag is None:
                raise _RefusedError(f"sacctmgr: unrecognized option '{arguments[position]}'")
            flags.add(flag)
            position += 1
        words = list(arguments[position:])
        if len(words) < 2:
            raise _RefusedError("sacctmgr: the fake expects a command and an entity")
        verb = _VERBS.get(words[0].lower())
        entity = _ENTITIES.get(words[1].lower())
        if verb is None or entity is None:
            raise _RefusedError(f"sacctmgr: the fake does not know {words[0]!r} {words[1]!r}")
        command = _Command(flags, verb, entity, [], {}, {}, None)
        mode = "default"
        for word in words[2:]:
            lowered = word.lower()
            if lowered in ("where", "set"):
                mode = lowered
                continue
            spelled, equals, value = word.partition("=")
            key = spelled.lower()
            command.spelled[key] = spelled
            if not equals:
                command.names.append(word.lower())
            elif key == "format" and verb == "list":
                command.format = [field.lower() for field in value.split(",")]
            elif mode == "set" or (mode == "default" and verb == "add"):
                command.settings[key] = value
            else:
                command.where[key] = value
        if verb == "list":
            if not {"parsable2", "noheader"} <= flags:
                raise _RefusedError("the fake prints only --parsable2 --noheader output")
        elif "immediate" not in flags:
            raise _RefusedError("without --immediate sacctmgr would wait for a confirmation")
        return command

    def _on_cluster(self, cluster: str | None) -> bool:
        """Whether a command limited to ``cluster`` (``None``: every cluster) reaches the
        fake's cluster."""
        return cluster is None or cluster.lower() == self.cluster

    def _require_cluster(self, cluster: str | None) -> None:
        if not self._on_cluster(cluster):
            raise _RefusedError(
                f" This cluster '{cluster}' doesn't exist.\n{_CONTACT} it to accounting."
            )

    def _sacctmgr(self, arguments: Sequence[str]) -> str:
        command = self._parse(arguments)
        handlers: dict[tuple[str, str], Callable[[_Command], str]] = {
            ("add", "account"): self._add_account,
            ("modify", "account"): self._modify_account,
            ("remove", "account"): self._remove_account,
            ("list", "account"): self._list_accounts,
            ("list", "association"): self._list_associations,
            ("add", "user"): self._add_user,
            ("remove", "user"): self._remove_user,
        }
        handler = handlers.get((command.verb, command.entity))
        if handler is None:
            raise _RefusedError(f"the fake does not {command.verb} {command.entity}s")
        return handler(command)

    def _only(self, command: _Command, allowed: Iterable[str], part: dict[str, str]) -> None:
        unknown = sorted(set(part) - set(allowed))
        if unknown:
            key = unknown[0]
            raise _RefusedError(
                f" Unknown option: {command.spelled.get(key, key)}={part[key]} (the fake "
                f"takes only {', '.join(allowed)} here)"
            )

    def _add_account(self, command: _Command) -> str:
        self._only(command, ("description", "organization", "parent", "cluster"), command.settings)
        self._require_cluster(command.settings.get("cluster"))
        names = command.requested()
        if not names:
            raise _RefusedError(" Need name of account to add.")
        parent = command.settings.get("parent", ROOT).lower()
        if parent not in self.associations:
            raise _RefusedError(
                f" Parent account '{parent}' doesn't exist on cluster {self.cluster}\n"
                f"{_CONTACT} this account.\n No associations created."
            )
        new_records = [name for name in names if name not in self.accounts]
        new_associations = [name for name in names if name not in self.associations]
        if not new_associations:  # a new record always comes with a new association
            raise _nothing("new added.")
        organization = parent if parent != ROOT else None
        for name in new_records:
            self.accounts[name] = FakeAccount(
                name,
                command.settings.get("description", name).lower(),
                command.settings.get("organization", organization or name).lower(),
            )
        for name in new_associations:
            self.associations[name] = FakeAssociation(name, parent=parent)
        added = "".join(f"  {name}\n" for name in new_records)
        return (
            (f" Adding Account(s)\n{added}" if added else "")
            + " Associations\n"
            + "".join(f"  A = {name:<10} C = {self.cluster[:10]}\n" for name in new_associations)
            + f" Settings\n  Parent        = {parent}\n"
        )

    def _tres_settings(self, command: _Command, key: str) -> dict[str, int]:
        changes: dict[str, int] = {}
        for pair in command.settings[key].split(","):
            name, equals, count = pair.partition("=")
            if not equals or name not in self.known_tres:
                raise _RefusedError(
                    f"sacctmgr: error: no TRES known by type {name}\n Unknown option: "
                    f"{command.setting(key)} (the fake knows "
                    f"{', '.join(sorted(self.known_tres))})"
                )
            if not _INTEGER.fullmatch(count) or not -1 <= int(count) <= MAX_TRES_VALUE:
                raise _RefusedError(
                    f"the fake refuses {command.setting(key)}: a TRES limit must be -1 (none) "
                    f"or 0..{MAX_TRES_VALUE}, else Slurm would not store it as written"
                )
            changes[name] = int(count)
        return changes

    def _job_setting(self, command: _Command, key: str) -> int:
        value = command.settings[key]
        if not _INTEGER.fullmatch(value):
            name = command.spelled.get(key, key)
            raise _RefusedError(
                f"sacctmgr: error: Invalid value for {name} ({value})\n"
                f" Unknown option: {command.setting(key)}"
            )
        if not -1 <= int(value) <= MAX_JOB_LIMIT:
            raise _RefusedError(
                f"the fake refuses {command.setting(key)}: a job limit must be -1 (none) or "
                f"0..{MAX_JOB_LIMIT}, else Slurm would not store it as written"
            )
        return int(value)

    def _matching_associations(self, command: _Command) -> list[FakeAssociation]:
        self._only(command, ("name", "names", "cluster"), command.where)
        if not self._on_cluster(command.where.get("cluster")):
            return []
        return [self.associations[n] for n in command.requested() if n in self.associations]

    def _modify_account(self, command: _Command) -> str:
        self._only(command, ("grptresmins", "grptres", *_JOBS), command.settings)
        minutes, amounts = (
            self._tres_settings(command, key) if key in command.settings else {}
            for key in ("grptresmins", "grptres")
        )
        jobs = {key: self._job_setting(command, key) for key in command.settings if key in _JOBS}
        associations = self._matching_associations(command)
        if not associations or not command.settings:
            raise _nothing("modified")
        for association in associations:
            for limits, changes in (
                (association.grp_tres_mins, minutes),
                (association.grp_tres, amounts),
            ):
                for name, count in changes.items():
                    if count == -1:
                        limits.pop(name, None)
                    else:
                        limits[name] = count
            if "grpjobs" in jobs:
                association.grp_jobs = jobs["grpjobs"]
            for key in ("grpsubmitjobs", "grpsubmit"):
                if key in jobs:
                    association.grp_submit_jobs = jobs[key]
        return " Modified account associations...\n" + "".join(
            f"  C = {self.cluster:<10} A = {a.account} of {a.parent}\n" for a in associations
        )

    def _with_descendants(self, names: Iterable[str]) -> list[str]:
        """``names`` that have an association, and every account below them."""
        found = [name for name in names if name in self.associations]
        for name in found:  # grows while it is walked: breadth first
            found.extend(
                child
                for child, association in self.associations.items()
                if association.parent == name and child not in found
            )
        return found

    def _remove_account(self, command: _Command) -> str:
        self._only(command, ("name", "names", "cluster"), command.where)
        names = command.requested()
        if ROOT in names:
            raise _RefusedError(
                " You are not allowed to remove the root account.\n Use remove cluster instead."
            )
        cluster = command.where.get("cluster")
        removed = self._with_descendants(names) if self._on_cluster(cluster) else []
        records = [name for name in names if name in self.accounts] if cluster is None else []
        if not removed and not records:
            raise _nothing("deleted")
        active = [job for job in self.jobs if job.active and job.account in removed]
        if active:
            raise _RefusedError(
                " Error with request: Job(s) active, cancel job(s) before remove\n"
                + "\n".join(
                    f"  JobID = {job.job_id:<10} C = {self.cluster:<10} A = {job.account}"
                    for job in active
                )
            )
        lines = [
            f"  C = {self.cluster:<10} A = {name} of {self.associations.pop(name).parent}\n"
            for name in removed
        ]
        for name in records:
            del self.accounts[name]
        if cluster is None:
            return " Deleting accounts...\n" + "".join(f"  {name}\n" for name in records)
        return " Deleting account associations...\n" + "".join(lines)

    def _print(self, command: _Command, rows: list[dict[str, str]], default: str) -> str:
        fields = command.format or [default]
        return "".join("|".join(row[field] for field in fields) + "\n" for row in rows)

    def _check_format(self, command: _Command, fields: Iterable[str]) -> None:
        unknown = [field for field in command.format or () if field not in set(fields)]
        if unknown:
            raise _RefusedError(
                f"Unknown field '{unknown[0]}' (the fake prints only {', '.join(fields)})"
            )

    def _list_accounts(self, command: _Command) -> str:
        self._only(command, ("name", "names", "cluster"), command.where)  # records: any cluster
        self._check_format(command, ("account", "description", "organization"))
        names = command.requested() or list(self.accounts)
        rows = [
            {"account": a.name, "description": a.description, "organization": a.organization}
            for a in (self.accounts[name] for name in sorted(names) if name in self.accounts)
        ]
        return self._print(command, rows, "account")

    def _list_associations(self, command: _Command) -> str:
        self._only(command, ("account", "accounts", "cluster", "user", "users"), command.where)
        fields = (
            "account", "user", "cluster", "parentname",
            "grptresmins", "grptres", "grpjobs", "grpsubmit", "grpsubmitjobs",
        )  # fmt: skip
        self._check_format(command, fields)
        if not self._on_cluster(command.where.get("cluster")):
            return ""

        def wanted(*keys: str) -> set[str]:
            return {n for key in keys for n in command.where.get(key, "").lower().split(",") if n}

        accounts, users = wanted("account", "accounts"), wanted("user", "users")
        rows: list[dict[str, str]] = []
        for association in self.associations.values():
            if accounts and association.account not in accounts:
                continue
            own = {
                "account": association.account,
                "user": "",
                "cluster": self.cluster,
                "parentname": association.parent,
                "grptresmins": format_tres(dict(sorted(association.grp_tres_mins.items()))),
                "grptres": format_tres(dict(sorted(association.grp_tres.items()))),
                "grpjobs": _limit_text(association.grp_jobs),
                "grpsubmit": _limit_text(association.grp_submit_jobs),
                "grpsubmitjobs": _limit_text(association.grp_submit_jobs),
            }
            if not users:
                rows.append(own)
            for user in association.users:
                if not users or user in users:
                    rows.append(
                        dict.fromkeys(own, "")
                        | {"account": association.account, "user": user, "cluster": self.cluster}
                    )
        return self._print(command, rows, "account")

    def _add_user(self, command: _Command) -> str:
        self._only(command, ("account", "cluster"), command.settings)
        self._require_cluster(command.settings.get("cluster"))
        name = command.settings.get("account", "").lower()
        association = self.associations.get(name)
        if association is None or not command.names:
            raise _RefusedError(
                f" This account '{name}' doesn't exist.\n{_CONTACT} this account.\n"
                " No associations or wckeys created."
            )
        new = [user for user in command.names if user not in association.users]
        if not new:
            raise _nothing("new added.")
        association.users.extend(new)
        return " Associations =\n" + "".join(
            f"  U = {user:<9} A = {name:<10} C = {self.cluster[:10]}\n" for user in new
        )

    def _remove_user(self, command: _Command) -> str:
        self._only(command, ("name", "account", "cluster"), command.where)
        user = command.where.get("name", "").lower()
        association = self.associations.get(command.where.get("account", "").lower())
        if (
            association is None
            or user not in association.users
            or not self._on_cluster(command.where.get("cluster"))
        ):
            raise _nothing("deleted")
        association.users.remove(user)
        return (
            " Deleting user associations...\n"
            f"  C = {self.cluster:<10} A = {association.account:<10} U = {user}\n"
        )

    # ------------------------------------------------------------------ sacct

    def _sacct(self, arguments: Sequence[str]) -> str:
        flags: set[str] = set()
        options: dict[str, str] = {}
        for argument in arguments:
            key, equals, value = argument.partition("=")
            if argument in _SACCT_FLAGS:
                flags.add(argument)
            elif equals and key in _SACCT_OPTIONS:
                options[key] = value
            else:
                raise _RefusedError(f"sacct: unrecognized option '{argument}'")
        missing = [flag for flag in _SACCT_FLAGS if flag not in flags]
        if missing:
            raise _RefusedError(f"the fake answers only queries with {', '.join(_SACCT_FLAGS)}")
        try:
            start = datetime.strptime(options["--starttime"], _TIME_FORMAT).replace(tzinfo=UTC)
            end = datetime.strptime(options["--endtime"], _TIME_FORMAT).replace(tzinfo=UTC)
        except (KeyError, ValueError):
            raise _RefusedError(
                "sacct: the fake needs --starttime and --endtime as YYYY-MM-DDTHH:MM:SS"
            ) from None
        if self.clock is not None:
            end = min(end, self.clock.now())
        spelled = options.get("--format", "JobID").split(",")
        fields = [field.lower() for field in spelled]
        known = ("jobid", "account", "elapsedraw", "alloctres")
        unknown = [field for field in spelled if field.lower() not in known]
        if unknown:
            raise _RefusedError(f'sacct: error: Invalid field requested: "{unknown[0]}"')
        if not self._on_cluster(options.get("--clusters")):
            return ""
        accounts = set(options.get("--accounts", "").lower().split(","))
        lines = []
        for job in self.jobs:
            if job.account not in accounts:
                continue
            if job.start is None:
                elapsed, tres = 0, ""
            elif job.start < end and (job.end is None or job.end > start):
                ran_to = end if job.end is None else min(job.end, end)
                elapsed = max(0, int((ran_to - max(job.start, start)).total_seconds()))
                tres = job.alloc_tres
            else:
                continue
            row = {
                "jobid": job.job_id,
                "account": job.account,
                "elapsedraw": str(elapsed),
                "alloctres": tres,
            }
            lines.append("|".join(row[field] for field in fields) + "\n")
        return "".join(lines)

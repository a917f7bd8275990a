"""A fake Slurm accounting database that answers ``sacctmgr`` and ``sacct`` command lines.

:class:`FakeSlurmRunner` is a :class:`~marketplace_core.plugins.slurm.client.CommandRunner`:
hand it to a :class:`~marketplace_core.plugins.slurm.client.SlurmClient` in place of a
:class:`~marketplace_core.plugins.slurm.client.SubprocessRunner`. It parses each argument
list the way the real commands do (the subset the slurm plugin uses, read strictly: an
option, entity, field or TRES it does not know is an error, exit code 1, as Slurm would
refuse it) and keeps the state those commands change: accounts with their parent, TRES
limits and job limits, the users associated with each, and job records for ``sacct``.

Its answers follow Slurm's: names are folded to lower case; ``add`` of an existing account,
``modify`` or ``remove`` matching nothing exit 1 with ``Nothing new added.`` /
``Nothing modified`` / ``Nothing deleted`` on stdout; a limit of ``-1`` clears it; an unset
job limit lists as an empty field; ``sacct --truncate`` cuts each job's elapsed time to
the window and to now. Times on the command line are read as UTC (the real runner sets
``TZ=UTC``).

A test drives failures with :meth:`FakeSlurmRunner.fail_next` and odd output with
:meth:`FakeSlurmRunner.answer_next`, adds jobs with :meth:`FakeSlurmRunner.add_job`, and
reads the state from :attr:`FakeSlurmRunner.accounts`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

import attrs

from marketplace_core.plugins.slurm.client import CommandResult
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
    "user": "user",
    "users": "user",
}
_SACCT_FLAGS = ("--allusers", "--allocations", "--noheader", "--parsable2", "--truncate")
_SACCT_OPTIONS = ("--accounts", "--starttime", "--endtime", "--format", "--clusters")


class _RefusedError(Exception):
    """A command the fake answers with exit code 1 and ``message`` on stderr (or, with
    ``on_stdout``, on stdout, as sacctmgr prints "Nothing ..." there)."""

    def __init__(self, message: str, *, on_stdout: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.on_stdout = on_stdout


@attrs.define
class FakeAccount:
    """A Slurm account as the fake keeps it. Limits of ``-1`` are unset; TRES limits hold
    only the TRES that have a limit."""

    name: str
    parent: str = ROOT
    description: str = ""
    organization: str = ""
    grp_tres_mins: dict[str, int] = attrs.field(factory=dict)
    grp_tres: dict[str, int] = attrs.field(factory=dict)
    grp_jobs: int = -1
    grp_submit_jobs: int = -1
    users: list[str] = attrs.field(factory=list)


@attrs.frozen
class FakeJob:
    """A job allocation for ``sacct``: ``start`` ``None`` is still pending, ``end``
    ``None`` still running. ``alloc_tres`` is printed as given (``cpu=4,gres/gpu=1``)."""

    job_id: str
    account: str
    start: datetime | None
    end: datetime | None = None
    alloc_tres: str = ""


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


class FakeSlurmRunner:
    """An in-memory Slurm accounting database behind the ``CommandRunner`` port.

    ``cluster`` is the one cluster it has (a command naming another is refused);
    ``known_tres`` the TRES limits may name; ``clock`` says when "now" is for jobs still
    running (without one, they run to the end of the asked window). ``calls`` records
    every argument list run, in order.
    """

    def __init__(
        self,
        *,
        cluster: str = "cluster",
        known_tres: Iterable[str] = DEFAULT_TRES,
        clock: Clock | None = None,
    ) -> None:
        self.cluster = cluster
        self.known_tres = frozenset(known_tres)
        self.clock = clock
        self.accounts: dict[str, FakeAccount] = {ROOT: FakeAccount(ROOT, parent="")}
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

    def add_account(self, name: str, parent: str = ROOT) -> FakeAccount:
        """Seed an account (a provider's parent account, say) without a command."""
        account = FakeAccount(name.lower(), parent=parent.lower())
        self.accounts[account.name] = account
        return account

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

    def account_names(self) -> set[str]:
        """Every account but ``root``."""
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
                return CommandResult(argv, 1, f" {refused.message}\n", "")
            return CommandResult(argv, 1, "", f" error: {refused.message}\n")

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
            raise _RefusedError("sacctmgr: expected a command and an entity")
        verb = _VERBS.get(words[0].lower())
        entity = _ENTITIES.get(words[1].lower())
        if verb is None or entity is None:
            raise _RefusedError(f"sacctmgr: unknown command {words[0]!r} {words[1]!r}")
        command = _Command(flags, verb, entity, [], {}, {}, None)
        mode = "default"
        for word in words[2:]:
            lowered = word.lower()
            if lowered in ("where", "set"):
                mode = lowered
                continue
            key, equals, value = word.partition("=")
            key = key.lower()
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
        self._check_cluster(command.where.get("cluster") or command.settings.get("cluster"))
        return command

    def _check_cluster(self, cluster: str | None) -> None:
        if cluster is not None and cluster.lower() != self.cluster:
            raise _RefusedError(
                f"cluster {cluster!r} does not exist (the fake has {self.cluster!r})"
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
            raise _RefusedError(f"unknown option {unknown[0]!r} for {command.verb}")

    def _matching(self, command: _Command) -> list[FakeAccount]:
        self._only(command, ("name", "names", "cluster"), command.where)
        names = set(command.names)
        for key in ("name", "names"):
            if key in command.where:
                names.update(command.where[key].lower().split(","))
        if not names and command.verb == "list":
            names = set(self.accounts)
        return [self.accounts[name] for name in sorted(names) if name in self.accounts]

    def _add_account(self, command: _Command) -> str:
        self._only(command, ("description", "organization", "parent", "cluster"), command.settings)
        names = command.names
        parent = command.settings.get("parent", ROOT).lower()
        if parent not in self.accounts:
            raise _RefusedError(f"parent account {parent!r} does not exist")
        new = [name for name in names if name and name not in self.accounts]
        if not new:
            raise _RefusedError("Nothing new added.", on_stdout=True)
        for name in new:
            self.accounts[name] = FakeAccount(
                name,
                parent=parent,
                description=command.settings.get("description", name),
                organization=command.settings.get("organization", parent),
            )
        return " Adding Account(s)\n" + "".join(f"  {name}\n" for name in new)

    def _tres_settings(self, value: str) -> dict[str, int]:
        changes: dict[str, int] = {}
        for pair in value.split(","):
            name, equals, count = pair.partition("=")
            if not equals or name not in self.known_tres:
                raise _RefusedError(
                    f"invalid TRES {pair!r} (known: {', '.join(sorted(self.known_tres))})"
                )
            if not _INTEGER.fullmatch(count) or int(count) < -1:
                raise _RefusedError(f"invalid TRES value {pair!r}")
            changes[name] = int(count)
        return changes

    def _job_setting(self, key: str, value: str) -> int:
        if not _INTEGER.fullmatch(value) or int(value) < -1:
            raise _RefusedError(f"invalid value for {key}: {value!r}")
        return int(value)

    def _modify_account(self, command: _Command) -> str:
        allowed = ("grptresmins", "grptres", "grpjobs", "grpsubmitjobs", "grpsubmit")
        self._only(command, allowed, command.settings)
        accounts = self._matching(command)
        if not accounts or not command.settings:
            raise _RefusedError(" Nothing modified", on_stdout=True)
        minutes, amounts = (
            self._tres_settings(command.settings[key]) if key in command.settings else {}
            for key in ("grptresmins", "grptres")
        )
        jobs = {
            key: self._job_setting(key, value)
            for key, value in command.settings.items()
            if key in ("grpjobs", "grpsubmitjobs", "grpsubmit")
        }
        for account in accounts:
            for limits, changes in ((account.grp_tres_mins, minutes), (account.grp_tres, amounts)):
                for name, count in changes.items():
                    if count == -1:
                        limits.pop(name, None)
                    else:
                        limits[name] = count
            if "grpjobs" in jobs:
                account.grp_jobs = jobs["grpjobs"]
            for key in ("grpsubmitjobs", "grpsubmit"):
                if key in jobs:
                    account.grp_submit_jobs = jobs[key]
        return " Modified account associations...\n" + "".join(
            f"  C = {self.cluster:<10} A = {account.name}\n" for account in accounts
        )

    def _remove_account(self, command: _Command) -> str:
        accounts = [a for a in self._matching(command) if a.name != ROOT]
        if not accounts:
            raise _RefusedError("Nothing deleted", on_stdout=True)
        for account in accounts:
            children = [a.name for a in self.accounts.values() if a.parent == account.name]
            if children:
                raise _RefusedError(f"account {account.name!r} still has child accounts {children}")
        for account in accounts:
            del self.accounts[account.name]
        return " Deleting accounts...\n" + "".join(f"  {a.name}\n" for a in accounts)

    def _print(self, command: _Command, rows: list[dict[str, str]], default: str) -> str:
        fields = command.format or [default]
        return "".join("|".join(row[field] for field in fields) + "\n" for row in rows)

    def _list_accounts(self, command: _Command) -> str:
        rows = [
            {"account": a.name, "description": a.description, "organization": a.organization}
            for a in self._matching(command)
        ]
        self._check_format(command, ("account", "description", "organization"))
        return self._print(command, rows, "account")

    def _check_format(self, command: _Command, fields: Iterable[str]) -> None:
        unknown = [field for field in command.format or () if field not in set(fields)]
        if unknown:
            raise _RefusedError(f"unknown field {unknown[0]!r} in format")

    def _list_associations(self, command: _Command) -> str:
        self._only(command, ("account", "accounts", "cluster", "user", "users"), command.where)
        fields = (
            "account", "user", "cluster", "parentname",
            "grptresmins", "grptres", "grpjobs", "grpsubmit", "grpsubmitjobs",
        )  # fmt: skip
        self._check_format(command, fields)
        wanted = set(command.where.get("account", command.where.get("accounts", "")).split(","))
        rows: list[dict[str, str]] = []
        for account in self.accounts.values():
            if wanted != {""} and account.name not in wanted:
                continue
            own = {
                "account": account.name,
                "user": "",
                "cluster": self.cluster,
                "parentname": account.parent,
                "grptresmins": format_tres(dict(sorted(account.grp_tres_mins.items()))),
                "grptres": format_tres(dict(sorted(account.grp_tres.items()))),
                "grpjobs": _limit_text(account.grp_jobs),
                "grpsubmit": _limit_text(account.grp_submit_jobs),
                "grpsubmitjobs": _limit_text(account.grp_submit_jobs),
            }
            rows.append(own)
            for user in account.users:
                rows.append(
                    dict.fromkeys(own, "")
                    | {"account": account.name, "user": user, "cluster": self.cluster}
                )
        return self._print(command, rows, "account")

    def _add_user(self, command: _Command) -> str:
        self._only(command, ("account", "cluster"), command.settings)
        account = self.accounts.get(command.settings.get("account", "").lower())
        if account is None or not command.names:
            raise _RefusedError("add user needs user names and an existing account")
        new = [user for user in command.names if user not in account.users]
        if not new:
            raise _RefusedError("Nothing new added.", on_stdout=True)
        account.users.extend(new)
        return " Adding User(s)\n" + "".join(f"  {user}\n" for user in new)

    def _remove_user(self, command: _Command) -> str:
        self._only(command, ("name", "account", "cluster"), command.where)
        user = command.where.get("name", "").lower()
        account = self.accounts.get(command.where.get("account", "").lower())
        if account is None or user not in account.users:
            raise _RefusedError("Nothing deleted", on_stdout=True)
        account.users.remove(user)
        return f" Deleting user associations...\n  U = {user} A = {account.name}\n"

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
        self._check_cluster(options.get("--clusters"))
        try:
            start = datetime.strptime(options["--starttime"], _TIME_FORMAT).replace(tzinfo=UTC)
            end = datetime.strptime(options["--endtime"], _TIME_FORMAT).replace(tzinfo=UTC)
        except (KeyError, ValueError):
            raise _RefusedError(
                "sacct: give --starttime and --endtime as YYYY-MM-DDTHH:MM:SS"
            ) from None
        if self.clock is not None:
            end = min(end, self.clock.now())
        fields = [field.lower() for field in options.get("--format", "jobid").split(",")]
        known = ("jobid", "account", "elapsedraw", "alloctres")
        if any(field not in known for field in fields):
            raise _RefusedError(f"sacct: unknown field in --format={options.get('--format')}")
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

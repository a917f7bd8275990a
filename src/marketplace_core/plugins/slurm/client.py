"""Running Slurm's commands: the :class:`CommandRunner` port and the :class:`SlurmClient`.

The plugin never talks to Slurm itself; it hands argument lists to a :class:`CommandRunner`.
:class:`SubprocessRunner` runs them on this machine (or through a prefix such as
``ssh head-node`` or ``sudo -u slurm``); ``FakeSlurmRunner`` in
:mod:`marketplace_core.testing.slurm` answers them from an in-memory accounting database.
:class:`SlurmClient` turns each operation into its command line, checks the exit code and
reads the output, raising :class:`~marketplace_core.errors.BackendError` with the command
line and the tail of what the command said when anything goes wrong.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

import attrs

from marketplace_core.errors import BackendError, ErrorCode
from marketplace_core.plugins.slurm import commands
from marketplace_core.plugins.slurm.accounts import JobLimits, TresLimits
from marketplace_core.plugins.slurm.output import (
    Association,
    JobRecord,
    parse_account_names,
    parse_associations,
    parse_jobs,
)

T = TypeVar("T")

OUTPUT_TAIL_CHARACTERS = 500
"""How much of a failed command's output an error quotes (its end, where the reason is)."""


def _as_tuple(argv: Sequence[str]) -> tuple[str, ...]:
    return tuple(argv)


@attrs.frozen
class CommandResult:
    """How a command ended: its exit code and everything it printed."""

    argv: tuple[str, ...] = attrs.field(converter=_as_tuple)
    exit_code: int
    stdout: str = ""
    stderr: str = ""


class CommandRunner(Protocol):
    """Runs one command to completion.

    Pre: ``argv`` is a complete argument list; it is never passed through a shell.
    Post: the command finished and its exit code and output are returned, whatever the
    exit code. Raise :class:`~marketplace_core.errors.BackendError` only when the command
    could not run at all (``backend_failed``) or did not finish in time
    (``backend_timed_out``).
    """

    def run(self, argv: Sequence[str]) -> CommandResult:
        """Run ``argv`` and return how it ended."""
        ...


def command_line(argv: Sequence[str]) -> str:
    """``argv`` as one shell-quoted line, for messages."""
    return shlex.join(argv)


class SubprocessRunner:
    """Runs commands on this machine with :mod:`subprocess`.

    ``prefix`` goes before every command (``("ssh", "slurm-head")``,
    ``("sudo", "-u", "slurm")``, ``("docker", "exec", "slurmctld")``). The environment is
    this process's with ``TZ=UTC`` added (``sacct`` reads times in the local zone and the
    plugin writes UTC), then ``environment``; a prefix that starts a remote shell must pass
    ``TZ=UTC`` on itself (``("ssh", "head", "env", "TZ=UTC")``).
    """

    def __init__(
        self,
        *,
        prefix: Sequence[str] = (),
        timeout_seconds: float = 120.0,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.prefix = tuple(prefix)
        self.timeout_seconds = timeout_seconds
        self.environment = {**os.environ, "TZ": "UTC", **(environment or {})}

    def run(self, argv: Sequence[str]) -> CommandResult:
        """Run ``[*prefix, *argv]``; a non-zero exit is returned, not raised."""
        full = [*self.prefix, *argv]
        line = command_line(full)
        try:
            done = subprocess.run(  # an argument list, never a shell
                full,
                capture_output=True,
                text=True,
                timeout=self.timeout_seconds,
                env=self.environment,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BackendError(
                ErrorCode.BACKEND_TIMED_OUT,
                f"{line} did not finish within {self.timeout_seconds} s",
                command=line,
                timeout_seconds=self.timeout_seconds,
            ) from None
        except OSError as error:
            raise BackendError(
                ErrorCode.BACKEND_FAILED,
                f"{line} could not be started: {error.strerror or error}",
                command=line,
            ) from None
        return CommandResult(argv, done.returncode, done.stdout, done.stderr)


class SlurmClient:
    """The Slurm operations the plugin needs, each one command through ``runner``.

    Every method raises :class:`~marketplace_core.errors.BackendError`: ``backend_failed``
    when the command exits non-zero (the message has the command line and the end of its
    stderr, or of its stdout if stderr is empty), ``backend_bad_response`` when its output
    cannot be read.
    """

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner

    def run(self, argv: Sequence[str]) -> CommandResult:
        """Run ``argv``; refuse a non-zero exit."""
        result = self.runner.run(argv)
        if result.exit_code != 0:
            line = command_line(argv)
            tail = (result.stderr.strip() or result.stdout.strip())[-OUTPUT_TAIL_CHARACTERS:]
            raise BackendError(
                ErrorCode.BACKEND_FAILED,
                f"{line} exited with {result.exit_code}: {tail or '(no output)'}",
                command=line,
                exit_code=result.exit_code,
                output_tail=tail,
            )
        return result

    def _read(self, argv: Sequence[str], parse: Callable[[str], T]) -> T:
        stdout = self.run(argv).stdout
        try:
            return parse(stdout)
        except BackendError as error:
            line = command_line(argv)
            raise BackendError(
                ErrorCode.BACKEND_BAD_RESPONSE,
                f"{line} printed what cannot be read: {error.message}",
                command=line,
                **error.fields,
            ) from None

    def account_names(self) -> list[str]:
        """Every account in Slurm (to find accounts no resource owns any more, say)."""
        return self._read(commands.list_accounts(), parse_account_names)

    def account_exists(self, name: str) -> bool:
        """Whether the account record ``name`` exists (with or without associations)."""
        return name in self._read(commands.show_account(name), parse_account_names)

    def has_association(self, name: str, cluster: str | None = None) -> bool:
        """Whether the account ``name`` has its own association (on ``cluster``; without
        one, on any cluster). Only an account with an association can have limits and
        run jobs."""
        rows = self._read(commands.show_association(name, cluster), parse_associations)
        return any(row.account == name and not row.user for row in rows)

    def add_account(
        self,
        name: str,
        *,
        description: str,
        organization: str,
        parent: str | None = None,
        cluster: str | None = None,
    ) -> None:
        """Add the account ``name`` and its association, or only the association if the
        record exists; refused by Slurm if both exist."""
        self.run(
            commands.add_account(
                name,
                description=description,
                organization=organization,
                parent=parent,
                cluster=cluster,
            )
        )

    def set_tres_limits(self, name: str, limits: TresLimits, cluster: str | None = None) -> None:
        """Set the TRES limits of the account's own association."""
        self.run(commands.set_tres_limits(name, limits, cluster))

    def set_job_limits(self, name: str, limits: JobLimits, cluster: str | None = None) -> None:
        """Set the job limits of the account's own association."""
        self.run(commands.set_job_limits(name, limits, cluster))

    def association(self, name: str, cluster: str | None = None) -> Association | None:
        """The account's own association (``None`` if the account has none). Without a
        cluster, the account's associations on every cluster must agree."""
        rows = self._read(commands.show_association(name, cluster), parse_associations)
        own: list[Association] = []
        for row in rows:
            if row.account == name and not row.user and row not in own:
                own.append(row)
        if len(own) > 1:
            raise BackendError(
                ErrorCode.BACKEND_BAD_RESPONSE,
                f"account {name!r} has different limits on different clusters; name the "
                "cluster in plugin_options.cluster",
                account=name,
            )
        return own[0] if own else None

    def remove_account(self, name: str, cluster: str | None = None) -> None:
        """Remove the account's associations on ``cluster`` (the record stays), or without
        a cluster the record and every association; refused by Slurm if nothing matches or
        while the account has active jobs (see :func:`commands.remove_account`)."""
        self.run(commands.remove_account(name, cluster))

    def add_user(self, user: str, account: str, cluster: str | None = None) -> None:
        """Let the Slurm user ``user`` run jobs under ``account``."""
        self.run(commands.add_user(user, account, cluster))

    def remove_user(self, user: str, account: str, cluster: str | None = None) -> None:
        """Stop ``user`` from running jobs under ``account``."""
        self.run(commands.remove_user(user, account, cluster))

    def jobs(
        self, account: str, start: datetime, end: datetime, cluster: str | None = None
    ) -> list[JobRecord]:
        """The job allocations of ``account`` in ``[start, end)``, elapsed times cut to
        the window."""
        return self._read(commands.job_usage(account, start, end, cluster), parse_jobs)

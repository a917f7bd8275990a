"""Running one program: in a new process group, with a timeout after which the whole group
is killed, and its output collected into a :class:`ScriptRun`. POSIX only."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from marketplace_core.errors import ErrorCode
from marketplace_core.plugins.script.actions import ScriptAction
from marketplace_core.plugins.script.answers import ScriptRun, script_error


def run_program(
    name: str,
    action: ScriptAction,
    command: Sequence[str],
    *,
    stdin: str,
    environment: Mapping[str, str],
    cwd: Path,
    timeout: float,
) -> ScriptRun:
    """Run ``command`` in ``cwd`` with exactly ``environment``, writing ``stdin`` to it, and
    return what it left behind (``name`` and ``action`` label the run and its errors).

    Raises :class:`~marketplace_core.errors.BackendError`: ``backend_failed`` when the
    program cannot be started, ``backend_timed_out`` (after killing its process group) when
    it runs longer than ``timeout`` seconds. An exit code is not judged here.
    """
    try:
        data = stdin.encode("utf-8")
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(environment),
            start_new_session=True,
        )
    except (OSError, ValueError) as error:  # ValueError: text the OS or UTF-8 cannot carry
        run = ScriptRun(name, action, None, b"")
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise script_error(
            run, ErrorCode.BACKEND_FAILED, f"could not be started ({reason})"
        ) from None
    with process:
        try:
            stdout, stderr = process.communicate(data, timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            stdout, stderr = _collect(process)
            run = ScriptRun(name, action, None, stdout, _text(stderr))
            raise script_error(
                run, ErrorCode.BACKEND_TIMED_OUT, f"ran longer than {timeout:g} s and was killed"
            ) from None
    return ScriptRun(name, action, process.returncode, stdout, _text(stderr))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the program and everything it started in its process group."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _collect(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """What a killed program wrote. A descendant that left the group and holds the pipes
    open is not waited for beyond a second."""
    try:
        return process.communicate(timeout=1.0)
    except subprocess.TimeoutExpired:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        process.wait()
        return b"", b""


def _text(stderr: bytes) -> str:
    return stderr.decode("utf-8", errors="replace")

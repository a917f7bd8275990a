"""What a program answers: the raw run (:class:`ScriptRun`), its reading
(:func:`parse_script_output` into :class:`ScriptOutput`), and the error that names a failed
program and quotes the tail of its stderr (:func:`script_error`).
"""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn

import attrs

from marketplace_core.errors import BackendError, ErrorCode, MarketplaceError, ValidationError
from marketplace_core.frozen import EMPTY_JSON, FrozenMap, freeze_json, frozen_mapping
from marketplace_core.inputs import check_encodable
from marketplace_core.money import parse_money
from marketplace_core.plugins.script.actions import ScriptAction
from marketplace_core.plugins.usage_source import PulledUsage

STDERR_TAIL_CHARACTERS = 2000
"""How much of the end of a program's stderr goes into an error message."""

PROBLEM_CHARACTERS = 500
"""How long the description of a bad answer may grow (it may quote the answer)."""

_EXPECTED_KEYS: Mapping[ScriptAction, frozenset[str]] = {
    ScriptAction.CREATE: frozenset({"backend_id", "metadata"}),
    ScriptAction.UPDATE: frozenset({"backend_id", "metadata"}),
    ScriptAction.TERMINATE: frozenset({"metadata"}),
    ScriptAction.PULL_USAGE: frozenset({"usage"}),
}


@attrs.frozen
class ScriptRun:
    """What a finished program left behind: its exit code, stdout bytes and stderr text."""

    script: str
    """The program's path as the offering names it (relative to the root)."""
    action: ScriptAction
    exit_code: int | None
    """``None`` when the program did not exit by itself (it could not start, or was killed
    for running too long); negative when a signal ended it."""
    stdout: bytes
    stderr: str = ""


def _frozen_metadata(value: Mapping[str, Any]) -> Mapping[str, Any]:
    frozen: Mapping[str, Any] = freeze_json(value, "metadata")
    return frozen


@attrs.frozen
class ScriptOutput:
    """A program's answer, read from its stdout.

    ``backend_id`` is set for a create (and optionally an update); ``metadata`` is merged over
    the resource's backend metadata; ``usage`` maps component types to month-to-date amounts
    (usage pulls only).
    """

    backend_id: str | None = None
    metadata: Mapping[str, Any] = attrs.field(default=EMPTY_JSON, converter=_frozen_metadata)
    usage: Mapping[str, Decimal] = attrs.field(factory=FrozenMap, converter=frozen_mapping)

    def pulled_usage(self) -> tuple[PulledUsage, ...]:
        """The usage as :class:`PulledUsage` entries, sorted by component type."""
        return tuple(
            PulledUsage(component, self.usage[component]) for component in sorted(self.usage)
        )


def stderr_tail(stderr: str, limit: int = STDERR_TAIL_CHARACTERS) -> str:
    """The last ``limit`` characters of ``stderr``, surrounding whitespace removed."""
    return stderr.strip()[-limit:] if limit > 0 else ""


def script_error(run: ScriptRun, code: ErrorCode, problem: str) -> BackendError:
    """The error for a program that failed: names the program and action, says ``problem``
    and ends with the tail of its stderr. ``fields`` hold ``script``, ``action``,
    ``exit_code`` and ``stderr_tail``."""
    if len(problem) > PROBLEM_CHARACTERS:
        problem = problem[: PROBLEM_CHARACTERS - 3] + "..."
    tail = stderr_tail(run.stderr)
    if not tail:
        said = "stderr was empty"
    elif len(run.stderr.strip()) > len(tail):
        said = f"stderr (last {len(tail)} characters): {tail}"
    else:
        said = f"stderr: {tail}"
    return BackendError(
        code,
        f"{run.action.value} script {run.script!r} {problem}; {said}",
        script=run.script,
        action=run.action.value,
        exit_code=run.exit_code,
        stderr_tail=tail,
    )


def _exit_problem(exit_code: int | None) -> str:
    if exit_code is None:
        return "did not exit by itself"
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        return f"was killed by {name}"
    return f"exited with code {exit_code}"


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


class _DuplicateKeyError(ValueError):
    """An object of the answer names one key twice (valid JSON, but ambiguous)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _plain_json(value: Any, where: str) -> Any:
    """JSON parsed with Decimal numbers, with every Decimal made an int or a finite float."""
    if isinstance(value, Decimal):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{where} holds the number {value}, too large for metadata")
        return number
    if isinstance(value, dict):
        return {key: _plain_json(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_json(item, f"{where}[{index}]") for index, item in enumerate(value)]
    return value


def _json_kind(value: Any) -> str:
    """The JSON name of the kind of a parsed value."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else "boolean"
    kinds = ((str, "string"), (int | Decimal, "number"), (list, "array"), (dict, "object"))
    return next(name for kind, name in kinds if isinstance(value, kind))


def _excerpt(text: str, limit: int = 200) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _check_text(value: Any, where: str) -> None:
    """Refuse keys and strings in an answer that UTF-8 cannot carry (the answer is stored,
    and handed to the next program)."""
    if isinstance(value, str):
        check_encodable(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_encodable(key, where)
            _check_text(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{where}[{index}]")


def _read_fields(action: ScriptAction, answer: dict[str, Any]) -> ScriptOutput:
    _check_text(answer, "the answer")
    unexpected = sorted(set(answer) - _EXPECTED_KEYS[action])
    if unexpected:
        allowed = ", ".join(sorted(_EXPECTED_KEYS[action]))
        raise ValueError(f"unexpected keys {unexpected} (a {action.value} answer has: {allowed})")
    backend_id = answer.get("backend_id")
    if action is ScriptAction.CREATE and backend_id is None:
        raise ValueError('no "backend_id" (a create answer must name the backend\'s id)')
    if backend_id is not None and (
        not isinstance(backend_id, str) or not backend_id.strip() or len(backend_id) > 255
    ):
        raise ValueError(
            f'"backend_id" must be a non-blank string of at most 255 characters, '
            f"got {_excerpt(json.dumps(backend_id, default=str))}"
        )
    metadata = answer.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f'"metadata" must be a JSON object, got {_json_kind(metadata)}')
    usage = answer.get("usage", {})
    if not isinstance(usage, dict):
        raise ValueError(f'"usage" must be a JSON object, got {_json_kind(usage)}')
    amounts: dict[str, Decimal] = {}
    for component, amount in usage.items():
        try:
            amounts[component] = parse_money(amount, f'"usage.{component}"')
        except ValidationError as error:
            raise ValueError(error.message) from None
    return ScriptOutput(
        backend_id=backend_id, metadata=_plain_json(metadata, '"metadata"'), usage=amounts
    )


def parse_script_output(run: ScriptRun) -> ScriptOutput:
    """Read what a finished program answered; a pure function of ``run``.

    A non-zero exit is ``backend_failed``. Otherwise stdout must be empty (read as ``{}``) or
    one UTF-8 JSON object with the keys the action allows: ``backend_id`` (a non-blank string,
    required for a create; also allowed for an update), ``metadata`` (an object) and, for a
    usage pull only, ``usage`` (component type to a non-negative amount: a JSON number, read
    exactly as a Decimal, or a plain decimal string). Anything else is
    ``backend_bad_response``. Never raises anything but :class:`BackendError`.
    """
    if run.exit_code != 0:
        raise script_error(run, ErrorCode.BACKEND_FAILED, _exit_problem(run.exit_code))
    try:
        text = run.stdout.decode("utf-8")
    except UnicodeDecodeError as error:
        raise script_error(
            run,
            ErrorCode.BACKEND_BAD_RESPONSE,
            f"printed bytes that are not UTF-8 ({error.reason})",
        ) from None
    if not text.strip():
        text = "{}"
    try:
        answer = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except _DuplicateKeyError as error:
        raise script_error(
            run, ErrorCode.BACKEND_BAD_RESPONSE, f"answered badly: {error}"
        ) from None
    except (ValueError, RecursionError) as error:
        raise script_error(
            run,
            ErrorCode.BACKEND_BAD_RESPONSE,
            f"printed something that is not JSON ({error}): {_excerpt(text.strip())}",
        ) from None
    if not isinstance(answer, dict):
        raise script_error(
            run,
            ErrorCode.BACKEND_BAD_RESPONSE,
            f"printed a JSON {_json_kind(answer)}, expected one JSON object",
        )
    try:
        return _read_fields(run.action, answer)
    except (ValueError, RecursionError, MarketplaceError) as error:
        raise script_error(
            run, ErrorCode.BACKEND_BAD_RESPONSE, f"answered badly: {error}"
        ) from None

"""The ``script`` plugin: orders fulfilled by programs that the host allows to run.

An offering of this plugin names, in its ``plugin_options``, one program per action
(``create``, ``update``, ``terminate`` and optionally ``pull_usage``), each a path relative to
the directory the host handed to :class:`ScriptProcessor`. When an order executes, the
processor runs the action's program in a new process group, hands it the order as JSON on
stdin and as ``MARKETPLACE_*`` environment variables, and reads one JSON object from its
stdout: ``{"backend_id": ..., "metadata": {...}}`` for a create,
``{"usage": {component: amount}}`` for a usage pull. The order finishes at once.

A program that exits non-zero, runs past the timeout, or prints something else fails with a
:class:`~marketplace_core.errors.BackendError` naming the program and the action and carrying
the tail of its stderr; the core records that message on the erred order. Programs receive
the order id and must be idempotent per order id: the same order may be handed over twice.
"""

from __future__ import annotations

import enum
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any, NoReturn

import attrs

from marketplace_core.errors import BackendError, ErrorCode, MarketplaceError, ValidationError
from marketplace_core.frozen import EMPTY_JSON, FrozenMap, freeze_json, frozen_mapping
from marketplace_core.money import parse_money
from marketplace_core.offerings import Offering
from marketplace_core.orders import Order
from marketplace_core.plugins.processor import Completed, ProcessingRequest
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.usage_source import PulledUsage, UsageRequest

SCRIPT_CAPABILITIES = PluginCapabilities(needs_provider_review=False, can_update_limits=True)
"""No provider review by default (the host vetted the programs); limits can change. Executing
orders cannot be canceled: the program runs while the order is processed."""

STDERR_TAIL_CHARACTERS = 2000
"""How much of the end of a program's stderr goes into an error message."""

PROBLEM_CHARACTERS = 500
"""How long the description of a bad answer may grow (it may quote the answer)."""

PASSED_HOST_VARIABLES = ("PATH", "LANG", "LC_ALL")
"""The only variables of the host's own environment a program sees (when the host has them)."""

ATTRIBUTE_VARIABLE_MAX_LENGTH = 4096
"""Attribute values longer than this are left out of the environment (they are on stdin)."""

VARIABLE_PREFIX = "MARKETPLACE_"
"""The prefix of the variables the processor sets; reserved, a host cannot set them."""

DEFAULT_INTERPRETERS: Mapping[str, tuple[str, ...]] = FrozenMap({".py": (sys.executable,)})
"""Python files run through the interpreter running the marketplace."""


class ScriptAction(enum.StrEnum):
    """What a program is asked to do; each value is also its key in ``plugin_options``."""

    CREATE = "create"
    UPDATE = "update"
    TERMINATE = "terminate"
    PULL_USAGE = "pull_usage"


REQUIRED_ACTIONS = (ScriptAction.CREATE, ScriptAction.TERMINATE)
"""The programs every offering must name: what is created can always be removed."""

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


# --------------------------------------------------------------------------- reading output


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
    stripped = run.stderr.strip()
    if not tail:
        said = "stderr was empty"
    elif len(stripped) > len(tail):
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


def _read_fields(action: ScriptAction, answer: dict[str, Any]) -> ScriptOutput:
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
        backend_id=backend_id,
        metadata=freeze_json(_plain_json(metadata, '"metadata"'), "metadata"),
        usage=amounts,
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


# --------------------------------------------------------------------------- what a program sees


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


# The fields of each entity a program reads on stdin: a fixed list, so a new entity field
# reaches programs only when it is added here.
_ORDER_FIELDS = (
    "id",
    "type",
    "project_id",
    "offering_id",
    "resource_id",
    "plan_id",
    "old_plan_id",
    "limits",
    "old_limits",
    "attributes",
    "cost",
    "created_at",
    "created_by",
)
_RESOURCE_FIELDS = (
    "id",
    "name",
    "project_id",
    "offering_id",
    "plan_id",
    "state",
    "backend_id",
    "backend_metadata",
    "limits",
    "attributes",
    "end_date",
    "created_at",
)
_OFFERING_FIELDS = ("id", "name", "plugin_type", "plugin_options")
_PLAN_FIELDS = ("id", "name", "unit", "prices")


def _pick(entity: object | None, names: tuple[str, ...]) -> dict[str, Any] | None:
    """The named fields of ``entity`` (``None`` stays ``None``)."""
    return None if entity is None else {name: getattr(entity, name) for name in names}


def _parts(
    request: ProcessingRequest | UsageRequest,
) -> tuple[Order | None, Mapping[str, int], Mapping[str, Any], date | None]:
    """The order (if any), the limits, the attributes and the month a program is told."""
    if isinstance(request, UsageRequest):
        resource = request.resource
        return None, resource.limits, resource.attributes, request.month
    order = request.order
    return order, order.limits, {**request.resource.attributes, **order.attributes}, None


def script_input(action: ScriptAction, request: ProcessingRequest | UsageRequest) -> dict[str, Any]:
    """The JSON object a program reads on stdin: plain JSON data, with datetimes and dates
    in ISO 8601, Decimals as strings and ``month`` as ``YYYY-MM`` (usage pulls; else null).

    ``limits`` and ``attributes`` are what the action is about: an order's limits (a usage
    pull: the resource's) and the resource's attributes overlaid with the order's.
    """
    order, limits, attributes, month = _parts(request)
    data = {
        "action": action,
        "month": None if month is None else f"{month:%Y-%m}",
        "order": _pick(order, _ORDER_FIELDS),
        "resource": _pick(request.resource, _RESOURCE_FIELDS),
        "offering": _pick(request.offering, _OFFERING_FIELDS),
        "plan": _pick(request.plan, _PLAN_FIELDS),
        "limits": limits,
        "attributes": attributes,
    }
    converted: dict[str, Any] = _jsonable(data)
    return converted


def variable_name(name: str) -> str:
    """``name`` as the tail of an environment variable: upper case, with every character
    other than ASCII letters, digits and ``_`` replaced by ``_``."""
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, str) and "\x00" not in value:
        return value
    return None


def script_variables(
    action: ScriptAction, request: ProcessingRequest | UsageRequest
) -> dict[str, str]:
    """The ``MARKETPLACE_*`` environment variables a program sees.

    ``MARKETPLACE_ACTION``, ``_ORDER_ID`` (orders only), ``_RESOURCE_ID``,
    ``_RESOURCE_NAME``, ``_BACKEND_ID`` (empty before a create), ``_PROJECT_ID``,
    ``_OFFERING_ID``, ``_PLAN_ID`` (empty without a plan), ``_MONTH`` (``YYYY-MM``, usage
    pulls only), ``_LIMIT_<COMPONENT>`` per limit and ``_ATTRIBUTE_<NAME>`` per scalar
    attribute (booleans and numbers in their JSON spelling; null, lists, objects, strings
    with a NUL character and values over :data:`ATTRIBUTE_VARIABLE_MAX_LENGTH` characters
    are left to stdin). Where two names map to one variable, the first in sorted order wins.
    """
    order, limits, attributes, month = _parts(request)
    resource = request.resource
    variables = {
        "ACTION": action.value,
        "RESOURCE_ID": resource.id,
        "RESOURCE_NAME": resource.name,
        "BACKEND_ID": resource.backend_id,
        "PROJECT_ID": resource.project_id,
        "OFFERING_ID": request.offering.id,
        "PLAN_ID": request.plan.id if request.plan is not None else "",
    }
    if order is not None:
        variables["ORDER_ID"] = order.id
    if month is not None:
        variables["MONTH"] = f"{month:%Y-%m}"
    for component in sorted(limits):
        variables.setdefault(f"LIMIT_{variable_name(component)}", str(limits[component]))
    for name in sorted(attributes):
        text = _scalar_text(attributes[name])
        if text is not None and len(text) <= ATTRIBUTE_VARIABLE_MAX_LENGTH:
            variables.setdefault(f"ATTRIBUTE_{variable_name(name)}", text)
    return {VARIABLE_PREFIX + key: value.replace("\x00", "") for key, value in variables.items()}


# --------------------------------------------------------------------------- the processor


def _refuse(field: str, value: object, message: str) -> ValidationError:
    return ValidationError(ErrorCode.INVALID_VALUE, message, field=field, value=repr(value))


class ScriptProcessor:
    """Runs the programs an offering names, from below ``root`` only.

    ``root`` is the directory the host lets offerings run programs from; it must exist.
    ``timeout`` (seconds) bounds each run; a program still running then is killed with its
    whole process group. ``environment`` is added to what every program sees (its names must
    not start with ``MARKETPLACE_``). ``interpreters`` maps a file-name ending to the command
    that runs such files (default :data:`DEFAULT_INTERPRETERS`; a mapping given replaces it);
    a file with no matching ending must be executable itself.

    The host's environment is not passed on except :data:`PASSED_HOST_VARIABLES`, read when
    the processor is made. Runs happen on POSIX systems only (process groups).
    """

    def __init__(
        self,
        root: Path,
        *,
        timeout: float = 30.0,
        environment: Mapping[str, str] | None = None,
        interpreters: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if not isinstance(root, PurePath) or not Path(root).is_dir():
            raise _refuse("root", root, f"root must be an existing directory, got {root!r}")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not (math.isfinite(timeout) and timeout > 0)
        ):
            raise _refuse("timeout", timeout, f"timeout must be seconds > 0, got {timeout!r}")
        self.root = Path(root).resolve()
        self.timeout = float(timeout)
        host = {name: os.environ[name] for name in PASSED_HOST_VARIABLES if name in os.environ}
        self._base_environment = host | self._check_environment(environment or {})
        self.interpreters = self._check_interpreters(
            DEFAULT_INTERPRETERS if interpreters is None else interpreters,
            self._base_environment.get("PATH"),
        )

    @staticmethod
    def _check_environment(environment: Mapping[str, str]) -> dict[str, str]:
        for name, value in environment.items():
            if not isinstance(name, str) or not re.fullmatch(r"[^=\x00]+", name):
                raise _refuse(
                    "environment",
                    name,
                    f"environment names must be non-empty, without '=' or NUL, got {name!r}",
                )
            if name.upper().startswith(VARIABLE_PREFIX):
                raise _refuse(
                    "environment",
                    name,
                    f"environment variable {name!r} uses the reserved prefix {VARIABLE_PREFIX!r}",
                )
            if not isinstance(value, str) or "\x00" in value:
                raise _refuse(
                    "environment", value, f"environment[{name!r}] must be a string without NUL"
                )
        return dict(environment)

    @staticmethod
    def _check_interpreters(
        interpreters: Mapping[str, Sequence[str]], search_path: str | None
    ) -> Mapping[str, tuple[str, ...]]:
        checked: dict[str, tuple[str, ...]] = {}
        for ending, command in interpreters.items():
            if not isinstance(ending, str) or len(ending) < 2 or not ending.startswith("."):
                raise _refuse(
                    "interpreters", ending, f"interpreter endings look like '.py', got {ending!r}"
                )
            if (
                isinstance(command, str)
                or not command
                or not all(isinstance(part, str) and part for part in command)
            ):
                raise _refuse(
                    "interpreters",
                    command,
                    f"interpreters[{ending!r}] must be a non-empty sequence of non-empty "
                    f"strings (a program and its arguments), got {command!r}",
                )
            if shutil.which(command[0], path=search_path) is None:
                raise _refuse(
                    "interpreters",
                    command,
                    f"interpreters[{ending!r}]: the program {command[0]!r} is not an executable "
                    "file (nor found on the PATH programs see)",
                )
            checked[ending] = tuple(command)
        return FrozenMap(checked)

    # ----------------------------------------------------------------- choosing the program

    def _interpreter(self, path: Path) -> tuple[str, ...] | None:
        endings = sorted((e for e in self.interpreters if path.name.endswith(e)), key=len)
        return self.interpreters[endings[-1]] if endings else None

    def script_path(self, offering: Offering, action: ScriptAction) -> Path | None:
        """The program ``offering`` names for ``action``, resolved below the root, or
        ``None`` when it names none.

        Refuses (``invalid_value``, naming ``plugin_options.<action>``) a value that is not a
        non-empty string, an absolute path, one with a ``..`` part, one that leads outside
        the root (also through a symbolic link), and one that is not an existing file, or
        not executable when no interpreter runs it.
        """
        field = f"plugin_options.{action.value}"
        value = offering.plugin_options.get(action.value)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise _refuse(field, value, f"{field} must name a program, got {value!r}")
        relative = PurePath(value)
        if relative.is_absolute():
            raise _refuse(
                field, value, f"{field} must be a path relative to the scripts' root, got {value!r}"
            )
        if ".." in relative.parts:
            raise _refuse(field, value, f"{field} must not contain '..', got {value!r}")
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise _refuse(field, value, f"{field}: {value!r} leads outside the scripts' root")
        if not path.is_file():
            raise _refuse(field, value, f"{field}: {value!r} is not a file in the scripts' root")
        if self._interpreter(path) is None and not os.access(path, os.X_OK):
            raise _refuse(
                field,
                value,
                f"{field}: {value!r} is not executable, and no interpreter runs files like it",
            )
        return path

    def check_offering(
        self, offering: Offering, actions: Sequence[ScriptAction] = tuple(ScriptAction)
    ) -> None:
        """Refuse an offering whose programs for ``actions`` (default: all) are missing or
        not allowed (see :meth:`script_path`); ``create`` and ``terminate`` are required."""
        for action in actions:
            path = self.script_path(offering, action)
            if path is None and action in REQUIRED_ACTIONS:
                field = f"plugin_options.{action.value}"
                raise _refuse(
                    field,
                    None,
                    f"{field} is required: offerings of the script plugin name a "
                    f"{action.value} program",
                )

    # ----------------------------------------------------------------- running it

    def run(
        self, action: ScriptAction, request: ProcessingRequest | UsageRequest
    ) -> ScriptOutput | None:
        """Run the offering's program for ``action`` and read its answer; ``None`` when the
        offering names no program for it. Raises :class:`BackendError` when the program
        fails, times out or answers badly."""
        path = self.script_path(request.offering, action)
        if path is None:
            return None
        name = str(request.offering.plugin_options[action.value])
        interpreter = self._interpreter(path) or ()
        stdin = json.dumps(script_input(action, request), sort_keys=True, ensure_ascii=False)
        environment = self._base_environment | script_variables(action, request)
        return parse_script_output(
            self._execute(name, action, [*interpreter, str(path)], stdin, environment)
        )

    def _execute(
        self,
        name: str,
        action: ScriptAction,
        command: list[str],
        stdin: str,
        environment: dict[str, str],
    ) -> ScriptRun:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.root,
                env=environment,
                start_new_session=True,
            )
        except OSError as error:
            run = ScriptRun(name, action, None, b"")
            raise script_error(
                run, ErrorCode.BACKEND_FAILED, f"could not be started ({error.strerror})"
            ) from None
        with process:
            try:
                stdout, stderr = process.communicate(stdin.encode("utf-8"), self.timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                stdout, stderr = _collect(process)
                run = ScriptRun(name, action, None, stdout, _text(stderr))
                raise script_error(
                    run,
                    ErrorCode.BACKEND_TIMED_OUT,
                    f"ran longer than {self.timeout:g} s and was killed",
                ) from None
        return ScriptRun(name, action, process.returncode, stdout, _text(stderr))

    # ----------------------------------------------------------------- the protocol

    def validate(self, request: ProcessingRequest) -> None:
        """Refuse the order if a program it needs is missing or not allowed, or if its data
        cannot be written as JSON (a NaN attribute, say). Runs nothing.

        A create order needs every program the offering names (the resource will live
        through them); an update or termination only its own, so a usage program removed
        later never blocks a termination.
        """
        order_type = ScriptAction(request.order.type.value)
        needed = tuple(ScriptAction) if order_type is ScriptAction.CREATE else (order_type,)
        self.check_offering(request.offering, needed)
        try:
            json.dumps(script_input(ScriptAction.CREATE, request), allow_nan=False)
        except ValueError as error:
            raise _refuse("attributes", None, f"attributes must be plain JSON: {error}") from None

    def create(self, request: ProcessingRequest) -> Completed:
        """Run the ``create`` program; it must answer a ``backend_id``."""
        output = self._run_order(ScriptAction.CREATE, request)
        return Completed(backend_id=output.backend_id, metadata=output.metadata)

    def update(self, request: ProcessingRequest) -> Completed:
        """Run the ``update`` program; without one the change is only recorded."""
        output = self._run_order(ScriptAction.UPDATE, request)
        return Completed(backend_id=output.backend_id, metadata=output.metadata)

    def terminate(self, request: ProcessingRequest) -> Completed:
        """Run the ``terminate`` program."""
        return Completed(metadata=self._run_order(ScriptAction.TERMINATE, request).metadata)

    def pull_usage(self, request: UsageRequest) -> tuple[PulledUsage, ...]:
        """Run the ``pull_usage`` program; an offering without one reports no usage."""
        output = self.run(ScriptAction.PULL_USAGE, request)
        return () if output is None else output.pulled_usage()

    def _run_order(self, action: ScriptAction, request: ProcessingRequest) -> ScriptOutput:
        return self.run(action, request) or ScriptOutput()


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


def register_script(
    registry: PluginRegistry, processor: ScriptProcessor, plugin_type: str = "script"
) -> None:
    """Register ``processor`` as the script plugin under ``plugin_type``."""
    registry.register(plugin_type, processor, SCRIPT_CAPABILITIES)

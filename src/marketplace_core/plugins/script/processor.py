"""The script plugin's processor: :class:`ScriptProcessor`, :data:`SCRIPT_CAPABILITIES` and
:func:`register_script`."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath

from marketplace_core.offerings import Offering
from marketplace_core.plugins.processor import Completed, ProcessingRequest
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.script.actions import ScriptAction
from marketplace_core.plugins.script.answers import ScriptOutput, parse_script_output
from marketplace_core.plugins.script.program_input import (
    check_environment,
    host_variables,
    script_input,
    script_variables,
)
from marketplace_core.plugins.script.programs import (
    DEFAULT_INTERPRETERS,
    check_interpreters,
    check_programs,
    find_program,
    interpreter_for,
)
from marketplace_core.plugins.script.refusals import refuse
from marketplace_core.plugins.script.running import run_program
from marketplace_core.plugins.usage_source import PulledUsage, UsageRequest

SCRIPT_CAPABILITIES = PluginCapabilities(needs_provider_review=False, can_update_limits=True)
"""No provider review by default (the host vetted the programs); limits can change. Executing
orders cannot be canceled: the program runs while the order is processed."""


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
            raise refuse("root", root, f"root must be an existing directory, got {root!r}")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not (math.isfinite(timeout) and timeout > 0)
        ):
            raise refuse("timeout", timeout, f"timeout must be seconds > 0, got {timeout!r}")
        self.root = Path(root).resolve()
        self.timeout = float(timeout)
        self._base_environment = host_variables() | check_environment(environment or {})
        self.interpreters = check_interpreters(
            DEFAULT_INTERPRETERS if interpreters is None else interpreters,
            self._base_environment.get("PATH"),
        )

    def script_path(self, offering: Offering, action: ScriptAction) -> Path | None:
        """The program ``offering`` names for ``action``, resolved below the root, or
        ``None`` when it names none; refuses one that is not allowed (see
        :func:`~marketplace_core.plugins.script.programs.find_program`)."""
        return find_program(self.root, self.interpreters, offering, action)

    def check_offering(
        self, offering: Offering, actions: Sequence[ScriptAction] = tuple(ScriptAction)
    ) -> None:
        """Refuse an offering whose programs for ``actions`` (default: all) are missing or
        not allowed (see :meth:`script_path`); ``create`` and ``terminate`` are required."""
        check_programs(self.root, self.interpreters, offering, actions)

    def run(
        self, action: ScriptAction, request: ProcessingRequest | UsageRequest
    ) -> ScriptOutput | None:
        """Run the offering's program for ``action`` and read its answer; ``None`` when the
        offering names no program for it. Raises :class:`BackendError` when the program
        fails, times out or answers badly."""
        path = self.script_path(request.offering, action)
        if path is None:
            return None
        run = run_program(
            str(request.offering.plugin_options[action.value]),
            action,
            [*(interpreter_for(path, self.interpreters) or ()), str(path)],
            stdin=json.dumps(script_input(action, request), sort_keys=True, ensure_ascii=False),
            environment=self._base_environment | script_variables(action, request),
            cwd=self.root,
            timeout=self.timeout,
        )
        return parse_script_output(run)

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
            raise refuse("attributes", None, f"attributes must be plain JSON: {error}") from None

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


def register_script(
    registry: PluginRegistry, processor: ScriptProcessor, plugin_type: str = "script"
) -> None:
    """Register ``processor`` as the script plugin under ``plugin_type``."""
    registry.register(plugin_type, processor, SCRIPT_CAPABILITIES)

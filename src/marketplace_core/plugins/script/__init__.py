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

- :mod:`.actions`: :class:`ScriptAction` (also the ``plugin_options`` keys) and
  :data:`REQUIRED_ACTIONS`.
- :mod:`.programs`: finding and checking the program an offering names (below the root, no
  ``..``, no way out through a symbolic link) and the interpreter that runs it.
- :mod:`.program_input`: what a program is given: :func:`script_input` (stdin),
  :func:`script_variables` (``MARKETPLACE_*``), the host variables passed on and the ones a
  host adds.
- :mod:`.answers`: what a program answers: :class:`ScriptRun`, :func:`parse_script_output`
  into :class:`ScriptOutput`, and :func:`script_error` with :func:`stderr_tail`.
- :mod:`.running`: starting the process group, the timeout, killing it, collecting output.
- :mod:`.processor`: :class:`ScriptProcessor`, :data:`SCRIPT_CAPABILITIES`,
  :func:`register_script`.
- :mod:`.refusals`: the ``invalid_value`` error the plugin's checks raise.
"""

from marketplace_core.plugins.script.actions import REQUIRED_ACTIONS, ScriptAction
from marketplace_core.plugins.script.answers import (
    PROBLEM_CHARACTERS,
    STDERR_TAIL_CHARACTERS,
    ScriptOutput,
    ScriptRun,
    parse_script_output,
    script_error,
    stderr_tail,
)
from marketplace_core.plugins.script.processor import (
    SCRIPT_CAPABILITIES,
    ScriptProcessor,
    register_script,
)
from marketplace_core.plugins.script.program_input import (
    ATTRIBUTE_VARIABLE_MAX_LENGTH,
    PASSED_HOST_VARIABLES,
    VARIABLE_PREFIX,
    script_input,
    script_variables,
    variable_name,
)
from marketplace_core.plugins.script.programs import DEFAULT_INTERPRETERS

__all__ = [
    "ATTRIBUTE_VARIABLE_MAX_LENGTH",
    "DEFAULT_INTERPRETERS",
    "PASSED_HOST_VARIABLES",
    "PROBLEM_CHARACTERS",
    "REQUIRED_ACTIONS",
    "SCRIPT_CAPABILITIES",
    "STDERR_TAIL_CHARACTERS",
    "VARIABLE_PREFIX",
    "ScriptAction",
    "ScriptOutput",
    "ScriptProcessor",
    "ScriptRun",
    "parse_script_output",
    "register_script",
    "script_error",
    "script_input",
    "script_variables",
    "stderr_tail",
    "variable_name",
]

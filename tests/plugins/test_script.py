"""The script plugin: real programs (small Python scripts in ``tests/plugins/scripts``) run
in their own process groups, read the order from stdin and the environment, and answer on
stdout; failures, timeouts and bad answers err the order with the program's own words."""

from __future__ import annotations

import json
import math
import os
import re
import select
import shutil
import signal
import sys
import tempfile
import textwrap
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace_core.errors import BackendError, ErrorCode, ValidationError
from marketplace_core.offerings import BillingType, Offering, OfferingComponent, Plan, PlanUnit
from marketplace_core.orders import Order, OrderState, OrderType
from marketplace_core.plugins.processor import Completed, ProcessingRequest
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.script import (
    PROBLEM_CHARACTERS,
    SCRIPT_CAPABILITIES,
    STDERR_TAIL_CHARACTERS,
    ScriptAction,
    ScriptOutput,
    ScriptProcessor,
    ScriptRun,
    parse_script_output,
    register_script,
    script_variables,
)
from marketplace_core.plugins.usage_source import PulledUsage
from marketplace_core.resources import Resource, ResourceState
from marketplace_core.testing.processor_contract import (
    ContractWorld,
    ProcessorContract,
    build_contract_world,
)

SCRIPTS = Path(__file__).resolve().parent / "scripts"
STORAGE = OfferingComponent("storage", "Storage", BillingType.LIMIT)
CPU = OfferingComponent("cpu", "CPU hours", BillingType.USAGE, measured_unit="hour")
BACKEND = {action.value: "backend.py" for action in ScriptAction}
"""Every action runs the test backend, which keeps its state in ``SCRIPT_STATE_DIR``."""


def backend_processor(state: Path, **options: Any) -> ScriptProcessor:
    return ScriptProcessor(SCRIPTS, environment={"SCRIPT_STATE_DIR": str(state)}, **options)


def script_world(
    processor: ScriptProcessor, plugin_options: Mapping[str, Any] = BACKEND
) -> ContractWorld:
    return build_contract_world(
        "script",
        processor,
        SCRIPT_CAPABILITIES,
        components=(STORAGE, CPU),
        plugin_options=plugin_options,
    )


def order_in(world: ContractWorld, **arguments: Any) -> Order:
    """A create order placed by the consumer (it executes at once: no review needed)."""
    return world.market.order_resource(
        world.consumer.id,
        world.project.id,
        world.offering.id,
        world.plan.id,
        arguments.pop("name", "analysis vm"),
        **({"limits": {"storage": 10}} | arguments),
    )


START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def direct_request(options: Mapping[str, Any]) -> ProcessingRequest:
    """A create request built by hand, for calling a processor without a marketplace."""
    offering = Offering(
        id="offering-1",
        name="Scripts",
        provider_id="organization-1",
        plugin_type="script",
        created_at=START,
        plugin_options=options,
    )
    resource = Resource(
        id="resource-1",
        name="vm",
        project_id="project-1",
        offering_id=offering.id,
        created_at=START,
        plan_id="plan-1",
    )
    order = Order(
        id="order-1",
        type=OrderType.CREATE,
        resource_id=resource.id,
        project_id=resource.project_id,
        offering_id=offering.id,
        created_at=START,
        created_by="user-1",
        state=OrderState.EXECUTING,
        plan_id="plan-1",
    )
    plan = Plan(
        id="plan-1", offering_id=offering.id, name="Small", unit=PlanUnit.MONTH, created_at=START
    )
    return ProcessingRequest(order, resource, offering, plan)


def emit(**behaviour: str) -> BackendError:
    """Run ``emit.py`` as a create program behaving as told; return the error it caused."""
    processor = ScriptProcessor(SCRIPTS, environment=behaviour)
    with pytest.raises(BackendError) as caught:
        processor.create(direct_request({"create": "emit.py", "terminate": "emit.py"}))
    return caught.value


# --------------------------------------------------------------------------- the contract


class TestTheScriptPluginKeepsTheProcessorContract(ProcessorContract):
    plugin_type = "script"

    def make_plugin(self) -> tuple[ScriptProcessor, PluginCapabilities]:
        self.state = Path(tempfile.mkdtemp(prefix="script-backend-"))
        self.addCleanup(shutil.rmtree, self.state)
        return backend_processor(self.state), SCRIPT_CAPABILITIES

    def backend_ids(self) -> set[str]:
        resources = self.state / "resources"
        return {path.name for path in resources.iterdir()} if resources.exists() else set()

    def fail_next_backend_call(self) -> str:
        (self.state / "fail_next").write_text("the disk is full", encoding="utf-8")
        return "the disk is full"

    def plugin_options(self) -> Mapping[str, Any]:
        return BACKEND

    def invalid_plugin_options(self) -> Mapping[str, Any]:
        return {**BACKEND, "create": "../outside.py"}

    def offering_components(self) -> tuple[OfferingComponent, ...]:
        return (STORAGE, CPU)

    def order_limits(self) -> Mapping[str, int]:
        return {"storage": 10}

    def new_limits(self) -> Mapping[str, int]:
        return {"storage": 20}

    def backend_limits(self, resource: Resource) -> Mapping[str, int]:
        limits: Mapping[str, int] = json.loads(
            (self.state / "resources" / resource.backend_id).read_text(encoding="utf-8")
        )
        return limits


def test_register_script_registers_the_processor_with_its_capabilities(tmp_path: Path):
    registry, processor = PluginRegistry(), backend_processor(tmp_path)
    register_script(registry, processor, plugin_type="scripts")
    plugin = registry.get("scripts")
    assert plugin.processor is processor
    assert plugin.capabilities == SCRIPT_CAPABILITIES
    assert SCRIPT_CAPABILITIES.can_update_limits
    assert not SCRIPT_CAPABILITIES.needs_provider_review


# --------------------------------------------------------------------------- what a program sees


def test_a_program_reads_the_order_on_stdin_and_in_a_clean_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("HOME", "/home/marketplace")
    monkeypatch.setenv("API_TOKEN", "s3cret")
    processor = ScriptProcessor(SCRIPTS, environment={"DUMP_TO": str(tmp_path), "LANG": "C.UTF-8"})
    monkeypatch.setenv("LC_ALL", "C.UTF-8")  # the host's variables are read once, above
    options = {"create": "dump.py", "terminate": "dump.py", "flavours": ["small"]}
    world = script_world(processor, options)
    attributes = {
        "flavor": "m1.small",
        "gpu": True,
        "replicas": 3,
        "ratio": 0.5,
        "ssh key": "ssh-ed25519 AAAA",
        "tags": ["a", "b"],
        "nothing": None,
        "blob": "x" * 5000,
    }
    order = order_in(world, attributes=attributes)
    assert order.state is OrderState.DONE, order.error_message
    seen = json.loads((tmp_path / "create.json").read_text(encoding="utf-8"))
    thawed = attributes | {"tags": ["a", "b"]}
    assert seen["stdin"] == {
        "action": "create",
        "month": None,
        "order": {
            "id": "order-1",
            "type": "create",
            "project_id": "project-1",
            "offering_id": "offering-1",
            "resource_id": "resource-1",
            "plan_id": "plan-1",
            "old_plan_id": None,
            "limits": {"storage": 10},
            "old_limits": None,
            "attributes": thawed,
            "cost": "10",
            "created_at": "2026-03-02T09:00:00+00:00",
            "created_by": world.consumer.id,
        },
        "resource": {
            "id": "resource-1",
            "name": "analysis vm",
            "project_id": "project-1",
            "offering_id": "offering-1",
            "plan_id": "plan-1",
            "state": "creating",
            "backend_id": "",
            "backend_metadata": {},
            "limits": {"storage": 10},
            "attributes": thawed,
            "end_date": None,
            "created_at": "2026-03-02T09:00:00+00:00",
        },
        "offering": {
            "id": "offering-1",
            "name": "Offering under test",
            "plugin_type": "script",
            "plugin_options": options,
        },
        "plan": {
            "id": "plan-1",
            "name": "Small",
            "unit": "month",
            "prices": {"cpu": "1", "storage": "1"},
        },
        "limits": {"storage": 10},
        "attributes": thawed,
    }
    assert seen["environment"] == {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "DUMP_TO": str(tmp_path),
        "MARKETPLACE_ACTION": "create",
        "MARKETPLACE_ORDER_ID": "order-1",
        "MARKETPLACE_RESOURCE_ID": "resource-1",
        "MARKETPLACE_RESOURCE_NAME": "analysis vm",
        "MARKETPLACE_BACKEND_ID": "",
        "MARKETPLACE_PROJECT_ID": "project-1",
        "MARKETPLACE_OFFERING_ID": "offering-1",
        "MARKETPLACE_PLAN_ID": "plan-1",
        "MARKETPLACE_LIMIT_STORAGE": "10",
        "MARKETPLACE_ATTRIBUTE_FLAVOR": "m1.small",
        "MARKETPLACE_ATTRIBUTE_GPU": "true",
        "MARKETPLACE_ATTRIBUTE_REPLICAS": "3",
        "MARKETPLACE_ATTRIBUTE_RATIO": "0.5",
        "MARKETPLACE_ATTRIBUTE_SSH_KEY": "ssh-ed25519 AAAA",
    }
    assert Path(seen["executable"]).resolve() == Path(sys.executable).resolve()


def test_names_that_map_to_one_variable_keep_the_first_in_sorted_order():
    request = direct_request({})
    order = attrs.evolve(
        request.order, limits={"gpu-a100": 2, "gpu_a100": 3}, attributes={"a_b": "2", "a-b": "1"}
    )
    variables = script_variables(ScriptAction.CREATE, attrs.evolve(request, order=order))
    assert variables["MARKETPLACE_LIMIT_GPU_A100"] == "2"
    assert variables["MARKETPLACE_ATTRIBUTE_A_B"] == "1"


def test_each_action_runs_its_own_program_and_sees_its_own_data(tmp_path: Path):
    options = {"create": "backend.py", "update": "dump.py", "terminate": "dump.py"}
    processor = ScriptProcessor(
        SCRIPTS, environment={"DUMP_TO": str(tmp_path), "SCRIPT_STATE_DIR": str(tmp_path)}
    )
    world = script_world(processor, options)
    market, consumer = world.market, world.consumer.id
    resource_id = order_in(world, attributes={"flavor": "small"}).resource_id
    changed = market.order_limit_change(consumer, resource_id, {"storage": 20})
    assert changed.state is OrderState.DONE, changed.error_message
    ended = market.order_termination(consumer, resource_id, attributes={"reason": "done"})
    assert ended.state is OrderState.DONE, ended.error_message

    update = json.loads((tmp_path / "update.json").read_text(encoding="utf-8"))
    assert update["stdin"]["action"] == "update"
    assert update["stdin"]["limits"] == {"storage": 20}
    assert update["stdin"]["order"]["old_limits"] == {"storage": 10}
    assert update["environment"]["MARKETPLACE_LIMIT_STORAGE"] == "20"
    assert update["environment"]["MARKETPLACE_BACKEND_ID"] == "vm-1"
    # backend.py's own update never ran: it would have rewritten the limits it holds
    held = (tmp_path / "resources" / "vm-1").read_text(encoding="utf-8")
    assert json.loads(held) == {"storage": 10}

    terminate = json.loads((tmp_path / "terminate.json").read_text(encoding="utf-8"))
    assert terminate["stdin"]["action"] == "terminate"
    assert terminate["stdin"]["attributes"] == {"flavor": "small", "reason": "done"}
    assert terminate["environment"]["MARKETPLACE_ATTRIBUTE_REASON"] == "done"
    assert terminate["environment"]["MARKETPLACE_ORDER_ID"] == ended.id


def test_the_created_resource_records_the_backend_id_and_metadata(tmp_path: Path):
    world = script_world(backend_processor(tmp_path))
    resource = world.market.get_resource(order_in(world).resource_id)
    assert resource.backend_id == "vm-1"
    assert resource.backend_metadata == {"host": "node-1"}


def test_an_offering_without_an_update_program_records_the_change_only(tmp_path: Path):
    world = script_world(
        backend_processor(tmp_path), {"create": "backend.py", "terminate": "backend.py"}
    )
    resource_id = order_in(world).resource_id
    order = world.market.order_limit_change(world.consumer.id, resource_id, {"storage": 30})
    assert order.state is OrderState.DONE, order.error_message
    assert world.market.get_resource(resource_id).limits == {"storage": 30}
    held = (tmp_path / "resources" / "vm-1").read_text(encoding="utf-8")
    assert json.loads(held) == {"storage": 10}


def test_an_attribute_json_cannot_carry_is_refused_at_order_time(tmp_path: Path):
    world = script_world(backend_processor(tmp_path))
    before = len(world.market.events())
    with pytest.raises(ValidationError, match="attributes must be plain JSON") as caught:
        order_in(world, attributes={"ratio": math.nan})
    assert caught.value.fields["field"] == "attributes"
    assert len(world.market.events()) == before


# --------------------------------------------------------------------------- refusals at order time


@pytest.mark.parametrize(
    ("options", "field", "says"),
    [
        ({"create": "/usr/bin/true", "terminate": "backend.py"}, "create", "relative"),
        ({"create": "../scripts/backend.py", "terminate": "backend.py"}, "create", "'..'"),
        ({"create": "sub/../backend.py", "terminate": "backend.py"}, "create", "'..'"),
        ({"create": "missing.py", "terminate": "backend.py"}, "create", "not a file"),
        ({"create": "backend.py", "terminate": "."}, "terminate", "not a file"),
        ({"create": "backend.py"}, "terminate", "is required"),
        ({"terminate": "backend.py"}, "create", "is required"),
        ({"create": "backend.py", "terminate": "backend.py", "update": 7}, "update", "name"),
        ({"create": "", "terminate": "backend.py"}, "create", "name a program"),
        (BACKEND | {"pull_usage": "gone.py"}, "pull_usage", "not a file"),
    ],
)
def test_a_program_outside_the_root_or_missing_is_refused_at_order_time_storing_nothing(
    tmp_path: Path, options: Mapping[str, Any], field: str, says: str
):
    world = script_world(backend_processor(tmp_path), options)
    before = len(world.market.events())
    with pytest.raises(ValidationError, match=re.escape(f"plugin_options.{field}")) as caught:
        order_in(world)
    assert says in caught.value.message
    assert caught.value.fields["field"] == f"plugin_options.{field}"
    assert len(world.market.events()) == before
    assert world.market.list_resources(world.project.id) == []
    assert not (tmp_path / "resources").exists()


def test_a_termination_needs_only_its_own_program(tmp_path: Path):
    root, state = tmp_path / "root", tmp_path / "state"
    state.mkdir()
    usage = copy_script(root, "backend.py", "usage.py", 0o644)
    copy_script(root, "backend.py", "backend.py", 0o644)
    processor = ScriptProcessor(root, environment={"SCRIPT_STATE_DIR": str(state)})
    world = script_world(processor, BACKEND | {"pull_usage": "usage.py"})
    resource_id = order_in(world).resource_id
    usage.unlink()
    with pytest.raises(ValidationError, match=r"plugin_options\.pull_usage"):
        order_in(world)
    ended = world.market.order_termination(world.consumer.id, resource_id)
    assert ended.state is OrderState.DONE, ended.error_message


def test_a_program_is_checked_again_before_it_runs(tmp_path: Path):
    processor = backend_processor(tmp_path)
    with pytest.raises(ValidationError, match=r"plugin_options\.create: 'gone\.py' is not a file"):
        processor.create(direct_request({"create": "gone.py", "terminate": "backend.py"}))
    assert not (tmp_path / "orders").exists()


def copy_script(root: Path, source: str, name: str, mode: int) -> Path:
    root.mkdir(exist_ok=True)
    target = root / name
    shutil.copyfile(SCRIPTS / source, target)
    target.chmod(mode)
    return target


def test_a_symbolic_link_leading_outside_the_root_is_refused(tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape.py").symlink_to(SCRIPTS / "backend.py")
    processor = ScriptProcessor(root)
    with pytest.raises(ValidationError, match="leads outside the scripts' root"):
        processor.validate(direct_request({"create": "escape.py", "terminate": "escape.py"}))


# --------------------------------------------------------------------------- choosing how to run it


def test_a_registered_ending_runs_through_its_interpreter_with_its_arguments(tmp_path: Path):
    options = {"create": "utf8_mode.task", "terminate": "utf8_mode.task"}
    for flag, expected in (("utf8", 1), ("utf8=0", 0)):
        processor = ScriptProcessor(SCRIPTS, interpreters={".task": (sys.executable, "-X", flag)})
        result = processor.create(direct_request(options))
        assert result == Completed("task-1", {"utf8_mode": expected})


def test_the_longest_matching_ending_chooses_the_interpreter(tmp_path: Path):
    copy_script(tmp_path, "utf8_mode.task", "probe.utf8.task", 0o644)
    interpreters = {
        ".task": (sys.executable, "-X", "utf8=0"),
        ".utf8.task": (sys.executable, "-X", "utf8"),
    }
    processor = ScriptProcessor(tmp_path, interpreters=interpreters)
    options = {"create": "probe.utf8.task", "terminate": "probe.utf8.task"}
    assert processor.create(direct_request(options)).metadata == {"utf8_mode": 1}


def test_an_executable_without_a_known_ending_runs_itself(tmp_path: Path):
    tool = tmp_path / "tool"
    code = (SCRIPTS / "utf8_mode.task").read_text(encoding="utf-8")
    tool.write_text(f"#!{sys.executable}\n{code}", encoding="utf-8")
    tool.chmod(0o755)
    processor = ScriptProcessor(tmp_path)
    assert processor.create(direct_request({"create": "tool", "terminate": "tool"})).backend_id == (
        "task-1"
    )
    tool.chmod(0o644)
    with pytest.raises(ValidationError, match=r"plugin_options.create: 'tool' is not executable"):
        processor.validate(direct_request({"create": "tool", "terminate": "tool"}))


def test_interpreters_given_replace_the_default_ones(tmp_path: Path):
    copy_script(tmp_path, "backend.py", "backend.py", 0o644)
    options = {"create": "backend.py", "terminate": "backend.py"}
    ScriptProcessor(tmp_path).validate(direct_request(options))
    only_tasks = ScriptProcessor(tmp_path, interpreters={".task": (sys.executable,)})
    with pytest.raises(ValidationError, match=r"'backend\.py' is not executable"):
        only_tasks.validate(direct_request(options))


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"root": Path("/nonexistent/scripts")}, "root"),
        ({"root": SCRIPTS / "backend.py"}, "root"),
        ({"root": str(SCRIPTS)}, "root"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1.0}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"environment": {"MARKETPLACE_ACTION": "terminate"}}, "environment"),
        ({"environment": {"A=B": "1"}}, "environment"),
        ({"environment": {"A": 1}}, "environment"),
        ({"environment": {"A": "a\x00b"}}, "environment"),
        ({"interpreters": {"py": (sys.executable,)}}, "interpreters"),
        ({"interpreters": {".py": sys.executable}}, "interpreters"),
        ({"interpreters": {".py": ()}}, "interpreters"),
        ({"interpreters": {".py": ("/nonexistent/python",)}}, "interpreters"),
    ],
)
def test_a_processor_refuses_a_bad_setting(arguments: dict[str, Any], field: str):
    with pytest.raises(ValidationError) as caught:
        ScriptProcessor(**({"root": SCRIPTS} | arguments))
    assert caught.value.fields["field"] == field


# --------------------------------------------------------------------------- failures


def test_a_non_zero_exit_is_a_backend_failure_carrying_stderr():
    error = emit(EMIT_EXIT="3", EMIT_STDERR="quota exhausted\n", EMIT_STDOUT='{"backend_id": "x"}')
    assert error.code is ErrorCode.BACKEND_FAILED
    assert error.message == "create script 'emit.py' exited with code 3; stderr: quota exhausted"
    assert dict(error.fields) == {
        "script": "emit.py",
        "action": "create",
        "exit_code": 3,
        "stderr_tail": "quota exhausted",
    }


def test_a_program_killed_by_a_signal_names_the_signal():
    error = emit(EMIT_SIGNAL="SIGTERM")
    assert error.code is ErrorCode.BACKEND_FAILED
    assert "was killed by SIGTERM; stderr was empty" in error.message
    assert error.fields["exit_code"] == -15


def test_only_the_tail_of_a_long_stderr_is_kept():
    error = emit(
        EMIT_EXIT="1", EMIT_STDERR="noise ", EMIT_STDERR_REPEAT="1000", EMIT_STDERR_LAST="the cause"
    )
    tail = error.fields["stderr_tail"]
    assert len(tail) == STDERR_TAIL_CHARACTERS
    assert tail.endswith("noise the cause")
    assert f"stderr (last {STDERR_TAIL_CHARACTERS} characters): " in error.message
    assert len(error.message) < STDERR_TAIL_CHARACTERS + 200


def test_a_bad_answer_errs_the_order_naming_the_program(tmp_path: Path):
    processor = ScriptProcessor(SCRIPTS, environment={"EMIT_STDOUT": "created it!"})
    world = script_world(processor, {"create": "emit.py", "terminate": "emit.py"})
    order = order_in(world)
    assert order.state is OrderState.ERRED
    assert order.error_message.startswith(
        "BackendError: create script 'emit.py' printed something that is not JSON"
    )
    assert "'created it!'" in order.error_message
    assert "Traceback" not in order.error_message
    assert world.market.get_resource(order.resource_id).state is ResourceState.ERRED


def test_a_program_that_cannot_start_is_a_backend_failure(tmp_path: Path):
    broken = tmp_path / "broken"
    broken.write_text("#!/nonexistent/interpreter\n", encoding="utf-8")
    broken.chmod(0o755)
    processor = ScriptProcessor(tmp_path)
    with pytest.raises(BackendError) as caught:
        processor.create(direct_request({"create": "broken", "terminate": "broken"}))
    assert caught.value.code is ErrorCode.BACKEND_FAILED
    assert "create script 'broken' could not be started" in caught.value.message
    assert caught.value.fields["exit_code"] is None


def has_ended(pid: int, wait: float = 0.0) -> bool:
    """Whether process ``pid`` has ended (a zombie counts), waiting up to ``wait`` seconds
    for a kill already delivered to finish (a killed process lets go of its pipes a moment
    before it is marked as ended)."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([handle], [], [], wait)
    finally:
        os.close(handle)
    return bool(readable)


def run_sleeper(pids: Path, **environment: str) -> tuple[BackendError, float]:
    """Run ``sleeper.py`` as a create program until it got going (wrote its process ids)
    before the timeout killed it: a loaded machine may need a longer timeout than 0.5 s."""
    for timeout in (0.5, 1.0, 2.0, 4.0):
        processor = ScriptProcessor(
            SCRIPTS, timeout=timeout, environment={"PIDS_TO": str(pids)} | environment
        )
        with pytest.raises(BackendError) as caught:
            processor.create(direct_request({"create": "sleeper.py", "terminate": "sleeper.py"}))
        if pids.exists():
            return caught.value, timeout
    pytest.fail("sleeper.py never got going")


def test_a_program_running_too_long_is_killed_with_its_process_group(tmp_path: Path):
    pids = tmp_path / "pids"
    error, timeout = run_sleeper(pids)
    assert error.code is ErrorCode.BACKEND_TIMED_OUT
    assert error.message == (
        f"create script 'sleeper.py' ran longer than {timeout:g} s and was killed; "
        "stderr: started, now sleeping"
    )
    assert error.fields["exit_code"] is None
    program, child = (int(pid) for pid in pids.read_text(encoding="utf-8").split())
    assert has_ended(program)
    assert has_ended(child, wait=10.0)  # it would sleep for a minute if it was not killed


def test_a_descendant_that_left_the_group_does_not_hold_the_processor(tmp_path: Path):
    pids = tmp_path / "pids"
    try:
        error, _ = run_sleeper(pids, SLEEPER_ESCAPE="1")
        assert error.code is ErrorCode.BACKEND_TIMED_OUT
        program, escaped = (int(pid) for pid in pids.read_text(encoding="utf-8").split())
        assert has_ended(program)
        assert not has_ended(escaped)  # out of reach of the group kill, as it meant to be
    finally:
        if pids.exists():
            os.kill(int(pids.read_text(encoding="utf-8").split()[1]), signal.SIGKILL)


# --------------------------------------------------------------------------- usage


def test_pulled_usage_becomes_usage_reports_once(tmp_path: Path):
    world = script_world(backend_processor(tmp_path))
    market, provider = world.market, world.provider.id
    resource_id = order_in(world).resource_id
    (tmp_path / "usage.json").write_text('{"usage": {"cpu": 0.1}}', encoding="utf-8")
    first = market.pull_usage(provider, world.offering.id)
    again = market.pull_usage(provider, world.offering.id)
    assert first.failed == again.failed == ()
    (report,) = market.list_usage_reports(resource_id, "cpu")
    assert report.amount == Decimal("0.1")
    assert str(report.amount) == "0.1"
    assert first.reports == again.reports == (report,)


def test_a_usage_pull_sees_the_month_and_no_order(tmp_path: Path):
    options = {"create": "dump.py", "terminate": "dump.py", "pull_usage": "dump.py"}
    world = script_world(ScriptProcessor(SCRIPTS, environment={"DUMP_TO": str(tmp_path)}), options)
    resource_id = order_in(world).resource_id
    pulled = world.market.pull_usage(world.provider.id, world.offering.id)
    assert [(r.resource_id, r.amount) for r in pulled.reports] == [(resource_id, Decimal("1.5"))]
    seen = json.loads((tmp_path / "pull_usage.json").read_text(encoding="utf-8"))
    assert seen["stdin"]["action"] == "pull_usage"
    assert seen["stdin"]["month"] == "2026-03"
    assert seen["stdin"]["order"] is None
    assert seen["stdin"]["limits"] == {"storage": 10}
    assert seen["environment"]["MARKETPLACE_MONTH"] == "2026-03"
    assert seen["environment"]["MARKETPLACE_BACKEND_ID"] == "dumped"
    assert "MARKETPLACE_ORDER_ID" not in seen["environment"]


def test_an_offering_without_a_usage_program_reports_no_usage(tmp_path: Path):
    options = {"create": "backend.py", "terminate": "backend.py"}
    world = script_world(backend_processor(tmp_path), options)
    order_in(world)
    (tmp_path / "fail_next").write_text("would fail if run", encoding="utf-8")
    pulled = world.market.pull_usage(world.provider.id, world.offering.id)
    assert pulled.reports == pulled.failed == ()


def test_a_failing_usage_program_is_listed_and_reports_nothing(tmp_path: Path):
    world = script_world(backend_processor(tmp_path))
    resource_id = order_in(world).resource_id
    (tmp_path / "fail_next").write_text("sacct is down", encoding="utf-8")
    pulled = world.market.pull_usage(world.provider.id, world.offering.id)
    assert pulled.reports == ()
    assert pulled.failed == (
        (
            resource_id,
            "BackendError: pull_usage script 'backend.py' exited with code 1; "
            "stderr: sacct is down",
        ),
    )


# --------------------------------------------------------------------------- the output parser


def parse(action: ScriptAction, stdout: bytes, exit_code: int | None = 0) -> ScriptOutput:
    return parse_script_output(ScriptRun("answer.py", action, exit_code, stdout, "said this"))


@pytest.mark.parametrize(
    ("action", "stdout", "expected"),
    [
        (ScriptAction.TERMINATE, b"", ScriptOutput()),
        (ScriptAction.UPDATE, b" \n", ScriptOutput()),
        (
            ScriptAction.UPDATE,
            b'{"metadata": {"size": 2.5, "n": 2}}',
            ScriptOutput(metadata={"size": 2.5, "n": 2}),
        ),
        (ScriptAction.UPDATE, b'{"backend_id": "vm-2"}', ScriptOutput(backend_id="vm-2")),
        (
            ScriptAction.PULL_USAGE,
            b'{"usage": {"cpu": 0.1, "ram": "12.50", "gpu": 3, "disk": 1e2}}',
            ScriptOutput(
                usage={
                    "cpu": Decimal("0.1"),
                    "ram": Decimal("12.50"),
                    "gpu": Decimal(3),
                    "disk": Decimal(100),
                }
            ),
        ),
        (ScriptAction.CREATE, '{"backend_id": "vm-ü"}'.encode(), ScriptOutput(backend_id="vm-ü")),
    ],
)
def test_a_good_answer_is_read(action: ScriptAction, stdout: bytes, expected: ScriptOutput):
    assert parse(action, stdout) == expected


def test_usage_amounts_are_exact_decimals_sorted_by_component():
    output = parse(ScriptAction.PULL_USAGE, b'{"usage": {"ram": 0.30000000000000004, "cpu": 0.1}}')
    assert output.pulled_usage() == (
        PulledUsage("cpu", Decimal("0.1")),
        PulledUsage("ram", Decimal("0.30000000000000004")),
    )


@pytest.mark.parametrize(
    ("action", "stdout", "says"),
    [
        (ScriptAction.CREATE, b"hello", "printed something that is not JSON"),
        (ScriptAction.CREATE, b"\xff\xfe", "not UTF-8"),
        (ScriptAction.CREATE, b"[" * 100_000, "printed something that is not JSON"),
        (ScriptAction.CREATE, b"[1, 2]", "printed a JSON array, expected one JSON object"),
        (ScriptAction.CREATE, b"", 'no "backend_id"'),
        (ScriptAction.CREATE, b'{"backend_id": 5}', '"backend_id" must be a non-blank string'),
        (ScriptAction.CREATE, b'{"backend_id": " "}', '"backend_id" must be a non-blank string'),
        (ScriptAction.CREATE, b'{"backend_id": "a", "backend_id": "b"}', "appears twice"),
        (ScriptAction.CREATE, b'{"backend_id": "a", "metadata": [1]}', '"metadata" must be'),
        (ScriptAction.CREATE, b'{"backend_id": "a", "usage": {}}', "unexpected keys ['usage']"),
        (ScriptAction.TERMINATE, b'{"backend_id": "a"}', "unexpected keys ['backend_id']"),
        (ScriptAction.UPDATE, b'{"metadata": {"x": 1e400}}', "too large for metadata"),
        (ScriptAction.UPDATE, b'{"metadata": {"x": NaN}}', "NaN is not a number JSON allows"),
        (ScriptAction.PULL_USAGE, b'{"usage": [1]}', '"usage" must be a JSON object'),
        (ScriptAction.PULL_USAGE, b'{"usage": {"cpu": -1}}', "must not be negative"),
        (ScriptAction.PULL_USAGE, b'{"usage": {"cpu": "1e3"}}', "plain decimal numeral"),
        (ScriptAction.PULL_USAGE, b'{"usage": {"cpu": true}}', "must be a Decimal"),
        (ScriptAction.PULL_USAGE, b'{"usage": {"cpu": Infinity}}', "Infinity is not a number"),
    ],
)
def test_a_bad_answer_is_a_bad_response(action: ScriptAction, stdout: bytes, says: str):
    with pytest.raises(BackendError) as caught:
        parse(action, stdout)
    error = caught.value
    assert error.code is ErrorCode.BACKEND_BAD_RESPONSE
    assert says in error.message
    assert error.message.startswith(f"{action.value} script 'answer.py' ")
    assert error.message.endswith("; stderr: said this")
    assert len(error.message) < 600


ACTIONS = st.sampled_from(ScriptAction)
# Text a program may answer with: anything but NUL, which the library refuses.
STORABLE = st.characters(exclude_characters="\x00")
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(STORABLE, max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(STORABLE, max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
ANSWER_FIELDS = st.dictionaries(
    st.sampled_from(["backend_id", "metadata", "usage", "backend_id", "metadata", "usage", "x"]),
    JSON_VALUES
    | st.dictionaries(st.text(STORABLE, max_size=4), JSON_SCALARS | st.decimals(), max_size=3),
    max_size=3,
)
STDOUTS = (
    st.binary(max_size=64)
    | st.text(STORABLE, max_size=64).map(str.encode)
    | JSON_VALUES.map(lambda value: json.dumps(value).encode())
    | ANSWER_FIELDS.map(lambda value: json.dumps(value, default=str).encode())
)


@given(action=ACTIONS, stdout=STDOUTS)
def test_any_output_is_read_into_a_valid_answer_or_refused_as_a_bad_response(
    action: ScriptAction, stdout: bytes
):
    try:
        output = parse(action, stdout)
    except BackendError as error:
        assert error.code is ErrorCode.BACKEND_BAD_RESPONSE
        assert error.fields["script"] == "answer.py"
        assert len(error.message) < PROBLEM_CHARACTERS + 100
        return
    if action is ScriptAction.CREATE:
        assert output.backend_id
    if action is not ScriptAction.PULL_USAGE:
        assert not output.usage
    assert all(amount >= 0 and amount.is_finite() for amount in output.usage.values())


@given(action=ACTIONS, stdout=STDOUTS, exit_code=st.none() | st.integers(-64, 255).filter(bool))
def test_a_failed_run_is_a_backend_failure_whatever_it_printed(
    action: ScriptAction, stdout: bytes, exit_code: int | None
):
    with pytest.raises(BackendError) as caught:
        parse(action, stdout, exit_code)
    assert caught.value.code is ErrorCode.BACKEND_FAILED
    assert caught.value.fields["exit_code"] == exit_code


AMOUNTS = st.decimals(min_value=0, max_value=10**12, allow_nan=False, allow_infinity=False)


@st.composite
def answers(draw: st.DrawFn) -> tuple[ScriptAction, ScriptOutput, bytes]:
    """A valid answer for an action, and one way a program may print it."""
    action = draw(ACTIONS)
    fields: list[str] = []
    backend_id = None
    if action in {ScriptAction.CREATE, ScriptAction.UPDATE}:
        backend_id = draw(st.text(STORABLE, min_size=1, max_size=20).filter(str.strip))
        if action is ScriptAction.CREATE or draw(st.booleans()):
            fields.append(f'"backend_id": {json.dumps(backend_id)}')
        else:
            backend_id = None
    metadata: dict[str, Any] = {}
    usage: dict[str, Decimal] = {}
    if action is ScriptAction.PULL_USAGE:
        usage = draw(st.dictionaries(st.text(STORABLE, max_size=6), AMOUNTS, max_size=4))
        written = [
            f"{json.dumps(c)}: " + (f'"{a:f}"' if draw(st.booleans()) else str(a))
            for c, a in usage.items()
        ]
        fields.append('"usage": {' + ", ".join(written) + "}")
    elif draw(st.booleans()):
        metadata = draw(st.dictionaries(st.text(STORABLE, max_size=5), JSON_VALUES, max_size=3))
        fields.append(f'"metadata": {json.dumps(metadata)}')
    text = "{" + ", ".join(fields) + "}" if fields or draw(st.booleans()) else ""
    return action, ScriptOutput(backend_id, metadata, usage), text.encode()


@given(answers())
def test_a_valid_answer_reads_back_as_it_was_written(
    answer: tuple[ScriptAction, ScriptOutput, bytes],
):
    action, expected, stdout = answer
    assert parse(action, stdout) == expected


def test_an_attribute_utf8_cannot_carry_is_refused_or_a_backend_error() -> None:
    root = Path(tempfile.mkdtemp())
    (root / "vm.py").write_text(
        textwrap.dedent(
            """
            import json, sys
            json.load(sys.stdin)
            print(json.dumps({"backend_id": "vm-1"}))
            """
        )
    )
    world = build_contract_world(
        "script",
        ScriptProcessor(root),
        SCRIPT_CAPABILITIES,
        plugin_options={"create": "vm.py", "terminate": "vm.py"},
    )
    try:
        order = world.market.order_resource(
            world.consumer.id,
            world.project.id,
            world.offering.id,
            world.plan.id,
            "my vm",
            attributes={"flavor": "\ud800"},
        )
    except ValidationError as refused:  # the fix may refuse it while the order is placed
        assert refused.fields["field"] == "attributes['flavor']"
        return
    assert order.state is OrderState.ERRED
    assert order.error_message.startswith("BackendError: "), order.error_message


def test_an_answer_utf8_cannot_carry_is_a_bad_response() -> None:
    run = ScriptRun("create.py", ScriptAction.CREATE, 0, b'{"backend_id": "vm-\\ud800"}')
    with pytest.raises(BackendError) as caught:
        parse_script_output(run)
    assert caught.value.code is ErrorCode.BACKEND_BAD_RESPONSE

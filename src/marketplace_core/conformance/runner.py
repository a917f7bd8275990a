"""Running vectors against the library: ``python -m marketplace_core vectors DIR``.

Each vector runs on a fresh marketplace (in-memory by default; a host may pass its own
storage) whose ids are scrambled, so a vector passes only through the names it binds. A
vector fails at its first step whose outcome departs from what it expects; the failure
names the step and what differed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

import attrs

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.conformance.format import Step, Vector, VectorFormatError, load_vector
from marketplace_core.conformance.session import Observation, Session, StepError, value_at
from marketplace_core.conformance.values import mismatch, observe, resolve_names
from marketplace_core.conformance.world import ScrambledIdGenerator
from marketplace_core.ports import ClosableStorage

VECTOR_SUFFIX = ".vector.json"
"""How vector files are named; other files beside them (the exported tables) are not run."""


@attrs.frozen
class VectorOutcome:
    """How one vector went: its name, and the first failure (``None``: it passed)."""

    name: str
    failure: str | None = None

    @property
    def passed(self) -> bool:
        """Whether every step did what the vector expects."""
        return self.failure is None


def run_vector(
    vector: Vector, storage: Callable[[], ClosableStorage] = InMemoryStorage
) -> VectorOutcome:
    """Run ``vector`` on a new marketplace over ``storage()``; returns how it went."""
    opened = storage()
    try:
        session = Session(
            vector.start,
            opened,
            ScrambledIdGenerator(),
            process_immediately=vector.process_immediately,
        )
        for label, step in _labelled(vector):
            try:
                problem = _run_step(session, step)
            except StepError as error:
                problem = str(error)
            except Exception as error:  # a crash is this vector's failure, not the run's
                problem = f"crashed with {type(error).__name__}: {error}"
            if problem:
                return VectorOutcome(vector.name, f"{label} ({step.command}): {problem}")
        return VectorOutcome(vector.name)
    finally:
        opened.close()


def _labelled(vector: Vector) -> Iterable[tuple[str, Step]]:
    for index, step in enumerate(vector.setup):
        yield f"setup[{index}]", step
    for index, step in enumerate(vector.steps):
        yield f"steps[{index}]", step


def _run_step(session: Session, step: Step) -> str | None:
    if step.at is not None:
        session.move_clock(step.at)
    actor = None if step.actor is None else resolve_names(step.actor, session.id_of)
    observation = session.run(step.command, actor, resolve_names(step.args, session.id_of))
    if observation.error is not None:
        return _check_refusal(session, step, observation)
    expect = step.expect
    if expect.error is not None:
        return f"expected the error {expect.error.code!r}, but the command succeeded"
    for name, path in step.bind.items():
        session.bind(name, value_at(observation, path))
    if expect.has_result:
        problem = mismatch(expect.result, session.named(observation.result), "result")
        if problem:
            return problem
    return _check_events(session, step, observation) or _check_states(session, step)


def _check_refusal(session: Session, step: Step, observation: Observation) -> str | None:
    error = observation.error
    assert error is not None
    expected = step.expect.error
    if expected is None:
        return f"expected success, got {error.code}: {error.message}"
    if str(error.code) != expected.code:
        return f"expected the error {expected.code!r}, got {error.code}: {error.message}"
    problem = mismatch(expected.fields, session.named(observe(error.fields)), "error.fields")
    if problem:
        return problem
    if observation.events or observation.notifications:
        return (
            f"the refused command committed {len(observation.events)} events and sent "
            f"{len(observation.notifications)} notifications"
        )
    if step.bind:
        return "a refused command binds no names"
    return _check_states(session, step)


def _check_events(session: Session, step: Step, observation: Observation) -> str | None:
    expect = step.expect
    if expect.events is not None:
        problem = mismatch(list(expect.events), session.named(observation.events), "events")
        if problem:
            return problem
    if expect.notifications is not None:
        return mismatch(
            list(expect.notifications), session.named(observation.notifications), "notifications"
        )
    return None


def _check_states(session: Session, step: Step) -> str | None:
    for kind, named in (step.expect.states or {}).items():
        for name, expected in named.items():
            actual = session.state_of(kind, name)
            if actual != expected:
                return f"expected {kind} ${name} in state {expected!r}, got {actual!r}"
    return None


def vector_files(directory: Path) -> list[Path]:
    """The vector files under ``directory``, in name order."""
    return sorted(directory.rglob(f"*{VECTOR_SUFFIX}"))


def run_vector_file(
    path: Path, storage: Callable[[], ClosableStorage] = InMemoryStorage
) -> VectorOutcome:
    """Load and run the vector at ``path``; a malformed file is a failed vector."""
    try:
        vector = load_vector(path)
    except VectorFormatError as error:
        return VectorOutcome(path.name.removesuffix(VECTOR_SUFFIX), error.message)
    return run_vector(vector, storage)


def run_directory(
    directory: Path, out: TextIO, storage: Callable[[], ClosableStorage] = InMemoryStorage
) -> list[VectorOutcome]:
    """Run every vector under ``directory``, writing one line per vector and a summary line
    ``N passed, N failed``; returns the outcomes."""
    outcomes: list[VectorOutcome] = []
    for path in vector_files(directory):
        outcome = run_vector_file(path, storage)
        outcomes.append(outcome)
        if outcome.passed:
            out.write(f"PASS {outcome.name}\n")
        else:
            out.write(f"FAIL {outcome.name}: {outcome.failure}\n")
    passed = sum(outcome.passed for outcome in outcomes)
    out.write(f"{passed} passed, {len(outcomes) - passed} failed\n")
    return outcomes

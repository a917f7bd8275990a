"""The recorder names what a step produced, refuses scenarios a vector cannot carry, and
writes only vectors that replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marketplace_core.conformance import Recorder, load_vector
from marketplace_core.conformance.session import StepError
from marketplace_core.errors import ConflictError, ValidationError
from tests.conformance.world import T0, people


def started() -> Recorder:
    rec = Recorder("sample/recorder", "Recorder checks.", start=T0)
    people(rec)
    return rec


def test_new_ids_are_named_by_their_reference_value_unless_named() -> None:
    rec = started()
    group = rec.step("create_organization_group", actor="$staff", name="Universities")
    named = rec.step("create_organization_group", actor="$staff", name="Labs", as_="labs")
    assert group is not None
    assert named is not None
    assert group["id"] == "$group-1"
    assert named["id"] == "$labs"
    binds = [step.get("bind") for step in rec.vector()["steps"]]
    assert binds == [{"group-1": "result.id"}, {"labs": "result.id"}]


def test_a_literal_id_is_not_taken_for_a_new_one() -> None:
    rec = started()
    rec.step("get_organization", organization_id="$consumer")
    assert "bind" not in rec.vector()["steps"][0]


def test_a_refused_step_records_its_code_and_plain_fields() -> None:
    rec = started()
    assert rec.step("get_project", project_id="no-such-project") is None
    error = rec.vector()["steps"][0]["expect"]["error"]
    assert error == {
        "code": "not_found",
        "fields": {"entity": "project", "id": "no-such-project"},
    }


def test_setup_after_a_checked_step_is_refused() -> None:
    rec = started()
    rec.step("get_organization", organization_id="$consumer")
    with pytest.raises(ValidationError, match="comes after a checked step"):
        rec.setup("get_organization", organization_id="$consumer")


def test_a_refused_setup_step_raises_its_error() -> None:
    rec = started()
    with pytest.raises(ConflictError) as caught:
        rec.setup("create_user", actor="$staff", username="owner")
    assert str(caught.value.code) == "already_exists"


def test_naming_a_path_without_an_id_is_refused() -> None:
    rec = started()
    with pytest.raises(StepError, match="nothing at 'colour'"):
        rec.step("get_organization", organization_id="$consumer", as_={"colour": "c"})


def test_a_vector_that_does_not_replay_is_not_written(tmp_path: Path) -> None:
    rec = started()
    # The reference numbers organizations organization-1, organization-2, ...; a runner
    # with other ids does not know "organization-1" unless it is written as a name.
    rec.step("get_organization", organization_id="organization-1")
    with pytest.raises(ValidationError, match="does not pass when replayed"):
        rec.write(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_written_vector_loads_and_keeps_its_steps(tmp_path: Path) -> None:
    rec = started()
    rec.step("get_organization", organization_id="$consumer")
    path = rec.write(tmp_path)
    assert path == tmp_path / "sample" / "recorder.vector.json"
    assert json.loads(path.read_text()) == rec.vector()
    assert len(load_vector(path).steps) == 1

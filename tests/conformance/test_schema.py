"""The JSON Schema shipped for the vector format agrees with the loader: it accepts every
vector the project ships and refuses each malformed vector the loader refuses."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from marketplace_core.conformance.runner import vector_files
from marketplace_core.conformance.tables import vector_schema
from tests.conformance.record import VECTORS
from tests.conformance.test_runner import MALFORMED, SAMPLE

VALIDATOR = jsonschema.Draft202012Validator(vector_schema())  # type: ignore[arg-type]


def test_the_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(vector_schema())  # type: ignore[arg-type]


def test_the_schema_accepts_the_sample_and_every_shipped_vector() -> None:
    VALIDATOR.validate(SAMPLE)
    files = vector_files(VECTORS)
    assert files, f"no vectors under {VECTORS}"
    for path in files:
        errors = list(VALIDATOR.iter_errors(json.loads(path.read_text())))
        assert not errors, f"{path}: {errors[0].message}"


@pytest.mark.parametrize(("edit", "where"), MALFORMED)
def test_the_schema_refuses_what_the_loader_refuses(
    edit: Callable[[dict[str, Any]], object], where: str
) -> None:
    data = copy.deepcopy(SAMPLE)
    edit(data)
    assert not VALIDATOR.is_valid(data), where

"""Test configuration: Hypothesis profiles and the small worlds most tests start from.

The default profile, ``ci``, is derandomized (a fixed seed) so a run is reproducible and the
README's test command behaves the same here and in CI. ``HYPOTHESIS_PROFILE=explore`` runs
more random examples locally; ``HYPOTHESIS_PROFILE=quick`` fewer.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.support import World, build_world

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.register_profile("quick", max_examples=25, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def world() -> World:
    """A small marketplace: a consumer organization with a project, a provider with an
    active offering and a plan, and users in every default role."""
    return build_world()

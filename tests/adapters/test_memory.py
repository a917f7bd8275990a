"""The storage contract of the ports, on the in-memory reference adapter.

Everything here goes through ``Storage.unit_of_work()`` and the repositories it hands out, so
the laws read as the contract :mod:`marketplace_core.ports` states: a unit sees its own
writes and nobody else does until it commits; a unit that does not commit leaves nothing
behind; versions guard every write, at update time and again at commit; the outbox numbers
committed events 1, 2, 3... in commit order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from marketplace_core import (
    Category,
    ConflictError,
    ErrorCode,
    EventLog,
    InMemoryStorage,
    NotFoundError,
    Offering,
    Organization,
    OrganizationGroup,
    Plan,
    PlanUnit,
    Project,
    RecordingNotifier,
    Role,
    RoleGrant,
    ServiceProvider,
    User,
)
from marketplace_core.events import (
    DomainEvent,
    PlanCreated,
    PlanUpdated,
    RecordedEvent,
    RoleGranted,
)
from marketplace_core.notifications import Notification
from marketplace_core.roles import ScopeKind
from tests.support import snapshot

T0 = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


# --------------------------------------------------------------------------- builders


def a_plan(plan_id: str, offering_id: str = "cluster", name: str = "Standard") -> Plan:
    return Plan(id=plan_id, offering_id=offering_id, name=name, unit=PlanUnit.MONTH, created_at=T0)


def an_offering(offering_id: str, provider_id: str = "hpc", name: str = "Cluster") -> Offering:
    return Offering(
        id=offering_id, name=name, provider_id=provider_id, plugin_type="basic", created_at=T0
    )


def a_project(project_id: str, organization_id: str = "uni", name: str = "Thesis") -> Project:
    return Project(id=project_id, organization_id=organization_id, name=name, created_at=T0)


def a_user(user_id: str, username: str) -> User:
    return User(id=user_id, username=username, created_at=T0)


def a_grant(
    grant_id: str, user_id: str = "alice", scope_id: str = "thesis", role: Role = Role.PROJECT_ADMIN
) -> RoleGrant:
    return RoleGrant(
        id=grant_id,
        user_id=user_id,
        role=role,
        scope_kind=role.scope_kind,
        scope_id=scope_id,
        granted_at=T0,
    )


def plan_created(plan: Plan, minute: int = 0) -> PlanCreated:
    return PlanCreated(
        occurred_at=T0 + timedelta(minutes=minute),
        actor_id=None,
        plan_id=plan.id,
        offering_id=plan.offering_id,
        name=plan.name,
    )


def plan_renamed(plan_id: str, minute: int = 0) -> PlanUpdated:
    return PlanUpdated(
        occurred_at=T0 + timedelta(minutes=minute),
        actor_id="olga",
        plan_id=plan_id,
        changes=("name",),
    )


def stored(storage: InMemoryStorage, *plans: Plan) -> None:
    """Commit ``plans`` in one unit of work."""
    with storage.unit_of_work() as uow:
        for plan in plans:
            uow.plans.add(plan)
        uow.commit()


def ids(entities: Any) -> list[str]:
    return [entity.id for entity in entities]


def committed_plan(storage: InMemoryStorage, plan_id: str) -> Plan | None:
    with storage.unit_of_work() as uow:
        return uow.plans.find(plan_id)


def outbox(storage: InMemoryStorage) -> list[RecordedEvent]:
    with storage.unit_of_work() as uow:
        return list(uow.outbox.read())


@pytest.fixture
def storage() -> InMemoryStorage:
    return InMemoryStorage()


# --------------------------------------------------------------------------- adding and reading


def test_add_returns_the_entity_at_version_1(storage: InMemoryStorage):
    plan = a_plan("standard")
    assert plan.version == 0
    with storage.unit_of_work() as uow:
        added = uow.plans.add(plan)
    assert added == attrs.evolve(plan, version=1)


def test_a_unit_sees_its_own_add_before_commit(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        added = uow.plans.add(a_plan("standard"))
        assert uow.plans.get("standard") == added
        assert uow.plans.find("standard") == added
        assert list(uow.plans.all()) == [added]


def test_other_units_do_not_see_an_add_until_it_is_committed(storage: InMemoryStorage):
    with storage.unit_of_work() as writer, storage.unit_of_work() as reader:
        added = writer.plans.add(a_plan("standard"))
        assert reader.plans.find("standard") is None
        assert list(reader.plans.all()) == []
        assert list(reader.plans.for_offering("cluster")) == []
        writer.commit()
        assert reader.plans.get("standard") == added
        assert list(reader.plans.all()) == [added]
    assert committed_plan(storage, "standard") == added


def test_commit_stores_the_entity_add_returned(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        added = uow.plans.add(a_plan("standard", offering_id="cluster", name="Standard"))
        uow.commit()
    assert committed_plan(storage, "standard") == added
    assert added == Plan(
        id="standard",
        offering_id="cluster",
        name="Standard",
        unit=PlanUnit.MONTH,
        created_at=T0,
        version=1,
    )


@pytest.mark.parametrize(
    ("repository", "entity"),
    [
        ("organization_groups", "organization group"),
        ("organizations", "organization"),
        ("projects", "project"),
        ("users", "user"),
        ("role_grants", "role grant"),
        ("providers", "service provider"),
        ("categories", "category"),
        ("offerings", "offering"),
        ("plans", "plan"),
    ],
)
def test_get_of_a_missing_id_raises_not_found_naming_entity_and_id(
    storage: InMemoryStorage, repository: str, entity: str
):
    with storage.unit_of_work() as uow:
        repo = getattr(uow, repository)
        assert repo.find("nowhere") is None
        with pytest.raises(NotFoundError) as caught:
            repo.get("nowhere")
    assert isinstance(caught.value, LookupError)
    assert caught.value.code is ErrorCode.NOT_FOUND
    assert dict(caught.value.fields) == {"entity": entity, "id": "nowhere"}


def test_every_repository_stores_its_own_aggregate(storage: InMemoryStorage):
    entities = {
        "organization_groups": OrganizationGroup(id="g", name="Nordic", created_at=T0),
        "organizations": Organization(id="o", name="University", created_at=T0),
        "projects": a_project("p"),
        "users": a_user("u", "alice"),
        "role_grants": a_grant("rg"),
        "providers": ServiceProvider(id="o", registered_at=T0),
        "categories": Category(id="c", title="HPC", created_at=T0),
        "offerings": an_offering("of"),
        "plans": a_plan("pl"),
    }
    with storage.unit_of_work() as uow:
        for name, entity in entities.items():
            getattr(uow, name).add(entity)
        uow.commit()
    state = snapshot(storage)
    for name, entity in entities.items():
        assert state[name] == (attrs.evolve(entity, version=1),)


def test_update_of_a_missing_id_raises_not_found_and_stages_nothing(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        with pytest.raises(NotFoundError) as caught:
            uow.plans.update(attrs.evolve(a_plan("ghost"), version=1))
        assert caught.value.fields["id"] == "ghost"
        assert uow.plans.find("ghost") is None
        uow.commit()
    assert committed_plan(storage, "ghost") is None


# --------------------------------------------------------------------------- leaving a unit


def seeded_storage() -> InMemoryStorage:
    """Storage with something committed in several repositories and in the outbox."""
    storage = InMemoryStorage()
    with storage.unit_of_work() as uow:
        uow.organizations.add(Organization(id="uni", name="University", created_at=T0))
        uow.projects.add(a_project("thesis"))
        uow.users.add(a_user("alice", "alice"))
        uow.role_grants.add(a_grant("g1"))
        uow.offerings.add(an_offering("cluster"))
        plan = uow.plans.add(a_plan("standard"))
        uow.emit(plan_created(plan))
        uow.commit()
    return storage


def stage_a_bit_of_everything(uow: Any) -> None:
    """Adds, updates, a removal and events, each checked visible inside ``uow``."""
    uow.organization_groups.add(OrganizationGroup(id="nordic", name="Nordic", created_at=T0))
    uow.organizations.update(attrs.evolve(uow.organizations.get("uni"), blocked=True))
    uow.projects.add(a_project("paper"))
    uow.users.update(attrs.evolve(uow.users.get("alice"), username="alice2"))
    uow.role_grants.remove(uow.role_grants.get("g1"))
    uow.providers.add(ServiceProvider(id="uni", registered_at=T0))
    uow.categories.add(Category(id="hpc", title="HPC", created_at=T0))
    uow.offerings.update(attrs.evolve(uow.offerings.get("cluster"), name="Big cluster"))
    premium = uow.plans.add(a_plan("premium"))
    uow.plans.update(attrs.evolve(uow.plans.get("standard"), name="Basic"))
    uow.emit(plan_created(premium, minute=1))
    uow.emit(plan_renamed("standard", minute=2))
    assert uow.organizations.get("uni").blocked
    assert uow.users.find_by_username("alice2") is not None
    assert uow.role_grants.find("g1") is None
    assert uow.plans.get("standard").version == 2
    assert len(uow.plans.all()) == 2


def test_a_unit_left_without_commit_leaves_storage_unchanged():
    storage = seeded_storage()
    before = snapshot(storage)
    with storage.unit_of_work() as uow:
        stage_a_bit_of_everything(uow)
    assert snapshot(storage) == before


class CommandFailedError(Exception):
    """What a command raises half-way through its unit of work."""


def test_a_unit_left_by_an_exception_leaves_storage_unchanged():
    storage = seeded_storage()
    before = snapshot(storage)

    def failing_command() -> None:
        with storage.unit_of_work() as uow:
            stage_a_bit_of_everything(uow)
            raise CommandFailedError

    with pytest.raises(CommandFailedError):
        failing_command()
    assert snapshot(storage) == before


def test_leaving_a_unit_discards_its_staged_writes_even_if_it_is_committed_later():
    storage = seeded_storage()
    before = snapshot(storage)
    uow = storage.unit_of_work()
    with uow:
        stage_a_bit_of_everything(uow)
    assert list(uow.commit()) == []
    assert snapshot(storage) == before


def test_rollback_discards_staged_writes_and_events():
    storage = seeded_storage()
    before = snapshot(storage)
    with storage.unit_of_work() as uow:
        stage_a_bit_of_everything(uow)
        uow.rollback()
        assert uow.plans.find("premium") is None
        assert uow.plans.get("standard").name == "Standard"
        assert uow.role_grants.find("g1") is not None
        assert uow.users.find_by_username("alice") is not None
        assert list(uow.commit()) == []
    assert snapshot(storage) == before


def test_a_unit_works_on_after_rollback(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.plans.add(a_plan("discarded"))
        uow.rollback()
        kept = uow.plans.add(a_plan("kept"))
        uow.emit(plan_created(kept))
        recorded = uow.commit()
    assert [r.event for r in recorded] == [plan_created(kept)]
    assert snapshot(storage)["plans"] == (kept,)


# --------------------------------------------------------------------------- add conflicts


def test_adding_an_id_already_committed_raises_already_exists_and_stages_nothing(
    storage: InMemoryStorage,
):
    stored(storage, a_plan("standard", name="Standard"))
    before = snapshot(storage)
    with storage.unit_of_work() as uow:
        with pytest.raises(ConflictError) as caught:
            uow.plans.add(a_plan("standard", name="Impostor", offering_id="gpu"))
        assert caught.value.code is ErrorCode.ALREADY_EXISTS
        assert caught.value.fields["id"] == "standard"
        assert uow.plans.get("standard").name == "Standard"
        assert list(uow.plans.for_offering("gpu")) == []
        uow.commit()
    assert snapshot(storage) == before


def test_adding_an_id_staged_in_the_same_unit_raises_already_exists_and_stages_nothing(
    storage: InMemoryStorage,
):
    with storage.unit_of_work() as uow:
        first = uow.plans.add(a_plan("standard", name="First"))
        with pytest.raises(ConflictError) as caught:
            uow.plans.add(a_plan("standard", name="Second"))
        assert caught.value.code is ErrorCode.ALREADY_EXISTS
        assert uow.plans.get("standard") == first
        assert list(uow.plans.all()) == [first]
        uow.commit()
    assert snapshot(storage)["plans"] == (first,)


def test_of_two_units_adding_the_same_id_the_first_commit_wins(storage: InMemoryStorage):
    with storage.unit_of_work() as first, storage.unit_of_work() as second:
        winner = first.plans.add(a_plan("standard", name="First"))
        second.plans.add(a_plan("standard", name="Second"))
        second.plans.add(a_plan("other"))
        second.emit(plan_created(a_plan("other")))
        first.commit()
        after_first = snapshot(storage)
        with pytest.raises(ConflictError) as caught:
            second.commit()
    assert caught.value.code is ErrorCode.STALE_VERSION
    assert snapshot(storage) == after_first
    assert after_first["plans"] == (winner,)


# --------------------------------------------------------------------------- updates


def test_update_returns_the_entity_one_version_higher_and_commit_stores_it(
    storage: InMemoryStorage,
):
    stored(storage, a_plan("standard"))
    with storage.unit_of_work() as uow:
        current = uow.plans.get("standard")
        updated = uow.plans.update(attrs.evolve(current, name="Basic"))
        assert updated == attrs.evolve(current, name="Basic", version=2)
        assert uow.plans.get("standard") == updated
        assert committed_plan(storage, "standard") == current
        uow.commit()
    assert committed_plan(storage, "standard") == updated


@pytest.mark.parametrize("presented_version", [0, 2, 7])
def test_updating_with_a_stale_version_raises_stale_version_and_stages_nothing(
    storage: InMemoryStorage, presented_version: int
):
    stored(storage, a_plan("standard"))
    before = snapshot(storage)
    with storage.unit_of_work() as uow:
        stale = attrs.evolve(uow.plans.get("standard"), name="Basic", version=presented_version)
        with pytest.raises(ConflictError) as caught:
            uow.plans.update(stale)
        assert caught.value.code is ErrorCode.STALE_VERSION
        assert caught.value.fields["expected_version"] == presented_version
        assert caught.value.fields["actual_version"] == 1
        assert uow.plans.get("standard").name == "Standard"
        uow.commit()
    assert snapshot(storage) == before


def test_an_update_from_a_version_another_unit_has_since_committed_is_refused_at_once(
    storage: InMemoryStorage,
):
    stored(storage, a_plan("standard"))
    with storage.unit_of_work() as slow:
        read_early = slow.plans.get("standard")
        with storage.unit_of_work() as fast:
            fast.plans.update(attrs.evolve(fast.plans.get("standard"), name="Fast"))
            fast.commit()
        with pytest.raises(ConflictError) as caught:
            slow.plans.update(attrs.evolve(read_early, name="Slow"))
        assert caught.value.code is ErrorCode.STALE_VERSION
    assert committed_plan(storage, "standard") == attrs.evolve(read_early, name="Fast", version=2)


def test_when_two_units_update_one_version_the_second_commit_writes_nothing_at_all(
    storage: InMemoryStorage,
):
    stored(storage, a_plan("standard"), a_plan("premium"))
    with storage.unit_of_work() as first, storage.unit_of_work() as second:
        read_by_first = first.plans.get("standard")
        read_by_second = second.plans.get("standard")
        assert read_by_first == read_by_second
        won = first.plans.update(attrs.evolve(read_by_first, name="First"))
        first.emit(plan_renamed("standard", minute=1))
        second.plans.update(attrs.evolve(read_by_second, name="Second"))
        second.plans.update(attrs.evolve(second.plans.get("premium"), name="Touched"))
        second.plans.add(a_plan("extra"))
        second.emit(plan_renamed("standard", minute=2))
        second.emit(plan_created(a_plan("extra"), minute=3))
        first.commit()
        after_first = snapshot(storage)
        with pytest.raises(ConflictError) as caught:
            second.commit()
    assert caught.value.code is ErrorCode.STALE_VERSION
    assert caught.value.fields["id"] == "standard"
    assert snapshot(storage) == after_first
    assert committed_plan(storage, "standard") == won
    assert committed_plan(storage, "premium") == attrs.evolve(a_plan("premium"), version=1)
    assert committed_plan(storage, "extra") is None
    assert [r.event for r in outbox(storage)] == [plan_renamed("standard", minute=1)]


def test_a_unit_whose_commit_failed_is_emptied_and_usable_again(storage: InMemoryStorage):
    stored(storage, a_plan("standard"))
    with storage.unit_of_work() as first, storage.unit_of_work() as second:
        first.plans.update(attrs.evolve(first.plans.get("standard"), name="First"))
        second.plans.update(attrs.evolve(second.plans.get("standard"), name="Second"))
        second.emit(plan_renamed("standard", minute=2))
        first.commit()
        with pytest.raises(ConflictError):
            second.commit()
        assert second.plans.get("standard").name == "First"
        retried = second.plans.update(attrs.evolve(second.plans.get("standard"), name="Second"))
        second.emit(plan_renamed("standard", minute=3))
        recorded = second.commit()
    assert retried.version == 3
    assert committed_plan(storage, "standard") == retried
    assert [(r.position, r.event) for r in recorded] == [(1, plan_renamed("standard", minute=3))]


def test_updating_twice_in_one_unit_counts_both_versions_and_commits_the_last(
    storage: InMemoryStorage,
):
    stored(storage, a_plan("standard"))
    with storage.unit_of_work() as uow:
        second = uow.plans.update(attrs.evolve(uow.plans.get("standard"), name="Basic"))
        third = uow.plans.update(attrs.evolve(second, name="Basic+"))
        assert (second.version, third.version) == (2, 3)
        with pytest.raises(ConflictError) as caught:
            uow.plans.update(attrs.evolve(second, name="From version 2"))
        assert caught.value.code is ErrorCode.STALE_VERSION
        uow.commit()
    assert committed_plan(storage, "standard") == third


def test_an_entity_added_and_updated_in_one_unit_commits_at_version_2(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        added = uow.plans.add(a_plan("standard"))
        updated = uow.plans.update(attrs.evolve(added, name="Basic"))
        uow.commit()
    assert updated.version == 2
    assert snapshot(storage)["plans"] == (updated,)


def test_a_concurrent_commit_to_an_untouched_entity_does_not_block_a_commit(
    storage: InMemoryStorage,
):
    stored(storage, a_plan("standard"), a_plan("premium"))
    with storage.unit_of_work() as first, storage.unit_of_work() as second:
        first.plans.update(attrs.evolve(first.plans.get("standard"), name="First"))
        second.plans.update(attrs.evolve(second.plans.get("premium"), name="Second"))
        first.commit()
        second.commit()
    assert [plan.name for plan in snapshot(storage)["plans"]] == ["First", "Second"]


# --------------------------------------------------------------------------- removals


def test_a_removed_grant_is_gone_for_its_unit_and_for_others_only_after_commit(
    storage: InMemoryStorage,
):
    with storage.unit_of_work() as uow:
        kept = uow.role_grants.add(a_grant("kept"))
        uow.role_grants.add(a_grant("revoked"))
        uow.commit()
    with storage.unit_of_work() as uow:
        uow.role_grants.remove(uow.role_grants.get("revoked"))
        assert uow.role_grants.find("revoked") is None
        with pytest.raises(NotFoundError):
            uow.role_grants.get("revoked")
        assert list(uow.role_grants.all()) == [kept]
        with storage.unit_of_work() as other:
            assert other.role_grants.find("revoked") is not None
        uow.commit()
    assert snapshot(storage)["role_grants"] == (kept,)


def test_removing_a_grant_with_a_stale_version_is_refused_and_stages_nothing(
    storage: InMemoryStorage,
):
    with storage.unit_of_work() as uow:
        grant = uow.role_grants.add(a_grant("g"))
        uow.commit()
    with storage.unit_of_work() as uow:
        with pytest.raises(ConflictError) as caught:
            uow.role_grants.remove(attrs.evolve(grant, version=0))
        assert caught.value.code is ErrorCode.STALE_VERSION
        assert uow.role_grants.get("g") == grant
        uow.commit()
    assert snapshot(storage)["role_grants"] == (grant,)


def test_a_removal_that_races_an_update_fails_at_commit(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.role_grants.add(a_grant("g"))
        uow.commit()
    with storage.unit_of_work() as remover, storage.unit_of_work() as updater:
        remover.role_grants.remove(remover.role_grants.get("g"))
        updated = updater.role_grants.update(
            attrs.evolve(updater.role_grants.get("g"), granted_by="root")
        )
        updater.commit()
        with pytest.raises(ConflictError) as caught:
            remover.commit()
    assert caught.value.code is ErrorCode.STALE_VERSION
    assert snapshot(storage)["role_grants"] == (updated,)


def test_a_repository_kept_across_rollback_still_stages_into_its_unit(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        plans = uow.plans
        plans.add(a_plan("discarded"))
        uow.rollback()
        assert plans.find("discarded") is None
        plans.add(a_plan("kept"))
        uow.commit()
    assert ids(snapshot(storage)["plans"]) == ["kept"]


def test_a_grant_added_and_removed_in_one_unit_commits_as_nothing(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.plans.add(a_plan("standard"))
        uow.role_grants.remove(uow.role_grants.add(a_grant("g")))
        assert uow.role_grants.find("g") is None
        uow.commit()
    assert ids(snapshot(storage)["plans"]) == ["standard"]
    assert snapshot(storage)["role_grants"] == ()


def test_a_grant_added_and_removed_in_one_unit_leaves_storage_unchanged_without_commit(
    storage: InMemoryStorage,
):
    before = snapshot(storage)
    with storage.unit_of_work() as uow:
        uow.role_grants.remove(uow.role_grants.add(a_grant("g")))
        assert list(uow.role_grants.for_user("alice")) == []
    assert snapshot(storage) == before


def test_an_id_added_again_after_removal_is_listed_as_the_newest(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.role_grants.add(a_grant("g1"))
        uow.role_grants.add(a_grant("g2"))
        uow.commit()
        uow.role_grants.remove(uow.role_grants.get("g1"))
        uow.commit()
        uow.role_grants.add(a_grant("g1"))
        inside = (ids(uow.role_grants.all()), ids(uow.role_grants.for_user("alice")))
        uow.commit()
        after = (ids(uow.role_grants.all()), ids(uow.role_grants.for_user("alice")))
    assert after == (["g2", "g1"], ["g2", "g1"])
    assert inside == after


# --------------------------------------------------------------------------- secondary queries


def test_for_offering_sees_the_units_staged_adds_and_updates(storage: InMemoryStorage):
    stored(storage, a_plan("standard", "cluster"), a_plan("gpu-plan", "gpu"))
    with storage.unit_of_work() as uow:
        renamed = uow.plans.update(attrs.evolve(uow.plans.get("standard"), name="Basic"))
        premium = uow.plans.add(a_plan("premium", "cluster"))
        assert list(uow.plans.for_offering("cluster")) == [renamed, premium]
        assert ids(uow.plans.for_offering("gpu")) == ["gpu-plan"]
        with storage.unit_of_work() as other:
            assert [p.name for p in other.plans.for_offering("cluster")] == ["Standard"]
        uow.commit()
    with storage.unit_of_work() as uow:
        assert list(uow.plans.for_offering("cluster")) == [renamed, premium]


def test_a_plan_moved_to_another_offering_leaves_the_first_query_and_appears_in_the_second(
    storage: InMemoryStorage,
):
    stored(storage, a_plan("standard", "cluster"), a_plan("spare", "cluster"))
    with storage.unit_of_work() as uow:
        moved = uow.plans.update(attrs.evolve(uow.plans.get("standard"), offering_id="gpu"))
        assert ids(uow.plans.for_offering("cluster")) == ["spare"]
        assert list(uow.plans.for_offering("gpu")) == [moved]
        with storage.unit_of_work() as other:
            assert ids(other.plans.for_offering("cluster")) == ["standard", "spare"]
            assert list(other.plans.for_offering("gpu")) == []
        uow.commit()
    with storage.unit_of_work() as uow:
        assert ids(uow.plans.for_offering("cluster")) == ["spare"]
        assert list(uow.plans.for_offering("gpu")) == [moved]


def test_a_plan_added_and_moved_in_one_unit_is_found_only_under_its_last_offering(
    storage: InMemoryStorage,
):
    with storage.unit_of_work() as uow:
        added = uow.plans.add(a_plan("standard", "cluster"))
        moved = uow.plans.update(attrs.evolve(added, offering_id="gpu"))
        assert list(uow.plans.for_offering("cluster")) == []
        assert list(uow.plans.for_offering("gpu")) == [moved]
        uow.commit()
    with storage.unit_of_work() as uow:
        assert list(uow.plans.for_offering("cluster")) == []
        assert list(uow.plans.for_offering("gpu")) == [moved]


def test_a_plan_moved_away_and_back_in_one_unit_is_listed_once(storage: InMemoryStorage):
    stored(storage, a_plan("standard", "cluster"))
    with storage.unit_of_work() as uow:
        away = uow.plans.update(attrs.evolve(uow.plans.get("standard"), offering_id="gpu"))
        back = uow.plans.update(attrs.evolve(away, offering_id="cluster"))
        assert list(uow.plans.for_offering("cluster")) == [back]
        assert list(uow.plans.for_offering("gpu")) == []


def test_for_organization_follows_staged_projects(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.projects.add(a_project("thesis", "uni"))
        uow.projects.add(a_project("survey", "uni"))
        uow.commit()
    with storage.unit_of_work() as uow:
        moved = uow.projects.update(attrs.evolve(uow.projects.get("thesis"), organization_id="lab"))
        paper = uow.projects.add(a_project("paper", "lab"))
        assert ids(uow.projects.for_organization("uni")) == ["survey"]
        assert list(uow.projects.for_organization("lab")) == [moved, paper]
        with storage.unit_of_work() as other:
            assert ids(other.projects.for_organization("uni")) == ["thesis", "survey"]
            assert list(other.projects.for_organization("lab")) == []
        uow.commit()
    with storage.unit_of_work() as uow:
        assert ids(uow.projects.for_organization("uni")) == ["survey"]
        assert ids(uow.projects.for_organization("lab")) == ["thesis", "paper"]


def test_for_provider_follows_staged_offerings(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.offerings.add(an_offering("cluster", "hpc"))
        uow.commit()
    with storage.unit_of_work() as uow:
        gpu = uow.offerings.add(an_offering("gpu", "hpc"))
        moved = uow.offerings.update(
            attrs.evolve(uow.offerings.get("cluster"), provider_id="cloud")
        )
        assert list(uow.offerings.for_provider("hpc")) == [gpu]
        assert list(uow.offerings.for_provider("cloud")) == [moved]
        with storage.unit_of_work() as other:
            assert ids(other.offerings.for_provider("hpc")) == ["cluster"]
        uow.commit()
    with storage.unit_of_work() as uow:
        assert ids(uow.offerings.for_provider("hpc")) == ["gpu"]
        assert ids(uow.offerings.for_provider("cloud")) == ["cluster"]


def test_find_by_username_follows_a_staged_add_and_rename(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.users.add(a_user("u1", "alice"))
        uow.commit()
    with storage.unit_of_work() as uow:
        renamed = uow.users.update(attrs.evolve(uow.users.get("u1"), username="alicia"))
        bob = uow.users.add(a_user("u2", "bob"))
        assert uow.users.find_by_username("alice") is None
        assert uow.users.find_by_username("alicia") == renamed
        assert uow.users.find_by_username("bob") == bob
        with storage.unit_of_work() as other:
            assert other.users.find_by_username("alice") is not None
            assert other.users.find_by_username("alicia") is None
            assert other.users.find_by_username("bob") is None
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.users.find_by_username("alice") is None
        assert uow.users.find_by_username("alicia") == renamed
        assert uow.users.find_by_username("bob") == bob


def test_find_by_username_matches_the_exact_username_only(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.users.add(a_user("u1", "alice"))
        assert uow.users.find_by_username("Alice") is None
        assert uow.users.find_by_username("alic") is None


def test_grant_queries_see_staged_grants_moves_and_removals(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.role_grants.add(a_grant("g1", user_id="alice", scope_id="thesis"))
        uow.role_grants.add(a_grant("g2", user_id="alice", scope_id="survey"))
        uow.role_grants.add(a_grant("g3", user_id="bob", scope_id="thesis"))
        uow.commit()
    with storage.unit_of_work() as uow:
        uow.role_grants.remove(uow.role_grants.get("g1"))
        g4 = uow.role_grants.add(a_grant("g4", user_id="alice", scope_id="thesis"))
        moved = uow.role_grants.update(
            attrs.evolve(uow.role_grants.get("g3"), user_id="carol", scope_id="survey")
        )
        assert ids(uow.role_grants.for_user("alice")) == ["g2", "g4"]
        assert list(uow.role_grants.for_user("bob")) == []
        assert list(uow.role_grants.for_user("carol")) == [moved]
        assert list(uow.role_grants.for_scope(ScopeKind.PROJECT, "thesis")) == [g4]
        assert ids(uow.role_grants.for_scope(ScopeKind.PROJECT, "survey")) == ["g2", "g3"]
        with storage.unit_of_work() as other:
            assert ids(other.role_grants.for_user("alice")) == ["g1", "g2"]
            assert ids(other.role_grants.for_scope(ScopeKind.PROJECT, "thesis")) == ["g1", "g3"]
        uow.commit()
    with storage.unit_of_work() as uow:
        assert ids(uow.role_grants.for_user("alice")) == ["g2", "g4"]
        assert ids(uow.role_grants.for_user("carol")) == ["g3"]
        assert ids(uow.role_grants.for_scope(ScopeKind.PROJECT, "thesis")) == ["g4"]


def test_for_scope_tells_scope_kinds_apart(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.role_grants.add(a_grant("on-project", scope_id="x", role=Role.PROJECT_ADMIN))
        uow.role_grants.add(a_grant("on-org", scope_id="x", role=Role.ORGANIZATION_OWNER))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert ids(uow.role_grants.for_scope(ScopeKind.PROJECT, "x")) == ["on-project"]
        assert ids(uow.role_grants.for_scope(ScopeKind.ORGANIZATION, "x")) == ["on-org"]
        assert list(uow.role_grants.for_scope(ScopeKind.OFFERING, "x")) == []


def test_queries_list_committed_entities_then_staged_adds_oldest_first(storage: InMemoryStorage):
    stored(storage, a_plan("a"), a_plan("b"), a_plan("c"))
    stored(storage, a_plan("d"))
    with storage.unit_of_work() as uow:
        uow.plans.add(a_plan("f"))
        uow.plans.add(a_plan("e"))
        assert ids(uow.plans.all()) == ["a", "b", "c", "d", "f", "e"]
        assert ids(uow.plans.for_offering("cluster")) == ["a", "b", "c", "d", "f", "e"]
        uow.commit()
    with storage.unit_of_work() as uow:
        assert ids(uow.plans.all()) == ["a", "b", "c", "d", "f", "e"]
        assert ids(uow.plans.for_offering("cluster")) == ["a", "b", "c", "d", "f", "e"]


def test_an_update_keeps_an_entity_in_its_place_in_all(storage: InMemoryStorage):
    stored(storage, a_plan("a"), a_plan("b"))
    with storage.unit_of_work() as uow:
        uow.plans.update(attrs.evolve(uow.plans.get("a"), name="Renamed"))
        assert ids(uow.plans.all()) == ["a", "b"]
        uow.commit()
    with storage.unit_of_work() as uow:
        assert ids(uow.plans.all()) == ["a", "b"]


def test_an_update_keeps_an_entity_in_its_place_in_secondary_queries(storage: InMemoryStorage):
    stored(storage, a_plan("a"), a_plan("b"))
    with storage.unit_of_work() as uow:
        uow.plans.update(attrs.evolve(uow.plans.get("a"), name="Renamed"))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert ids(uow.plans.for_offering("cluster")) == ["a", "b"]


def test_a_plan_moved_into_an_offering_is_listed_by_age(storage: InMemoryStorage):
    stored(storage, a_plan("older", "cluster"), a_plan("younger", "gpu"))
    with storage.unit_of_work() as uow:
        uow.plans.update(attrs.evolve(uow.plans.get("older"), offering_id="gpu"))
        assert ids(uow.plans.for_offering("gpu")) == ["older", "younger"]


# --------------------------------------------------------------------------- the outbox


def test_committed_events_are_numbered_from_1_in_emit_order(storage: InMemoryStorage):
    events = [plan_created(a_plan(f"p{i}"), minute=i) for i in range(3)]
    with storage.unit_of_work() as uow:
        for event in events:
            uow.emit(event)
        assert list(uow.outbox.read()) == []
        recorded = uow.commit()
    assert list(recorded) == [RecordedEvent(i + 1, event) for i, event in enumerate(events)]
    assert outbox(storage) == list(recorded)


def test_positions_continue_across_units_in_commit_order(storage: InMemoryStorage):
    with storage.unit_of_work() as early, storage.unit_of_work() as late:
        early.emit(plan_renamed("opened-first", minute=1))
        late.emit(plan_renamed("committed-first", minute=2))
        late.emit(plan_renamed("committed-first", minute=3))
        first_batch = late.commit()
        second_batch = early.commit()
    assert [r.position for r in first_batch] == [1, 2]
    assert [(r.position, r.event) for r in second_batch] == [
        (3, plan_renamed("opened-first", minute=1))
    ]
    assert outbox(storage) == [*first_batch, *second_batch]


def test_a_unit_without_events_commits_an_empty_batch(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.plans.add(a_plan("standard"))
        assert list(uow.commit()) == []
    assert outbox(storage) == []


def test_outbox_read_pages_by_position(storage: InMemoryStorage):
    events = [plan_renamed("standard", minute=i) for i in range(5)]
    with storage.unit_of_work() as uow:
        for event in events:
            uow.emit(event)
        recorded = list(uow.commit())
    with storage.unit_of_work() as uow:
        box = uow.outbox
        assert list(box.read()) == recorded
        assert list(box.read(after=2)) == recorded[2:]
        assert [r.position for r in box.read(after=2)] == [3, 4, 5]
        assert [r.position for r in box.read(after=1, limit=2)] == [2, 3]
        assert [r.position for r in box.read(limit=1)] == [1]
        assert [r.position for r in box.read(after=4, limit=10)] == [5]
        assert list(box.read(after=5)) == []
        assert list(box.read(after=99)) == []
        assert list(box.read(after=0, limit=0)) == []


def test_paging_through_the_outbox_visits_every_event_once(storage: InMemoryStorage):
    for batch in range(4):
        with storage.unit_of_work() as uow:
            for i in range(batch + 1):
                uow.emit(plan_renamed(f"b{batch}", minute=i))
            uow.commit()
    seen: list[RecordedEvent] = []
    with storage.unit_of_work() as uow:
        while page := uow.outbox.read(after=seen[-1].position if seen else 0, limit=3):
            seen.extend(page)
    assert seen == outbox(storage)
    assert [r.position for r in seen] == list(range(1, 11))


def test_a_rolled_back_or_refused_unit_appends_nothing_and_uses_no_positions(
    storage: InMemoryStorage,
):
    stored(storage, a_plan("standard"))
    with storage.unit_of_work() as uow:
        uow.emit(plan_renamed("standard", minute=1))
    with storage.unit_of_work() as uow:
        uow.emit(plan_renamed("standard", minute=2))
        uow.rollback()
        assert list(uow.commit()) == []
    with storage.unit_of_work() as first, storage.unit_of_work() as second:
        first.plans.update(attrs.evolve(first.plans.get("standard"), name="First"))
        second.plans.update(attrs.evolve(second.plans.get("standard"), name="Second"))
        second.emit(plan_renamed("standard", minute=3))
        assert list(first.commit()) == []
        with pytest.raises(ConflictError):
            second.commit()
    assert outbox(storage) == []
    with storage.unit_of_work() as uow:
        uow.emit(plan_renamed("standard", minute=4))
        recorded = uow.commit()
    assert [(r.position, r.event) for r in recorded] == [(1, plan_renamed("standard", minute=4))]


# --------------------------------------------------------------------------- reuse


def test_a_unit_can_be_used_again_after_commit(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        added = uow.plans.add(a_plan("standard"))
        uow.emit(plan_created(added))
        first = uow.commit()
        renamed = uow.plans.update(attrs.evolve(uow.plans.get("standard"), name="Basic"))
        uow.emit(plan_renamed("standard", minute=1))
        assert committed_plan(storage, "standard") == added
        second = uow.commit()
        assert list(uow.commit()) == []
    assert [r.position for r in first] == [1]
    assert [(r.position, r.event) for r in second] == [(2, plan_renamed("standard", minute=1))]
    assert renamed.version == 2
    assert snapshot(storage)["plans"] == (renamed,)
    assert [r.position for r in outbox(storage)] == [1, 2]


def test_staged_writes_of_a_committed_unit_are_not_committed_again(storage: InMemoryStorage):
    with storage.unit_of_work() as uow:
        uow.plans.add(a_plan("standard"))
        uow.commit()
        with storage.unit_of_work() as other:
            newer = other.plans.update(attrs.evolve(other.plans.get("standard"), name="Newer"))
            other.commit()
        uow.commit()
    assert committed_plan(storage, "standard") == newer


# --------------------------------------------------------------------------- event log, notifier


def test_the_event_log_keeps_every_published_event_in_order():
    log = EventLog()
    first = [RecordedEvent(1, plan_renamed("a", 1)), RecordedEvent(2, plan_renamed("b", 2))]
    second = [RecordedEvent(3, plan_renamed("c", 3))]
    log.publish(first)
    log.publish([])
    log.publish(second)
    assert log.events == [*first, *second]


def test_the_recording_notifier_keeps_every_notification_in_order():
    notifier = RecordingNotifier()
    hello = Notification("greeting", ("alice",), "Hello", "Hi Alice", {"name": "Alice"})
    bye = Notification("farewell", ("alice", "bob"), "Bye", "See you")
    notifier.notify(hello)
    notifier.notify(bye)
    notifier.notify(hello)
    assert notifier.sent == [hello, bye, hello]


def test_the_event_log_records_what_a_storage_commit_returns(storage: InMemoryStorage):
    log = EventLog()
    with storage.unit_of_work() as uow:
        uow.emit(
            RoleGranted(
                occurred_at=T0,
                actor_id="root",
                grant_id="g",
                user_id="alice",
                role=str(Role.PROJECT_ADMIN),
                scope_kind=str(ScopeKind.PROJECT),
                scope_id="thesis",
            )
        )
        log.publish(uow.commit())
    assert log.events == outbox(storage)
    assert len(log.events) == 1


# --------------------------------------------------------------------------- the state machine

OFFERING_IDS = ("cluster", "gpu", "storage")
PLAN_IDS = ("p1", "p2", "p3", "p4", "p5")
NAMES = ("Basic", "Standard", "Premium")


class PlanStorageMachine(RuleBasedStateMachine):
    """Plans driven through one open unit of work and concurrent units, against a model.

    The model keeps the committed plans (in the order they were first added), the open
    unit's staged writes with the version each was read at, its pending events, and the
    outbox. The unit's view is the committed state overlaid with its writes: reads are not
    isolated from concurrent commits, but commit refuses if anything it wrote moved on.
    """

    def __init__(self) -> None:
        super().__init__()
        self.storage = InMemoryStorage()
        self.uow = self.storage.unit_of_work().__enter__()
        self.committed: dict[str, Plan] = {}
        self.writes: dict[str, Plan] = {}
        self.base_versions: dict[str, int] = {}
        self.pending: list[DomainEvent] = []
        self.outbox: list[RecordedEvent] = []
        self.clock = 0

    # -- the model

    def view(self) -> dict[str, Plan]:
        staged = {
            plan_id: self.writes.get(plan_id, plan) for plan_id, plan in self.committed.items()
        }
        staged.update((i, p) for i, p in self.writes.items() if i not in self.committed)
        return staged

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def forget_staged(self) -> None:
        self.writes.clear()
        self.base_versions.clear()
        self.pending.clear()

    def pick(self, plans: dict[str, Plan], index: int) -> Plan:
        return plans[sorted(plans)[index % len(plans)]]

    def stage(self, plan: Plan, base_version: int, event: DomainEvent) -> None:
        self.writes[plan.id] = plan
        self.base_versions.setdefault(plan.id, base_version)
        self.uow.emit(event)
        self.pending.append(event)

    # -- the open unit

    @rule(plan_id=st.sampled_from(PLAN_IDS), offering_id=st.sampled_from(OFFERING_IDS))
    def add(self, plan_id: str, offering_id: str) -> None:
        plan = a_plan(plan_id, offering_id, name="Standard")
        note(f"open unit: add {plan_id} to {offering_id}")
        if plan_id in self.view():
            with pytest.raises(ConflictError) as caught:
                self.uow.plans.add(plan)
            assert caught.value.code is ErrorCode.ALREADY_EXISTS
            return
        added = self.uow.plans.add(plan)
        assert added == attrs.evolve(plan, version=1)
        self.stage(added, 0, plan_created(added, self.tick()))

    @precondition(lambda self: self.view())
    @rule(index=st.integers(0, 50), name=st.sampled_from(NAMES))
    def rename(self, index: int, name: str) -> None:
        current = self.pick(self.view(), index)
        note(f"open unit: rename {current.id} v{current.version} to {name}")
        updated = self.uow.plans.update(attrs.evolve(current, name=name))
        assert updated == attrs.evolve(current, name=name, version=current.version + 1)
        self.stage(updated, current.version, plan_renamed(current.id, self.tick()))

    @precondition(lambda self: self.view())
    @rule(index=st.integers(0, 50), offering_id=st.sampled_from(OFFERING_IDS))
    def move(self, index: int, offering_id: str) -> None:
        current = self.pick(self.view(), index)
        note(f"open unit: move {current.id} v{current.version} to {offering_id}")
        moved = self.uow.plans.update(attrs.evolve(current, offering_id=offering_id))
        assert moved == attrs.evolve(current, offering_id=offering_id, version=current.version + 1)
        self.stage(moved, current.version, plan_renamed(current.id, self.tick()))

    @precondition(lambda self: self.view())
    @rule(index=st.integers(0, 50), skew=st.sampled_from((-2, -1, 1, 3)))
    def update_with_a_stale_version(self, index: int, skew: int) -> None:
        current = self.pick(self.view(), index)
        presented = max(current.version + skew, 0)
        note(f"open unit: update {current.id} presenting v{presented}, at v{current.version}")
        with pytest.raises(ConflictError) as caught:
            self.uow.plans.update(attrs.evolve(current, name="Stale", version=presented))
        assert caught.value.code is ErrorCode.STALE_VERSION
        assert caught.value.fields["actual_version"] == current.version

    @rule()
    def commit(self) -> None:
        stale = [
            plan_id
            for plan_id, base in self.base_versions.items()
            if (self.committed[plan_id].version if plan_id in self.committed else 0) != base
        ]
        note(f"open unit: commit {sorted(self.writes)}, stale: {stale}")
        if stale:
            with pytest.raises(ConflictError) as caught:
                self.uow.commit()
            assert caught.value.code is ErrorCode.STALE_VERSION
            assert caught.value.fields["id"] in stale
        else:
            start = len(self.outbox) + 1
            expected = [RecordedEvent(start + i, e) for i, e in enumerate(self.pending)]
            assert list(self.uow.commit()) == expected
            self.committed = self.view()
            self.outbox.extend(expected)
        self.forget_staged()

    @rule()
    def rollback(self) -> None:
        note(f"open unit: rollback {sorted(self.writes)}")
        self.uow.rollback()
        self.forget_staged()

    # -- another unit that commits in between

    @precondition(lambda self: self.committed)
    @rule(index=st.integers(0, 50), name=st.sampled_from(NAMES))
    def another_unit_renames(self, index: int, name: str) -> None:
        current = self.pick(self.committed, index)
        note(f"other unit: rename {current.id} v{current.version} to {name}, commit")
        event = plan_renamed(current.id, self.tick())
        with self.storage.unit_of_work() as other:
            updated = other.plans.update(attrs.evolve(other.plans.get(current.id), name=name))
            other.emit(event)
            recorded = other.commit()
        assert list(recorded) == [RecordedEvent(len(self.outbox) + 1, event)]
        self.committed[current.id] = updated
        self.outbox.extend(recorded)

    @rule(plan_id=st.sampled_from(PLAN_IDS), offering_id=st.sampled_from(OFFERING_IDS))
    def another_unit_adds(self, plan_id: str, offering_id: str) -> None:
        plan = a_plan(plan_id, offering_id, name="Other")
        note(f"other unit: add {plan_id} to {offering_id}, commit")
        with self.storage.unit_of_work() as other:
            if plan_id in self.committed:
                with pytest.raises(ConflictError) as caught:
                    other.plans.add(plan)
                assert caught.value.code is ErrorCode.ALREADY_EXISTS
                return
            added = other.plans.add(plan)
            event = plan_created(added, self.tick())
            other.emit(event)
            recorded = other.commit()
        assert list(recorded) == [RecordedEvent(len(self.outbox) + 1, event)]
        self.committed[plan_id] = added
        self.outbox.extend(recorded)

    # -- the laws, after every step

    def check_reads(self, uow: Any, expected: dict[str, Plan]) -> None:
        for plan_id in PLAN_IDS:
            if plan_id in expected:
                assert uow.plans.get(plan_id) == expected[plan_id]
                assert uow.plans.find(plan_id) == expected[plan_id]
            else:
                assert uow.plans.find(plan_id) is None
                with pytest.raises(NotFoundError):
                    uow.plans.get(plan_id)
        assert list(uow.plans.all()) == list(expected.values())
        for offering_id in OFFERING_IDS:
            assert list(uow.plans.for_offering(offering_id)) == [
                plan for plan in expected.values() if plan.offering_id == offering_id
            ]

    @invariant()
    def a_fresh_unit_reads_the_committed_state(self) -> None:
        with self.storage.unit_of_work() as fresh:
            self.check_reads(fresh, self.committed)
            assert list(fresh.outbox.read()) == self.outbox

    @invariant()
    def the_open_unit_reads_its_staged_view(self) -> None:
        self.check_reads(self.uow, self.view())
        assert list(self.uow.outbox.read()) == self.outbox

    def teardown(self) -> None:
        self.uow.__exit__(None, None, None)


PlanStorageMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
TestPlanStorage = PlanStorageMachine.TestCase


def test_listings_stay_oldest_first_after_removing_what_the_unit_added():
    """Removing a unit-added entity once gave its sequence number to the next new one, so a
    keyed listing could put a later write before an earlier one."""
    storage = InMemoryStorage()
    with storage.unit_of_work() as uow:
        grants = uow.role_grants
        first = grants.add(a_grant("a", user_id="k"))
        grants.add(a_grant("b", user_id="k"))
        moved = grants.add(a_grant("d", user_id="j"))
        grants.remove(first)
        grants.add(a_grant("c", user_id="k"))
        grants.update(attrs.evolve(moved, user_id="k"))
        assert [g.id for g in grants.for_user("k")] == ["b", "d", "c"]
        assert [g.id for g in grants.all()] == ["b", "d", "c"]
        uow.commit()
    with storage.unit_of_work() as uow:
        assert [g.id for g in uow.role_grants.for_user("k")] == ["b", "d", "c"]

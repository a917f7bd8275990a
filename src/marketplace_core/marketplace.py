"""The :class:`Marketplace` facade: the commands and queries a host calls.

The facade holds no rule. Each of its commands is a handler function from
:mod:`marketplace_core.services`, run in a fresh unit of work: the handler checks the actor's
permission, applies the rules and stages its writes and events; the facade commits, then hands
the committed events to the event sink. A handler that raises leaves storage as it was.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.authorization import RoleAuthorizer
from marketplace_core.clocks import SystemClock
from marketplace_core.events import RecordedEvent
from marketplace_core.ids import UuidGenerator
from marketplace_core.plugins import PluginRegistry
from marketplace_core.ports import Authorizer, Clock, EventSink, IdGenerator, Storage
from marketplace_core.roles import DEFAULT_ROLE_PERMISSIONS, Permission, Role
from marketplace_core.services import catalogue, organizations, users
from marketplace_core.services.context import Context

P = ParamSpec("P")
R = TypeVar("R")


class _Command(Generic[P, R]):
    """Exposes a handler ``handler(ctx, *args)`` as a facade method ``method(*args)``.

    The bound method carries the handler's name, docstring and signature (without ``ctx``),
    and is cached on the instance, so calling a command costs one dictionary lookup more
    than calling the handler.
    """

    def __init__(self, handler: Callable[Concatenate[Context, P], R]) -> None:
        self.handler = handler
        self.__doc__ = handler.__doc__
        parameters = list(inspect.signature(handler).parameters.values())[1:]
        self.signature = inspect.signature(handler).replace(parameters=parameters)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Self: ...

    @overload
    def __get__(self, instance: Marketplace, owner: type) -> Callable[P, R]: ...

    def __get__(self, instance: Marketplace | None, owner: type) -> Self | Callable[P, R]:
        if instance is None:
            return self
        run = instance._run
        handler = self.handler

        @functools.wraps(handler)
        def method(*args: P.args, **kwargs: P.kwargs) -> R:
            return run(handler, *args, **kwargs)

        method.__signature__ = self.signature  # type: ignore[attr-defined]
        instance.__dict__[self.name] = method
        return method


class Marketplace:
    """A marketplace over the storage and ports a host injects.

    Every argument is optional: ``Marketplace()`` runs on in-memory storage, the system
    clock and random ids, with the default role table, no plugins and no event sink.
    ``authorizer`` replaces the default :class:`RoleAuthorizer` (stored role grants read
    through ``role_permissions``).
    """

    def __init__(
        self,
        storage: Storage | None = None,
        *,
        clock: Clock | None = None,
        ids: IdGenerator | None = None,
        plugins: PluginRegistry | None = None,
        authorizer: Authorizer | None = None,
        role_permissions: Mapping[Role, frozenset[Permission]] = DEFAULT_ROLE_PERMISSIONS,
        event_sink: EventSink | None = None,
    ) -> None:
        self.storage: Storage = storage if storage is not None else InMemoryStorage()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.ids: IdGenerator = ids if ids is not None else UuidGenerator()
        self.plugins = plugins if plugins is not None else PluginRegistry()
        self._authorizer = authorizer
        self._role_permissions = role_permissions
        self._event_sink = event_sink

    def _run(
        self, handler: Callable[Concatenate[Context, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        with self.storage.unit_of_work() as uow:
            context = Context(
                uow=uow,
                now=self.clock.now(),
                ids=self.ids,
                authorizer=self._authorizer
                or RoleAuthorizer(uow.role_grants, self._role_permissions),
                plugins=self.plugins,
            )
            result = handler(context, *args, **kwargs)
            recorded = uow.commit()
        if recorded and self._event_sink is not None:
            self._event_sink.publish(recorded)
        return result

    def events(self, after: int = 0, limit: int | None = None) -> Sequence[RecordedEvent]:
        """Committed events with ``position > after``, in commit order (the outbox)."""
        with self.storage.unit_of_work() as uow:
            return uow.outbox.read(after, limit)

    # Users and roles.
    bootstrap_staff_user = _Command(users.bootstrap_staff_user)
    create_user = _Command(users.create_user)
    set_user_staff = _Command(users.set_user_staff)
    grant_role = _Command(users.grant_role)
    revoke_role = _Command(users.revoke_role)
    get_user = _Command(users.get_user)
    list_role_grants = _Command(users.list_role_grants)

    # Organizations and projects.
    create_organization_group = _Command(organizations.create_organization_group)
    create_organization = _Command(organizations.create_organization)
    rename_organization = _Command(organizations.rename_organization)
    set_organization_group = _Command(organizations.set_organization_group)
    block_organization = _Command(organizations.block_organization)
    unblock_organization = _Command(organizations.unblock_organization)
    archive_organization = _Command(organizations.archive_organization)
    create_project = _Command(organizations.create_project)
    update_project = _Command(organizations.update_project)
    get_organization_group = _Command(organizations.get_organization_group)
    get_organization = _Command(organizations.get_organization)
    list_organizations = _Command(organizations.list_organizations)
    get_project = _Command(organizations.get_project)
    list_projects = _Command(organizations.list_projects)

    # The catalogue.
    register_provider = _Command(catalogue.register_provider)
    create_category = _Command(catalogue.create_category)
    create_offering = _Command(catalogue.create_offering)
    update_offering = _Command(catalogue.update_offering)
    activate_offering = _Command(catalogue.activate_offering)
    pause_offering = _Command(catalogue.pause_offering)
    resume_offering = _Command(catalogue.resume_offering)
    archive_offering = _Command(catalogue.archive_offering)
    add_offering_component = _Command(catalogue.add_offering_component)
    update_offering_component = _Command(catalogue.update_offering_component)
    remove_offering_component = _Command(catalogue.remove_offering_component)
    create_plan = _Command(catalogue.create_plan)
    update_plan = _Command(catalogue.update_plan)
    archive_plan = _Command(catalogue.archive_plan)
    set_plan_prices = _Command(catalogue.set_plan_prices)
    schedule_plan_prices = _Command(catalogue.schedule_plan_prices)
    get_category = _Command(catalogue.get_category)
    list_categories = _Command(catalogue.list_categories)
    get_offering = _Command(catalogue.get_offering)
    list_offerings = _Command(catalogue.list_offerings)
    get_plan = _Command(catalogue.get_plan)
    list_plans = _Command(catalogue.list_plans)
    list_orderable_offerings = _Command(catalogue.list_orderable_offerings)

"""Keeping Slurm's job limits in step with the ``jobs_blocked`` flag.

A policy with the ``block_hpc_jobs`` action sets the flag ``jobs_blocked`` on each live
resource of its scope, and lifts it when the action is reset (the period ended, the metric
fell back, the policy was deleted). The marketplace only records the flag; this step makes
Slurm honour it: an account whose resource is flagged gets ``GrpJobs=0 GrpSubmitJobs=0``
(nothing queues, nothing starts; jobs already running finish), and gets the offering's job
limits back once the flag is gone. Run :meth:`SlurmSync.reconcile` after policy-changing
commands or on a schedule (every few minutes, and after ``run_due_jobs``); it reads the
account's current limits first and writes only where they differ, so running it again
changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from marketplace_core.errors import BackendError
from marketplace_core.offerings import Offering
from marketplace_core.plugins.slurm.accounts import account_name, job_limits
from marketplace_core.plugins.slurm.client import SlurmClient
from marketplace_core.plugins.slurm.options import read_options
from marketplace_core.resources import Resource

if TYPE_CHECKING:
    from marketplace_core.marketplace import Marketplace


class FlagOutcome(enum.StrEnum):
    """What applying a resource's flags to its account did."""

    CHANGED = "changed"
    """The job limits differed and were set."""
    UNCHANGED = "unchanged"
    """The job limits were already right."""
    MISSING = "missing"
    """The account does not exist in Slurm (not created yet, or removed)."""


@attrs.frozen
class ReconcileReport:
    """What :meth:`SlurmSync.reconcile` did: resource ids by outcome, and
    ``(resource id, message)`` for each resource whose backend call failed."""

    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()


class SlurmSync:
    """Applies resource flags to Slurm accounts through a :class:`SlurmClient`."""

    def __init__(self, client: SlurmClient) -> None:
        self.client = client

    def apply_flags(self, resource: Resource, offering: Offering) -> FlagOutcome:
        """Give ``resource``'s account the job limits its flags ask for: zero while it is
        ``jobs_blocked``, the offering's ``grp_jobs`` / ``grp_submit_jobs`` otherwise.
        Raises :class:`~marketplace_core.errors.BackendError` when Slurm fails."""
        options = read_options(offering.plugin_options)
        name = resource.backend_id or account_name(resource.id, options.account_prefix)
        association = self.client.association(name, options.cluster)
        if association is None:
            return FlagOutcome.MISSING
        wanted = job_limits(resource, options)
        if association.job_limits == wanted:
            return FlagOutcome.UNCHANGED
        self.client.set_job_limits(name, wanted, options.cluster)
        return FlagOutcome.CHANGED

    def reconcile_resources(
        self, resources: Iterable[Resource], offering: Offering
    ) -> ReconcileReport:
        """:meth:`apply_flags` on each resource of ``offering`` that is live and has been
        created on the backend; a failure is reported and does not stop the others."""
        outcomes: dict[FlagOutcome, list[str]] = {outcome: [] for outcome in FlagOutcome}
        failed: list[tuple[str, str]] = []
        for resource in resources:
            if (
                resource.offering_id != offering.id
                or not resource.is_live
                or not resource.backend_id
            ):
                continue
            try:
                outcomes[self.apply_flags(resource, offering)].append(resource.id)
            except BackendError as error:
                failed.append((resource.id, f"{type(error).__name__}: {error}"))
        return ReconcileReport(
            tuple(outcomes[FlagOutcome.CHANGED]),
            tuple(outcomes[FlagOutcome.UNCHANGED]),
            tuple(outcomes[FlagOutcome.MISSING]),
            tuple(failed),
        )

    def reconcile(self, market: Marketplace, offering_id: str) -> ReconcileReport:
        """Apply the flags of every live resource of ``offering_id`` to Slurm.

        Reads through the marketplace's queries (which take no actor) and writes only to
        Slurm, so it needs no marketplace permission; whoever runs it holds the Slurm
        administrator's rights the runner uses.
        """
        offering = market.get_offering(offering_id)
        return self.reconcile_resources(market.list_offering_resources(offering.id), offering)

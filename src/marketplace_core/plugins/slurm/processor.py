"""The ``slurm`` plugin: HPC allocations as Slurm accounts.

Each resource is one Slurm account, named after the resource, under the offering's parent
account. Its CPU and GPU hours become ``GrpTRESMins`` limits (hours x 60), its storage a
``GrpTRES`` limit on a TRES the offering names. A limit change modifies the account, a
termination removes it, and ``pull_usage`` sums ``sacct``'s job records into CPU and GPU
hours for :meth:`~marketplace_core.marketplace.Marketplace.pull_usage`. Every call finishes
at once: ``sacctmgr`` commits immediately.

A resource flagged ``jobs_blocked`` by a policy gets job limits of 0 when it is created;
:class:`~marketplace_core.plugins.slurm.sync.SlurmSync` keeps the job limits of live
resources in step with the flag afterwards.
"""

from __future__ import annotations

from marketplace_core.billing.calendar import month_end, month_start
from marketplace_core.offerings import BillingType, LimitPeriod, OfferingComponent
from marketplace_core.orders import OrderType
from marketplace_core.plugins.processor import Completed, ProcessingRequest
from marketplace_core.plugins.registry import PluginCapabilities, PluginRegistry
from marketplace_core.plugins.slurm.accounts import (
    CPU_HOURS,
    GPU_HOURS,
    STORAGE,
    account_description,
    account_name,
    account_organization,
    check_limits,
    job_limits,
    tres_limits,
)
from marketplace_core.plugins.slurm.client import SlurmClient
from marketplace_core.plugins.slurm.options import SlurmOptions, read_options
from marketplace_core.plugins.slurm.usage import hours, tres_seconds
from marketplace_core.plugins.usage_source import PulledUsage, UsageRequest
from marketplace_core.resources import Resource

SLURM_COMPONENTS = (
    OfferingComponent(
        CPU_HOURS,
        "CPU hours",
        BillingType.LIMIT,
        measured_unit="hours",
        description="CPU core hours the allocation may use in its lifetime (GrpTRESMins=cpu)",
        limit_period=LimitPeriod.TOTAL,
    ),
    OfferingComponent(
        GPU_HOURS,
        "GPU hours",
        BillingType.LIMIT,
        measured_unit="hours",
        description="GPU hours the allocation may use in its lifetime (GrpTRESMins=gres/gpu)",
        limit_period=LimitPeriod.TOTAL,
    ),
    OfferingComponent(
        STORAGE,
        "Storage",
        BillingType.LIMIT,
        measured_unit="GB",
        description="Storage, billed per month; written to Slurm only as a TRES the "
        "offering names (plugin_options.storage_tres)",
        limit_period=LimitPeriod.MONTH,
    ),
)
"""The built-in components of every slurm offering: all limit-billed, CPU and GPU hours as
a lifetime budget (``total``), storage per month. CPU and GPU hours also take the usage
that ``pull_usage`` reports, which usage policies watch."""

SLURM_CAPABILITIES = PluginCapabilities(
    needs_provider_review=True,
    can_update_limits=True,
    can_cancel_orders=False,
    components=SLURM_COMPONENTS,
)
"""Orders wait for the provider's review by default (an offering may turn it off with
``OfferingOptions.needs_provider_review=False``); limits can change; nothing is left to
cancel, since every call finishes at once."""


def _account(resource: Resource, options: SlurmOptions) -> str:
    return resource.backend_id or account_name(resource.id, options.account_prefix)


class SlurmProcessor:
    """Fulfils slurm orders through a :class:`SlurmClient`; also a usage source.

    Every method is idempotent: create finds an account it made before and sets its limits
    again, termination of an account that is already gone succeeds.
    """

    def __init__(self, client: SlurmClient) -> None:
        self.client = client

    def validate(self, request: ProcessingRequest) -> None:
        """Refuse malformed plugin options and limits Slurm cannot hold. A termination is
        never refused: a consumer can always ask to end a resource."""
        if request.order.type is not OrderType.TERMINATE:
            check_limits(request.order.limits, read_options(request.offering.plugin_options))

    def create(self, request: ProcessingRequest) -> Completed:
        """Add the resource's account (unless it has an association on the offering's
        cluster: a bare record left without one gets it back), then set its TRES limits and
        the job limits its flags ask for."""
        options = read_options(request.offering.plugin_options)
        check_limits(request.order.limits, options)
        resource = request.resource
        name = account_name(resource.id, options.account_prefix)
        if not self.client.has_association(name, options.cluster):
            self.client.add_account(
                name,
                description=account_description(resource),
                organization=account_organization(resource),
                parent=options.parent_account,
                cluster=options.cluster,
            )
        self.client.set_tres_limits(
            name, tres_limits(request.order.limits, options), options.cluster
        )
        self.client.set_job_limits(name, job_limits(resource, options), options.cluster)
        return Completed(
            backend_id=name,
            metadata={
                "slurm_account": name,
                "slurm_parent_account": options.parent_account or "root",
                "slurm_cluster": options.cluster,
            },
        )

    def update(self, request: ProcessingRequest) -> Completed:
        """Set the account's TRES limits to a limit change's new limits; a plan switch
        changes nothing in Slurm."""
        if request.order.is_limit_change:
            options = read_options(request.offering.plugin_options)
            check_limits(request.order.limits, options)
            self.client.set_tres_limits(
                _account(request.resource, options),
                tres_limits(request.order.limits, options),
                options.cluster,
            )
        return Completed()

    def terminate(self, request: ProcessingRequest) -> Completed:
        """Remove the account; an account that is already gone is fine.

        Without a cluster one command removes the record and every association. With one,
        removing the association on that cluster leaves the account record behind, so the
        record is removed too once no cluster has an association of it. Slurm refuses
        either removal while the account has pending or running jobs; the order then errs
        with Slurm's message, and a retry after the jobs ended finishes the removal.
        """
        options = read_options(request.offering.plugin_options)
        name = _account(request.resource, options)
        if options.cluster is not None:
            if self.client.has_association(name, options.cluster):
                self.client.remove_account(name, options.cluster)
            if self.client.has_association(name):
                return Completed()  # the account still serves another cluster
        if self.client.account_exists(name):
            self.client.remove_account(name)
        return Completed()

    def pull_usage(self, request: UsageRequest) -> list[PulledUsage]:
        """CPU hours (and GPU hours, if the offering has a GPU TRES) the account's jobs used
        in ``request.month`` so far: elapsed seconds x allocated TRES, summed from
        ``sacct``."""
        options = read_options(request.offering.plugin_options)
        name = _account(request.resource, options)
        jobs = self.client.jobs(
            name, month_start(request.month), month_end(request.month), options.cluster
        )
        description = f"sacct, account {name}"
        counted = {CPU_HOURS: "cpu"}
        if options.gpu_tres is not None:
            counted[GPU_HOURS] = options.gpu_tres
        return [
            PulledUsage(component, hours(tres_seconds(jobs, tres)), description)
            for component, tres in counted.items()
        ]


def register_slurm(
    registry: PluginRegistry, processor: SlurmProcessor, plugin_type: str = "slurm"
) -> None:
    """Register ``processor`` as the slurm plugin under ``plugin_type``."""
    registry.register(plugin_type, processor, SLURM_CAPABILITIES)

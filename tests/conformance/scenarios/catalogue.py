"""The catalogue: providers, offerings and their lifecycle, components, plans, visibility, and
the limit rules an order must pass."""

from __future__ import annotations

from marketplace_core.conformance import Recorder
from marketplace_core.offerings import (
    BillingType,
    LimitedTo,
    LimitPeriod,
    OfferingComponent,
    PlanUnit,
    PrivateToOrganization,
    PrivateToProject,
)
from tests.conformance.world import BASE, CORES, STORAGE, T0, offering, order, people, standard

GPU = OfferingComponent("gpu", "GPU", BillingType.LIMIT, "card", min_value=0, max_value=4)


# --------------------------------------------------------------------------- success


def vector_publish_offering(name: str) -> Recorder:
    rec = Recorder(
        name,
        "What success looks like in the catalogue: staff registers a provider and creates a "
        "category; the provider's owner creates an offering (in draft) and a plan; staff "
        "activates it and the consumer's project sees it as orderable.",
        start=T0,
    )
    people(rec)
    rec.step("create_organization", actor="$staff", name="Storage Co", as_="storage-co")
    rec.step("register_provider", actor="$staff", organization_id="$storage-co")
    rec.step("create_category", actor="$staff", title="Storage", as_="category")
    rec.step(
        "grant_role",
        actor="$staff",
        user_id="$outsider",
        role="organization.owner",
        scope_id="$storage-co",
    )
    rec.step(
        "create_offering",
        actor="$outsider",
        provider_id="$storage-co",
        name="Object storage",
        plugin_type="instant",
        category_id="$category",
        components=(STORAGE, BASE),
        as_="offering",
    )
    rec.step(
        "create_plan",
        actor="$outsider",
        offering_id="$offering",
        name="Standard",
        unit=PlanUnit.MONTH,
        prices={"storage": "0.02", "base": "5"},
        as_="plan",
    )
    rec.step("activate_offering", actor="$staff", offering_id="$offering")
    rec.step("list_orderable_offerings", project_id="$project")
    return rec


def vector_edit_components_and_prices(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An offering's components and a plan's prices change while it sells: a component is "
        "added, another's settings replaced, an unpriced one removed; prices are replaced now "
        "and others scheduled for the next billing month.",
        start=T0,
    )
    standard(rec)
    rec.step(
        "add_offering_component", actor="$provider-owner", offering_id="$offering", component=GPU
    )
    rec.step(
        "update_offering_component",
        actor="$provider-owner",
        offering_id="$offering",
        component=OfferingComponent(
            "cores", "Virtual cores", BillingType.LIMIT, "core", min_value=1, max_value=128
        ),
    )
    rec.step(
        "remove_offering_component",
        actor="$provider-owner",
        offering_id="$offering",
        component_type="gpu",
    )
    rec.step(
        "set_plan_prices",
        actor="$provider-owner",
        plan_id="$plan",
        prices={"cores": "3", "storage": "0.10", "base": "10"},
    )
    rec.step(
        "schedule_plan_prices", actor="$provider-owner", plan_id="$plan", prices={"cores": "4"}
    )
    rec.step("update_offering", actor="$provider-owner", offering_id="$offering", name="Cloud VMs")
    return rec


# --------------------------------------------------------------------------- lifecycle


def vector_offering_activate_pause_resume_archive(name: str) -> Recorder:
    rec = Recorder(
        name,
        "The offering lifecycle: draft → active (staff activates), active → paused and "
        "paused → active (the provider pauses and resumes), active → archived.",
        start=T0,
    )
    people(rec)
    offering(rec, activate=False)
    rec.step("activate_offering", actor="$staff", offering_id="$offering")
    rec.step("pause_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("resume_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("archive_offering", actor="$provider-owner", offering_id="$offering")
    return rec


def vector_archive_paused_offering(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A paused offering can be archived (paused → archived); archived is final, so it can "
        "no longer be resumed.",
        start=T0,
    )
    standard(rec)
    rec.setup("pause_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("archive_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("resume_offering", actor="$provider-owner", offering_id="$offering")
    return rec


def vector_archive_draft_offering(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A draft offering that was never activated can be archived (draft → archived); it can "
        "then not be activated.",
        start=T0,
    )
    people(rec)
    offering(rec, activate=False)
    rec.step("archive_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("activate_offering", actor="$staff", offering_id="$offering")
    return rec


def vector_invalid_offering_transitions(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Events the current state does not allow are refused as invalid_transition, naming "
        "the state and the events allowed there: pausing or resuming a draft, activating or "
        "resuming an active offering, pausing a paused one.",
        start=T0,
    )
    people(rec)
    offering(rec, activate=False)
    rec.step("pause_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("resume_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("activate_offering", actor="$staff", offering_id="$offering")
    rec.step("activate_offering", actor="$staff", offering_id="$offering")
    rec.step("resume_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("pause_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("pause_offering", actor="$provider-owner", offering_id="$offering")
    return rec


# --------------------------------------------------------------------------- creation


def vector_provider_not_registered(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Only a registered provider sells: an offering for an organization that is not "
        "registered as a provider is refused as provider_not_registered.",
        start=T0,
    )
    people(rec)
    rec.setup("create_category", actor="$staff", title="Compute", as_="category")
    rec.step(
        "create_offering",
        actor="$owner",
        provider_id="$consumer",
        name="Home-made VMs",
        plugin_type="instant",
        category_id="$category",
    )
    return rec


def vector_plugin_not_registered(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An offering names the plugin type that fulfils its orders; a type the marketplace "
        "has not registered is refused as plugin_not_registered.",
        start=T0,
    )
    people(rec)
    rec.step(
        "create_offering",
        actor="$provider-owner",
        provider_id="$provider",
        name="Mystery",
        plugin_type="no-such-plugin",
    )
    return rec


def vector_invalid_component_settings(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A component's settings must fit its billing type and each other: a minimum above the "
        "maximum, limit bounds on a usage component, an on/off switch with a range, a "
        "limit_amount without a period, and a malformed type are each refused as "
        "invalid_component_settings, naming the setting.",
        start=T0,
    )
    people(rec)
    offering(rec, activate=False)
    for bad in (
        OfferingComponent("ram", "RAM", BillingType.LIMIT, "GB", min_value=8, max_value=4),
        OfferingComponent("traffic", "Traffic", BillingType.USAGE, "GB", max_value=10),
        OfferingComponent("backup", "Backup", BillingType.LIMIT, is_boolean=True, max_value=5),
        OfferingComponent("ram", "RAM", BillingType.LIMIT, "GB", limit_amount=100),
        OfferingComponent("ram disk", "RAM disk", BillingType.LIMIT, "GB"),
    ):
        rec.step(
            "add_offering_component",
            actor="$provider-owner",
            offering_id="$offering",
            component=bad,
        )
    return rec


def vector_duplicate_component(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Component types are unique per offering: creating an offering that lists a type "
        "twice, or adding a type the offering already has, is refused as duplicate_component.",
        start=T0,
    )
    people(rec)
    offering(rec, activate=False)
    rec.step(
        "create_offering",
        actor="$provider-owner",
        provider_id="$provider",
        name="Twice",
        plugin_type="instant",
        components=(CORES, CORES),
    )
    rec.step(
        "add_offering_component",
        actor="$provider-owner",
        offering_id="$offering",
        component=OfferingComponent("storage", "More storage", BillingType.USAGE, "TB"),
    )
    return rec


def vector_unknown_component(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Prices, amounts and component commands must name components the offering has: "
        "pricing 'gpu' on an offering without it, or updating or removing it, is refused "
        "as unknown_component.",
        start=T0,
    )
    standard(rec)
    rec.step(
        "create_plan",
        actor="$provider-owner",
        offering_id="$offering",
        name="GPU",
        unit=PlanUnit.MONTH,
        prices={"gpu": "50"},
    )
    rec.step("set_plan_prices", actor="$provider-owner", plan_id="$plan", prices={"gpu": "50"})
    rec.step(
        "update_offering_component", actor="$provider-owner", offering_id="$offering", component=GPU
    )
    rec.step(
        "remove_offering_component",
        actor="$provider-owner",
        offering_id="$offering",
        component_type="gpu",
    )
    return rec


def vector_component_in_use(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A component a plan prices cannot be removed or billed differently "
        "(component_in_use, naming the plan); once the plan no longer prices it, it can be "
        "removed.",
        start=T0,
    )
    standard(rec)
    rec.step(
        "remove_offering_component",
        actor="$provider-owner",
        offering_id="$offering",
        component_type="storage",
    )
    rec.step(
        "update_offering_component",
        actor="$provider-owner",
        offering_id="$offering",
        component=OfferingComponent("base", "Base fee", BillingType.ONE_TIME, "month"),
    )
    rec.step(
        "set_plan_prices",
        actor="$provider-owner",
        plan_id="$plan",
        prices={"cores": "2", "base": "10"},
    )
    rec.step(
        "remove_offering_component",
        actor="$provider-owner",
        offering_id="$offering",
        component_type="storage",
    )
    return rec


def vector_builtin_component(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A plugin's built-in component (the bundled plugin's 'licence') comes first in every "
        "offering of that plugin; it cannot be removed or billed differently "
        "(builtin_component), though its price is set by plans like any other.",
        start=T0,
    )
    people(rec)
    offering(
        rec,
        plugin="bundled",
        components=(CORES,),
        plans={"plan": (PlanUnit.MONTH, {"licence": "7"})},
    )
    rec.step("get_offering", offering_id="$offering")
    rec.step("set_plan_prices", actor="$provider-owner", plan_id="$plan", prices={"cores": "1"})
    rec.step(
        "remove_offering_component",
        actor="$provider-owner",
        offering_id="$offering",
        component_type="licence",
    )
    rec.step(
        "update_offering_component",
        actor="$provider-owner",
        offering_id="$offering",
        component=OfferingComponent("licence", "Licence", BillingType.USAGE, "seat"),
    )
    return rec


# --------------------------------------------------------------------------- orderable


def vector_offering_archived(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An archived offering is frozen: updating it, adding a plan or a component is refused "
        "as offering_archived; ordering it is refused as offering_not_active.",
        start=T0,
    )
    standard(rec)
    rec.setup("archive_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("update_offering", actor="$provider-owner", offering_id="$offering", name="Again")
    rec.step(
        "create_plan",
        actor="$provider-owner",
        offering_id="$offering",
        name="New",
        unit=PlanUnit.MONTH,
    )
    rec.step(
        "add_offering_component", actor="$provider-owner", offering_id="$offering", component=GPU
    )
    order(rec, as_=None, checked=True)
    return rec


def vector_offering_not_active(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Only active offerings take new resources: ordering a draft or a paused offering is "
        "refused as offering_not_active, naming its state.",
        start=T0,
    )
    people(rec)
    offering(rec, activate=False)
    order(rec, as_=None, checked=True)
    rec.step("activate_offering", actor="$staff", offering_id="$offering")
    rec.step("pause_offering", actor="$provider-owner", offering_id="$offering")
    order(rec, as_=None, checked=True)
    return rec


def vector_offering_without_category(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An offering is orderable only once it is in a category: an active offering with no "
        "category is refused as offering_without_category, and is orderable once given one.",
        start=T0,
    )
    people(rec)
    rec.setup("create_category", actor="$staff", title="Compute", as_="category")
    rec.setup(
        "create_offering",
        actor="$provider-owner",
        provider_id="$provider",
        name="Uncategorised",
        plugin_type="instant",
        components=(CORES,),
        as_="offering",
    )
    rec.setup(
        "create_plan",
        actor="$provider-owner",
        offering_id="$offering",
        name="Plan",
        unit=PlanUnit.MONTH,
        prices={"cores": "2"},
        as_="plan",
    )
    rec.setup("activate_offering", actor="$staff", offering_id="$offering")
    order(rec, as_=None, checked=True)
    rec.step(
        "update_offering", actor="$provider-owner", offering_id="$offering", category_id="$category"
    )
    order(rec, as_=None, checked=True)
    return rec


def vector_offering_without_components(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An offering with no components has nothing to sell: ordering it is refused as "
        "offering_without_components, even when it is active with a plan.",
        start=T0,
    )
    people(rec)
    offering(rec, components=(), plans={"plan": (PlanUnit.MONTH, {})})
    order(rec, limits={}, as_=None, checked=True)
    return rec


def vector_offering_without_plans(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An offering takes orders only with a plan open for them: activating one with no plan, "
        "or resuming one whose only plan is archived, is refused as offering_without_plans.",
        start=T0,
    )
    people(rec)
    rec.setup("create_category", actor="$staff", title="Compute", as_="category")
    rec.setup(
        "create_offering",
        actor="$provider-owner",
        provider_id="$provider",
        name="Planless",
        plugin_type="instant",
        category_id="$category",
        components=(CORES,),
        as_="offering",
    )
    rec.step("activate_offering", actor="$staff", offering_id="$offering")
    rec.step(
        "create_plan",
        actor="$provider-owner",
        offering_id="$offering",
        name="Only",
        unit=PlanUnit.MONTH,
        prices={"cores": "2"},
        as_="plan",
    )
    rec.step("activate_offering", actor="$staff", offering_id="$offering")
    rec.step("pause_offering", actor="$provider-owner", offering_id="$offering")
    rec.step("archive_plan", actor="$provider-owner", plan_id="$plan")
    rec.step("resume_offering", actor="$provider-owner", offering_id="$offering")
    return rec


def vector_private_offering_not_visible(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An offering private to one organization is not visible to others: the consumer's "
        "order is refused as offering_not_visible; one private to the consumer's project is "
        "orderable there.",
        start=T0,
    )
    people(rec)
    offering(rec, visibility=PrivateToOrganization("$provider"))
    offering(
        rec,
        as_="mine",
        plans={"mine-plan": (PlanUnit.MONTH, {"cores": "1"})},
        visibility=PrivateToProject("$project"),
    )
    order(rec, as_=None, checked=True)
    order(rec, "own", offering="$mine", plan="$mine-plan", as_=None, checked=True)
    return rec


def vector_limited_offering_visible_to_group(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An offering limited to an organization group is visible only to its members: the "
        "consumer's order is refused as offering_not_visible until staff moves the consumer "
        "into the group.",
        start=T0,
    )
    people(rec)
    rec.setup("create_organization_group", actor="$staff", name="Partners", as_="partners")
    offering(rec, visibility=LimitedTo(organization_group_ids=frozenset({"$partners"})))
    order(rec, as_=None, checked=True)
    rec.step(
        "set_organization_group", actor="$staff", organization_id="$consumer", group_id="$partners"
    )
    order(rec, as_=None, checked=True)
    return rec


def vector_list_orderable_offerings(name: str) -> Recorder:
    rec = Recorder(
        name,
        "What a project sees: list_orderable_offerings lists the active, visible offerings it "
        "can order, leaving out a draft, a paused offering, one private to another "
        "organization and one limited to other organizations.",
        start=T0,
    )
    people(rec)
    rec.setup("create_organization", actor="$staff", name="Chemistry", as_="chemistry")
    offering(rec, as_="shared", plans={"shared-plan": (PlanUnit.MONTH, {"cores": "1"})})
    offering(rec, as_="draft", plans={"draft-plan": (PlanUnit.MONTH, {})}, activate=False)
    offering(rec, as_="paused", plans={"paused-plan": (PlanUnit.MONTH, {})})
    rec.setup("pause_offering", actor="$provider-owner", offering_id="$paused")
    offering(
        rec,
        as_="private",
        plans={"private-plan": (PlanUnit.MONTH, {})},
        visibility=PrivateToOrganization("$chemistry"),
    )
    offering(
        rec,
        as_="limited",
        plans={"limited-plan": (PlanUnit.MONTH, {})},
        visibility=LimitedTo(organization_ids=frozenset({"$chemistry", "$consumer"})),
    )
    offering(
        rec,
        as_="elsewhere",
        plans={"elsewhere-plan": (PlanUnit.MONTH, {})},
        visibility=LimitedTo(organization_ids=frozenset({"$chemistry"})),
    )
    rec.step("list_orderable_offerings", project_id="$project")
    return rec


def vector_plan_archived(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An archived plan takes no new resources and no changes: ordering on it, changing "
        "its prices or archiving it again is refused as plan_archived, while the offering "
        "stays orderable on its other plan.",
        start=T0,
    )
    people(rec)
    offering(
        rec,
        plans={"plan": (PlanUnit.MONTH, {"cores": "2"}), "other": (PlanUnit.DAY, {"cores": "1"})},
    )
    rec.step("archive_plan", actor="$provider-owner", plan_id="$plan")
    order(rec, as_=None, checked=True)
    rec.step("set_plan_prices", actor="$provider-owner", plan_id="$plan", prices={"cores": "1"})
    rec.step("archive_plan", actor="$provider-owner", plan_id="$plan")
    order(rec, plan="$other", as_=None, checked=True)
    return rec


# --------------------------------------------------------------------------- limits


def vector_limit_not_allowed(name: str) -> Recorder:
    rec = Recorder(
        name,
        "Limits are taken only for limit-billed components: a limit on a usage component, on "
        "a fixed one or on a component the offering lacks is refused as limit_not_allowed.",
        start=T0,
    )
    standard(rec)
    for component in ("storage", "base", "gpu"):
        order(rec, limits={"cores": 2, component: 1}, as_=None, checked=True)
    return rec


def vector_limit_out_of_range(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A limit must lie within the component's bounds (cores: 1..64): below, above, or "
        "missing while the minimum is above 0 is refused as limit_out_of_range; the bounds "
        "themselves are accepted.",
        start=T0,
    )
    standard(rec)
    order(rec, limits={"cores": 0}, as_=None, checked=True)
    order(rec, limits={"cores": 65}, as_=None, checked=True)
    order(rec, limits={}, as_=None, checked=True)
    order(rec, "largest", limits={"cores": 64}, as_=None, checked=True)
    return rec


def vector_limit_not_boolean(name: str) -> Recorder:
    rec = Recorder(
        name,
        "An is_boolean limit component is an on/off switch: a limit of 2 is refused as "
        "limit_not_boolean; 0 and 1 are accepted.",
        start=T0,
    )
    backup = OfferingComponent("backup", "Backup", BillingType.LIMIT, is_boolean=True)
    people(rec)
    offering(rec, components=(CORES, backup), plans={"plan": (PlanUnit.MONTH, {"backup": "5"})})
    order(rec, limits={"cores": 1, "backup": 2}, as_=None, checked=True)
    order(rec, "with-backup", limits={"cores": 1, "backup": 1}, as_=None, checked=True)
    order(rec, "without-backup", limits={"cores": 1, "backup": 0}, as_=None, checked=True)
    return rec


def vector_limit_period_amount_exceeded(name: str) -> Recorder:
    rec = Recorder(
        name,
        "A component's limit_amount caps the limits a project allocates per limit_period "
        "(here 10 cores a month): with 6 held, asking for 5 more is refused as "
        "limit_period_amount_exceeded; 4 more reaches the cap exactly and is accepted.",
        start=T0,
    )
    capped = OfferingComponent(
        "cores",
        "Cores",
        BillingType.LIMIT,
        "core",
        min_value=1,
        max_value=64,
        limit_period=LimitPeriod.MONTH,
        limit_amount=10,
    )
    people(rec)
    offering(rec, components=(capped,), plans={"plan": (PlanUnit.MONTH, {"cores": "2"})})
    order(rec, "first", limits={"cores": 6})
    order(rec, "second", limits={"cores": 5}, as_=None, checked=True)
    order(rec, "second", limits={"cores": 4}, as_=None, checked=True)
    return rec


def vector_offering_limit_cap_exceeded(name: str) -> Recorder:
    rec = Recorder(
        name,
        "max_available_limit caps the sum of a component's limits over every live resource of "
        "the offering (here 8 cores): with 6 allocated, asking for 3 is refused as "
        "offering_limit_cap_exceeded; 2 reaches the cap exactly and is accepted.",
        start=T0,
    )
    capped = OfferingComponent(
        "cores",
        "Cores",
        BillingType.LIMIT,
        "core",
        min_value=1,
        max_value=64,
        max_available_limit=8,
    )
    people(rec)
    offering(rec, components=(capped,), plans={"plan": (PlanUnit.MONTH, {"cores": "2"})})
    order(rec, "first", limits={"cores": 6})
    order(rec, "second", limits={"cores": 3}, as_=None, checked=True)
    order(rec, "second", as_=None, checked=True)
    return rec

"""What the integration adds to the domain's pages, through the domain's extension slots.

Nothing shows while the integration is switched off (F1).
"""

from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from picsweb import roles

from .models import Enrolment, OfficerLink, OrganisationLink, SyncChange, SyncRun
from .permissions import integration_enabled

SYNCED_STATES = Enrolment.SYNCED_STATES
# The latest refresh shows what it changed, up to this many fields; the history has the rest.
REFRESH_CHANGES_SHOWN = 20


def _link_panel(request, *, owner, link_model, owner_field: str, id_field: str, kind: str) -> str:
    """An officer's or organisation's SA link, with Look Up Smart Assessor ID (F5, F6)."""
    if not integration_enabled():
        return ""
    link = link_model.objects.filter(**{owner_field: owner}).select_related("linked_by").first()
    return render_to_string(
        "smartassessor/_link_panel.html",
        {
            "link": link,
            "sa_id": getattr(link, id_field) if link else None,
            "kind": kind,
            "lookup_url_name": f"smartassessor:{owner_field}_lookup",
            "owner": owner,
            "can_link": request.user.has_perm(roles.MANAGE_INTEGRATION),
        },
        request=request,
    )


def officer_panel(request, officer) -> str:
    return _link_panel(
        request,
        owner=officer,
        link_model=OfficerLink,
        owner_field="officer",
        id_field="assessor_id",
        kind="assessor",
    )


def organisation_panel(request, organisation) -> str:
    return _link_panel(
        request,
        owner=organisation,
        link_model=OrganisationLink,
        owner_field="organisation",
        id_field="employer_id",
        kind="employer",
    )


def _learner_block_context(request, learner) -> dict:
    enrolment = (
        Enrolment.objects.filter(learner=learner, is_current=True)
        .select_related("requested_by")
        .prefetch_related("courses__learner_qualification__qualification")
        .first()
    )
    synced = enrolment is not None and enrolment.state in SYNCED_STATES
    refresh = None
    if synced:
        changes = SyncChange.objects.filter(applied=True).order_by("id")
        refresh = (
            SyncRun.objects.filter(learner=learner, trigger=SyncRun.Trigger.LEARNER)
            .select_related("requested_by")
            .prefetch_related(Prefetch("changes", changes), "learner_errors")
            .first()
        )
    refresh_changes = list(refresh.changes.all()) if refresh else []
    in_progress = enrolment is not None and enrolment.state in Enrolment.ACTIVE_STATES
    return {
        "learner": learner,
        "enrolment": enrolment,
        "in_progress": in_progress or (refresh is not None and refresh.is_active),
        "synced": synced,
        "refresh": refresh,
        "refresh_changes": refresh_changes[:REFRESH_CHANGES_SHOWN],
        "refresh_changes_more": max(0, len(refresh_changes) - REFRESH_CHANGES_SHOWN),
        "can_enrol": request.user.has_perm(roles.ENROL),
        "can_set_id": request.user.has_perm(roles.SET_LEARNER_SA_ID),
    }


def learner_panel(request, learner) -> str:
    """The Smart Assessor block at the foot of the learner-details panel (F7)."""
    if not integration_enabled():
        return ""
    return render_to_string(
        "smartassessor/_learner_block.html", _learner_block_context(request, learner), request
    )


def learner_block_response(request, learner, *, reload_when_done: bool = False):
    """The block alone, for htmx. A poll that finds the work done reloads the whole page
    instead, so the qualifications and reviews beside the block show what arrived."""
    context = _learner_block_context(request, learner)
    if reload_when_done and not context["in_progress"]:
        return HttpResponse(status=204, headers={"HX-Refresh": "true"})
    return render(request, "smartassessor/_learner_block.html", context)


def learner_list_actions(request, _obj) -> str:
    if not integration_enabled() or not request.user.has_perm(roles.ENROL):
        return ""
    return render_to_string("smartassessor/_list_actions.html", request=request)

"""What the integration adds to the domain's pages, through the domain's extension slots.

Nothing shows while the integration is switched off (F1).
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from learners.models import Learner, Officer, Organisation
from picsweb import roles

from .in_words import changes_for_people, refresh_summary
from .linked_records import ASSESSOR, EMPLOYER, LinkedRecordKind, Owner
from .models import Enrolment, Push
from .permissions import integration_enabled
from .selectors.enrolments import learner_enrolment_current_with_courses
from .selectors.links import sa_link_get
from .selectors.pushes import learner_push_lines
from .selectors.sync_runs import learner_refresh_latest_with_changes

SYNCED_STATES = Enrolment.SYNCED_STATES
# The latest refresh shows what it changed, up to this many fields; the history has the rest.
REFRESH_CHANGES_SHOWN = 20


def _link_panel(request: HttpRequest, *, kind: LinkedRecordKind, owner: Owner) -> str:
    """An officer's or organisation's SA link, with Look Up Smart Assessor ID (F5, F6)."""
    if not integration_enabled():
        return ""
    link = sa_link_get(kind=kind, owner=owner)
    return render_to_string(
        "smartassessor/_link_panel.html",
        {
            "link": link,
            "sa_id": getattr(link, kind.sa_id_field) if link else None,
            "kind": kind.sa_name,
            "lookup_url_name": kind.lookup_url_name,
            "owner": owner,
            "can_link": request.user.has_perm(roles.MANAGE_INTEGRATION),
        },
        request=request,
    )


def officer_panel(request: HttpRequest, officer: Officer) -> str:
    return _link_panel(request, kind=ASSESSOR, owner=officer)


def organisation_panel(request: HttpRequest, organisation: Organisation) -> str:
    return _link_panel(request, kind=EMPLOYER, owner=organisation)


def _learner_block_context(request: HttpRequest, learner: Learner) -> dict[str, Any]:
    enrolment = learner_enrolment_current_with_courses(learner=learner)
    synced = enrolment is not None and enrolment.state in SYNCED_STATES
    refresh = learner_refresh_latest_with_changes(learner=learner) if synced else None
    # Sorted and summed up for people: the summary counts every change, the list shows the first.
    refresh_changes = changes_for_people(refresh.changes.all()) if refresh else []
    in_progress = enrolment is not None and enrolment.state in Enrolment.ACTIVE_STATES
    push_lines = learner_push_lines(learner=learner) if enrolment is not None else []
    pushing = any(line.push.state in Push.ACTIVE_STATES for line in push_lines)
    return {
        "learner": learner,
        "enrolment": enrolment,
        "push_lines": push_lines,
        "in_progress": in_progress or pushing or (refresh is not None and refresh.is_active),
        "synced": synced,
        "refresh": refresh,
        "refresh_summary": refresh_summary(refresh_changes),
        "refresh_changes": refresh_changes[:REFRESH_CHANGES_SHOWN],
        "refresh_changes_more": max(0, len(refresh_changes) - REFRESH_CHANGES_SHOWN),
        "can_enrol": request.user.has_perm(roles.ENROL),
        "can_set_id": request.user.has_perm(roles.SET_LEARNER_SA_ID),
    }


def learner_panel(request: HttpRequest, learner: Learner) -> str:
    """The Smart Assessor block at the foot of the learner-details panel (F7)."""
    if not integration_enabled():
        return ""
    return render_to_string(
        "smartassessor/_learner_block.html", _learner_block_context(request, learner), request
    )


def learner_block_response(
    request: HttpRequest, learner: Learner, *, reload_when_done: bool = False
) -> HttpResponse:
    """The block alone, for htmx. A poll that finds the work done reloads the whole page
    instead, so the qualifications and reviews beside the block show what arrived."""
    context = _learner_block_context(request, learner)
    if reload_when_done and not context["in_progress"]:
        return HttpResponse(status=204, headers={"HX-Refresh": "true"})
    return render(request, "smartassessor/_learner_block.html", context)


def learner_list_actions(request: HttpRequest, _obj: object) -> str:
    if not integration_enabled() or not request.user.has_perm(roles.ENROL):
        return ""
    return render_to_string("smartassessor/_list_actions.html", request=request)

"""Create in Smart Assessor on the Delivery Plan and the learner list (F7–F10, F12, F23)."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from learners.models import Learner
from picsweb import roles
from picsweb.errors import ApplicationError
from picsweb.http import HtmxHttpRequest

from . import panels
from .models import Enrolment, Push
from .permissions import require_permission
from .selectors import enrolments as selectors
from .selectors.enrolment_preview import enrolment_preview, enrolment_previews
from .services import enrolment_requests, learner_sa_id, party_lookup, pushes

enrol_required = require_permission(roles.ENROL)
set_id_required = require_permission(roles.SET_LEARNER_SA_ID)


def _learner(ident: str) -> Learner:
    return get_object_or_404(Learner, ident=ident)


def _block_or_plan(request: HtmxHttpRequest, learner: Learner) -> HttpResponse:
    if request.htmx:
        return panels.learner_block_response(request, learner)
    return redirect(learner.get_absolute_url())


@require_GET
@enrol_required
def preview(request: HtmxHttpRequest, ident: str) -> HttpResponse:
    """The preview. The dialog opens it with ``?part=shell``: from the MIS's own data, at once,
    and what Smart Assessor holds of the employer and assessors is asked afterwards
    (``?part=parties``, loaded by htmx into the open dialog), so a slow or silent Smart
    Assessor never keeps the dialog from opening. Without JavaScript the page asks at once."""
    learner = _learner(ident)
    part = request.GET.get("part")
    if part == "parties":
        return render(
            request,
            "smartassessor/_preview_parties.html",
            {"preview": party_lookup.enrolment_preview_looked_up(learner=learner), "asked": True},
        )
    template = "smartassessor/_preview.html" if request.htmx else "smartassessor/preview.html"
    if part == "shell":
        preview = enrolment_preview(learner=learner)
    else:
        preview = party_lookup.enrolment_preview_looked_up(learner=learner)
    return render(
        request,
        template,
        {"preview": preview, "asked": part != "shell" or all(p.sa_id for p in preview.parties)},
    )


@require_POST
@enrol_required
def confirm(request: HtmxHttpRequest, ident: str) -> HttpResponse:
    learner = _learner(ident)
    try:
        _, created = enrolment_requests.enrolment_request(learner=learner, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("smartassessor:enrol_preview", ident=ident)
    if created:
        messages.success(request, f"{learner.full_name} is queued for Smart Assessor.")
    else:
        messages.info(request, f"{learner.full_name} is already in Smart Assessor or queued.")
    return _block_or_plan(request, learner)


@require_GET
@enrol_required
def status(request: HtmxHttpRequest, ident: str) -> HttpResponse:
    return panels.learner_block_response(
        request, _learner(ident), reload_when_done=bool(request.GET.get("polling"))
    )


@require_POST
@enrol_required
def retry(request: HtmxHttpRequest, ident: str) -> HttpResponse:
    learner = _learner(ident)
    current = selectors.learner_enrolment_current(learner=learner)
    if current is None:
        raise Http404("The learner has no current enrolment.")
    try:
        enrolment_requests.enrolment_retry(enrolment=current, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The enrolment is queued again with the learner's current data.")
    return _block_or_plan(request, learner)


@require_POST
@enrol_required
def push_retry(request: HtmxHttpRequest, ident: str, pk: int) -> HttpResponse:
    """Send a refused change again (F28), rebuilt from the learner's current data."""
    learner = _learner(ident)
    push = get_object_or_404(Push.objects.select_related("course"), pk=pk, learner=learner)
    try:
        pushes.push_retry(push=push, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The change is queued again with the learner's current data.")
    return _block_or_plan(request, learner)


@set_id_required
def set_sa_id(request: HtmxHttpRequest, ident: str) -> HttpResponse:
    """Support's manual edit (F12): check the id, show who it is, then save with a reason."""
    learner = _learner(ident)
    current = selectors.learner_enrolment_current(learner=learner)
    context: dict[str, Any] = {
        "learner": learner,
        "current": current,
        "error": "",
        "sa_learner": None,
    }
    if request.method == "POST":
        sa_id = request.POST.get("sa_learner_id", "").strip()
        reason = request.POST.get("reason", "").strip()
        context.update(sa_learner_id=sa_id, reason=reason)
        try:
            if request.POST.get("action") == "clear":
                learner_sa_id.learner_sa_id_clear(
                    learner=learner, reason=reason, actor=request.user
                )
                messages.success(request, "The Smart Assessor link is cleared.")
                return redirect(learner.get_absolute_url())
            if request.POST.get("action") == "save":
                learner_sa_id.learner_sa_id_set(
                    learner=learner, sa_learner_id=sa_id, reason=reason, actor=request.user
                )
                messages.success(
                    request,
                    f"{learner.full_name} is linked to {sa_id}; a refresh with Smart Assessor "
                    "has started.",
                )
                return redirect(learner.get_absolute_url())
            context["sa_learner"] = learner_sa_id.sa_learner_lookup(sa_learner_id=sa_id)
        except ApplicationError as exc:
            context["error"] = exc.message
    return render(request, "smartassessor/set_sa_id.html", context)


def _selected_learners(request: HtmxHttpRequest) -> list[Learner]:
    return selectors.learners_by_ident(idents=request.POST.getlist("learners"))


@require_POST
@enrol_required
def bulk_preview(request: HtmxHttpRequest) -> HttpResponse:
    learners = _selected_learners(request)
    if not learners:
        messages.error(request, "Tick the learners to create in Smart Assessor first.")
        return redirect("learners:list")
    previews = enrolment_previews(learners=learners)
    return render(
        request,
        "smartassessor/bulk_preview.html",
        {
            "previews": previews,
            "ready": [p for p in previews if p.can_confirm],
        },
    )


@require_POST
@enrol_required
def bulk_confirm(request: HtmxHttpRequest) -> HttpResponse:
    enrolments = enrolment_requests.enrolments_request(
        learners=_selected_learners(request), actor=request.user
    )
    ids = [str(enrolment.pk) for enrolment in enrolments]
    return redirect(reverse("smartassessor:bulk_results") + "?ids=" + ",".join(ids))


@require_GET
@enrol_required
def bulk_results(request: HtmxHttpRequest) -> HttpResponse:
    ids = [int(pk) for pk in request.GET.get("ids", "").split(",") if pk.isdigit()]
    enrolments = selectors.enrolments_by_learner_name(ids=ids)
    finished = sum(e.state not in Enrolment.ACTIVE_STATES for e in enrolments)
    template = (
        "smartassessor/_bulk_results.html" if request.htmx else "smartassessor/bulk_results.html"
    )
    return render(
        request,
        template,
        {
            "enrolments": enrolments,
            "finished": finished,
            "total": len(enrolments),
            "ids": request.GET.get("ids", ""),
        },
    )

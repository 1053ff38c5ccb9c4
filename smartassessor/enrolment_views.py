"""Create in Smart Assessor on the Delivery Plan and the learner list (F7–F10, F12, F23)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from learners.models import Learner
from picsweb import roles
from picsweb.errors import ApplicationError

from . import panels
from .models import Enrolment
from .permissions import require_permission
from .services import enrolment as service

enrol_required = require_permission(roles.ENROL)
set_id_required = require_permission(roles.SET_LEARNER_SA_ID)


def _learner(ident: str) -> Learner:
    return get_object_or_404(Learner, ident=ident)


def _block_or_plan(request, learner: Learner):
    if request.htmx:
        return panels.learner_block_response(request, learner)
    return redirect(learner.get_absolute_url())


@require_GET
@enrol_required
def preview(request, ident: str):
    learner = _learner(ident)
    template = "smartassessor/_preview.html" if request.htmx else "smartassessor/preview.html"
    return render(request, template, {"preview": service.enrolment_preview(learner=learner)})


@require_POST
@enrol_required
def confirm(request, ident: str):
    learner = _learner(ident)
    try:
        _, created = service.enrolment_request(learner=learner, actor=request.user)
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
def status(request, ident: str):
    return panels.learner_block_response(
        request, _learner(ident), reload_when_done=bool(request.GET.get("polling"))
    )


@require_POST
@enrol_required
def retry(request, ident: str):
    learner = _learner(ident)
    current = get_object_or_404(Enrolment, learner=learner, is_current=True)
    try:
        service.enrolment_retry(enrolment=current, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The enrolment is queued again with the learner's current data.")
    return _block_or_plan(request, learner)


@set_id_required
def set_sa_id(request, ident: str):
    """Support's manual edit (F12): check the id, show who it is, then save with a reason."""
    learner = _learner(ident)
    current = Enrolment.objects.filter(learner=learner, is_current=True).first()
    context = {"learner": learner, "current": current, "error": "", "sa_learner": None}
    if request.method == "POST":
        sa_id = request.POST.get("sa_learner_id", "").strip()
        reason = request.POST.get("reason", "").strip()
        context.update(sa_learner_id=sa_id, reason=reason)
        try:
            if request.POST.get("action") == "clear":
                service.learner_sa_id_clear(learner=learner, reason=reason, actor=request.user)
                messages.success(request, "The Smart Assessor link is cleared.")
                return redirect(learner.get_absolute_url())
            if request.POST.get("action") == "save":
                service.learner_sa_id_set(
                    learner=learner, sa_learner_id=sa_id, reason=reason, actor=request.user
                )
                messages.success(
                    request,
                    f"{learner.full_name} is linked to {sa_id}; a refresh with Smart Assessor "
                    "has started.",
                )
                return redirect(learner.get_absolute_url())
            context["sa_learner"] = service.sa_learner_lookup(sa_learner_id=sa_id)
        except ApplicationError as exc:
            context["error"] = exc.message
    return render(request, "smartassessor/set_sa_id.html", context)


def _selected_learners(request) -> list[Learner]:
    idents = request.POST.getlist("learners")
    return list(Learner.objects.filter(ident__in=idents).order_by("surname", "first_name"))


@require_POST
@enrol_required
def bulk_preview(request):
    learners = _selected_learners(request)
    if not learners:
        messages.error(request, "Tick the learners to create in Smart Assessor first.")
        return redirect("learners:list")
    previews = service.enrolment_previews(learners=learners)
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
def bulk_confirm(request):
    enrolments = service.enrolments_request(
        learners=_selected_learners(request), actor=request.user
    )
    ids = [str(enrolment.pk) for enrolment in enrolments]
    return redirect(reverse("smartassessor:bulk_results") + "?ids=" + ",".join(ids))


@require_GET
@enrol_required
def bulk_results(request):
    ids = [int(pk) for pk in request.GET.get("ids", "").split(",") if pk.isdigit()]
    enrolments = list(
        Enrolment.objects.filter(pk__in=ids)
        .select_related("learner")
        .prefetch_related("courses__learner_qualification__qualification")
        .order_by("learner__surname", "learner__first_name")
    )
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

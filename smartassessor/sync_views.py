"""Synchronisation pages (F14, F21, F25): Refresh with Smart Assessor, the sync history of a
learner, the runs and their outcome, and approving or discarding a held run."""

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from learners.models import Learner
from picsweb import roles
from picsweb.errors import ApplicationError
from picsweb.http import HtmxHttpRequest

from . import panels
from .models import SyncRun
from .permissions import manage_integration_required, require_permission
from .selectors import sync_runs as selectors
from .services import sync as service

enrol_required = require_permission(roles.ENROL)
manage_while_enabled = require_permission(roles.MANAGE_INTEGRATION)

HISTORY_PAGE_SIZE = 50
CHANGES_PAGE_SIZE = 100


def _page(request: HtmxHttpRequest, queryset: QuerySet[Model], size: int) -> Page[Model]:
    return Paginator(queryset, size).get_page(request.GET.get("page"))


@require_POST
@enrol_required
def refresh(request: HtmxHttpRequest, ident: str) -> HttpResponse:
    learner = get_object_or_404(Learner, ident=ident)
    try:
        _, created = service.learner_refresh_request(learner=learner, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if not request.htmx:
            messages.info(
                request,
                "Refresh with Smart Assessor has started; reload the page to see what changed."
                if created
                else "A refresh of this learner is already under way.",
            )
    if request.htmx:
        return panels.learner_block_response(request, learner)
    return redirect(learner.get_absolute_url())


@require_GET
@enrol_required
def learner_history(request: HtmxHttpRequest, ident: str) -> HttpResponse:
    learner = get_object_or_404(Learner, ident=ident)
    changes = selectors.learner_sync_changes(learner=learner)
    return render(
        request,
        "smartassessor/sync_history.html",
        {"learner": learner, "page": _page(request, changes, HISTORY_PAGE_SIZE)},
    )


@require_GET
@manage_integration_required
def runs(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        "smartassessor/sync_runs.html",
        {"section": "smartassessor", "page": _page(request, selectors.sync_runs_recent(), 25)},
    )


@require_GET
@manage_integration_required
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(selectors.sync_runs_for_detail(), pk=pk)
    held = run.state == SyncRun.State.HELD
    changes = selectors.sync_run_changes(run=run, held=held)
    return render(
        request,
        "smartassessor/sync_run.html",
        {
            "section": "smartassessor",
            "run": run,
            "held": held,
            "errors": selectors.sync_run_errors(run=run),
            "page": _page(request, changes, CHANGES_PAGE_SIZE),
        },
    )


@require_POST
@manage_while_enabled
def run_approve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(SyncRun, pk=pk)
    try:
        service.sync_run_approve(run=run, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Approved: the held changes are being applied.")
    return redirect("smartassessor:sync_run", pk=pk)


@require_POST
@manage_while_enabled
def run_discard(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(SyncRun, pk=pk)
    try:
        service.sync_run_discard(run=run, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, "Discarded: none of its detail changes was made; the next run reads on."
        )
    return redirect("smartassessor:sync_run", pk=pk)

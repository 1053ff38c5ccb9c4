"""Synchronisation pages (F14, F21, F25, F31): Refresh with Smart Assessor, the sync history of
a learner, the runs with their live progress and outcome, approving or discarding a held run,
and Preview the next synchronisation (a dry run)."""

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
from .forms import SyncRunFilterForm
from .models import SyncRun
from .permissions import manage_integration_required, require_permission
from .selectors import sync_runs as selectors
from .services import sync as service

enrol_required = require_permission(roles.ENROL)
manage_while_enabled = require_permission(roles.MANAGE_INTEGRATION)

HISTORY_PAGE_SIZE = 50
CHANGES_PAGE_SIZE = 100
RUNS_PAGE_SIZE = 25


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
    filters = SyncRunFilterForm(request.GET)
    chosen = filters.filters()
    runs = selectors.sync_runs_filtered(**chosen)
    return render(
        request,
        "smartassessor/sync_runs.html",
        {
            "section": "smartassessor",
            "filters": filters,
            "filtered": bool(chosen),
            "page": _page(request, runs, RUNS_PAGE_SIZE),
        },
    )


@require_GET
@manage_integration_required
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The run's page; asked by htmx (every 2 s while the run is going), only its body."""
    run = get_object_or_404(selectors.sync_runs_for_detail(), pk=pk)
    planned = selectors.sync_run_shows_plan(run)
    changes = selectors.sync_run_changes(run=run, planned=planned)
    template = (
        "smartassessor/_sync_run_body.html" if request.htmx else "smartassessor/sync_run.html"
    )
    return render(
        request,
        template,
        {
            "section": "smartassessor",
            "run": run,
            "held": run.state == SyncRun.State.HELD,
            "planned": planned,
            "counts": selectors.sync_run_change_counts(run=run, planned=planned),
            "errors": selectors.sync_run_errors(run=run),
            "page": _page(request, changes, CHANGES_PAGE_SIZE),
        },
    )


@require_GET
@manage_integration_required
def run_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A run's outcome in a list of runs: its progress while it goes (asked every 2 s), then
    its result."""
    run = get_object_or_404(selectors.sync_runs_recent(), pk=pk)
    return render(request, "smartassessor/_sync_run_status.html", {"run": run})


@require_POST
@manage_while_enabled
def dry_run(request: HtmxHttpRequest) -> HttpResponse:
    """Preview the next synchronisation (F25): its plan, with nothing written."""
    run = service.dry_run_request(actor=request.user)
    messages.info(
        request,
        "The preview has started: this page shows its progress, then what the next "
        "synchronisation would change. Nothing is written.",
    )
    return redirect("smartassessor:sync_run", pk=run.pk)


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

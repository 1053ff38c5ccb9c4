"""The ILR import's pages (F32): upload, the preview built in the background, commit. Integration
admins only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from picsweb import roles

from . import services
from .ilr import IlrFileError
from .lars import LarsFileError, lars_import
from .models import IlrImport, ImportState

PAGE_SIZE = 50
OUTCOME_LABELS = {
    services.NEW: "New",
    services.CHANGED: "Changed",
    services.UNCHANGED: "Unchanged",
    services.CONFLICT: "Conflicts",
    services.REFUSED: "Refused",
}


def _allowed(request: HttpRequest) -> None:
    if not request.user.has_perm(roles.MANAGE_INTEGRATION):
        raise PermissionDenied


@login_required
@require_http_methods(["GET", "POST"])
def ilr_upload(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "Choose an ILR XML file to upload.")
        else:
            try:
                record = services.upload_store(upload=upload, user=request.user)  # type: ignore[arg-type]
            except IlrFileError as error:
                messages.error(request, str(error))
            else:
                return redirect("imports:ilr_preview", pk=record.pk)
    return _import_page(request)


def _import_page(request: HttpRequest, **context: object) -> HttpResponse:
    recent = IlrImport.objects.select_related("user")[:10]
    return render(
        request,
        "imports/ilr_upload.html",
        {"section": "imports", "recent": recent, **context},
    )


@login_required
@require_POST
def lars_upload(request: HttpRequest) -> HttpResponse:
    """The qualification catalogue from LARS CSV files (F33), or what they would change."""
    _allowed(request)
    files = request.FILES.getlist("files")
    dry_run = request.POST.get("dry_run") == "on"
    if not files:
        messages.error(request, "Choose the LARS CSV files to upload.")
        return _import_page(request)
    try:
        result = lars_import(files, dry_run=dry_run)
    except LarsFileError as error:
        messages.error(request, error.message)
        return _import_page(request)
    return _import_page(request, lars=result)


@login_required
def ilr_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The import as it stands: its progress while busy; then its counts and a row per learner
    (what the commit would do, or did), filtered by outcome; the Commit button on a preview."""
    _allowed(request)
    record = get_object_or_404(IlrImport, pk=pk)
    outcome = request.GET.get("outcome", "")
    rows = record.rows.all()
    if outcome in OUTCOME_LABELS:
        rows = rows.filter(outcome=outcome)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "section": "imports",
        "record": record,
        "summary": record.counts,
        "page": page,
        "outcome": outcome,
        "outcomes": [
            (key, label, record.counts.get(key, 0)) for key, label in OUTCOME_LABELS.items()
        ],
        "can_commit": record.state == ImportState.PREVIEWED and bool(record.stored_name),
    }
    return render(request, "imports/ilr_preview.html", context)


@login_required
def ilr_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress of a busy import, polled by its page; once done the page reloads."""
    _allowed(request)
    record = get_object_or_404(IlrImport, pk=pk)
    if not record.is_busy:
        return HttpResponseClientRefresh()
    return render(request, "imports/_ilr_progress.html", {"record": record})


@login_required
@require_POST
def ilr_commit(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    record = get_object_or_404(IlrImport, pk=pk)
    try:
        services.upload_commit(record=record, user=request.user)  # type: ignore[arg-type]
    except IlrFileError as error:
        messages.error(request, str(error))
    return redirect("imports:ilr_preview", pk=record.pk)

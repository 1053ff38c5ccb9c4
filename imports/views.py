"""The ILR import's pages (F32): upload, preview, commit. Integration admins only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from picsweb import roles

from . import services
from .ilr import IlrFileError
from .models import IlrImport, ImportState

PAGE_SIZE = 50


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
    recent = IlrImport.objects.all()[:10]
    return render(request, "imports/ilr_upload.html", {"section": "imports", "recent": recent})


@login_required
def ilr_preview(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    record = get_object_or_404(IlrImport, pk=pk)
    if record.state != ImportState.PREVIEWED or not record.stored_name:
        return render(request, "imports/ilr_result.html", {"section": "imports", "record": record})
    try:
        plan = services.upload_plan(record=record)
    except IlrFileError as error:
        messages.error(request, str(error))
        return redirect("imports:ilr_upload")
    page = Paginator(plan.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"section": "imports", "record": record, "summary": plan.summary(), "page": page}
    return render(request, "imports/ilr_preview.html", context)


@login_required
@require_POST
def ilr_commit(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    record = get_object_or_404(IlrImport, pk=pk)
    try:
        services.upload_commit(record=record, user=request.user)  # type: ignore[arg-type]
    except IlrFileError as error:
        messages.error(request, str(error))
        return redirect("imports:ilr_upload")
    messages.success(request, f"The ILR file {record.file_name} is imported.")
    return redirect("imports:ilr_preview", pk=record.pk)

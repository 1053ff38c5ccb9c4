"""The reconciliation report's pages (F24): the report with its counts, filters and paging,
Build the report (in the background, its progress polled), and Link from a line."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from picsweb import roles
from picsweb.errors import ApplicationError
from picsweb.http import HtmxHttpRequest

from .models import Reconciliation, ReconciliationFinding
from .permissions import require_permission
from .selectors import reconciliation as selectors
from .services import reconciliation as service

reconcile_required = require_permission(roles.RECONCILE)

FINDINGS_PAGE_SIZE = 50


class FindingFilterForm(forms.Form):
    category = forms.ChoiceField(
        label="Category",
        required=False,
        choices=[("", "Every category"), *ReconciliationFinding.Category.choices],
    )
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        help_text="Names, ids, MIS ids, ULN, email, EDRS number or postcode.",
    )

    def filters(self) -> dict[str, str]:
        """The filters that are valid (an invalid one is left out and shows its error)."""
        self.is_valid()
        return {
            "category": self.cleaned_data.get("category") or "",
            "search": (self.cleaned_data.get("q") or "").strip(),
        }


@require_GET
@reconcile_required
def report(request: HtmxHttpRequest) -> HttpResponse:
    latest = selectors.reconciliation_latest()
    shown = selectors.reconciliation_report()
    filters = FindingFilterForm(request.GET)
    chosen = filters.filters()
    page = None
    if shown is not None:
        findings = selectors.reconciliation_findings(report=shown, **chosen)
        page = Paginator(findings, FINDINGS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "smartassessor/reconciliation.html",
        {
            "section": "reconciliation",
            "latest": latest,
            "report": shown,
            "counts": selectors.reconciliation_counts(report=shown),
            "filters": filters,
            "filtered": any(chosen.values()),
            "page": page,
            "can_link_learners": request.user.has_perm(roles.SET_LEARNER_SA_ID),
            "can_link_records": request.user.has_perm(roles.MANAGE_INTEGRATION),
        },
    )


@require_POST
@reconcile_required
def build(request: HtmxHttpRequest) -> HttpResponse:
    _, created = service.reconciliation_request(actor=request.user)
    if created:
        messages.info(
            request,
            "The report is being built from Smart Assessor's lists: this page shows its "
            "progress, then the report.",
        )
    else:
        messages.info(request, "A report is already being built: this page shows its progress.")
    return redirect("smartassessor:reconciliation")


@require_GET
@reconcile_required
def build_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The build's progress, asked every 2 s while it goes; once it has ended, the whole page
    is loaded again to show the report it made (or why it failed)."""
    latest = get_object_or_404(Reconciliation.objects.select_related("requested_by"), pk=pk)
    response = render(request, "smartassessor/_reconciliation_build.html", {"latest": latest})
    if request.htmx and not latest.is_active:
        response["HX-Refresh"] = "true"
    return response


@require_POST
@reconcile_required
def link(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    finding = get_object_or_404(
        ReconciliationFinding.objects.select_related(
            "report", "learner", "organisation", "officer"
        ),
        pk=pk,
    )
    if not request.user.has_perm(service.finding_link_permission(finding)):
        raise PermissionDenied
    try:
        done = service.reconciliation_link(finding=finding, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = reverse("smartassessor:reconciliation")
    return redirect(back)

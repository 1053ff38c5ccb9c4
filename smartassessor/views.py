from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from learners.models import Officer, Organisation
from picsweb import roles
from picsweb.errors import ApplicationError

from . import mapping, selectors
from .client import SmartAssessorError
from .connection import connection_check
from .forms import LinkChoiceForm, ReviewTypeMappingForm
from .models import IntegrationSettings, LinkRefresh, OfficerLink, OrganisationLink
from .permissions import manage_integration_required, require_permission
from .services import links

LOOKUP_PAGE_SIZE = 20
RECENT_RUNS = 10

manage_while_enabled = require_permission(roles.MANAGE_INTEGRATION)


def _event_types():
    """SA's event types, or an error message when SA cannot be asked now."""
    try:
        return links.event_types_fetch(), ""
    except (SmartAssessorError, ApplicationError) as exc:
        return (), f"The event types could not be read from Smart Assessor: {exc}"


@require_GET
@manage_integration_required
def summary(request):
    settings = IntegrationSettings.load()
    event_types, event_types_error = _event_types() if settings.enabled else ((), "")
    form = ReviewTypeMappingForm(event_types=event_types, current=selectors.review_type_mappings())
    return render(
        request,
        "smartassessor/summary.html",
        {
            "section": "smartassessor",
            "settings": settings,
            "counts": selectors.enrolment_counts(),
            "refresh": selectors.link_refresh_latest(),
            "last_sync": selectors.sync_run_last_finished(),
            "runs": selectors.sync_runs_recent()[:RECENT_RUNS],
            "mapping_form": form,
            "event_types_error": event_types_error,
        },
    )


@require_POST
@manage_integration_required
def test_connection(request):
    try:
        result, error = connection_check(), ""
    except ApplicationError as exc:
        result, error = None, exc.message
    context = {"result": result, "error": error}
    if request.htmx:
        return render(request, "smartassessor/_connection_result.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            f"Connected: {result.course_count} courses, round trip {result.round_trip_ms:.0f} ms.",
        )
    return redirect("smartassessor:summary")


@require_POST
@manage_while_enabled
def refresh_links(request):
    refresh = links.link_refresh_request(actor=request.user)
    if request.htmx:
        return render(request, "smartassessor/_link_refresh.html", {"refresh": refresh})
    messages.info(request, "Refresh Qualification Links has started; its result shows below.")
    return redirect("smartassessor:summary")


@require_GET
@manage_integration_required
def link_refresh_status(request, pk: int):
    refresh = get_object_or_404(LinkRefresh.objects.select_related("requested_by"), pk=pk)
    return render(request, "smartassessor/_link_refresh.html", {"refresh": refresh})


@require_POST
@manage_while_enabled
def review_mapping(request):
    event_types, error = _event_types()
    if error:
        messages.error(request, error)
        return redirect("smartassessor:summary")
    form = ReviewTypeMappingForm(
        request.POST, event_types=event_types, current=selectors.review_type_mappings()
    )
    if form.is_valid():
        links.review_type_mapping_save(
            mapping=form.mapping(),
            names={t.code: t.name for t in event_types},
            actor=request.user,
        )
        messages.success(request, "The review type mapping is saved.")
    else:
        messages.error(request, "Choose a review type or Ignore for each event type.")
    return redirect("smartassessor:summary")


@require_GET
@manage_integration_required
def data_exchange(request):
    return render(
        request,
        "smartassessor/data_exchange.html",
        {"section": "smartassessor", "exchanges": mapping.DATA_EXCHANGE},
    )


def _lookup(request, *, owner, kind: str, link, fetch_page, set_link):
    """The look-up window (F5, F6): search SA's records page by page, choose one, save."""
    error = ""
    if request.method == "POST":
        form = LinkChoiceForm(request.POST)
        if form.is_valid():
            try:
                set_link(form.cleaned_data["sa_id"])
            except ApplicationError as exc:
                error = exc.message
            else:
                messages.success(
                    request,
                    f"{owner} is linked to Smart Assessor {kind} {form.cleaned_data['sa_id']}.",
                )
                return redirect(owner.get_absolute_url())
        else:
            error = "Choose a record from the list."
    query = request.GET.get("q", "").strip()
    try:
        page_number = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page_number = 1
    try:
        page = fetch_page(search=query or None, page=page_number, page_size=LOOKUP_PAGE_SIZE)
    except (SmartAssessorError, ApplicationError) as exc:
        page, error = None, error or f"Smart Assessor could not be searched: {exc}"
    template = "smartassessor/_lookup.html" if request.htmx else "smartassessor/lookup.html"
    return render(
        request,
        template,
        {
            "owner": owner,
            "kind": kind,
            "link": link,
            "query": query,
            "page": page,
            "page_number": page_number,
            "has_next": bool(page and page_number * LOOKUP_PAGE_SIZE < page.total_count),
            "error": error,
        },
    )


@manage_while_enabled
def officer_lookup(request, pk: int):
    officer = get_object_or_404(Officer, pk=pk)
    return _lookup(
        request,
        owner=officer,
        kind="assessor",
        link=OfficerLink.objects.filter(officer=officer).first(),
        fetch_page=links.assessors_search,
        set_link=lambda sa_id: links.officer_link_set(
            officer=officer, assessor_id=sa_id, actor=request.user
        ),
    )


@manage_while_enabled
def organisation_lookup(request, pk: int):
    organisation = get_object_or_404(Organisation, pk=pk)
    return _lookup(
        request,
        owner=organisation,
        kind="employer",
        link=OrganisationLink.objects.filter(organisation=organisation).first(),
        fetch_page=links.employers_search,
        set_link=lambda sa_id: links.organisation_link_set(
            organisation=organisation, employer_id=sa_id, actor=request.user
        ),
    )

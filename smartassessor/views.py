from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from learners.models import Officer, Organisation
from picsweb import roles
from picsweb.errors import ApplicationError
from picsweb.http import HtmxHttpRequest

from . import mapping, record_match
from .client import EventType
from .connection import connection_check
from .errors import SmartAssessorUnavailable
from .forms import LinkChoiceForm, ReviewTypeMappingForm
from .linked_records import ASSESSOR, EMPLOYER, LinkedRecordKind, Owner
from .models import IntegrationSettings
from .permissions import manage_integration_required, require_permission
from .selectors import enrolments as enrolment_selectors
from .selectors import links as link_selectors
from .selectors import readiness
from .selectors import sync_runs as sync_run_selectors
from .services import links, sync

LOOKUP_PAGE_SIZE = 20
RECENT_RUNS = 10

manage_while_enabled = require_permission(roles.MANAGE_INTEGRATION)


NOT_ANSWERING = "Smart Assessor is not answering"


def _event_types(*, glance: bool = False) -> tuple[tuple[EventType, ...], str, str]:
    """SA's event types, or an error message when SA cannot be asked now; and, when that is
    because Smart Assessor is not answering (not a refusal or missing settings), the details."""
    try:
        return links.event_types_fetch(glance=glance), "", ""
    except SmartAssessorUnavailable as exc:
        return (), f"{NOT_ANSWERING}: the event types could not be read ({exc}).", exc.message
    except ApplicationError as exc:
        return (), f"The event types could not be read from Smart Assessor: {exc}", ""


@require_GET
@manage_integration_required
def summary(request: HtmxHttpRequest) -> HttpResponse:
    """The Summary renders from local data only: what needs Smart Assessor (its event types for
    the review type mapping, Test connection) loads afterwards, so an unreachable Smart Assessor
    never holds the page up; so do the readiness counts, which read every learner."""
    settings = IntegrationSettings.load()
    return render(
        request,
        "smartassessor/summary.html",
        {
            "section": "smartassessor",
            "settings": settings,
            "counts": enrolment_selectors.enrolment_counts(),
            "refresh": link_selectors.link_refresh_latest(),
            "last_sync": sync_run_selectors.sync_run_last_finished(),
            "last_fresh": sync_run_selectors.sync_run_last_fresh(),
            "delta_minutes": sync.delta_sync_minutes_get(),
            "runs": sync_run_selectors.sync_runs_recent()[:RECENT_RUNS],
        },
    )


@require_GET
@manage_integration_required
def readiness_panel(request: HtmxHttpRequest) -> HttpResponse:
    """The Summary's readiness counts (F34), loaded after the page. Without htmx they are a
    page of their own."""
    template = (
        "smartassessor/_readiness.html" if request.htmx else "smartassessor/readiness_counts.html"
    )
    return render(
        request,
        template,
        {
            "section": "smartassessor",
            "readiness": readiness.readiness_counts(),
            "readiness_groups": readiness.GROUPS,
        },
    )


@require_GET
@manage_integration_required
def review_mapping_panel(request: HtmxHttpRequest) -> HttpResponse:
    """The Summary's review type mapping, loaded after the page: it asks Smart Assessor for its
    event types at a glance (one try, a few seconds at most) and says so when SA is not
    answering. Without htmx it is a page of its own."""
    settings = IntegrationSettings.load()
    event_types: tuple[EventType, ...] = ()
    error = not_answering = ""
    if settings.enabled:
        event_types, error, not_answering = _event_types(glance=True)
    current = link_selectors.review_type_mappings()
    last_daily = sync_run_selectors.sync_run_last_daily()
    hidden = last_daily.unmapped_sessions if last_daily else {}
    unmapped = [
        (event_type, hidden.get(event_type.code, 0))
        for event_type in event_types
        if event_type.code not in current
    ]
    template = (
        "smartassessor/_review_mapping.html"
        if request.htmx
        else "smartassessor/review_mapping.html"
    )
    return render(
        request,
        template,
        {
            "section": "smartassessor",
            "settings": settings,
            "unmapped": unmapped,
            "unmapped_hidden": sum(hidden for _, hidden in unmapped),
            "last_daily": last_daily,
            "mapping_form": ReviewTypeMappingForm(event_types=event_types, current=current),
            "event_types_error": error,
            "not_answering": not_answering,
        },
    )


@require_POST
@manage_integration_required
def test_connection(request: HtmxHttpRequest) -> HttpResponse:
    not_answering = False
    try:
        result, error = connection_check(), ""
    except ApplicationError as exc:
        result, error = None, exc.message
        not_answering = isinstance(exc, SmartAssessorUnavailable)
    context = {"result": result, "error": error, "not_answering": not_answering}
    if request.htmx:
        return render(request, "smartassessor/_connection_result.html", context)
    if result is None:
        messages.error(request, error)
    else:
        messages.success(
            request,
            f"Connected: {result.course_count} courses, round trip {result.round_trip_ms:.0f} ms.",
        )
    return redirect("smartassessor:summary")


@require_POST
@manage_while_enabled
def refresh_links(request: HtmxHttpRequest) -> HttpResponse:
    refresh = links.link_refresh_request(actor=request.user)
    if request.htmx:
        return render(request, "smartassessor/_link_refresh.html", {"refresh": refresh})
    messages.info(request, "Refresh Qualification Links has started; its result shows below.")
    return redirect("smartassessor:summary")


@require_GET
@manage_integration_required
def link_refresh_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    refresh = get_object_or_404(link_selectors.link_refreshes(), pk=pk)
    return render(request, "smartassessor/_link_refresh.html", {"refresh": refresh})


@require_POST
@manage_while_enabled
def review_mapping(request: HtmxHttpRequest) -> HttpResponse:
    event_types, error, _ = _event_types()
    if error:
        messages.error(request, error)
        return redirect("smartassessor:summary")
    form = ReviewTypeMappingForm(
        request.POST, event_types=event_types, current=link_selectors.review_type_mappings()
    )
    if form.is_valid():
        links.review_type_mapping_save(
            mapping=form.mapping(),
            names={t.code: t.name for t in event_types},
            actor=request.user,
            not_mapped=form.not_mapped(),
        )
        messages.success(request, "The review type mapping is saved.")
    else:
        messages.error(
            request, "Choose a review type, Ignore or Not mapped yet for each event type."
        )
    return redirect("smartassessor:summary")


@require_GET
@manage_integration_required
def data_exchange(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        "smartassessor/data_exchange.html",
        {"section": "smartassessor", "exchanges": mapping.DATA_EXCHANGE},
    )


def _lookup(request: HtmxHttpRequest, *, kind: LinkedRecordKind, owner: Owner) -> HttpResponse:
    """The look-up window (F5, F6): search SA's records page by page, choose one, save."""
    error = ""
    if request.method == "POST":
        form = LinkChoiceForm(request.POST)
        if form.is_valid():
            try:
                sa_record = links.sa_link_set(
                    kind=kind, owner=owner, sa_id=form.cleaned_data["sa_id"], actor=request.user
                )
            except ApplicationError as exc:
                error = exc.message
            else:
                linked = (
                    f"{owner} is linked to Smart Assessor {kind.sa_name} "
                    f"{form.cleaned_data['sa_id']}"
                )
                if record_match.sa_names_differ(owner, sa_record):
                    messages.warning(
                        request,
                        f"{linked}, whose name is {record_match.sa_record_name(sa_record)}: "
                        "check it is the same one.",
                    )
                else:
                    messages.success(request, f"{linked}.")
                if request.htmx:  # chosen in the dialog: the whole page shows the link
                    return HttpResponse(headers={"HX-Redirect": owner.get_absolute_url()})
                return redirect(owner.get_absolute_url())
        else:
            error = "Choose a record from the list."
    query = request.GET.get("q", "").strip()
    try:
        page_number = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page_number = 1
    # The dialog (opened with ?part=shell) shows local data at once; Smart Assessor's records
    # load into it afterwards (htmx), so a silent Smart Assessor never keeps it from opening.
    deferred = bool(request.htmx) and request.GET.get("part") == "shell"
    page = None
    try:
        if not deferred:
            page = links.sa_records_search(
                kind=kind, search=query or None, page=page_number, page_size=LOOKUP_PAGE_SIZE
            )
    except ApplicationError as exc:
        error = error or f"Smart Assessor could not be searched: {exc}"
    template = "smartassessor/_lookup.html" if request.htmx else "smartassessor/lookup.html"
    return render(
        request,
        template,
        {
            "owner": owner,
            "kind": kind.sa_name,
            "link": link_selectors.sa_link_get(kind=kind, owner=owner),
            "query": query,
            "page": page,
            # Beside each choice whose names clearly differ from the local record's.
            "names_differ": {
                record.smart_assessor_id
                for record in (page.items if page else ())
                if record_match.sa_names_differ(owner, record)
            },
            "page_number": page_number,
            "has_next": bool(page and page_number * LOOKUP_PAGE_SIZE < page.total_count),
            "error": error,
            "deferred": deferred,
        },
    )


@manage_while_enabled
def officer_lookup(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _lookup(request, kind=ASSESSOR, owner=get_object_or_404(Officer, pk=pk))


@manage_while_enabled
def organisation_lookup(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _lookup(request, kind=EMPLOYER, owner=get_object_or_404(Organisation, pk=pk))


READINESS_PAGE_SIZE = 50


@require_GET
@manage_integration_required
def readiness_learners(request: HtmxHttpRequest, group: str, problem: str) -> HttpResponse:
    """The learners a readiness count on the Summary page counts (F34)."""
    if group not in readiness.GROUPS:
        raise Http404("No such group of learners.")
    try:
        label, learners = readiness.readiness_learners(group=group, problem=problem)
    except KeyError:
        raise Http404("No such problem.") from None
    return render(
        request,
        "smartassessor/readiness.html",
        {
            "section": "smartassessor",
            "group": readiness.GROUPS[group],
            "label": label,
            "page": Paginator(learners, READINESS_PAGE_SIZE).get_page(request.GET.get("page")),
        },
    )

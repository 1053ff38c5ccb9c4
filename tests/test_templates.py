"""The templates' house rules: one date format, one badge, one state set, one list frame, no
hard-coded addresses. Each rule is checked on what people see and over the template files, so
the next template written by hand is caught here."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import formats

from smartassessor.models import CourseEnrolment, Enrolment, LinkRefresh, SyncRun

ROOT = Path(settings.BASE_DIR)
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
SCRIPTS = sorted((ROOT / "static" / "js").glob("*.js"))
PRODUCT_CODE = [
    path
    for package in ("picsweb", "learners", "smartassessor")
    for path in sorted((ROOT / package).rglob("*.py"))
    if "migrations" not in path.parts and "sandbox" not in path.parts
]
FORMAT_NAMES = (
    "DATE_FORMAT",
    "DATETIME_FORMAT",
    "SHORT_DATE_FORMAT",
    "SHORT_DATETIME_FORMAT",
    "TIME_FORMAT",
    "YEAR_MONTH_FORMAT",
    "MONTH_DAY_FORMAT",
)
# The list pages, each drawn with the one {% table %} frame (learners/_table.html).
LIST_TEMPLATES = (
    "learners/learner_list.html",
    "learners/officer_list.html",
    "learners/organisation_list.html",
    "learners/_learner_rows.html",
    "learners/organisation_detail.html",
    "smartassessor/_sync_runs_table.html",
    "smartassessor/_sync_run_body.html",
    "smartassessor/sync_history.html",
    "smartassessor/reconciliation.html",
)

WINTER = dt.datetime(2026, 12, 1, 14, 5, 30, tzinfo=dt.UTC)  # GMT: UK time is UTC
SUMMER = dt.datetime(2026, 7, 1, 13, 5, tzinfo=dt.UTC)  # BST: UK time is an hour ahead


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _where(pattern: str, paths) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(_text(path).splitlines(), 1):
            if re.search(pattern, line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    return found


# --- Dates and times --------------------------------------------------------------------------


def test_dates_and_times_read_the_uk_way_on_the_24_hour_clock():
    page = Template(
        "{{ day|date }}|{{ moment|date:'DATETIME_FORMAT' }}|{{ moment|time }}|"
        "{{ summer|date:'DATETIME_FORMAT' }}"
    ).render(Context({"day": dt.date(2026, 12, 1), "moment": WINTER, "summer": SUMMER}))

    assert page == "1 Dec 2026|1 Dec 2026 14:05|14:05|1 Jul 2026 14:05"
    # The same from Python, for the messages and the values the services store for people.
    assert formats.date_format(dt.date(2026, 12, 1)) == "1 Dec 2026"
    assert formats.date_format(dt.datetime(2026, 12, 1, 14, 5), "DATETIME_FORMAT") == (
        "1 Dec 2026 14:05"
    )


def test_typed_dates_are_read_day_first_and_the_pickers_iso_dates_still_are():
    from django import forms

    field = forms.DateField()

    assert field.clean("01/12/2026") == dt.date(2026, 12, 1)
    assert field.clean("2026-12-01") == dt.date(2026, 12, 1)
    assert forms.DateTimeField().clean("2026-12-01T14:05").replace(tzinfo=None) == dt.datetime(
        2026, 12, 1, 14, 5
    )


def test_a_sync_runs_start_reads_like_every_other_time(admin_client_ia):
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.MANUAL,
        state=SyncRun.State.SUCCEEDED,
        started_at=WINTER,
        finished_at=WINTER + dt.timedelta(minutes=2),
    )

    page = admin_client_ia.get(f"/smartassessor/sync/runs/{run.pk}/").content.decode()

    assert "<dt>Started</dt><dd>1 Dec 2026 14:05</dd>" in page
    assert "<dt>Finished</dt><dd>1 Dec 2026 14:07</dd>" in page


def test_no_template_writes_a_date_format_of_its_own():
    names = "|".join(FORMAT_NAMES)
    pattern = rf"""\|\s*(date|time)\s*:\s*(?!["']({names})["'])"""

    assert _where(pattern, TEMPLATES) == []


def test_no_product_code_formats_a_date_for_people_by_hand():
    names = "|".join(FORMAT_NAMES)
    pattern = rf"""(date|time)_format\([^)]*,\s*(?!["']({names})["'])["']"""

    assert _where(pattern, PRODUCT_CODE) == []


# --- Badges -----------------------------------------------------------------------------------


def test_no_template_or_view_writes_badge_markup_by_hand():
    tag = ROOT / "learners" / "templatetags" / "learners_extras.py"

    assert _where(r"""class=["']badge""", TEMPLATES) == []
    assert _where(r"badge--", [path for path in PRODUCT_CODE if path != tag]) == []


def _badge(page: str) -> str:
    return re.search(r'<span class="badge badge--\w+">[^<]*</span>', page).group(0)


def _tag(source: str, **context) -> str:
    return Template("{% load learners_extras %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("state", "markup"),
    [
        ("succeeded", '<span class="badge badge--good">Succeeded</span>'),
        ("partial", '<span class="badge badge--warning">Partial</span>'),
        ("failed", '<span class="badge badge--bad">Failed</span>'),
        ("held", '<span class="badge badge--warning">Held for approval</span>'),
        ("running", '<span class="badge badge--info">Running</span>'),
        ("queued", '<span class="badge badge--info">Queued</span>'),
        ("discarded", '<span class="badge badge--neutral">Discarded</span>'),
        ("skipped", '<span class="badge badge--neutral">Not run</span>'),
    ],
)
def test_a_sync_runs_outcome_keeps_its_colour(state, markup):
    page = render_to_string("smartassessor/_sync_state.html", {"run": SyncRun(state=state)})

    assert _badge(page) == markup


@pytest.mark.parametrize(
    ("state", "markup"),
    [
        ("enrolled", '<span class="badge badge--good">Enrolled</span>'),
        ("problems", '<span class="badge badge--warning">Enrolled with problems</span>'),
        ("failed", '<span class="badge badge--bad">Failed</span>'),
        ("retrying", '<span class="badge badge--warning">Retrying</span>'),
        ("queued", '<span class="badge badge--info">Queued</span>'),
        ("enrolling", '<span class="badge badge--info">Enrolling</span>'),
    ],
)
def test_an_enrolments_state_keeps_its_colour(state, markup):
    page = _tag("{% badge e.state e.get_state_display %}", e=Enrolment(state=state))

    assert _badge(page) == markup


@pytest.mark.parametrize(
    ("state", "markup"),
    [
        ("enrolled", '<span class="badge badge--good">Enrolled</span>'),
        ("refused", '<span class="badge badge--bad">Refused</span>'),
        ("pending", '<span class="badge badge--neutral">Pending</span>'),
    ],
)
def test_a_courses_state_keeps_its_colour(state, markup):
    page = _tag("{% badge c.state c.get_state_display %}", c=CourseEnrolment(state=state))

    assert _badge(page) == markup


@pytest.mark.parametrize(
    ("state", "markup", "polls"),
    [
        ("queued", '<span class="badge badge--info">Queued</span>', True),
        ("running", '<span class="badge badge--info">Running</span>', True),
        ("failed", '<span class="badge badge--bad">Failed</span>', False),
        ("succeeded", '<span class="badge badge--good">Done</span>', False),
    ],
)
def test_a_link_refresh_keeps_its_colour_and_polls_only_until_it_ends(state, markup, polls):
    refresh = LinkRefresh(pk=7, state=state, requested_at=WINTER, finished_at=WINTER)
    page = render_to_string("smartassessor/_link_refresh.html", {"refresh": refresh})

    assert _badge(page) == markup
    assert ('hx-trigger="every 2s"' in page) is polls
    assert ("/smartassessor/qualification-links/refresh/7/" in page) is polls


# --- State sets -------------------------------------------------------------------------------


def test_templates_and_scripts_ask_the_model_for_a_set_of_states():
    # A set written out as "state == a or state == b", or as a substring test, belongs on the
    # model (Enrolment.ACTIVE_STATES and the like, with a property such as is_active).
    either = r"""\.state\s*==\s*["'][^"']+["'][^%]*\bor\b[^%]*\.state\s*=="""
    substring = r"""\.state\s+in\s+["']"""

    assert _where(either, TEMPLATES) == []
    assert _where(substring, TEMPLATES) == []
    assert _where(r"""["'](queued|running|enrolling|retrying)["']""", SCRIPTS) == []


@pytest.mark.parametrize("state", Enrolment.State.values)
def test_an_enrolments_properties_follow_its_state_sets(state):
    enrolment = Enrolment(state=state)

    assert enrolment.is_active is (state in {"queued", "enrolling", "retrying"})
    assert enrolment.is_synced is (state in {"enrolled", "problems"})
    assert enrolment.can_retry is (state in {"failed", "problems"})
    assert enrolment.last_attempt_failed is (state in {"failed", "retrying"})


# --- Lists ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LIST_TEMPLATES)
def test_each_list_is_drawn_in_the_one_table_frame(name):
    text = _text(ROOT / "templates" / name)

    assert "{% table " in text
    assert "<table" not in text
    assert "paginat" in text or name == "smartassessor/_sync_runs_table.html"


def test_an_empty_list_says_so_in_the_frames_words(admin_client_ia):
    runs = admin_client_ia.get("/smartassessor/sync/runs/").content.decode()
    officers = admin_client_ia.get("/officers/?q=nobody-at-all").content.decode()

    assert '<p class="empty">No synchronisation has run yet.</p>' in runs
    assert "<table" not in runs
    assert '<p class="empty">No officer matches.</p>' in officers


# --- Addresses --------------------------------------------------------------------------------


def test_no_template_or_script_writes_an_address_by_hand():
    assert _where(r"""\b(href|action|hx-get|hx-post|src)=["']/""", TEMPLATES) == []
    # A path in a script's string, for fetch() or htmx: pass it in a data attribute filled by
    # {% url %} instead.
    assert _where(r"""["'`]/[a-z]""", SCRIPTS) == []

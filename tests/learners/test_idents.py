"""Any Learner Ident either works everywhere or is refused with a message saying why (issue 9.1).

The rule is the ILR's for LearnRefNumber: 1 to 12 letters, digits and spaces after trimming,
unique without regard to letter case. Idents stored before the rule keep working.
"""

import html
import importlib
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from learners import services
from learners.models import Learner
from smartassessor.models import IntegrationSettings
from tests.factories import LearnerFactory, LearnerQualificationFactory

from .test_forms import field_error, learner_data

pytestmark = pytest.mark.django_db

CHARACTERS = (
    "A Learner Ident may hold only the letters A to Z (capital or small), the digits 0 to 9 and "
    "spaces, not {refused}: for example 2026 001 or PW000101."
)
TAKEN = (
    "Another learner already has this Learner Ident. It belongs to Sam Taylor (PW000101); "
    "capitals and small letters count as the same."
)

REFUSED = [
    ("2026/001", CHARACTERS.format(refused="“/”")),
    ("</b>", CHARACTERS.format(refused="“/”, “<”, “>”")),
    ('a"b', CHARACTERS.format(refused='“"”')),
    ("ABCDEFGHIJKLM", "A Learner Ident is at most 12 characters; this one has 13."),
    ("pw000101", TAKEN),
    ("PW000101", TAKEN),
]

# Idents a row may hold from before the rule, or from a write that skipped validation.
LEGACY = ["2026/001", "</b>", 'a"b', "100%", "%2F", "a?b#c&d", "..", ".", "", " PW1 ", "Zoë/№7"]


@pytest.fixture
def existing():
    return LearnerFactory(ident="PW000101", first_name="Sam", surname="Taylor")


def learner_urls(ident: str) -> list[str]:
    """Every page and API address built from a learner's ident."""
    return [
        reverse("learners:delivery_plan", args=[ident]),
        reverse("learners:learner_edit", args=[ident]),
        reverse("learners:learner_qualification_add", args=[ident]),
        reverse("learners:placement_add", args=[ident]),
        reverse("learners:learner_officer_role_add", args=[ident]),
        reverse("learners:review_add", args=[ident]),
        reverse("smartassessor:enrol_preview", args=[ident]),
        reverse("smartassessor:enrol_status", args=[ident]),
        reverse("smartassessor:sync_history", args=[ident]),
        reverse("api-learner-detail", args=[ident]),
        reverse("api-delivery-plan", args=[ident]),
    ]


# --- The staff pages' form ---------------------------------------------------------------------


@pytest.mark.parametrize(("ident", "message"), REFUSED)
def test_the_add_form_refuses_an_ident_that_breaks_the_rule_and_the_list_still_answers(
    staff_client, existing, ident, message
):
    response = staff_client.post("/learners/add/", learner_data(ident=ident))

    assert response.status_code == 200
    assert html.unescape(field_error(response.content.decode(), "ident")) == message
    assert list(Learner.objects.values_list("ident", flat=True)) == ["PW000101"]
    assert staff_client.get("/learners/").status_code == 200


def test_the_add_form_refuses_an_empty_ident(staff_client):
    response = staff_client.post("/learners/add/", learner_data(ident="   "))

    assert field_error(response.content.decode(), "ident") == "This field is required."
    assert not Learner.objects.exists()


def test_an_ident_with_spaces_around_is_trimmed_and_one_inside_is_kept(staff_client):
    response = staff_client.post("/learners/add/", learner_data(ident=" PW 1 "))

    assert response["Location"] == "/learners/PW%201/delivery-plan/"
    assert Learner.objects.get().ident == "PW 1"
    assert staff_client.get("/learners/").status_code == 200
    assert staff_client.get(response["Location"]).status_code == 200


def test_the_add_form_answers_400_to_an_ident_with_a_nul(staff_client):
    response = staff_client.post("/learners/add/", learner_data(ident="PW\x00001"))

    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    assert not Learner.objects.exists()


# --- The model, for every writer (services, imports) --------------------------------------------


@pytest.mark.parametrize(("ident", "message"), [*REFUSED, ("PW\x001", None), ("", None)])
def test_the_create_service_refuses_what_the_form_refuses(existing, ident, message):
    data = learner_data(ident=ident, main_officer=None)

    with pytest.raises(ValidationError) as refused:
        services.learner_create(data=data)

    errors = refused.value.message_dict["ident"]
    if message:
        assert errors == [message]
    elif ident:
        assert errors == [CHARACTERS.format(refused="U+0000")]
    else:
        assert errors == ["Enter a Learner Ident."]
    assert Learner.objects.count() == 1


def test_the_create_service_trims_the_ident():
    data = learner_data(ident=" PW1 ", main_officer=None)

    assert services.learner_create(data=data).ident == "PW1"


def test_the_database_refuses_an_ident_differing_only_in_case(existing):
    with pytest.raises(IntegrityError), transaction.atomic():
        LearnerFactory(ident="pw000101")


# --- The Django admin --------------------------------------------------------------------------


def admin_learner_data(**changes) -> dict:
    data = learner_data(**changes)
    for prefix in ("officer_roles", "placements", "qualifications"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


@pytest.mark.parametrize(("ident", "message"), REFUSED)
def test_the_admin_refuses_an_ident_that_breaks_the_rule(admin_client_ia, existing, ident, message):
    response = admin_client_ia.post(
        reverse("admin:learners_learner_add"), admin_learner_data(ident=ident)
    )

    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert Learner.objects.count() == 1
    assert admin_client_ia.get(reverse("admin:learners_learner_changelist")).status_code == 200


def test_the_admin_answers_400_to_an_ident_with_a_nul(admin_client_ia):
    response = admin_client_ia.post(
        reverse("admin:learners_learner_add"), admin_learner_data(ident="\x00")
    )

    assert response.status_code == 400
    assert not Learner.objects.exists()


def test_the_admin_gives_a_legacy_row_an_ident_that_follows_the_rule(admin_client_ia):
    learner = LearnerFactory()
    Learner.objects.filter(pk=learner.pk).update(ident="2026/001")
    url = reverse("admin:learners_learner_change", args=[learner.pk])

    kept = admin_client_ia.post(url, admin_learner_data(ident="2026/001", first_name="Kept"))
    fixed = admin_client_ia.post(url, admin_learner_data(ident="2026 001"))

    assert kept.status_code == 302  # unchanged, the old ident is not refused
    assert fixed.status_code == 302
    learner.refresh_from_db()
    assert learner.ident == "2026 001"


# --- Legacy rows: every page and API address still works ---------------------------------------


@pytest.mark.parametrize("ident", LEGACY)
def test_a_legacy_ident_keeps_the_list_and_every_learner_address_working(
    staff_client, staff_user, ident
):
    IntegrationSettings.objects.update_or_create(pk=1, defaults={"enabled": True})
    learner = LearnerFactory(first_name="Legacy", surname="Learner")
    Learner.objects.filter(pk=learner.pk).update(ident=ident)
    LearnerQualificationFactory(learner=learner)

    listing = staff_client.get("/learners/")
    link = re.search(r'<a href="([^"]*)">Legacy Learner</a>', listing.content.decode())
    plan = staff_client.get(html.unescape(link.group(1)))

    assert listing.status_code == 200
    assert plan.status_code == 200
    assert plan.context["learner"].pk == learner.pk
    for url in learner_urls(ident):
        response = staff_client.get(url)
        assert response.status_code == 200, url
    api = APIClient()
    api.force_authenticate(staff_user)
    detail = api.get(reverse("api-learner-detail", args=[ident]))
    assert detail.json()["ident"] == ident
    assert [row["ident"] for row in api.get("/api/learners/").json()["results"]] == [ident]
    refresh = api.get(reverse("api-refresh", args=[ident]))  # the learner is found
    assert refresh.json() == {"detail": "This learner has not been refreshed."}


def test_a_legacy_learners_other_details_stay_editable(staff_client):
    learner = LearnerFactory()
    Learner.objects.filter(pk=learner.pk).update(ident="2026/001")
    url = reverse("learners:learner_edit", args=["2026/001"])

    response = staff_client.post(url, learner_data(ident="ignored", first_name="Renamed"))

    learner.refresh_from_db()
    assert response.status_code == 302
    assert (learner.ident, learner.first_name) == ("2026/001", "Renamed")
    form = staff_client.get(url).content.decode()
    assert "This Learner Ident was stored before the rule" in form


# --- The API ------------------------------------------------------------------------------------


def test_the_api_looks_up_odd_idents_safely(staff_user, existing):
    api = APIClient()
    api.force_authenticate(staff_user)

    assert api.get("/api/learners/pw000101/").status_code == 404  # exact, as the pages
    assert api.get("/api/learners/%3C%2Fb%3E/").status_code == 404
    assert api.get("/api/learners/a%22b/").status_code == 404
    nul = api.get("/api/learners/PW%00/")
    assert nul.status_code == 400
    assert "NUL character" in nul.json()["detail"]
    assert api.get("/api/learners/", {"search": "</b>"}).json()["count"] == 0


# --- The migration's report ---------------------------------------------------------------------

migration = importlib.import_module("learners.migrations.0003_learner_ident_rule")


def test_the_migration_reports_each_ident_that_breaks_the_rule():
    lines = migration.report_idents_breaking_the_rule(
        [
            (1, "PW000101", "Sam", "Taylor"),
            (2, "2026/001", "Ann", "Lee"),
            (3, " PW1", "Bo", "Ng"),
            (4, "ABCDEFGHIJKLM", "Cy", "Oh"),
            (5, "", "Di", "Po"),
        ]
    )

    assert lines[0].startswith("4 learner(s) have a Learner Ident that breaks the rule")
    assert lines[1:] == [
        "  - '2026/001': Ann Lee (id 2), holds '/'",
        "  - ' PW1': Bo Ng (id 3), starts or ends with a space",
        "  - 'ABCDEFGHIJKLM': Cy Oh (id 4), has 13 characters, more than 12",
        "  - '': Di Po (id 5), is empty",
    ]
    assert migration.report_idents_breaking_the_rule([(1, "PW000101", "Sam", "Taylor")]) == []


def test_the_migration_renames_later_case_duplicates_so_the_constraint_can_be_added():
    renames = migration.renames_for_case_duplicates(
        [(7, "pw000101"), (3, "PW000101"), (9, "Pw000101"), (4, "PW000101-DUP2"), (5, "B")]
    )

    assert renames == [(7, "pw000101", "pw000101-DUP3"), (9, "Pw000101", "Pw000101-DUP4")]
    long = "X" * 32
    assert migration.renames_for_case_duplicates([(1, long), (2, long.lower())]) == [
        (2, long.lower(), "x" * 27 + "-DUP2")
    ]


def test_the_migration_prints_the_legacy_rows_and_changes_none(capsys):
    from django.apps import apps

    learner = LearnerFactory(first_name="Ann", surname="Lee")
    Learner.objects.filter(pk=learner.pk).update(ident="2026/001")

    migration.forwards(apps, None)

    assert f"'2026/001': Ann Lee (id {learner.pk}), holds '/'" in capsys.readouterr().out
    assert Learner.objects.get().ident == "2026/001"


def test_migrating_a_database_with_case_duplicates_renames_and_reports_without_failing(
    transactional_db, capsys
):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        [("learners", "0002_lrn_length_once")],
        [("learners", "0004_learner_ident_unique_ignoring_case")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_learner = executor.loader.project_state(before).apps.get_model("learners", "Learner")
    row = {
        "first_name": "Sam",
        "surname": "Taylor",
        "date_of_birth": "2000-05-17",
        "start_date": "2026-09-01",
        "planned_end_date": "2028-03-01",
    }
    first = old_learner.objects.create(ident="PW000101", **row)
    second = old_learner.objects.create(ident="pw000101", **row)
    slashed = old_learner.objects.create(ident="2026/001", **row)

    MigrationExecutor(connection).migrate(after)
    # Going back to learners 0002 took every later migration of every app that depends on
    # it: all are applied again, for the tests that follow on this database.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    out = capsys.readouterr().out
    assert Learner.objects.get(pk=first.pk).ident == "PW000101"
    assert Learner.objects.get(pk=second.pk).ident == "pw000101-DUP2"
    assert Learner.objects.get(pk=slashed.pk).ident == "2026/001"
    assert f"Learner id {second.pk}: ident 'pw000101' renamed 'pw000101-DUP2'" in out
    assert f"'2026/001': Sam Taylor (id {slashed.pk}), holds '/'" in out
    assert f"'pw000101-DUP2': Sam Taylor (id {second.pk}), holds '-'" in out
    with pytest.raises(IntegrityError), transaction.atomic():
        LearnerFactory(ident="Pw000101")

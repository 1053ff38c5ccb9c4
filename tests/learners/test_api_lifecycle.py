"""The lifecycle of a learner's qualifications through the API: the same rules and rights as
the pages, refusals in the product's error shape, and the Delivery Plan's breaks and hours."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from rest_framework.test import APIClient

from learners.models import BreakInLearning, LearnerQualification, QualificationStatus
from tests.factories import (
    BreakInLearningFactory,
    LearnerFactory,
    LearnerQualificationFactory,
    QualificationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def api(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def entry():
    return LearnerQualificationFactory(
        learner=LearnerFactory(ident="L-1"),
        qualification=QualificationFactory(reference="603/5074/9"),
        status=QualificationStatus.IN_PROGRESS,
        timeline_percent=50,
    )


def url(entry, rest="") -> str:
    return f"/api/learners/L-1/qualifications/{entry.pk}/{rest}"


def test_the_delivery_plan_lists_each_qualifications_breaks_and_hours(api, entry):
    entry.off_the_job_hours_planned = Decimal("120")
    entry.off_the_job_hours_actual = Decimal("42")
    entry.save()
    done = BreakInLearningFactory(
        learner_qualification=entry, start_date=D(2026, 10, 5), end_date=D(2026, 10, 9)
    )
    ongoing = BreakInLearningFactory(learner_qualification=entry, start_date=D(2026, 11, 2))

    [qualification] = api.get("/api/learners/L-1/delivery-plan/").json()["qualifications"]

    assert qualification["id"] == entry.pk
    assert qualification["breaks"] == [
        {"id": done.pk, "start_date": "2026-10-05", "end_date": "2026-10-09"},
        {"id": ongoing.pk, "start_date": "2026-11-02", "end_date": None},
    ]
    assert qualification["off_the_job_hours_planned"] == "120.0"
    assert qualification["off_the_job_hours_actual"] == "42.0"
    assert qualification["off_the_job_pace"] == "behind"


def test_hours_not_known_are_null(api, entry):
    [qualification] = api.get("/api/learners/L-1/delivery-plan/").json()["qualifications"]

    assert qualification["off_the_job_hours_planned"] is None
    assert qualification["off_the_job_hours_actual"] is None
    assert qualification["off_the_job_pace"] is None


def test_patching_a_qualification_changes_what_is_sent_only(api, entry):
    response = api.patch(
        url(entry),
        {"planned_end_date": "2028-06-01", "off_the_job_hours_planned": "412.5"},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["planned_end_date"]) == (entry.pk, "2028-06-01")
    assert body["off_the_job_hours_planned"] == "412.5"
    assert body["status"] == "in_progress"
    entry.refresh_from_db()
    assert entry.planned_end_date == D(2028, 6, 1)
    assert entry.status == QualificationStatus.IN_PROGRESS


def test_the_actual_hours_cannot_be_patched(api, entry):
    api.patch(url(entry), {"off_the_job_hours_actual": "99"}, format="json")

    entry.refresh_from_db()
    assert entry.off_the_job_hours_actual is None


def test_a_refused_patch_answers_400_with_each_fields_messages(api, entry):
    refused = api.patch(url(entry), {"status": "withdrawn"}, format="json")
    on_a_break = api.patch(url(entry), {"status": "break_in_learning"}, format="json")
    bad_input = api.patch(url(entry), {"off_the_job_hours_planned": "5000.5"}, format="json")

    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "A withdrawn qualification needs its actual end date.",
        "field_errors": {
            "actual_end_date": ["A withdrawn qualification needs its actual end date."]
        },
    }
    assert on_a_break.status_code == 400
    assert "use Record a break" in on_a_break.json()["field_errors"]["status"][0]
    assert bad_input.status_code == 400
    assert bad_input.json()["field_errors"] == {
        "off_the_job_hours_planned": ["Ensure this value is less than or equal to 5000."]
    }
    assert LearnerQualification.objects.get().status == QualificationStatus.IN_PROGRESS


def test_a_break_and_the_return(api, entry):
    started = api.post(url(entry, "breaks/"), {"start_date": "2026-10-05"}, format="json")
    brk = BreakInLearning.objects.get()
    entry.refresh_from_db()
    on_break = entry.status
    returned = api.patch(url(entry, f"breaks/{brk.pk}/"), {"end_date": "2026-11-02"}, format="json")

    assert started.status_code == 201
    assert started.json() == {"id": brk.pk, "start_date": "2026-10-05", "end_date": None}
    assert on_break == QualificationStatus.BREAK_IN_LEARNING
    assert returned.status_code == 200
    assert returned.json() == {"id": brk.pk, "start_date": "2026-10-05", "end_date": "2026-11-02"}
    entry.refresh_from_db()
    assert entry.status == QualificationStatus.IN_PROGRESS


def test_a_withdrawal_on_a_break_ends_it(api, entry):
    api.post(url(entry, "breaks/"), {"start_date": "2026-10-05"}, format="json")

    response = api.patch(
        url(entry), {"status": "withdrawn", "actual_end_date": "2026-11-20"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["breaks"][0]["end_date"] == "2026-11-20"
    assert response.json()["status"] == "withdrawn"


def test_a_refused_break_answers_400_with_the_message(api, entry):
    entry.status, entry.actual_end_date = QualificationStatus.COMPLETED, D(2026, 11, 20)
    entry.save()

    completed = api.post(url(entry, "breaks/"), {"start_date": "2026-10-05"}, format="json")
    missing = api.post(url(entry, "breaks/"), {}, format="json")

    assert completed.status_code == 400
    assert completed.json()["field_errors"] == {
        "start_date": [
            "The qualification is completed: a break can be recorded only on a qualification "
            "that is not started or in progress."
        ]
    }
    assert missing.status_code == 400
    assert missing.json()["field_errors"] == {"start_date": ["This field is required."]}
    assert not BreakInLearning.objects.exists()


def test_a_refused_return_answers_400_with_the_message(api, entry):
    brk = BreakInLearningFactory(learner_qualification=entry, start_date=D(2026, 10, 5))

    early = api.patch(url(entry, f"breaks/{brk.pk}/"), {"end_date": "2026-10-04"}, format="json")
    missing = api.patch(url(entry, f"breaks/{brk.pk}/"), {}, format="json")

    assert early.status_code == 400
    assert early.json()["field_errors"] == {
        "end_date": ["The return cannot be before the start of the break."]
    }
    assert missing.status_code == 400
    assert missing.json()["field_errors"] == {"end_date": ["This field is required."]}
    brk.refresh_from_db()
    assert brk.end_date is None


def test_a_qualification_or_break_of_another_learner_is_404(api, entry):
    LearnerFactory(ident="L-2")
    other_break = BreakInLearningFactory(start_date=D(2026, 10, 5))
    other = other_break.learner_qualification

    assert api.patch(f"/api/learners/L-2/qualifications/{entry.pk}/", {}).status_code == 404
    assert api.patch(url(other), {}).status_code == 404
    assert api.post(url(other, "breaks/"), {"start_date": "2026-10-05"}).status_code == 404
    assert (
        api.patch(url(entry, f"breaks/{other_break.pk}/"), {"end_date": "2026-11-02"}).status_code
        == 404
    )
    assert not entry.breaks.exists()
    assert BreakInLearning.objects.get().end_date is None


def writes(entry) -> list[tuple[str, str, dict]]:
    brk = BreakInLearningFactory(learner_qualification=entry, start_date=D(2026, 10, 5))
    return [
        ("patch", url(entry), {"planned_end_date": "2028-06-01"}),
        ("post", url(entry, "breaks/"), {"start_date": "2026-11-02"}),
        ("patch", url(entry, f"breaks/{brk.pk}/"), {"end_date": "2026-11-02"}),
    ]


def test_a_reader_without_the_right_to_change_qualifications_gets_403(entry):
    reader = UserFactory(username="reader")
    reader.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="learners", codename__startswith="view")
    )
    client = APIClient()
    client.force_authenticate(reader)

    for method, address, data in writes(entry):
        response = getattr(client, method)(address, data, format="json")
        assert response.status_code == 403, address
        assert response.json() == {
            "detail": "Your account may not change learners' qualifications."
        }
    entry.refresh_from_db()
    assert entry.planned_end_date == D(2028, 3, 1)
    assert BreakInLearning.objects.get().end_date is None


def test_a_user_in_no_group_and_an_anonymous_caller_are_refused(entry):
    nobody = APIClient()
    nobody.force_authenticate(UserFactory(username="nobody"))

    for method, address, data in writes(entry):
        assert getattr(nobody, method)(address, data, format="json").status_code == 403
        assert getattr(APIClient(), method)(address, data, format="json").status_code in (401, 403)
    assert BreakInLearning.objects.count() == 1


def test_the_schema_describes_the_lifecycle_endpoints(tmp_path):
    schema = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))

    text = schema.read_text()
    assert "/api/learners/{ident}/qualifications/{id}/:\n    patch:" in text
    assert "/api/learners/{ident}/qualifications/{id}/breaks/:\n    post:" in text
    assert "/api/learners/{ident}/qualifications/{id}/breaks/{break_id}/:\n    patch:" in text
    assert "BreakInLearning:" in text
    assert "off_the_job_hours_actual:" in text

"""The preview says what will happen to the employer and assessors (issue 13.4, F8), asked of a
mocked Smart Assessor when it opens."""

import html
import time

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from responses import matchers

from learners.models import LearnerOfficerRole
from smartassessor import connection as sa_connection
from smartassessor.models import Enrolment, OfficerLink, OrganisationLink, QualificationLink
from smartassessor.services import party_lookup
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    OfficerRoleFactory,
    OrganisationFactory,
    PlacementFactory,
    QualificationFactory,
)

from .client import wire

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner(sa_settings):
    officer = OfficerFactory(forenames="Priya", surname="Shah", email="priya.shah@provider.example")
    learner = LearnerFactory(main_officer=officer)
    organisation = OrganisationFactory(
        name="Irwell Digital Ltd", postcode="LS1 4AP", edrs_number="123456789"
    )
    PlacementFactory(learner=learner, organisation=organisation)
    _qualifications(learner, 1)
    return learner


def _qualifications(learner, count):
    for _ in range(count):
        qualification = QualificationFactory()
        QualificationLink.objects.create(
            qualification=qualification,
            course_id=qualification.pk + 7000,
            course_title=qualification.title,
        )
        LearnerQualificationFactory(learner=learner, qualification=qualification)


def _organisation(learner):
    return learner.placements.get().organisation


def _by_mis_id(sa_http, path, filter_name, mis_id, items=()):
    params = {"Page": "1", "PageSize": "1", filter_name: str(mis_id)}
    return sa_http.get(
        wire.API + path,
        match=[matchers.query_param_matcher(params)],
        json=wire.page(list(items)),
    )


def _search(sa_http, path, text, items=()):
    params = {"Page": "1", "PageSize": str(party_lookup.DUPLICATE_SEARCH_PAGE_SIZE), "Search": text}
    return sa_http.get(
        wire.API + path, match=[matchers.query_param_matcher(params)], json=wire.page(list(items))
    )


def _employer_unknown(sa_http, learner, duplicates=()):
    organisation = _organisation(learner)
    return (
        _by_mis_id(sa_http, "/employers", "MISEmployerId", organisation.pk),
        _search(sa_http, "/employers", organisation.postcode, duplicates),
    )


def _assessor_unknown(sa_http, officer, duplicates=()):
    return (
        _by_mis_id(sa_http, "/assessors", "MISAssessorId", officer.pk),
        _search(sa_http, "/assessors", officer.email, duplicates),
    )


def _open(client, learner) -> str:
    url = reverse("smartassessor:enrol_preview", args=[learner.ident])
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _sa_calls(sa_http):
    return [call for call in sa_http.calls if not call.request.url.endswith("/token")]


def _confirmable(page: str) -> bool:
    return "disabled" not in page.split("Create in Smart Assessor</button>")[0][-80:]


# --- What will happen -------------------------------------------------------------------------


def test_linked_records_are_named_by_their_sa_id_without_asking(staff_client, sa_http, learner):
    OrganisationLink.objects.create(organisation=_organisation(learner), employer_id=1003)
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)

    page = _open(staff_client, learner)

    assert "Linked to Smart Assessor employer 1003" in page
    assert "Linked to Smart Assessor assessor 31" in page
    assert _sa_calls(sa_http) == []


def test_records_with_their_mis_id_in_sa_will_be_linked_and_named(staff_client, sa_http, learner):
    organisation, officer = _organisation(learner), learner.main_officer
    employer = wire.employer(
        SmartAssessorId=1003, MISEmployerId=str(organisation.pk), Name="Irwell Digital Ltd"
    )
    _by_mis_id(sa_http, "/employers", "MISEmployerId", organisation.pk, [employer])
    assessor = wire.assessor(SmartAssessorId=31, MISAssessorId=str(officer.pk))
    _by_mis_id(sa_http, "/assessors", "MISAssessorId", officer.pk, [assessor])

    page = _open(staff_client, learner)

    assert (
        "Will link to Smart Assessor employer 1003 Irwell Digital Ltd (found by its MIS id)" in page
    )
    assert "Will link to Smart Assessor assessor 31 Priya Shah (found by its MIS id)" in page
    # Found by its MIS id, nothing will be created, so no duplicate is searched for.
    assert len(_sa_calls(sa_http)) == 2


def test_records_sa_does_not_have_will_be_created_after_one_page_each(
    staff_client, sa_http, learner
):
    _employer_unknown(sa_http, learner)
    _assessor_unknown(sa_http, learner.main_officer)

    page = _open(staff_client, learner)

    assert "Will create a new Smart Assessor employer" in page
    assert "Will create a new Smart Assessor assessor" in page
    assert "already has" not in page
    assert len(_sa_calls(sa_http)) == 4


def test_the_second_assessor_is_looked_up_too(staff_client, sa_http, learner, sa_settings):
    role = OfficerRoleFactory(name="Second Assessor")
    second = OfficerFactory(forenames="Tom", surname="Hughes", email="tom@provider.example")
    LearnerOfficerRole.objects.create(learner=learner, officer=second, role=role)
    sa_settings.second_assessor_role = role
    sa_settings.save()
    OrganisationLink.objects.create(organisation=_organisation(learner), employer_id=1003)
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    assessor = wire.assessor(
        SmartAssessorId=44, MISAssessorId=str(second.pk), FirstName="Tom", LastName="Hughes"
    )
    _by_mis_id(sa_http, "/assessors", "MISAssessorId", second.pk, [assessor])

    page = _open(staff_client, learner)

    assert "Will link to Smart Assessor assessor 44 Tom Hughes (found by its MIS id)" in page


def test_an_sa_record_with_its_mis_id_linked_to_another_record_will_stop_the_enrolment(
    staff_client, sa_http, learner
):
    organisation = _organisation(learner)
    other = OrganisationFactory(name="Irwell Holdings")
    OrganisationLink.objects.create(organisation=other, employer_id=1003)
    employer = wire.employer(SmartAssessorId=1003, MISEmployerId=str(organisation.pk))
    _by_mis_id(sa_http, "/employers", "MISEmployerId", organisation.pk, [employer])
    _assessor_unknown(sa_http, learner.main_officer)

    page = _open(staff_client, learner)

    assert "is linked to Irwell Holdings: the enrolment will stop until support" in page


# --- Likely duplicates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, eds_id, mis_id, shown",
    [
        # the same EDRS number under another name
        ("Irwell Digital Solutions", "123456789", "ORG-77", "with another MIS id"),
        # the same name, written otherwise, and postcode; no EDRS number and no MIS id
        ("IRWELL DIGITAL LIMITED", None, None, "with no MIS id"),
        ("Irwell-Digital, Ltd.", "999999999", "ORG-78", "with another MIS id"),
    ],
)
def test_a_likely_duplicate_employer_is_warned_of(
    staff_client, sa_http, learner, name, eds_id, mis_id, shown
):
    duplicate = wire.employer(
        SmartAssessorId=1007,
        MISEmployerId=mis_id,
        Name=name,
        EdsId=eds_id,
        AddressPostCode="LS1 4AP",
    )
    _employer_unknown(sa_http, learner, [duplicate])
    _assessor_unknown(sa_http, learner.main_officer)

    page = _open(staff_client, learner)

    assert "Will create a new Smart Assessor employer" in page
    assert (
        f"Smart Assessor already has employer 1007 {name}, LS1 4AP, {shown}: link it by Look Up "
        "on the organisation's page before enrolling, or a second employer will be created."
    ) in page
    assert _organisation(learner).get_absolute_url() in page
    assert _confirmable(page)


def test_another_employer_at_the_same_postcode_is_not_a_duplicate(staff_client, sa_http, learner):
    neighbour = wire.employer(
        SmartAssessorId=1008, Name="Irwell Logistics", EdsId="555555555", AddressPostCode="LS1 4AP"
    )
    _employer_unknown(sa_http, learner, [neighbour])
    _assessor_unknown(sa_http, learner.main_officer)

    page = _open(staff_client, learner)

    assert "Will create a new Smart Assessor employer" in page
    assert "already has" not in page


def test_an_assessor_with_the_same_email_is_warned_of(staff_client, sa_http, learner):
    OrganisationLink.objects.create(organisation=_organisation(learner), employer_id=1003)
    same = wire.assessor(
        SmartAssessorId=32,
        MISAssessorId="OFF-9",
        FirstName="P",
        LastName="Shah",
        Email="Priya.Shah@Provider.example",
    )
    # Search matches part of an email: a longer address is someone else.
    longer = wire.assessor(SmartAssessorId=33, Email="xpriya.shah@provider.example")
    _assessor_unknown(sa_http, learner.main_officer, [same, longer])

    page = _open(staff_client, learner)

    assert (
        "Smart Assessor already has assessor 32 P Shah, Priya.Shah@Provider.example, with "
        "another MIS id: link it by Look Up on the officer's page before enrolling, or a second "
        "assessor will be created."
    ) in page
    assert "assessor 33" not in page


# --- Smart Assessor cannot be asked -----------------------------------------------------------


def test_sa_down_is_said_and_the_learner_can_still_be_created(staff_client, sa_http, learner):
    sa_http.get(wire.API + "/employers", status=503, json=wire.errors("unavailable", "Down"))

    page = _open(staff_client, learner)

    assert "Smart Assessor could not be asked (Smart Assessor is unavailable" in page
    assert "the employer will be looked up again at enrolment" in page
    assert "the assessor will be looked up again at enrolment" in page
    # One try, and the assessor is not asked of a Smart Assessor that just failed.
    assert len(_sa_calls(sa_http)) == 1
    assert _confirmable(page)
    confirm = staff_client.post(reverse("smartassessor:enrol_confirm", args=[learner.ident]))
    assert confirm.status_code == 302
    assert Enrolment.objects.filter(learner=learner).exists()


def test_unconfigured_credentials_are_said_without_asking(staff_client, sa_http, learner):
    from smartassessor.models import IntegrationSettings

    settings = IntegrationSettings.load()
    settings.client_key = ""
    settings.save()

    page = _open(staff_client, learner)

    assert "Smart Assessor could not be asked (Smart Assessor is not configured" in page
    assert _sa_calls(sa_http) == []
    assert _confirmable(page)


def test_a_failed_look_up_is_not_kept(staff_client, sa_http, learner):
    failing = sa_http.get(wire.API + "/employers", status=503, json=wire.errors("unavailable", "-"))
    _open(staff_client, learner)
    sa_http.remove(failing)
    _employer_unknown(sa_http, learner)
    _assessor_unknown(sa_http, learner.main_officer)

    page = _open(staff_client, learner)

    assert "Will create a new Smart Assessor employer" in page


# --- The cache ----------------------------------------------------------------------------------


def test_a_second_preview_within_the_cache_time_asks_nothing(staff_client, sa_http, learner):
    _employer_unknown(sa_http, learner)
    _assessor_unknown(sa_http, learner.main_officer)
    first = _open(staff_client, learner)
    asked = len(_sa_calls(sa_http))

    again = _open(staff_client, learner)

    assert len(_sa_calls(sa_http)) == asked == 4
    assert "Will create a new Smart Assessor employer" in first
    assert "Will create a new Smart Assessor employer" in again


def test_the_answer_is_asked_again_once_the_cache_time_is_over(
    staff_client, sa_http, learner, monkeypatch
):
    monkeypatch.setattr(party_lookup, "LOOKUP_CACHE_SECONDS", 1)
    _employer_unknown(sa_http, learner)
    _assessor_unknown(sa_http, learner.main_officer)
    _open(staff_client, learner)
    time.sleep(1.2)

    _open(staff_client, learner)

    assert len(_sa_calls(sa_http)) == 8


def test_a_changed_postcode_is_asked_again(staff_client, sa_http, learner):
    _employer_unknown(sa_http, learner)
    _assessor_unknown(sa_http, learner.main_officer)
    _open(staff_client, learner)
    organisation = _organisation(learner)
    organisation.postcode = "M1 1AE"
    organisation.save()
    _search(sa_http, "/employers", "M1 1AE")

    _open(staff_client, learner)

    searched = [c.request.url for c in _sa_calls(sa_http) if "Search=M1" in c.request.url]
    assert len(searched) == 1
    # The assessor's answer was kept: only the employer was asked again.
    assert len(_sa_calls(sa_http)) == 6


def test_the_answer_is_kept_per_account(staff_client, sa_http, learner, sa_settings):
    _employer_unknown(sa_http, learner)
    _assessor_unknown(sa_http, learner.main_officer)
    _open(staff_client, learner)
    sa_settings.username = "another@provider.example"
    sa_settings.save()

    _open(staff_client, learner)

    assert len(_sa_calls(sa_http)) == 8


# --- Bounds ---------------------------------------------------------------------------------------


def test_the_glance_client_tries_once_with_short_timeouts(sa_settings):
    glance = sa_connection.client_from_settings(glance=True)
    patient = sa_connection.client_from_settings()

    assert glance is not patient
    assert glance.timeout[0] <= 1.5 and glance.timeout[1] <= 3
    assert glance.deadline <= 3
    assert patient.timeout == (sa_settings.connect_timeout, sa_settings.read_timeout)
    # Each kind is kept: asking for one does not close the other's connections.
    assert sa_connection.client_from_settings(glance=True) is glance
    assert sa_connection.client_from_settings() is patient


def test_the_page_asks_the_database_as_often_whatever_sa_answers(staff_client, sa_settings):
    counts = {}
    for size in (1, 8):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as sa_http:
            sa_http.post(wire.API + "/token", json=wire.token())
            learner = LearnerFactory(main_officer=OfficerFactory())
            PlacementFactory(learner=learner)
            _qualifications(learner, size)
            organisation = _organisation(learner)
            employer = wire.employer(SmartAssessorId=1003, MISEmployerId=str(organisation.pk))
            _by_mis_id(sa_http, "/employers", "MISEmployerId", organisation.pk, [employer])
            duplicates = [
                wire.assessor(SmartAssessorId=100 + n, Email=learner.main_officer.email)
                for n in range(size)
            ]
            _assessor_unknown(sa_http, learner.main_officer, duplicates)
            with CaptureQueriesContext(connection) as captured:
                page = _open(staff_client, learner)
            assert page.count("Smart Assessor already has assessor") == size
            counts[size] = len(captured)
    assert counts[1] == counts[8], counts


def test_the_bulk_preview_asks_sa_nothing_and_says_so(staff_client, sa_http, learner):
    page = staff_client.post(reverse("smartassessor:bulk_preview"), {"learners": [learner.ident]})

    text = html.unescape(page.content.decode())
    assert "Employers and assessors are not looked up in Smart Assessor for a list" in text
    assert _sa_calls(sa_http) == []


def test_a_slow_smart_assessor_is_asked_no_more_once_the_time_is_spent(
    staff_client, sa_http, learner, monkeypatch
):
    monkeypatch.setattr(party_lookup, "LOOKUP_BUDGET_SECONDS", 0.0)
    _employer_unknown(sa_http, learner)
    _assessor_unknown(sa_http, learner.main_officer)

    page = _open(staff_client, learner)

    assert "Will create a new Smart Assessor employer" in page
    assert (
        "Smart Assessor could not be asked (it answered too slowly for every record to be asked "
        "now); the assessor will be looked up again at enrolment"
    ) in page
    assert all("/employers" in call.request.url for call in _sa_calls(sa_http))

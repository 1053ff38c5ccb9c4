"""The preview's look-up and the look-up dialog's warning against the sandbox over HTTP: the
preview says what the enrolment then does."""

import html
import time

import pytest
from django.urls import reverse

from smartassessor import mapping
from smartassessor.connection import client_from_settings
from smartassessor.linked_records import ASSESSOR
from smartassessor.models import LinkRefresh, OfficerLink, OrganisationLink
from smartassessor.services import enrolment_requests, links
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    OrganisationFactory,
    PlacementFactory,
    QualificationFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner(sa_sandbox):
    officer = OfficerFactory(forenames="Ruth", surname="Ellis", email="ruth.ellis@provider.example")
    learner = LearnerFactory(ident="PW009301", main_officer=officer)
    # The seed's "Pennine Valley Care Ltd, HX7 8AD", under its MIS-side spelling.
    organisation = OrganisationFactory(
        name="Pennine Valley Care Limited", postcode="HX7 8AD", edrs_number=""
    )
    PlacementFactory(learner=learner, organisation=organisation)
    LearnerQualificationFactory(
        learner=learner, qualification=QualificationFactory(reference="ST0070")
    )
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    return learner


def _open(client, learner) -> str:
    response = client.get(reverse("smartassessor:enrol_preview", args=[learner.ident]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_the_preview_says_what_the_enrolment_then_does(staff_client, learner, staff_user):
    officer = learner.main_officer
    created = ASSESSOR.create(client_from_settings(), mapping.assessor_payload(officer), "t-ruth")

    page = _open(staff_client, learner)

    assert (
        f"Will link to Smart Assessor assessor {created.smart_assessor_id} Ruth Ellis "
        "(found by its MIS id)"
    ) in page
    assert "Will create a new Smart Assessor employer" in page
    seed_employer = client_from_settings().employer_page(search="HX7 8AD").items[0]
    assert (
        f"Smart Assessor already has employer {seed_employer.smart_assessor_id} Pennine Valley "
        "Care Ltd, HX7 8AD, with another MIS id: link it by Look Up on the organisation's page"
    ) in page

    enrolment, _ = enrolment_requests.enrolment_request(learner=learner, actor=staff_user)
    enrolment_requests.enrolment_run(enrolment_id=enrolment.pk)

    assert OfficerLink.objects.get(officer=officer).assessor_id == created.smart_assessor_id
    organisation = learner.placements.get().organisation
    # As warned: a second employer was created rather than the seed's adopted.
    employer_id = OrganisationLink.objects.get(organisation=organisation).employer_id
    assert employer_id != seed_employer.smart_assessor_id


def test_a_slow_smart_assessor_is_given_up_on_quickly(staff_client, learner, sa_sandbox):
    sa_sandbox.faults(latency_ms=4000)
    started = time.monotonic()

    page = _open(staff_client, learner)

    assert time.monotonic() - started < 4
    assert "Smart Assessor could not be asked (" in page
    assert "the employer will be looked up again at enrolment" in page
    assert 'disabled aria-disabled="true">Create in Smart Assessor' not in page


def test_the_look_up_dialog_warns_beside_an_assessor_with_another_name(admin_client_ia, sa_sandbox):
    officer = OfficerFactory(forenames="Priya", surname="Sharma")
    url = reverse("smartassessor:officer_lookup", args=[officer.pk])

    response = admin_client_ia.get(url, {"q": "priya"}, HTTP_HX_REQUEST="true")

    [seed] = response.context["page"].items
    assert (seed.first_name, seed.last_name) == ("Priya", "Shah")
    assert response.context["names_differ"] == {seed.smart_assessor_id}
    assert "Not the same name as Priya Sharma" in html.unescape(response.content.decode())

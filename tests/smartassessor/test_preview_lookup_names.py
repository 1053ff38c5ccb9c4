"""Linking an officer or organisation by look-up warns when the SA record's names clearly differ
(issue 13.4, F5, F6); and how records are compared."""

import html

import pytest
from django.urls import reverse

from smartassessor import record_match
from smartassessor.client import Assessor, Employer
from smartassessor.client.types import from_wire
from smartassessor.models import OfficerLink, OrganisationLink
from tests.factories import OfficerFactory, OrganisationFactory

from .client import wire

pytestmark = pytest.mark.django_db

DIFFERS = "Not the same name as"


def _assessor(**fields) -> Assessor:
    return from_wire(Assessor, wire.assessor(**fields))


def _employer(**fields) -> Employer:
    return from_wire(Employer, wire.employer(**fields))


@pytest.mark.parametrize(
    "forenames, surname, first_name, last_name, differ",
    [
        ("Priya", "Shah", "Priya", "Sharma", True),
        ("Priya", "Shah", "Maya", "Shah", True),
        ("Priya", "Shah", "PRIYA", "shah", False),
        ("Zoë", "O'Brien", "Zoe", "OBrien", False),
        # a short form of the first name is the same person
        ("Alex", "Morgan", "Alexandra", "Morgan", False),
    ],
)
def test_officer_names_differ_only_when_clearly_another_person(
    forenames, surname, first_name, last_name, differ
):
    officer = OfficerFactory.build(forenames=forenames, surname=surname)
    sa_record = _assessor(FirstName=first_name, LastName=last_name)
    assert record_match.sa_names_differ(officer, sa_record) is differ


@pytest.mark.parametrize(
    "name, sa_name, differ",
    [
        ("Irwell Digital Ltd", "Irwell Logistics", True),
        ("Irwell Digital Ltd", "Irwell Digital Limited", False),
        ("Irwell Digital Ltd", "IRWELL DIGITAL", False),
        ("Café Nero Ltd.", "Cafe-Nero Limited", False),
    ],
)
def test_organisation_names_differ_apart_from_case_accents_punctuation_and_ltd(
    name, sa_name, differ
):
    organisation = OrganisationFactory.build(name=name)
    assert record_match.sa_names_differ(organisation, _employer(Name=sa_name)) is differ


def _lookup(client, url) -> str:
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _row(page: str, sa_id: int) -> str:
    start = page.index(f'value="{sa_id}"')
    return page[start : page.index("</tr>", start)]


def test_the_officer_look_up_warns_beside_a_differing_name(admin_client_ia, sa_http):
    officer = OfficerFactory(forenames="Priya", surname="Shah")
    sa_http.get(
        wire.API + "/assessors",
        json=wire.page(
            [
                wire.assessor(SmartAssessorId=31, FirstName="Priya", LastName="Shah"),
                wire.assessor(SmartAssessorId=32, FirstName="Priya", LastName="Sharma"),
            ]
        ),
    )

    page = _lookup(admin_client_ia, reverse("smartassessor:officer_lookup", args=[officer.pk]))

    assert DIFFERS not in _row(page, 31)
    warning = _row(page, 32)
    assert "Not the same name as Priya Shah: check it is the same assessor before linking." in (
        warning
    )
    # Read out with the choice itself.
    assert 'aria-describedby="sa-32-differs"' in warning


def test_the_organisation_look_up_warns_beside_a_differing_name(admin_client_ia, sa_http):
    organisation = OrganisationFactory(name="Irwell Digital Ltd")
    sa_http.get(
        wire.API + "/employers",
        json=wire.page(
            [
                wire.employer(SmartAssessorId=1003, Name="Irwell Digital Limited"),
                wire.employer(SmartAssessorId=1008, Name="Irwell Logistics"),
            ]
        ),
    )
    url = reverse("smartassessor:organisation_lookup", args=[organisation.pk])

    page = _lookup(admin_client_ia, url)

    assert DIFFERS not in _row(page, 1003)
    assert "Not the same name as Irwell Digital Ltd" in _row(page, 1008)


def test_a_differing_name_may_still_be_linked_and_the_message_says_so(admin_client_ia, sa_http):
    officer = OfficerFactory(forenames="Priya", surname="Shah")
    sa_http.get(
        wire.API + "/assessors/32",
        json=wire.assessor(SmartAssessorId=32, FirstName="Priya", LastName="Sharma"),
    )
    url = reverse("smartassessor:officer_lookup", args=[officer.pk])

    response = admin_client_ia.post(url, {"sa_id": 32}, follow=True)

    assert OfficerLink.objects.get(officer=officer).assessor_id == 32
    text = html.unescape(response.content.decode())
    assert (
        "Priya Shah is linked to Smart Assessor assessor 32, whose name is Priya Sharma: check "
        "it is the same one." in text
    )


def test_a_matching_name_is_linked_without_a_warning(admin_client_ia, sa_http):
    organisation = OrganisationFactory(name="Irwell Digital Ltd")
    sa_http.get(
        wire.API + "/employers/1003",
        json=wire.employer(SmartAssessorId=1003, Name="IRWELL DIGITAL LIMITED"),
    )
    url = reverse("smartassessor:organisation_lookup", args=[organisation.pk])

    response = admin_client_ia.post(url, {"sa_id": 1003}, follow=True)

    assert OrganisationLink.objects.get(organisation=organisation).employer_id == 1003
    text = html.unescape(response.content.decode())
    assert "Irwell Digital Ltd is linked to Smart Assessor employer 1003." in text
    assert "whose name is" not in text

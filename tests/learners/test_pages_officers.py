import re

import pytest

from tests.factories import LearnerFactory, OfficerFactory, OfficerRoleFactory

pytestmark = pytest.mark.django_db


def officer_names(response) -> list[str]:
    return re.findall(r'<td><a href="/officers/\d+/">([^<]+)</a></td>', response.content.decode())


@pytest.fixture
def officers():
    assessor = OfficerFactory(
        forenames="Amy", surname="Baker", job_title="Assessor", email="amy@provider.example"
    )
    assessor.roles.add(OfficerRoleFactory(name="Assessor"), OfficerRoleFactory(name="Mentor"))
    adviser = OfficerFactory(
        forenames="Kim", surname="Lee", job_title="Training Adviser", email="kim@provider.example"
    )
    retired = OfficerFactory(
        forenames="Ola", surname="Old", job_title="Assessor", is_active=False, email=""
    )
    return assessor, adviser, retired


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("baker", ["Amy Baker"]),
        ("Kim Lee", ["Kim Lee"]),
        ("kim@provider", ["Kim Lee"]),
        ("training adviser", ["Kim Lee"]),
        ("assessor", ["Amy Baker", "Ola Old"]),
    ],
)
def test_search_officers_by_name_email_or_job_title(staff_client, officers, query, expected):
    assert officer_names(staff_client.get("/officers/", {"q": query})) == expected


def test_filter_active_or_inactive(staff_client, officers):
    assert officer_names(staff_client.get("/officers/", {"active": "active"})) == [
        "Amy Baker",
        "Kim Lee",
    ]
    inactive = staff_client.get("/officers/", {"active": "inactive"})
    assert officer_names(inactive) == ["Ola Old"]
    assert '<span class="badge badge--neutral">Inactive</span>' in inactive.content.decode()


def test_the_list_shows_roles_and_learner_counts(staff_client, officers):
    LearnerFactory.create_batch(2, main_officer=officers[0])

    page = staff_client.get("/officers/").content.decode()

    row = page.split("Amy Baker</a></td>")[1].split("</tr>")[0]
    assert "<td>Assessor, Mentor</td>" in row
    assert "<td>2 learners</td>" in row


def test_officers_are_paged(staff_client):
    OfficerFactory.create_batch(27)

    assert len(officer_names(staff_client.get("/officers/"))) == 25
    assert len(officer_names(staff_client.get("/officers/", {"page": 2}))) == 2


def test_the_officer_page_shows_details_roles_and_their_learners(staff_client, officers):
    assessor = officers[0]
    mine = LearnerFactory(first_name="Priya", surname="Shah", main_officer=assessor)
    LearnerFactory(first_name="Other", surname="Person", main_officer=officers[1])

    page = staff_client.get(f"/officers/{assessor.pk}/").content.decode()

    assert "<h1>Ms Amy Baker</h1>" in page
    assert "<dd>Assessor, Mentor</dd>" in page
    assert "amy@provider.example</a>" in page
    assert "Main officer of 1 learner</h2>" in page
    assert f'<a href="/learners/{mine.ident}/delivery-plan/">Priya Shah</a>' in page
    assert "Other Person" not in page
    assert f'href="/officers/{assessor.pk}/edit/"' in page


def test_an_officers_learners_are_paged_with_a_count(staff_client):
    officer = OfficerFactory()
    LearnerFactory.create_batch(26, main_officer=officer)

    page = staff_client.get(f"/officers/{officer.pk}/").content.decode()

    assert "Main officer of 26 learners</h2>" in page
    assert page.count("/delivery-plan/") == 25
    assert 'href="?page=2" rel="next"' in page

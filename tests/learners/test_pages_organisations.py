import datetime
import re

import pytest
from django.utils import timezone

from tests.factories import LearnerFactory, OrganisationFactory, PlacementFactory

pytestmark = pytest.mark.django_db


def organisation_names(response) -> list[str]:
    pattern = r'<td><a href="/organisations/\d+/">([^<]+)</a></td>'
    return re.findall(pattern, response.content.decode())


@pytest.mark.parametrize(
    ("query", "expected"),
    [("acme", ["Acme Widgets"]), ("S3 8BT", ["Bolt Works"]), ("123456789", ["Acme Widgets"])],
)
def test_search_organisations(staff_client, query, expected):
    OrganisationFactory(name="Acme Widgets", edrs_number="123456789")
    OrganisationFactory(name="Bolt Works", postcode="S3 8BT")

    assert organisation_names(staff_client.get("/organisations/", {"q": query})) == expected


def test_the_organisation_page_lists_the_learners_placed_there_now(staff_client):
    today = timezone.localdate()
    acme = OrganisationFactory(name="Acme Widgets", website="https://acme.example")
    here_now = PlacementFactory(
        organisation=acme,
        learner=LearnerFactory(first_name="Priya", surname="Shah"),
        start_date=today - datetime.timedelta(days=10),
    )
    PlacementFactory(
        organisation=acme,
        learner=LearnerFactory(first_name="Gone", surname="Away"),
        start_date=today - datetime.timedelta(days=100),
        end_date=today - datetime.timedelta(days=1),
    )
    PlacementFactory(learner=LearnerFactory(first_name="Else", surname="Where"))

    page = staff_client.get(f"/organisations/{acme.pk}/").content.decode()

    assert "<h1>Acme Widgets</h1>" in page
    assert "1 High Street<br>S1 2AB" in page
    assert "1 learner placed here now</h2>" in page
    assert f'<a href="/learners/{here_now.learner.ident}/delivery-plan/">Priya Shah</a>' in page
    assert "Gone Away" not in page
    assert "Else Where" not in page
    listed = staff_client.get("/organisations/").content.decode()
    assert listed.split("Acme Widgets</a></td>")[1].split("</tr>")[0].strip().endswith("<td>1</td>")
